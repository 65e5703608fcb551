from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_omi import FakeOmi

API_KEY = "test-key"


@pytest.fixture
def fake_omi() -> Iterator[FakeOmi]:
    with FakeOmi(keys={API_KEY: ["conversations:read", "conversations:write"]}) as fake:
        yield fake


def write_config(folder: Path, omi_url: str, *, omi_extra: str = "", connectors: str | None = None) -> Path:
    """A config for tests: fast retries, no reconcile wait, a spool in ``folder/spool``."""
    if connectors is None:
        connectors = '[connectors.drop]\ntype = "spool"\npath = "spool"\npoll_interval = 0.5\nsettle_seconds = 0\n'
    path = folder / "config.toml"
    path.write_text(
        "[omi]\n"
        'api_key = "${OMI_API_KEY}"\n'
        f'base_url = "{omi_url}"\n'
        "timeout = 5\nretry_initial = 0.2\nretry_max = 2\nreconcile_delay = 0\nauth_recheck = 1\n"
        f"{omi_extra}\n"
        '[state]\npath = "state.db"\n\n'
        f"{connectors}"
    )
    return path


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
