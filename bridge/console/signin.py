"""Signing a source in from the console, the three ways sources sign in:

- the device-code flow (RFC 8628; Microsoft): the source's own ``login`` (what ``omi-bridge
  login`` runs) in a thread of its own, its lines shown on the page: the code to type and the
  address to open (the one secret a page may show: the person needs it);
- the authorization-code flow with PKCE (RFC 7636; Google): the button sends the browser to the
  provider, which sends it back to the console's own ``CALLBACK`` on the daemon's listener; the
  answer's ``state`` picks the sign-in it ends (an answer with an unknown state ends none), the
  code is redeemed with that sign-in's verifier (bridge/oauth.py);
- a password (Matrix): typed into a form, handed to the connector's ``password_login`` and
  dropped; only the access token it buys is kept.

Whatever the way, the tokens go to the file ``omi-bridge login`` writes, which the running
source reads: it recovers without a restart. A failure is one line on the page, through the
redactor: never a traceback, never a token.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bridge.config import secrets_of
from bridge.logs import Redactor

if TYPE_CHECKING:
    from bridge.config import Config
    from bridge.oauth import BrowserStart

__all__ = ["CALLBACK", "Attempt", "SignIns"]

CALLBACK = "/signin/callback"  # where providers send the browser back (the README says to register it)
BROWSER_WAIT = 900.0  # seconds a browser sign-in may take at the provider before its state is forgotten


@functools.cache
def _takes_a_password(kind: str) -> bool:
    """The connector type logs in with a password for a token (``password_login``): Matrix.
    Cached: an entry point lookup per source on every page would cost more than the page."""
    from bridge.registry import load_connector_type

    return callable(getattr(load_connector_type(kind), "password_login", None))


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
        self._browsing: dict[str, tuple[str, BrowserStart]] = {}  # state -> (source, its sign-in)
        self._lock = threading.Lock()

    def offered(self) -> list[dict[str, Any]]:
        """Every source that signs in, and how: ``code`` (device code), ``browser`` (to the
        provider and back), ``password`` (a form)."""
        found = []
        for name, cfg in self._config().connectors.items():
            app = cfg.oauth_app() if callable(getattr(cfg, "oauth_app", None)) else None
            if app is not None:
                how = "code" if app.flow == "device" else "browser"
                found.append({"name": name, "how": how, "attempt": self._attempts.get(name),
                              "provider": urlsplit(app.authorize_url or app.device_url or "").netloc})
            elif getattr(cfg, "access_token", "set") is None and _takes_a_password(cfg.type):
                found.append({"name": name, "how": "password", "attempt": self._attempts.get(name),
                              "user": getattr(cfg, "user_id", "")})
        return found

    def providers(self) -> list[str]:
        """The origins the browser sign-ins send the browser to (the page's form-action allows them)."""
        origins = set()
        for cfg in self._config().connectors.values():
            app = cfg.oauth_app() if callable(getattr(cfg, "oauth_app", None)) else None
            if app is not None and app.flow == "browser" and app.authorize_url:
                parts = urlsplit(app.authorize_url)
                origins.add(f"{parts.scheme}://{parts.netloc}")
        return sorted(origins)

    def attempt(self, name: str) -> Attempt | None:
        return self._attempts.get(name)

    def _how(self, name: str) -> str | None:
        return next((o["how"] for o in self.offered() if o["name"] == name), None)

    def _begin(self, name: str, how: str) -> tuple[Attempt | None, str | None]:
        """A new attempt for ``name`` (None with the reason it cannot be made; None without one
        when one is under way already)."""
        if self._how(name) != how:
            return None, f"{name} does not sign in this way: run omi-bridge login {name} on the machine"
        if missing := self._config().missing_for(name):
            return None, f"{name}: {missing}"
        with self._lock:
            current = self._attempts.get(name)
            if how == "code" and current is not None and current.state == "signing in":
                return None, None
            attempt = self._attempts[name] = Attempt()
        return attempt, None

    # -- the device code ----------------------------------------------------------------------

    def start(self, name: str) -> str | None:
        """Start signing ``name`` in with a device code (unless it is under way); why it cannot, or None."""
        attempt, problem = self._begin(name, "code")
        if attempt is not None:
            self._in_thread(name, attempt, lambda connector, say: connector.login(say, ()))
        return problem

    # -- a password ---------------------------------------------------------------------------

    def start_password(self, name: str, password: str) -> str | None:
        """Log ``name`` in with the password typed, in a thread; why it cannot start, or None."""
        if not password:
            return "Type the password first."
        attempt, problem = self._begin(name, "password")
        if attempt is not None:
            attempt.lines.append("Logging in at the homeserver...")
            self._in_thread(name, attempt, lambda connector, say: connector.password_login(password))
        return problem

    # -- to the provider and back -------------------------------------------------------------

    def start_browser(self, name: str, redirect_uri: str) -> tuple[str | None, str | None]:
        """(The provider's address to send the browser to, or None with why not)."""
        from bridge.oauth import start_browser

        attempt, problem = self._begin(name, "browser")
        if attempt is None:
            return None, problem
        app = self._config().connectors[name].oauth_app()
        start = start_browser(app, redirect_uri)
        attempt.lines.append(f"Sent to {urlsplit(start.address).netloc} to sign in; it sends you back here.")
        with self._lock:
            now = time.monotonic()
            self._browsing = {s: held for s, held in self._browsing.items() if now - held[1].started < BROWSER_WAIT}
            self._browsing[start.state] = (name, start)
        return start.address, None

    def finish_browser(self, address: str, query: dict[str, str]) -> tuple[str | None, Attempt | None, str | None]:
        """The provider's answer at ``CALLBACK``: (the source, its attempt, None) once it is
        settled either way, or (None, None, why it ends no sign-in)."""
        with self._lock:
            held = self._browsing.pop(query.get("state", ""), None)
        if held is None:
            return None, None, ("This answer from the provider belongs to no sign-in under way here (an old tab, or "
                                "one already finished): start again from the Sign in page.")
        name, start = held
        attempt = self._attempts.get(name) or Attempt()
        self._attempts[name] = attempt
        self._settle(name, attempt, lambda connector, say: self._redeem(connector, start, address))
        return name, attempt, None

    def _redeem(self, connector: Any, start: BrowserStart, address: str) -> Any:
        """The code in the answer for tokens, kept where ``omi-bridge login`` keeps them; the
        source's check says what it reaches now."""
        from bridge.oauth import NotThisSignIn, OAuthRefused, read_redirect, redeem

        try:
            code = read_redirect(address, start.state)
        except NotThisSignIn:
            raise OAuthRefused("invalid_request", "the provider came back without a code or an error") from None
        except OAuthRefused as exc:
            if exc.error == "access_denied":
                raise OAuthRefused(exc.error, "the sign-in was declined at the provider") from None
            raise
        record = redeem(connector.config.oauth_app(), start, code)
        with connector.tokens.locked():
            connector.tokens.write(record)
        return connector.check()

    # -- running a way --------------------------------------------------------------------------

    def _in_thread(self, name: str, attempt: Attempt, way: Callable[[Any, Callable[[str], None]], Any]) -> None:
        threading.Thread(target=self._settle, args=(name, attempt, way), name=f"sign in {name}", daemon=True).start()

    def _settle(self, name: str, attempt: Attempt, way: Callable[[Any, Callable[[str], None]], Any]) -> None:
        """Run one way of signing in for the source's connector (a coroutine on a loop of its
        own); its outcome, redacted, on the attempt."""
        from bridge.errors import one_line
        from bridge.registry import build_connector

        config = self._config()
        redact = Redactor(secrets_of(config))
        try:
            connector = build_connector(config, name)
            detail = way(connector, lambda line: attempt.lines.append(redact(line)))
            if inspect.isawaitable(detail):  # an async connector's (Matrix's)
                detail = asyncio.run(detail)
            attempt.result, attempt.state = redact(str(detail)), "signed in"
        except Exception as exc:
            attempt.result, attempt.state = redact(one_line(exc)), "failed"
