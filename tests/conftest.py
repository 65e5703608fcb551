from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_omi import FakeOmi

API_KEY = "test-key"


@pytest.fixture
def fake_omi() -> Iterator[FakeOmi]:
    with FakeOmi(keys={API_KEY: ["conversations:read", "conversations:write"]}) as fake:
        yield fake


FAST = {"timeout": 5, "retry_initial": 0.2, "retry_max": 2, "reconcile_delay": 0, "auth_recheck": 1}


def write_config(folder: Path, omi_url: str, *, connectors: str | None = None, listen: str = "", **omi: object) -> Path:
    """A config for tests: fast retries, no reconcile wait, a spool in ``folder/spool``. No HTTP
    listener unless ``listen`` says where (the default 127.0.0.1:8080 would be fought over by the
    daemons of tests running side by side); ``listen_on`` sets one later."""
    if connectors is None:
        connectors = '[connectors.drop]\ntype = "spool"\npath = "spool"\npoll_interval = 0.5\nsettle_seconds = 0\n'
    settings = {**FAST, **omi}
    lines = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    path = folder / "config.toml"
    path.write_text(
        f'[omi]\napi_key = "${{OMI_API_KEY}}"\nbase_url = "{omi_url}"\n{lines}\n'
        f'[http]\nlisten = "{listen}"\n\n[state]\npath = "state.db"\n\n{connectors}'
    )
    return path


def listen_on(config: Path, listen: str) -> None:
    """Give a config made by ``write_config`` an HTTP listener at ``listen`` ("127.0.0.1:PORT")."""
    text = config.read_text()
    assert '[http]\nlisten = ""' in text
    config.write_text(text.replace('[http]\nlisten = ""', f'[http]\nlisten = "{listen}"', 1))


def bridge_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMI_BRIDGE_CONFIG", "STATE_DIRECTORY")}
    env["OMI_API_KEY"] = API_KEY
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        env=bridge_env() if env is None else env,
        capture_output=True, text=True, timeout=timeout,
    )


def wait_until(predicate, timeout: float = 30, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def start_daemon(config: Path, log: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bridge", "run", "-c", str(config), *extra],
        env=bridge_env(), stdout=subprocess.DEVNULL, stderr=log.open("ab"),
    )


@contextlib.contextmanager
def serving(config: Path, log: Path) -> Iterator[subprocess.Popen]:
    """The daemon on ``config``, once its listener is up, until the block ends (then SIGTERM
    and its exit awaited)."""
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: "listening on" in log.read_text(), 30), log.read_text()
        yield daemon
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)


def drop_files(spool: Path, texts: list[str], suffix: str = ".txt") -> None:
    """Write files the way a well-behaved producer does: under a dot-name, then rename."""
    spool.mkdir(exist_ok=True)
    for n, text in enumerate(texts):
        tmp = spool / f".{n}.tmp"
        tmp.write_text(text)
        os.replace(tmp, spool / f"{abs(hash(text)):x}-{n}{suffix}")
