"""Signing in and staying signed in (bridge/oauth.py, bridge/tokens.py), against the fake
authorization server over real HTTP; the device flow's pacing with httpx.MockTransport."""

from __future__ import annotations

import json
import os
import queue
import stat
import threading
import time
from pathlib import Path

import httpx
import pytest

from bridge.errors import SourceAuthError, SourceError
from bridge.logs import Redactor
from bridge.oauth import AccessTokens, OAuthApp, OAuthRefused, SignInRequired, sign_in
from bridge.tokens import TokenFile
from tests.fake_oauth import FakeAuthServer


@pytest.fixture
def auth():
    with FakeAuthServer(client_secret=None) as server:
        yield server


def device_app(server: FakeAuthServer) -> OAuthApp:
    return OAuthApp(client_id="test-client", scopes=("imap", "offline_access"), token_url=f"{server.url}/token",
                    flow="device", device_url=f"{server.url}/devicecode")


def browser_app(server: FakeAuthServer, secret: str | None = None) -> OAuthApp:
    return OAuthApp(client_id="test-client", scopes=("https://mail.google.com/",), token_url=f"{server.url}/token",
                    flow="browser", authorize_url=f"{server.url}/authorize", client_secret=secret,
                    authorize_params=(("access_type", "offline"), ("prompt", "consent")))


class Person:
    """The terminal: what the flow says, and lines typed into it."""

    def __init__(self) -> None:
        self.said: list[str] = []
        self.typed: queue.Queue[str | None] = queue.Queue()
        self.heard = threading.Event()

    def say(self, line: str) -> None:
        self.said.append(line)
        self.heard.set()

    def lines(self):
        while (line := self.typed.get()) is not None:
            yield line

    def address(self) -> str:
        assert self.heard.wait(10)
        return next(word for line in self.said for word in line.split() if "/authorize?" in word)


def in_thread(function, *args):
    result: dict = {}

    def run():
        try:
            result["value"] = function(*args)
        except Exception as exc:  # handed to the test
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


# -- the device code flow ----------------------------------------------------------------------


def test_device_flow_prints_the_code_waits_for_approval_and_returns_tokens(auth):
    person = Person()
    thread, result = in_thread(lambda: sign_in(device_app(auth), person.say))
    assert person.heard.wait(10)
    code = person.said[0].rsplit(" ", 1)[1]
    assert f"{auth.url}/device" in person.said[0]
    time.sleep(1.5)  # at least one authorization_pending
    auth.approve(code, "alice")
    thread.join(15)
    token = result["value"]
    assert token["access_token"] in auth.issued_tokens() and token["refresh_token"] in auth.issued_tokens()
    assert token["client_id"] == "test-client" and token["expires_at"] > time.time() + 3000
    grants = [c for c in auth.calls if c[0] == "/token"]
    assert ("/token", "urn:ietf:params:oauth:grant-type:device_code", "authorization_pending") in grants
    assert "slow_down" not in {c[2] for c in grants}  # it waited the interval between polls
    assert grants[-1][2] == "ok"


def test_device_flow_waits_five_seconds_longer_after_slow_down_and_gives_up_on_expiry():
    answers = iter([("authorization_pending", 400), ("slow_down", 400), ("authorization_pending", 400),
                    ("expired_token", 400)])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/devicecode":
            return httpx.Response(200, json={"device_code": "d", "user_code": "ABCD-EFGH", "interval": 2,
                                             "verification_uri": "https://microsoft.com/devicelogin",
                                             "expires_in": 900})
        error, status = next(answers)
        return httpx.Response(status, json={"error": error, "error_description": "AADSTS70016: pending"})

    waits: list[float] = []
    app = OAuthApp("c", ("imap",), "https://login.example/token", "device", device_url="https://login.example/devicecode")
    with httpx.Client(transport=httpx.MockTransport(handler)) as client, pytest.raises(OAuthRefused) as refused:
        sign_in(app, lambda line: None, http=client, sleep=waits.append)
    assert waits == [2, 2, 7, 7]
    assert refused.value.error == "expired_token" and "run login again" in str(refused.value)


def test_device_flow_says_a_declined_sign_in_plainly(auth):
    person = Person()
    thread, result = in_thread(lambda: sign_in(device_app(auth), person.say))
    assert person.heard.wait(10)
    auth.deny(person.said[0].rsplit(" ", 1)[1])
    thread.join(15)
    assert isinstance(result["error"], OAuthRefused) and "declined" in str(result["error"])


# -- the browser flow: loopback redirect, or the address pasted back -----------------------------


