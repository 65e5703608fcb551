"""Mail accounts that sign in with OAuth2: `omi-bridge login`, then the daemon on its own, against
a real Dovecot that checks every XOAUTH2 / OAUTHBEARER token at the fake authorization server's
introspection endpoint (tests/fake_oauth.py).

Dovecot makes an address that failed a login wait (about 2 s for the NO, then 4 s, 8 s before
later logins): only the revocation test fails logins (the daemon's once, and its ``check``'s).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests import dovecot as dv
from tests.conftest import bridge_env, drop_files, listen_on, run_cli, start_daemon, wait_until, write_config
from tests.fake_oauth import FakeAuthServer

pytestmark = pytest.mark.slow

if not dv.available():
    if os.environ.get("CI"):
        raise RuntimeError("Dovecot (Debian package dovecot-imapd) is required under CI")
    pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)", allow_module_level=True)


@pytest.fixture
def auth():
    with FakeAuthServer() as server:
        yield server


@pytest.fixture
def server(auth):
    root = Path(tempfile.mkdtemp(prefix="omi-bridge-dovecot-"))
    server = dv.Dovecot(root, oauth2_introspection_url=f"{auth.url}/introspect")
    server.add_user("alice", "harness-only-pw")  # for the test's own APPENDs; the bridge has no password
    server.start()
    server.append("alice", mail(0, "already there"), folder="Sent")  # a Sent folder, found by its name
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def mail(n: int, subject: str | None = None) -> bytes:
    when = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (f"From: Carol <carol@example.net>\nTo: alice@example.com\nSubject: {subject or f'note {n}'}\n"
            f"Date: {when}\nMessage-ID: <oauth{n}@example.net>\nContent-Type: text/plain\n\n"
            f"Body of message {n}.\n").encode()


def oauth_table(server, fake_auth, name: str = "mail", **options) -> str:
    """An Outlook.com preset pointed at the loopback servers: host and endpoints overridden."""
    settings = {"provider": "outlook", "host": "127.0.0.1", "port": server.port, "security": "none",
                "username": "alice", "oauth2_client_id": "test-client",
                "oauth2_device_url": f"{fake_auth.url}/devicecode", "oauth2_token_url": f"{fake_auth.url}/token",
                "idle": False, "poll_interval": 300, **options}
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    return f'[connectors.{name}]\ntype = "imap"\n{lines}\n'


def login_by_device_code(config: Path, auth: FakeAuthServer, name: str = "mail") -> str:
    """`omi-bridge login` as a person runs it: read the code it prints, approve it, wait."""
    login = subprocess.Popen([sys.executable, "-m", "bridge", "login", name, "-c", str(config)], env=bridge_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    first = login.stdout.readline()
    code = re.search(r"enter the code (\S+)", first)
    assert code, first + login.stderr.read()
    auth.approve(code.group(1), "alice")
    out, err = login.communicate(timeout=60)
    assert login.returncode == 0, out + err
    return first + out + err


def tokens_of(config: Path, name: str = "mail") -> Path:
    return config.parent / "state-tokens" / f"{name}.json"


def bodies(fake) -> list[str]:
    return sorted(re.search(r"Body of message (\d+)", t).group(0) for t in fake.texts())


def assert_no_token_in(auth: FakeAuthServer, *texts: str) -> None:
    issued = auth.issued_tokens()
    assert issued
    for text in texts:
        assert not [t for t in issued if t in text]


def test_login_by_device_code_then_mail_is_delivered(tmp_path, server, auth, fake_omi):
    config = write_config(tmp_path, fake_omi.url, connectors=oauth_table(server, auth))
    before = run_cli("check", "-c", str(config))
    assert "mail: FAILED: not signed in: run omi-bridge login mail" in before.stdout

    said = login_by_device_code(config, auth)
    assert f"open {auth.url}/device in a browser" in said
    assert "mail: signed in (alice@127.0.0.1, 2 folder(s), IDLE)" in said  # INBOX and \Sent found
    path = tokens_of(config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "access_token" not in config.read_text()

    assert run_cli("run", "--once", "-c", str(config)).returncode == 0  # the first start: mail from now on
    server.append("alice", mail(1))
    server.append("alice", mail(2), folder="Sent")
    done = run_cli("run", "--once", "-c", str(config), "--log-level", "DEBUG")
    assert done.returncode == 0, done.stderr
    assert bodies(fake_omi) == ["Body of message 1", "Body of message 2"]
    status = run_cli("status", "-c", str(config))
    preview = run_cli("preview", "-c", str(config))
    assert_no_token_in(auth, said, done.stdout, done.stderr, status.stdout, preview.stdout, preview.stderr)


def test_browser_sign_in_by_pasting_the_address_then_oauthbearer_logins(tmp_path, server, auth, fake_omi):
    """A server without a browser: the redirect to 127.0.0.1 cannot load on the laptop, so the
    person pastes its address into the terminal."""
    auth.client_secret = "desktop-secret"
    table = oauth_table(server, auth, auth="oauthbearer", oauth2_flow="browser",
                        oauth2_authorize_url=f"{auth.url}/authorize", oauth2_client_secret="desktop-secret",
                        oauth2_scopes=["https://mail.google.com/"], folders=["INBOX"])
    config = write_config(tmp_path, fake_omi.url, connectors=table)
    login = subprocess.Popen([sys.executable, "-m", "bridge", "login", "mail", "-c", str(config)], env=bridge_env(),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said = ""
    while "/authorize?" not in said:
        said += login.stdout.readline()
    address = re.search(r"(http://\S+/authorize\?\S+)", said).group(1)
    landing = httpx.get(address).headers["location"]  # consent given in a browser elsewhere
    out, err = login.communicate(landing + "\n", timeout=60)
    assert login.returncode == 0, out + err
    assert "mail: signed in (alice@127.0.0.1, 1 folder(s), IDLE)" in out
    assert "desktop-secret" not in said + out + err

    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    server.append("alice", mail(3))
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert bodies(fake_omi) == ["Body of message 3"]
    assert ("/token", "authorization_code", "ok") in auth.calls


def test_expiring_access_tokens_are_renewed_and_idle_reconnects_without_losing_or_repeating_mail(
        tmp_path, server, auth, fake_omi):
    auth.access_lifetime = 4  # renewed a second before expiry: every ~3 s, IDLE connections included
    config = write_config(tmp_path, fake_omi.url,
                          connectors=oauth_table(server, auth, idle=True, folders=["INBOX"]))
    said = login_by_device_code(config, auth)
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log, "--log-level", "DEBUG")
    try:
        assert wait_until(lambda: _source_state(config, "mail") == "ok", 30, interval=0.5)
        time.sleep(1)  # the IDLE connection is up
        for n in range(1, 6):  # over ~12 s: several token lifetimes
            server.append("alice", mail(n))
            assert wait_until(lambda n=n: len(fake_omi.texts()) == n, 8), f"mail {n} not pushed by IDLE in time"
            time.sleep(1.5)
    finally:
        daemon.terminate()
        daemon.wait(30)
    text = log.read_text()
    assert bodies(fake_omi) == [f"Body of message {n}" for n in range(1, 6)]  # each once
    assert auth.refresh_count >= 3
    assert text.count("access token expires soon: reconnecting") >= 2  # IDLE remade with a new token
    assert ("/introspect", "", "inactive") not in auth.calls  # no login ever used an expired token
    assert "failing" not in text
    assert_no_token_in(auth, said, text)


def test_a_revoked_sign_in_fails_that_source_only_and_a_new_login_recovers_it_without_restart(
        tmp_path, server, auth, fake_omi):
    port = _free_port()
    connectors = oauth_table(server, auth, name="work-mail", poll_interval=1, folders=["INBOX"]) + (
        '[connectors.drop]\ntype = "spool"\npath = "spool"\npoll_interval = 0.5\nsettle_seconds = 0\n')
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    listen_on(config, f"127.0.0.1:{port}")
    said = login_by_device_code(config, auth, "work-mail")
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: _health(port).get("work-mail", {}).get("state") == "ok", 30)
        auth.revoke("alice")  # a password change, or the person removed the app's access
        assert wait_until(lambda: _health(port).get("work-mail", {}).get("state") == "failing", 30)
        error = _health(port)["work-mail"]["error"]
        assert error.startswith("sign in again: omi-bridge login work-mail")
        server.append("alice", mail(7))  # arrives while signed out
        drop_files(tmp_path / "spool", ["the other sources go on"])
        assert wait_until(lambda: any("the other sources go on" in t for t in fake_omi.texts()), 30)
        status = run_cli("status", "-c", str(config))
        check = run_cli("check", "-c", str(config))
        assert "sign in again: omi-bridge login work-mail" in status.stdout
        assert "work-mail: FAILED: sign in again: omi-bridge login work-mail" in check.stdout
        assert "drop: ok" in check.stdout

        said += login_by_device_code(config, auth, "work-mail")  # no restart
        assert wait_until(lambda: _health(port)["work-mail"]["state"] == "ok", 40)
        assert wait_until(lambda: "Body of message 7" in " ".join(fake_omi.texts()), 20)
    finally:
        daemon.terminate()
        daemon.wait(30)
    text = log.read_text()
    assert text.count("source failing: sign in again: omi-bridge login work-mail") == 1  # one line, once
    assert "work-mail: source recovered" in text
    assert sum("Body of message 7" in t for t in fake_omi.texts()) == 1
    assert_no_token_in(auth, said, text, status.stdout, check.stdout)


def test_a_new_login_wakes_the_signed_out_idle_at_once_not_after_its_back_off(tmp_path, server, auth, fake_omi):
    """Signed out, the IDLE thread retries with a growing back-off (1, 2, 4, 8, 16 s...); a new
    `omi-bridge login` rewrites the token file, and that wakes it: mail is not held until the
    back-off runs out. No timer poll helps here (poll_interval = 300)."""
    port = _free_port()
    auth.access_lifetime = 2  # stale by the daemon's start: it refreshes, and is refused, with no IMAP login
    config = write_config(tmp_path, fake_omi.url, connectors=oauth_table(server, auth, idle=True, folders=["INBOX"]))
    listen_on(config, f"127.0.0.1:{port}")
    said = login_by_device_code(config, auth)
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0  # the first start: mail from now on
    auth.revoke("alice")
    auth.access_lifetime = 3600
    time.sleep(1.5)  # the stored access token past half its life: not used for a new connection
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log, "--log-level", "DEBUG")
    try:
        assert wait_until(lambda: _health(port).get("mail", {}).get("state") == "failing", 30)
        assert _health(port)["mail"]["error"].startswith("sign in again: omi-bridge login mail")
        time.sleep(16)  # the IDLE thread's back-off has grown: its next try is ~15 s away
        said += login_by_device_code(config, auth)
        signed_in = time.monotonic()
        server.append("alice", mail(9))
        assert wait_until(lambda: len(fake_omi.texts()) == 1, 30)
        took = time.monotonic() - signed_in
    finally:
        daemon.terminate()
        daemon.wait(30)
    assert took < 8, f"mail waited {took:.1f} s after the new sign-in"
    assert bodies(fake_omi) == ["Body of message 9"]
    assert ("/introspect", "", "inactive") not in auth.calls  # no login tried a refused token
    assert_no_token_in(auth, said, log.read_text())


def _source_state(config: Path, name: str) -> str | None:
    done = run_cli("status", "-c", str(config), "--json")
    if done.returncode != 0 or not done.stdout.startswith("{"):
        return None
    return next((c["state"] for c in json.loads(done.stdout)["connectors"] if c["name"] == name), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> dict:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["connectors"]
    except (httpx.HTTPError, ValueError, KeyError):
        return {}
