"""Signing a source in from the console: the device-code flow (RFC 8628), run by the source's own
``login`` (what ``omi-bridge login`` runs) in a thread of its own, its lines shown on the page.

The page shows the code to type and the address to open (the one secret a page may show: the
person needs it), then "signed in" once the provider says so. The token file the flow writes is
what the running source reads: it recovers without a restart. Flows that need this machine's
browser or a typed password (the browser flow's redirect to localhost, Matrix) stay in the
terminal, and the page says the command.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bridge.config import secrets_of
from bridge.logs import Redactor

if TYPE_CHECKING:
    from bridge.config import Config

__all__ = ["Attempt", "SignIns"]


@dataclass
class Attempt:
    lines: list[str] = field(default_factory=list)
    state: str = "signing in"  # signing in | signed in | failed
    result: str = ""
    started: float = field(default_factory=time.time)


class SignIns:
    def __init__(self, config: Callable[[], Config]) -> None:
        self._config = config
        self._attempts: dict[str, Attempt] = {}
        self._lock = threading.Lock()

    def offered(self) -> list[dict[str, Any]]:
        """Every source that signs in, and how: here (device code) or in a terminal."""
        found = []
        for name, cfg in self._config().connectors.items():
            app = cfg.oauth_app() if callable(getattr(cfg, "oauth_app", None)) else None
            if app is not None:
                found.append({"name": name, "here": app.flow == "device", "attempt": self._attempts.get(name)})
            elif cfg.type == "matrix":
                found.append({"name": name, "here": False, "attempt": None})
        return found

    def attempt(self, name: str) -> Attempt | None:
        return self._attempts.get(name)

    def start(self, name: str) -> str | None:
        """Start signing ``name`` in (unless it is under way); why it cannot, or None."""
        config = self._config()
        if not any(o["name"] == name and o["here"] for o in self.offered()):
            return f"{name} does not sign in with a code: run omi-bridge login {name} on the machine"
        if missing := config.missing_for(name):
            return f"{name}: {missing}"
        with self._lock:
            current = self._attempts.get(name)
            if current is not None and current.state == "signing in":
                return None
            attempt = self._attempts[name] = Attempt()
        threading.Thread(target=self._run, args=(config, name, attempt), name=f"sign in {name}", daemon=True).start()
        return None

    def _run(self, config: Config, name: str, attempt: Attempt) -> None:
        from bridge.errors import one_line
        from bridge.registry import build_connector

        redact = Redactor(secrets_of(config))
        try:
            connector = build_connector(config, name)
            detail = connector.login(lambda line: attempt.lines.append(redact(line)), ())
            attempt.result, attempt.state = redact(str(detail)), "signed in"
        except Exception as exc:
            attempt.result, attempt.state = redact(one_line(exc)), "failed"