def test_browser_flow_completes_through_the_loopback_redirect_with_pkce(auth):
    auth.client_secret = "desktop-secret"
    person = Person()
    thread, result = in_thread(lambda: sign_in(browser_app(auth, "desktop-secret"), person.say, person.lines()))
    address = person.address()
    assert "code_challenge_method=S256" in address and "access_type=offline" in address
    assert "prompt=consent" in address and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in address
    landing = httpx.get(address).headers["location"]  # the person consents; the browser is sent back
    page = httpx.get(landing)  # ...to the loopback page the flow serves
    assert page.status_code == 200 and "close this page" in page.text
    thread.join(15)
    assert result["value"]["access_token"] in auth.issued_tokens()  # the fake checked the verifier
    person.typed.put(None)


def test_browser_flow_takes_the_pasted_address_when_the_browser_is_elsewhere(auth):
    person = Person()
    thread, result = in_thread(lambda: sign_in(browser_app(auth), person.say, person.lines()))
    address = person.address()
    landing = httpx.get(address).headers["location"]  # the browser on a laptop cannot load it
    other = httpx.get(address).headers["location"]  # a second, older sign-in's redirect
    person.typed.put("I did it\n")
    person.typed.put(other.replace("state=", "state=x") + "\n")
    person.typed.put(f"  {landing}  \n")
    thread.join(15)
    assert result["value"]["access_token"] in auth.issued_tokens()
    assert any("no code=" in line for line in person.said)
    assert any("another sign-in" in line for line in person.said)
    person.typed.put(None)


def test_browser_flow_reports_a_refused_consent(auth):
    auth.consenting_user = None
    person = Person()
    thread, result = in_thread(lambda: sign_in(browser_app(auth), person.say, person.lines()))
    person.typed.put(httpx.get(person.address()).headers["location"])
    thread.join(15)
    assert isinstance(result["error"], OAuthRefused) and result["error"].error == "access_denied"
    person.typed.put(None)


# -- staying signed in ---------------------------------------------------------------------------


def signed_in(auth: FakeAuthServer, path: Path, lifetime: float = 3600) -> TokenFile:
    auth.access_lifetime = lifetime
    person = Person()
    thread, result = in_thread(lambda: sign_in(device_app(auth), person.say))
    assert person.heard.wait(10)
    auth.approve(person.said[0].rsplit(" ", 1)[1], "alice")
    thread.join(15)
    file = TokenFile(path)
    file.write(result["value"])
    return file


def test_tokens_are_kept_owner_only_and_replaced_whole(auth, tmp_path):
    file = signed_in(auth, tmp_path / "tokens" / "mail.json")
    assert stat.S_IMODE(file.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.path.parent.stat().st_mode) == 0o700
    assert [p.name for p in file.path.parent.iterdir() if not p.name.endswith(".lock")] == ["mail.json"]
    assert file.read()["refresh_token"].startswith("rt-")


def test_an_expiring_token_is_refreshed_and_the_rotated_refresh_token_stored_at_once(auth, tmp_path):
    file = signed_in(auth, tmp_path / "mail.json", lifetime=2)
    first = file.read()
    tokens = AccessTokens("mail", device_app(auth), file)
    held = tokens.get()
    assert held.token == first["access_token"] and auth.refresh_count == 0  # still good: no request
    time.sleep(1.6)  # within a quarter of its life of expiring
    renewed = tokens.get()
    assert renewed.token != first["access_token"] and auth.refresh_count == 1
    stored = file.read()
    assert stored["access_token"] == renewed.token and stored["refresh_token"] != first["refresh_token"]
    # the old refresh token is spent: the fake refuses its reuse, as Microsoft does
    answer = httpx.post(f"{auth.url}/token", data={"grant_type": "refresh_token", "client_id": "test-client",
                                                   "refresh_token": first["refresh_token"]})
    assert answer.json()["error"] == "invalid_grant"


