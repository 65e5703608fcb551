"""sd_notify without libsystemd: one datagram per message to ``$NOTIFY_SOCKET``.

Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing. ``WATCHDOG_USEC`` (set by
``WatchdogSec=``) gives the interval the daemon must ping within; ``WATCHDOG_PID``, when set,
must be our pid.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        self._socket: socket.socket | None = None
        if address.startswith("@"):  # abstract namespace
            self._address = b"\0" + address[1:].encode()
        elif address.startswith("/"):
            self._address = address
        if self._address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        ours = not pid or pid == str(os.getpid())
        self.watchdog_interval: float | None = int(usec) / 1e6 if usec.isdigit() and int(usec) and ours else None
        self._status = ""

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def notify(self, *fields: str) -> None:
        if self._socket is None or self._address is None:
            return
        try:
            self._socket.sendto("\n".join(fields).encode(), self._address)
        except OSError as exc:  # systemd gone, socket full: never fatal
            log.debug("sd_notify failed: %s", exc)

    def ready(self, status: str) -> None:
        self._status = status
        self.notify("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        if status != self._status:
            self._status = status
            self.notify(f"STATUS={status}")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1", "STATUS=stopping: finishing in-flight sends")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
