"""A fake OAuth 2.0 authorization server on loopback, standing in for the Microsoft identity
platform and Google's OAuth endpoints in tests.

It speaks what a mail client needs to get and keep a token, with the error codes the real
servers give:
- the device authorization grant (RFC 8628): ``POST /devicecode``, then polling ``POST /token``
  with ``authorization_pending``, ``slow_down`` (the interval grows by 5 s), ``access_denied``
  and ``expired_token``; a test plays the person at the browser with ``approve`` or ``deny``;
- the authorization code grant with PKCE (RFC 7636, S256 only): ``GET /authorize`` stands in
  for the person consenting in a browser and redirects at once to the client's redirect_uri
  with a single-use code for ``consenting_user``;
- refresh (RFC 6749 section 6) with rotation: every refresh token works once, and each refresh
  hands out a new access token and a new refresh token;
- token introspection (RFC 7662) at ``POST /introspect``, which is what Dovecot's oauth2 passdb
  calls (with ``introspection_mode = post``) to decide whether an XOAUTH2 / OAUTHBEARER login's
  token is good.

Errors are HTTP 400 (401 for a bad client secret) with ``{"error", "error_description"}``;
successes are 200 JSON. All state sits behind one lock: the server answers on its own threads
while the test reads and changes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# A client that waits exactly the interval may arrive a hair early by our clock (its timer and
# ours start at different moments); RFC 8628's slow_down is meant for clients that poll too fast.
POLL_TOLERANCE = 0.2
SLOW_DOWN_STEP = 5  # RFC 8628 section 3.5: the interval grows by 5 seconds each slow_down


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(error)
        self.error, self.description, self.status = error, description, status


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class FakeAuthServer:
    def __init__(self, access_lifetime: float = 3600, client_id: str = "test-client",
                 client_secret: str | None = None, interval: int = 1, device_expires_in: int = 600) -> None:
        self.access_lifetime = access_lifetime  # seconds, may be fractional; read at each issue
        self.client_id = client_id
        self.client_secret = client_secret
        self.interval = interval
        self.device_expires_in = device_expires_in
        self.consenting_user: str | None = "alice"  # None: the person at /authorize declines
        self.lock = threading.Lock()
        # (path, grant_type or "", error or "ok"); /introspect records "ok" or "inactive"
        self.calls: list[tuple[str, str, str]] = []
        # every request as received: (method, path with query, headers, body)
        self.requests: list[tuple[str, str, dict[str, str], str]] = []
        self._devices: dict[str, dict[str, Any]] = {}  # device_code -> its state
        self._user_codes: dict[str, str] = {}  # user_code -> device_code
        self._codes: dict[str, dict[str, Any]] = {}  # authorization code -> what /authorize was given
        self._access: dict[str, dict[str, Any]] = {}  # access token -> username, scope, expires_at
        self._refresh: dict[str, dict[str, Any]] = {}  # refresh token -> username, scope, used
        self._refreshes = 0
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> str:
        fake = self

        class Handler(_Handler):
            server_state = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake oauth").start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeAuthServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- what tests do ------------------------------------------------------------------

    def approve(self, user_code: str, username: str) -> None:
        with self.lock:
            device = self._devices[self._user_codes[user_code.upper()]]
            device["status"], device["username"] = "approved", username

    def deny(self, user_code: str) -> None:
        with self.lock:
            self._devices[self._user_codes[user_code.upper()]]["status"] = "denied"

    def revoke(self, username: str) -> None:
        """Every refresh and access token issued to this user so far stops working (as when the
        person changes their password or an admin revokes sessions); later grants work again."""
        with self.lock:
            for token in (*self._access.values(), *self._refresh.values()):
                if token["username"] == username:
                    token["revoked"] = True

    def issued_tokens(self) -> list[str]:
        """Every access and refresh token ever handed out, for checking that none reached a log."""
        with self.lock:
            return [*self._access, *self._refresh]

    @property
    def refresh_count(self) -> int:
        """Successful refresh_token grants."""
        with self.lock:
            return self._refreshes

    # -- endpoints (called by the handler with the lock held) -----------------------------

    def _check_client(self, form: dict[str, str], basic: tuple[str, str] | None, secret_needed: bool) -> None:
        client_id, secret = basic if basic else (form.get("client_id", ""), form.get("client_secret"))
        if client_id != self.client_id:
            raise OAuthError("invalid_client", f"AADSTS700016: Application with identifier '{client_id}' "
                                               "was not found in the directory.")
        if secret_needed and self.client_secret is not None and secret != self.client_secret:
            # RFC 6749 section 5.2: failed client authentication may answer 401
            raise OAuthError("invalid_client", "AADSTS7000215: Invalid client secret provided.", 401)

    def _issue(self, username: str, scope: str) -> dict[str, Any]:
        now = time.time()
        access, refresh = "at-" + secrets.token_urlsafe(24), "rt-" + secrets.token_urlsafe(24)
        self._access[access] = {"username": username, "scope": scope, "revoked": False,
                                "expires_at": now + self.access_lifetime}
        self._refresh[refresh] = {"username": username, "scope": scope, "revoked": False, "used": False}
        return {"token_type": "Bearer", "access_token": access, "expires_in": int(self.access_lifetime),
                "refresh_token": refresh, "scope": scope}

    def device_code(self, form: dict[str, str]) -> dict[str, Any]:
        self._check_client(form, None, secret_needed=False)
        device_code = secrets.token_urlsafe(32)
        while True:  # unambiguous letters, as the real ones avoid 0/O and 1/I
            letters = "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(8))
            user_code = f"{letters[:4]}-{letters[4:]}"
            if user_code not in self._user_codes:
                break
        self._user_codes[user_code] = device_code
        self._devices[device_code] = {"user_code": user_code, "scope": form.get("scope", ""),
                                      "expires_at": time.time() + self.device_expires_in,
                                      "interval": self.interval, "last_poll": None,
                                      "status": "pending", "username": None}
        verification_uri = f"{self.url}/device"
        return {"device_code": device_code, "user_code": user_code, "verification_uri": verification_uri,
                "expires_in": self.device_expires_in, "interval": self.interval,
                "message": f"To sign in, use a web browser to open the page {verification_uri} "
                           f"and enter the code {user_code} to authenticate."}

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        grant = form.get("grant_type", "")
        if grant not in (DEVICE_GRANT, "authorization_code", "refresh_token"):
            raise OAuthError("unsupported_grant_type", f"AADSTS70003: The app requested an unsupported "
                                                       f"grant type '{grant}'.")
        # Google wants the secret on every grant of a confidential client, the device grant too
        self._check_client(form, basic, secret_needed=True)
        if grant == DEVICE_GRANT:
            return self._device_grant(form)
        if grant == "authorization_code":
            return self._code_grant(form)
        return self._refresh_grant(form)

    def _device_grant(self, form: dict[str, str]) -> dict[str, Any]:
        device = self._devices.get(form.get("device_code", ""))
        if device is None or device["status"] == "used":
            raise OAuthError("invalid_grant", "AADSTS70000: The provided value for 'device_code' is not valid.")
        now = time.time()
        if now > device["expires_at"]:
            raise OAuthError("expired_token", "AADSTS70020: The provided value for the input parameter "
                                              "'device_code' is not valid. This device code has expired.")
        last, device["last_poll"] = device["last_poll"], now
        if last is not None and now - last < device["interval"] - POLL_TOLERANCE:
            device["interval"] += SLOW_DOWN_STEP
            raise OAuthError("slow_down", f"Polling too fast; wait {device['interval']} seconds between polls.")
        if device["status"] == "denied":
            raise OAuthError("access_denied", "AADSTS70000: The user denied the authorization request.")
        if device["status"] == "pending":
            raise OAuthError("authorization_pending", "AADSTS70016: OAuth 2.0 device flow error. "
                                                      "Authorization is pending. Continue polling.")
        device["status"] = "used"
        return self._issue(device["username"], device["scope"])

    def _code_grant(self, form: dict[str, str]) -> dict[str, Any]:
        # single use: the code is gone whether this redemption succeeds or not
        grant = self._codes.pop(form.get("code", ""), None)
        if grant is None:
            raise OAuthError("invalid_grant", "AADSTS54005: OAuth2 Authorization code was already redeemed "
                                              "or is not valid.")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            raise OAuthError("invalid_grant", "AADSTS50148: The redirect_uri does not match the one the "
                                              "authorization code was issued for.")
        verifier = form.get("code_verifier", "")
        if not verifier or pkce_challenge(verifier) != grant["code_challenge"]:
            raise OAuthError("invalid_grant", "AADSTS501481: The Code_Verifier does not match the "
                                              "code_challenge supplied in the authorization request.")
        return self._issue(grant["username"], grant["scope"])

    def _refresh_grant(self, form: dict[str, str]) -> dict[str, Any]:
        old = self._refresh.get(form.get("refresh_token", ""))
        if old is None or old["used"] or old["revoked"]:
            raise OAuthError("invalid_grant", "AADSTS70000: The refresh token has been revoked or was "
                                              "already used.")
        old["used"] = True
        self._refreshes += 1
        return self._issue(old["username"], form.get("scope") or old["scope"])

    def authorize(self, query: dict[str, str]) -> str:
        """Where the browser would land after the person consents: the redirect's Location."""
        if query.get("client_id") != self.client_id:
            raise OAuthError("invalid_client", "The OAuth client was not found.")
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri:
            raise OAuthError("invalid_request", "Missing required parameter: redirect_uri")
        # Google refuses a PKCE client's request without S256 outright (400), not by redirect
        if not query.get("code_challenge"):
            raise OAuthError("invalid_request", "Missing required parameter: code_challenge")
        if query.get("code_challenge_method") != "S256":
            raise OAuthError("invalid_request", "Invalid code_challenge_method: only S256 is allowed")
        answer = {"state": query["state"]} if "state" in query else {}
        if query.get("response_type") != "code":
            answer["error"] = "unsupported_response_type"
        elif self.consenting_user is None:  # as Microsoft says it; Google sends the error alone
            answer.update(error="access_denied", error_description="AADSTS65004: User declined to consent to "
                                                                   "access the app.")
        else:
            code = "code-" + secrets.token_urlsafe(24)
            self._codes[code] = {"username": self.consenting_user, "redirect_uri": redirect_uri,
                                 "code_challenge": query["code_challenge"], "scope": query.get("scope", "")}
            # extra parameters a client must ignore: Microsoft's session_state, the issuer (RFC 9207)
            answer = {"code": code, **answer, "session_state": secrets.token_hex(16), "iss": self.url}
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(answer)}"

    def introspect(self, token: str) -> dict[str, Any]:
        info = self._access.get(token)
        if info is None or info["revoked"] or time.time() >= info["expires_at"]:
            return {"active": False}
        return {"active": True, "username": info["username"], "exp": int(info["expires_at"]),
                "scope": info["scope"], "token_type": "Bearer", "client_id": self.client_id}


