"""Tokens a source got by signing in (``omi-bridge login``), kept in the state directory.

One JSON file per connector, never in the config: readable by its owner only (0600 in a 0700
folder), replaced atomically so a crash never leaves half a file, and read and written under an
exclusive lock, so that two processes (the daemon and ``check``, or a ``login`` while the daemon
runs) never both spend one refresh token: providers that rotate them take each one once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bridge.errors import SourceAuthError

__all__ = ["TokenFile", "tokens_dir"]


def tokens_dir(state_path: Path) -> Path:
    """Where the tokens of the bridge whose state is ``state_path`` live: beside it, one folder
    per state file (two bridges sharing a folder keep their own)."""
    return state_path.parent / f"{state_path.stem}-tokens"


class TokenFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any] | None:
        """The stored tokens, or None before the first sign-in (or when the file does not hold
        tokens: signing in again rewrites it)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except PermissionError:
            raise SourceAuthError(f"{self.path} is not readable by this user (uid {os.geteuid()}): sign in "
                                  "as the user the bridge runs as") from None
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, data: dict[str, Any]) -> None:
        self.write_text(json.dumps(data, indent=1))

    def write_text(self, text: str) -> None:
        """Replace the file: written to a private temporary file, flushed to disk, renamed."""
        self._folder()
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")  # 0600
        try:
            self._own(fd)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        with contextlib.suppress(OSError):  # the rename is durable once the folder is synced
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def stamp(self) -> tuple[int, int] | None:
        """Changes when the file is rewritten (a new sign-in), for noticing it cheaply."""
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_ino

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the file's lock (a sibling ``.lock`` file) across a read, a refresh and a write."""
        self._folder()
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._own(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _folder(self) -> None:
        folder = self.path.parent
        if not folder.is_dir():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(folder, os.O_RDONLY)
            try:
                self._own(fd)
            finally:
                os.close(fd)

    def _own(self, fd: int) -> None:
        """Root signing in for a service (``login`` as root, the daemon under systemd's dynamic
        user): what it creates belongs to whoever owns the state directory, so the service can
        read it. (systemd does not re-own a state directory whose top already is the service's.)"""
        if os.geteuid() != 0:
            return
        owner = self.path.parent.parent.stat()
        if (owner.st_uid, owner.st_gid) != (0, 0):
            os.fchown(fd, owner.st_uid, owner.st_gid)
