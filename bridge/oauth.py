"""OAuth2 for sources that sign in: the flows ``omi-bridge login`` runs, and the daemon's tokens.

Two ways to sign in, both usable on a server without a browser:

- the device authorization grant (RFC 8628; Microsoft): print a code and an address, the person
  enters the code on any device, we poll the token endpoint (``authorization_pending``,
  ``slow_down``: wait 5 s longer, ``expired_token``);
- the authorization code grant with PKCE (RFC 7636) and a loopback redirect (RFC 8252 7.3;
  Google, whose device flow refuses Gmail's scope): print the address; the provider sends the
  browser back to ``http://127.0.0.1:PORT/`` with a code. When the browser runs on another
  machine that page cannot load; the person pastes its address back and we read the code there.
  The console runs the same flow in steps (``start_browser``, ``read_redirect``, ``redeem``),
  with its own callback on the daemon's listener as the redirect address.

The daemon's side is ``AccessTokens``: an access token valid for a while yet, refreshed ahead of
its expiry under the token file's lock, the rotated refresh token stored before anything uses it.
A refresh the provider refuses means the person must sign in again; that is said once, in words
that name the command, and the provider is not asked again until the token file changes.

The protocol pieces (PKCE, the authorization address, reading the redirect with its ``state``
check) are authlib's; the requests go through httpx like every other request of the bridge.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from bridge.errors import SourceAuthError, SourceError
from bridge.logs import hide
from bridge.tokens import TokenFile

if TYPE_CHECKING:  # httpx when a token is asked for; http.server for a sign-in's loopback page only
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

__all__ = ["Access", "AccessTokens", "BrowserStart", "NotThisSignIn", "OAuthApp", "OAuthRefused", "SignInRequired",
           "read_redirect", "redeem", "sign_in", "start_browser"]

log = logging.getLogger(__name__)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_AHEAD = 300.0  # seconds before its token expires a connection is remade (a quarter of its life if shorter)
BROWSER_WAIT = 600.0  # seconds the browser flow waits for the person
REQUEST_TIMEOUT = 30.0  # seconds a provider may take to answer, unless the connector says otherwise


@dataclass(frozen=True)
class OAuthApp:
    """The OAuth client the person registered, and where its provider takes requests."""

    client_id: str
    scopes: tuple[str, ...]
    token_url: str
    flow: Literal["device", "browser"]
    device_url: str | None = None
    authorize_url: str | None = None
    client_secret: str | None = field(default=None, repr=False)  # Google's desktop clients have one
    authorize_params: tuple[tuple[str, str], ...] = ()  # Google: access_type=offline, prompt=consent
    timeout: float = REQUEST_TIMEOUT  # seconds its endpoints may take to answer


class OAuthRefused(SourceAuthError):
    """The provider answered a token request with an OAuth error (RFC 6749 5.2)."""

    def __init__(self, error: str, description: str | None = None) -> None:
        self.error = error
        self.description = " ".join((description or "").split())
        super().__init__(f"{error}: {self.description}" if self.description else error)


class SignInRequired(SourceAuthError):
    """The stored sign-in is gone or refused: only ``omi-bridge login NAME`` mends it."""


# -- requests -------------------------------------------------------------------------------------


def _post(client: httpx.Client, url: str, form: dict[str, str]) -> dict[str, Any]:
    """POST a form, return the JSON answer; OAuthRefused for an OAuth error, SourceError when
    the provider cannot be reached or fails (worth trying again later)."""
    import httpx  # not at the top: status, which loads a mail connector's config, makes no request

    where = urlsplit(url).netloc
    try:
        response = client.post(url, data=form, headers={"Accept": "application/json"})
    except httpx.TimeoutException:
        seconds = client.timeout.read or REQUEST_TIMEOUT
        raise SourceError(f"cannot reach {where}: no answer within {seconds:g} s") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"cannot reach {where}: {_why(exc)}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 500 or response.status_code in (408, 429) or not isinstance(body, dict):
        raise SourceError(f"{where} answered {response.status_code} to a token request")
    if response.status_code >= 400 or "error" in body:
        error = body.get("error")
        if not isinstance(error, str) or error == "temporarily_unavailable":  # not an OAuth answer: a proxy
            raise SourceError(f"{where} answered {response.status_code} to a token request")
        raise OAuthRefused(error, _description(body.get("error_description")))
    return body


def _why(exc: BaseException) -> str:
    """Why a request failed, in the socket's words ("Connection refused"), not httpx's type."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    return " ".join(str(exc).split()) or type(exc).__name__


def _description(text: Any) -> str | None:
    """The provider's explanation without Microsoft's trailer ("Trace ID: ... Correlation ID: ...")."""
    if not isinstance(text, str):
        return None
    return text.split("Trace ID:")[0].strip()