def test_two_processes_never_spend_one_refresh_token(auth, tmp_path):
    """The daemon and `check` refresh from the same file: the second takes what the first stored."""
    file = signed_in(auth, tmp_path / "mail.json", lifetime=1)
    time.sleep(1.1)
    daemon, check = (AccessTokens("mail", device_app(auth), TokenFile(file.path)) for _ in range(2))
    got = [None, None]
    threads = [threading.Thread(target=lambda i=i, t=t: got.__setitem__(i, t.get())) for i, t in
               enumerate((daemon, check))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert got[0] is not None and got[1] is not None
    assert auth.refresh_count in (1, 2)  # one each at most, each from the refresh token the other stored
    assert all(c[2] == "ok" for c in auth.calls if c[1] == "refresh_token")


def test_a_revoked_sign_in_says_to_sign_in_again_once_and_recovers_after_login(auth, tmp_path):
    file = signed_in(auth, tmp_path / "mail.json", lifetime=1)
    tokens = AccessTokens("work-mail", device_app(auth), file)
    auth.revoke("alice")
    time.sleep(1.1)
    with pytest.raises(SignInRequired) as refused:
        tokens.get()
    assert str(refused.value).startswith("sign in again: omi-bridge login work-mail")
    asked = len(auth.calls)
    with pytest.raises(SignInRequired):
        tokens.get()
    assert len(auth.calls) == asked  # not asked again until someone signs in
    signed_in(auth, file.path, lifetime=60)  # omi-bridge login rewrites the file
    assert tokens.get().token == file.read()["access_token"]


def test_no_token_file_says_how_to_sign_in(auth, tmp_path):
    tokens = AccessTokens("work-mail", device_app(auth), TokenFile(tmp_path / "none.json"))
    with pytest.raises(SignInRequired, match="not signed in: run omi-bridge login work-mail"):
        tokens.get()


def test_tokens_learned_at_run_time_are_scrubbed_by_every_redactor(auth, tmp_path):
    redact = Redactor(["omi-api-key-123"])  # made at start-up, before any token existed
    file = signed_in(auth, tmp_path / "mail.json", lifetime=1)
    time.sleep(0.8)
    token = AccessTokens("mail", device_app(auth), file).get().token  # a refresh
    text = redact(f"login failed with {token}; file {json.dumps(file.read())}; key omi-api-key-123")
    assert all(t not in text for t in auth.issued_tokens()) and "omi-api-key-123" not in text
    assert text.startswith("login failed with [redacted]")


def test_a_rate_limited_or_unreachable_provider_is_not_a_lost_sign_in(auth, tmp_path):
    """429, 5xx and no answer are worth trying again; meanwhile a token that has not expired serves."""
    file = signed_in(auth, tmp_path / "mail.json", lifetime=8)
    answers = iter([httpx.Response(429, text="Too Many Requests"), httpx.Response(503, json={"error": "x"})])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers, None)
        if answer is None:
            raise httpx.ConnectError("no route to host")
        return answer

    tokens = AccessTokens("mail", device_app(auth), file,
                          http=lambda: httpx.Client(transport=httpx.MockTransport(handler)))
    time.sleep(4.2)  # past half its life: a new connection would want a renewed one
    held = file.read()["access_token"]
    assert tokens.get().token == held  # 429: the held token still has seconds left
    assert tokens.get().token == held  # 503
    time.sleep(3)  # now within its last quarter: no longer offered
    with pytest.raises(SourceError) as failed:
        tokens.get()
    assert not isinstance(failed.value, SignInRequired) and "cannot reach" in str(failed.value)


def test_an_unknown_client_id_points_at_the_config_not_at_signing_in(auth, tmp_path):
    file = signed_in(auth, tmp_path / "mail.json", lifetime=1)
    time.sleep(1.1)
    app = OAuthApp("mistyped-client", ("imap",), f"{auth.url}/token", "device", device_url=f"{auth.url}/devicecode")
    with pytest.raises(SourceAuthError) as refused:
        AccessTokens("mail", app, file).get()
    assert not isinstance(refused.value, SignInRequired)
    assert "does not accept oauth2_client_id" in str(refused.value) and "connectors.mail" in str(refused.value)


class FullDisk(TokenFile):
    fail = 1

    def write(self, data):
        if self.fail:
            self.fail -= 1
            raise OSError(28, "No space left on device")
        super().write(data)


def test_a_rotated_refresh_token_the_disk_refused_is_kept_and_stored_later(auth, tmp_path):
    signed_in(auth, tmp_path / "mail.json", lifetime=1)
    file = FullDisk(tmp_path / "mail.json")
    tokens = AccessTokens("mail", device_app(auth), file)
    time.sleep(1.1)
    first = tokens.get()  # renewed; the old refresh token is spent, the new one not on disk
    assert file.read()["access_token"] != first.token
    time.sleep(1.1)
    second = tokens.get()  # renewed with the kept refresh token, and now stored
    assert second.token != first.token and file.read()["access_token"] == second.token
    assert auth.refresh_count == 2 and all(c[2] == "ok" for c in auth.calls if c[1] == "refresh_token")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files away")
def test_tokens_root_writes_belong_to_the_state_directorys_owner(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 65534, 65534)  # a service's dynamic user
    file = TokenFile(state / "omi-bridge-tokens" / "mail.json")
    with file.locked():
        file.write({"access_token": "at-x", "refresh_token": "rt-x"})
    for path in (file.path.parent, file.path, file.path.with_name("mail.json.lock")):
        assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534), path
