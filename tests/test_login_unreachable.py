"""`omi-bridge login` against servers that cannot be reached: one that takes the connection and
never answers, and a port nothing listens on. Every network step of a sign-in ends within the
connector's ``timeout`` with exit code 1 and one line that names what could not be reached.
Real processes, real sockets; the authorization server is tests/fake_oauth.py."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import bridge_env, write_config
from tests.fake_oauth import FakeAuthServer

TIMEOUT = 2  # the connectors' timeout in these configs: seconds
BOUND = 25  # seconds a login may take in all (the interpreter's start on a busy machine included)


@pytest.fixture
def silent() -> Iterator[int]:
    """A port that takes connections (the kernel completes the handshake) and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


@pytest.fixture
def closed() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def table(name: str, kind: str, **settings: object) -> str:
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    return f'[connectors.{name}]\ntype = "{kind}"\n{lines}\n'


def matrix(port: int) -> str:
    return table("chat", "matrix", homeserver=f"http://127.0.0.1:{port}", user_id="@alex:example.org",
                 timeout=TIMEOUT)


def mail(device_url: str, token_url: str, imap_port: int = 1) -> str:
    return table("mail", "imap", provider="outlook", host="127.0.0.1", port=imap_port, security="none",
                 username="alice", oauth2_client_id="test-client", oauth2_device_url=device_url,
                 oauth2_token_url=token_url, timeout=TIMEOUT)


def login(config: Path, name: str, typed: str = "") -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "bridge", "login", name, "-c", str(config)], env=bridge_env(),
                          input=typed, capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - started


def one_failing_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("where", ["silent", "closed"])
def test_matrix_login_to_a_homeserver_that_cannot_be_reached_ends_with_one_line(tmp_path, where, request):
    """Before, nio retried for ever: nothing for minutes."""
    port = request.getfixturevalue(where)
    config = write_config(tmp_path, "http://127.0.0.1:9", connectors=matrix(port))
    done, took = login(config, "chat", "alex-password-1\n")
    why = f"no answer within {TIMEOUT} s" if where == "silent" else "Connection refused"
    assert one_failing_line(done) == f"omi-bridge login: cannot reach http://127.0.0.1:{port}: {why}"
    assert took < BOUND
    assert "alex-password-1" not in done.stdout + done.stderr


@pytest.mark.parametrize("where", ["silent", "closed"])
def test_device_code_sign_in_when_the_provider_cannot_be_reached_ends_with_one_line(tmp_path, where, request):
    port = request.getfixturevalue(where)
    url = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path, "http://127.0.0.1:9", connectors=mail(f"{url}/devicecode", f"{url}/token"))
    done, took = login(config, "mail")
    line = one_failing_line(done)
    why = f"no answer within {TIMEOUT} s" if where == "silent" else "Connection refused"
    assert line == f"omi-bridge login: cannot reach 127.0.0.1:{port}: {why}"
    assert took < BOUND


def test_a_token_endpoint_that_stops_answering_while_the_code_is_awaited_ends_with_one_line(tmp_path, silent):
    """The device code comes from the provider; its token endpoint, polled, never answers."""
    with FakeAuthServer() as auth:
        config = write_config(tmp_path, "http://127.0.0.1:9", connectors=mail(
            f"{auth.url}/devicecode", f"http://127.0.0.1:{silent}/token"))
        done, took = login(config, "mail")
    assert "enter the code" in done.stdout
    assert one_failing_line(done) == f"omi-bridge login: cannot reach 127.0.0.1:{silent}: no answer within {TIMEOUT} s"
    assert took < BOUND


def test_the_imap_check_after_signing_in_ends_with_one_line_when_the_server_never_answers(tmp_path, silent):
    with FakeAuthServer() as auth:
        config = write_config(tmp_path, "http://127.0.0.1:9", connectors=mail(
            f"{auth.url}/devicecode", f"{auth.url}/token", imap_port=silent))
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "bridge", "login", "mail", "-c", str(config)],
                                   env=bridge_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        first = process.stdout.readline()
        code = re.search(r"enter the code (\S+)", first)
        assert code, first + process.stderr.read()
        auth.approve(code.group(1), "alice")
        out, err = process.communicate(timeout=120)
        took = time.monotonic() - started
    done = subprocess.CompletedProcess(process.args, process.returncode, first + out, err)
    assert one_failing_line(done) == f"omi-bridge login: cannot reach 127.0.0.1:{silent}: no answer within {TIMEOUT} s"
    assert took < BOUND
    assert (tmp_path / "state-tokens" / "mail.json").exists()  # the sign-in is kept: the server may come back
