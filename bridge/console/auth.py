"""Who may see the console: whoever holds its token, a random secret kept owner-only beside the
state (``omi-bridge console`` prints a link carrying it).

The link's first visit trades the token for a cookie (HttpOnly, SameSite=Strict) and redirects to
the clean address, so the token stays out of the browser's history and any proxy's log. Actions
are POSTs guarded twice: the form carries a token derived from the secret (a page from another
site cannot read it), and a browser's ``Origin`` must be the console's own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bridge.tokens import TokenFile, tokens_dir

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["COOKIE", "Guard", "console_link", "token_file"]

COOKIE = "omi_bridge_console"
LOGIN_PATH = "/login"


def token_file(state_path: Path) -> TokenFile:
    """The console's secret lives with the sign-in tokens: same folder, same owner-only files."""
    return TokenFile(tokens_dir(state_path) / "console.json")


def _load_or_create(file: TokenFile) -> str:
    """The secret, made on first use. Under the file's lock: ``omi-bridge console`` and the
    daemon starting at once still agree on one."""
    with file.locked():
        data = file.read() or {}
        token = data.get("token")
        if not isinstance(token, str) or len(token) < 32:
            token = secrets.token_urlsafe(32)
            file.write({"token": token})
    return token


def console_link(listen: str, state_path: Path) -> str:
    """The address to open, with the token: a wildcard listen address is opened on loopback."""
    from bridge.http import parse_listen

    host, port = parse_listen(listen)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}{LOGIN_PATH}?token={_load_or_create(token_file(state_path))}"


class Guard:
    def __init__(self, state_path: Path) -> None:
        self._file = token_file(state_path)
        self._stamp: tuple[int, int] | None = None
        self._token = ""
        self._secret()

    def _secret(self) -> str:
        """The token, read again when its file changes (a person replacing it signs everyone out)."""
        stamp = self._file.stamp()
        if stamp is None or stamp != self._stamp:
            self._token = _load_or_create(self._file)
            self._stamp = self._file.stamp()
        return self._token

    def _derived(self, purpose: str) -> str:
        return hmac.new(self._secret().encode(), purpose.encode(), hashlib.sha256).hexdigest()

    @property
    def session(self) -> str:
        """The cookie's value: derived from the token, so the token itself is never stored in it."""
        return self._derived("session")

    @property
    def csrf(self) -> str:
        """What every form posts back."""
        return self._derived("csrf")

    def token_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._secret().encode())

    def signed_in(self, request: web.Request) -> bool:
        return hmac.compare_digest(request.cookies.get(COOKIE, "").encode(), self.session.encode())

    def same_origin(self, request: web.Request) -> bool:
        """A browser says where a POST comes from in ``Origin`` (or at least ``Referer``); its host
        must be the one the browser asked for. The scheme is not compared: behind a TLS proxy the
        browser's is https and ours http (the proxy passes Host on, see the README)."""
        source = request.headers.get("Origin") or request.headers.get("Referer")
        if not source or source == "null":
            return False
        return urlsplit(source).netloc.lower() == request.host.lower()

    def form_ok(self, form: dict[str, str]) -> bool:
        return hmac.compare_digest(str(form.get("csrf", "")).encode(), self.csrf.encode())