class _Handler(BaseHTTPRequestHandler):
    server_state: FakeAuthServer
    # HTTP/1.0: one request a connection, so stop() really stops (no kept-alive handler thread
    # goes on answering Dovecot's pooled connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Cache-Control", "no-store")  # RFC 6749 5.1: token answers are not cached
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body: str) -> None:
        self.server_state.requests.append((self.command, self.path, dict(self.headers.items()), body))

    def _basic(self) -> tuple[str, str] | None:
        kind, _, value = self.headers.get("Authorization", "").partition(" ")
        if kind.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return ("", "")  # undecodable: an unknown client
        # RFC 6749 2.3.1: both are form-encoded before they are joined
        return unquote_plus(user), unquote_plus(password)

    def do_GET(self) -> None:
        fake, url = self.server_state, urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        with fake.lock:
            self._record("")
            if url.path == "/introspect":
                return self._introspect("", query)
            if url.path != "/authorize":
                fake.calls.append((url.path, "", "not_found"))
                return self._send(404, {"error": "not_found", "error_description": url.path})
            try:
                location = fake.authorize(query)
            except OAuthError as e:
                fake.calls.append((url.path, "", e.error))
                return self._send(e.status, {"error": e.error, "error_description": e.description})
            fake.calls.append((url.path, "", "ok"))
            self._send(302, headers={"Location": location})

    def do_POST(self) -> None:
        fake, url = self.server_state, urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        with fake.lock:
            self._record(body)
            if url.path == "/introspect":
                query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                return self._introspect(form.get("token", ""), query)
            grant = form.get("grant_type", "") if url.path == "/token" else ""
            try:
                if url.path == "/devicecode":
                    answer = fake.device_code(form)
                elif url.path == "/token":
                    answer = fake.token(form, self._basic())
                else:
                    fake.calls.append((url.path, "", "not_found"))
                    return self._send(404, {"error": "not_found", "error_description": url.path})
            except OAuthError as e:
                fake.calls.append((url.path, grant, e.error))
                headers = {"WWW-Authenticate": 'Basic realm="fake"'} if e.status == 401 else None
                return self._send(e.status, {"error": e.error, "error_description": e.description}, headers)
            fake.calls.append((url.path, grant, "ok"))
            self._send(200, answer)

    def _introspect(self, token: str, query: dict[str, str]) -> None:
        # Dovecot 2.3.19 with introspection_mode = post sends a form body
        # "token=<t>&client_id=&client_secret=" (empty client fields, no Authorization header);
        # mode "auth" sends a Bearer header and "get" appends the token to introspection_url
        # (a url ending in "?token="): take it from wherever it came
        kind, _, value = self.headers.get("Authorization", "").partition(" ")
        if not token and kind.lower() == "bearer":
            token = value.strip()
        if not token:
            token = query.get("token") or query.get("access_token") or ""
        answer = self.server_state.introspect(token)
        self.server_state.calls.append(("/introspect", "", "ok" if answer["active"] else "inactive"))
        self._send(200, answer)