def _token(client: httpx.Client, app: OAuthApp, form: dict[str, str]) -> dict[str, Any]:
    """A token request; the answer as the token file keeps it."""
    form = {**form, "client_id": app.client_id}
    if app.client_secret:
        form["client_secret"] = app.client_secret
    body = _post(client, app.token_url, form)
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise SourceError(f"{urlsplit(app.token_url).netloc} answered a token request without an access token")
    hide(access)
    if isinstance(body.get("refresh_token"), str):
        hide(body["refresh_token"])
    lifetime = float(body.get("expires_in") or 3600)
    record = {"access_token": access, "expires_at": time.time() + lifetime, "lifetime": lifetime,
              "token_type": body.get("token_type", "Bearer"), "scope": body.get("scope", " ".join(app.scopes))}
    if body.get("refresh_token"):
        record["refresh_token"] = body["refresh_token"]
    return record


def _client(timeout: float = REQUEST_TIMEOUT) -> httpx.Client:
    import httpx

    return httpx.Client(timeout=timeout)


# -- signing in -----------------------------------------------------------------------------------


def sign_in(app: OAuthApp, say: Callable[[str], None], pasted: Iterable[str] = (), *,
            http: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Run the app's flow with the person; the tokens, for the token file. ``pasted`` are the
    lines the person types (the browser flow's fallback)."""
    with contextlib.ExitStack() as stack:
        client = http or stack.enter_context(_client(app.timeout))
        record = _device(app, client, say, sleep) if app.flow == "device" else _browser(app, client, say, pasted)
    return _kept(app, record)


def _kept(app: OAuthApp, record: dict[str, Any]) -> dict[str, Any]:
    """A sign-in's tokens as the token file keeps them; refused without a refresh token, which
    alone keeps the bridge signed in beyond the hour."""
    if "refresh_token" not in record:
        raise OAuthRefused("no_refresh_token", "the provider gave no refresh token, so the bridge could not stay "
                           "signed in (Microsoft: include the offline_access scope)")
    record["client_id"] = app.client_id
    return record


def _device(app: OAuthApp, client: httpx.Client, say: Callable[[str], None],
            sleep: Callable[[float], None]) -> dict[str, Any]:
    assert app.device_url is not None
    answer = _post(client, app.device_url, {"client_id": app.client_id, "scope": " ".join(app.scopes)})
    # RFC 8628 and Microsoft say verification_uri; Google's older endpoint says verification_url
    address = answer.get("verification_uri") or answer.get("verification_url")
    code, device_code = answer.get("user_code"), answer.get("device_code")
    if not (address and code and device_code):
        raise SourceError(f"{urlsplit(app.device_url).netloc} answered without a code to enter")
    interval = float(answer.get("interval") or 5)
    expires = time.monotonic() + float(answer.get("expires_in") or 900)
    say(f"To sign in, open {address} in a browser (on any device) and enter the code {code}")
    say(f"Waiting for you to sign in (the code works for {round((expires - time.monotonic()) / 60)} minutes)...")
    late = OAuthRefused("expired_token", "the code was not entered in time: run login again")
    while True:
        sleep(interval)
        if time.monotonic() > expires:
            raise late
        try:
            return _token(client, app, {"grant_type": DEVICE_GRANT, "device_code": device_code})
        except OAuthRefused as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":  # RFC 8628 3.5: every later poll waits 5 s longer
                interval += 5
                continue
            if exc.error == "expired_token":
                raise late from None
            if exc.error in ("access_denied", "authorization_declined"):
                raise OAuthRefused(exc.error, "the sign-in was declined") from None
            raise


def _redirect_page(answers: queue.Queue[str]) -> ThreadingHTTPServer:
    """The loopback page the provider sends the browser back to, served; each address it is
    asked for goes to ``answers``. (http.server, like authlib, is imported by a sign-in only:
    a daemon refreshing its tokens needs neither.)"""
    from http.server import BaseHTTPRequestHandler

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urlsplit(self.path).query
            if "code=" not in query and "error=" not in query:
                self.send_error(404)
                return
            answers.put(f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}")
            page = b"omi-bridge: done. You can close this page and go back to the terminal.\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:  # the query holds the code: never print it
            pass

    return _serve(Redirect)


@dataclass(frozen=True)
class BrowserStart:
    """One authorization-code sign-in under way: where the person's browser goes, and what the
    redirect that comes back must carry (RFC 6749 10.12: the ``state``; RFC 7636: the verifier
    the token request proves the code with)."""

    address: str
    redirect_uri: str
    state: str = field(repr=False)
    verifier: str = field(repr=False)
    started: float = field(default_factory=time.monotonic)


def start_browser(app: OAuthApp, redirect_uri: str) -> BrowserStart:
    """The provider's authorization address for a sign-in coming back to ``redirect_uri``."""
    assert app.authorize_url is not None
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    verifier, state = generate_token(64), generate_token(30)
    address = prepare_grant_uri(
        app.authorize_url, app.client_id, "code", redirect_uri=redirect_uri, scope=" ".join(app.scopes),
        state=state, code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256",
        **dict(app.authorize_params))
    return BrowserStart(address, redirect_uri, state, verifier)


class NotThisSignIn(ValueError):
    """An address that does not end this sign-in: no code in it, or another sign-in's state."""


def read_redirect(answer: str, state: str) -> str:
    """The code in the address the provider sent the browser back to. NotThisSignIn when the
    address holds neither a code nor an error, or its state is not ours (an old tab, or someone
    else's redirect: it never ends this sign-in); OAuthRefused for the provider's error."""
    from authlib.oauth2.rfc6749.errors import OAuth2Error
    from authlib.oauth2.rfc6749.parameters import parse_authorization_code_response

    query = dict(_query(answer))
    if "code" not in query and "error" not in query:
        raise NotThisSignIn("That is not the address the sign-in ended on (it has no code=...): "
                            "paste the whole address.")
    if query.get("state") != state:
        raise NotThisSignIn("That address belongs to another sign-in (its state differs): "
                            "paste the one from this sign-in.")
    if "error" in query:
        raise OAuthRefused(query["error"], query.get("error_description") or "the sign-in was not allowed")
    try:
        return parse_authorization_code_response(answer, state=state)["code"]
    except OAuth2Error as exc:
        raise OAuthRefused("invalid_request", f"the address could not be read ({exc.error})") from None


def redeem(app: OAuthApp, start: BrowserStart, code: str, *, http: httpx.Client | None = None) -> dict[str, Any]:
    """The tokens for the code the redirect brought, proved with the sign-in's verifier."""
    with contextlib.ExitStack() as stack:
        client = http or stack.enter_context(_client(app.timeout))
        return _kept(app, _redeem(client, app, start, code))


def _redeem(client: httpx.Client, app: OAuthApp, start: BrowserStart, code: str) -> dict[str, Any]:
    return _token(client, app, {"grant_type": "authorization_code", "code": code, "redirect_uri": start.redirect_uri,
                                "code_verifier": start.verifier})


def _browser(app: OAuthApp, client: httpx.Client, say: Callable[[str], None], pasted: Iterable[str]) -> dict[str, Any]:
    answers: queue.Queue[str] = queue.Queue()
    loopback = _redirect_page(answers)
    try:
        start = start_browser(app, f"http://127.0.0.1:{loopback.server_address[1]}/")
        say(f"To sign in, open this address in a browser and allow access:\n\n  {start.address}\n")
        say(f"If the browser is on another machine, its last page will not load. Copy that page's address "
            f"(it starts with {start.redirect_uri}) and paste it here:")
        threading.Thread(target=_read_lines, args=(pasted, answers), daemon=True, name="pasted").start()
        code = _await_code(answers, start.state, say)
    finally:
        loopback.shutdown()
        loopback.server_close()
    return _redeem(client, app, start, code)


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="loopback redirect").start()
    return server


def _read_lines(lines: Iterable[str], answers: queue.Queue[str]) -> None:
    with contextlib.suppress(OSError, ValueError):  # stdin closed under us
        for line in lines:
            answers.put(line)


def _await_code(answers: queue.Queue[str], state: str, say: Callable[[str], None]) -> str:
    """The code from the first redirect address that arrives (by the loopback or pasted)."""
    deadline = time.monotonic() + BROWSER_WAIT
    while True:
        try:
            answer = answers.get(timeout=max(0.0, deadline - time.monotonic())).strip()
        except queue.Empty:
            minutes = f"{BROWSER_WAIT / 60:.0f}"
            raise OAuthRefused("timeout", f"no sign-in within {minutes} minutes: run login again") from None
        if not answer:
            continue
        try:
            return read_redirect(answer, state)
        except NotThisSignIn as exc:
            say(str(exc))


def _query(address: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(address).query)


# -- the daemon's tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    token: str
    expires_at: float
    lifetime: float

    def renew_at(self) -> float:
        """When a connection made with this token should be remade: ahead of the expiry
        (Microsoft ends an IMAP session whose token expired: "BYE Session invalidated -
        AccessTokenExpired")."""
        return self.expires_at - min(REFRESH_AHEAD, self.lifetime / 4)

    def good_for_a_new_connection(self, now: float) -> bool:
        """At least half its life left: a poll (a long backfill) made with it outlasts it rarely."""
        return now < self.expires_at - self.lifetime / 2


class AccessTokens:
    """One connector's access tokens, shared by its threads (the poll and each IDLE)."""

    def __init__(self, name: str, app: OAuthApp, file: TokenFile,
                 http: Callable[[], httpx.Client] | None = None) -> None:
        self.name = name
        self.app = app
        self.file = file
        self._http = http or (lambda: _client(app.timeout))
        self._lock = threading.Lock()
        self._access: Access | None = None
        self._distrusted: str | None = None  # an access token the server refused
        self._refused: tuple[tuple[int, int] | None, str] | None = None  # (file stamp, message)
        self._unsaved: dict[str, Any] | None = None  # tokens the file could not take yet

    @property
    def sign_in_again(self) -> str:
        return f"sign in again: omi-bridge login {self.name}"

    def get(self) -> Access:
        """An access token good for a new connection: the one held, the one in the file
        (another process may have refreshed), or a new one from the refresh token. When the
        provider cannot be reached, a token that has not expired yet still serves."""
        with self._lock:
            now = time.time()
            if self._access is not None and self._access.good_for_a_new_connection(now):
                return self._access
            stamp = self.file.stamp()
            if self._refused is not None and self._refused[0] == stamp:
                raise SignInRequired(self._refused[1])  # not asking again until someone signs in
            with self.file.locked():
                stored = self._unsaved or self.file.read()
                if self._unsaved is not None:
                    self._save(self._unsaved)
                if not stored or not (stored.get("refresh_token") or stored.get("access_token")):
                    raise SignInRequired(f"not signed in: run omi-bridge login {self.name}")
                held = _access(stored)
                usable = held is not None and held.token != self._distrusted
                if usable and held.good_for_a_new_connection(now):  # type: ignore[union-attr]
                    self._access = held
                    return held  # type: ignore[return-value]
                try:
                    stored = self._refresh(stored, stamp)
                except SignInRequired:
                    raise
                except SourceError:
                    if usable and now < held.renew_at():  # type: ignore[union-attr]
                        log.debug("%s: cannot renew the access token yet; the held one serves", self.name)
                        self._access = held
                        return held  # type: ignore[return-value]
                    raise
            self._access = _access(stored)
            assert self._access is not None
            return self._access

    def distrust(self, token: str) -> None:
        """The server refused ``token`` before its time: the next ``get`` refreshes."""
        with self._lock:
            self._distrusted = token
            if self._access is not None and self._access.token == token:
                self._access = None

    def _refresh(self, stored: dict[str, Any], stamp: tuple[int, int] | None) -> dict[str, Any]:
        refresh = stored.get("refresh_token")
        if not refresh:
            raise SignInRequired(f"{self.sign_in_again} (the stored sign-in cannot be renewed)")
        try:
            with self._http() as client:
                fresh = _token(client, self.app, {"grant_type": "refresh_token", "refresh_token": refresh})
        except OAuthRefused as exc:
            if exc.error in ("invalid_client", "unauthorized_client"):  # the config, not the sign-in
                raise SourceAuthError(f"the provider does not accept oauth2_client_id (or its secret) of "
                                      f"connectors.{self.name}: {exc}") from None
            # invalid_grant: expired, revoked or already used; interaction_required: a new policy (MFA)
            message = f"{self.sign_in_again} (the provider refused the stored sign-in: {exc})"
            self._refused = (stamp, message)
            raise SignInRequired(message) from None
        # a provider that rotates sends a new refresh token; one that does not (Google) keeps the old
        record = {**stored, **fresh, "refresh_token": fresh.get("refresh_token") or refresh}
        self._save(record)  # before use: the old refresh token may already be spent
        log.debug("%s: access token renewed, valid for %.0f s", self.name, record["lifetime"])
        return record

    def _save(self, record: dict[str, Any]) -> None:
        """Store the tokens; when the file cannot take them (a full disk), keep them in memory,
        use them, and try again at the next renewal: a rotated refresh token is never dropped."""
        try:
            self.file.write(record)
        except OSError as exc:
            if self._unsaved is None:
                log.error("%s: cannot store the renewed sign-in in %s (%s); kept in memory until it can be",
                          self.name, self.file.path, exc.strerror or exc)
            self._unsaved = record
        else:
            self._unsaved = None


def _access(stored: dict[str, Any]) -> Access | None:
    token, expires = stored.get("access_token"), stored.get("expires_at")
    if isinstance(stored.get("refresh_token"), str):
        hide(stored["refresh_token"])  # tokens another process (login) stored: this one's logs never show them
    if not isinstance(token, str) or not isinstance(expires, int | float):
        return None
    hide(token)
    lifetime = float(stored.get("lifetime") or 3600)
    return Access(token, float(expires), lifetime)
