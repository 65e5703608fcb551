"""docs/connectors.md works: the example connector package, installed with pip, is found through
its entry point, passes the shared contract, and delivers through the daemon."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import bridge_env, write_config

EXAMPLE = Path(__file__).parent / "example_connector"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The example package installed by pip into a folder of its own (put on PYTHONPATH)."""
    root = tmp_path_factory.mktemp("example")
    source = root / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("test_*", "__pycache__"))
    site = root / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert list(site.glob("omi_bridge_notes-*.dist-info/entry_points.txt"))
    return site


def test_the_installed_example_passes_the_shared_contract(installed, tmp_path) -> None:
    shutil.copy(EXAMPLE / "test_notes_contract.py", tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         str(tmp_path / "test_notes_contract.py")],
        env=bridge_env(PYTHONPATH=str(installed)), cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


def test_the_installed_example_is_a_connector_type_the_daemon_runs(installed, tmp_path, fake_omi) -> None:
    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps({"id": f"n{n}", "text": f"remember {n}"}) + "\n" for n in range(3))
                     + "{broken\n")
    config = write_config(tmp_path, fake_omi.url, connectors='[connectors.jot]\ntype = "notes"\npath = "notes.jsonl"\n')
    env = bridge_env(PYTHONPATH=str(installed))
    check = subprocess.run([sys.executable, "-m", "bridge", "check", "-c", str(config)], env=env,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "4 note(s)" in check.stdout
    run = subprocess.run([sys.executable, "-m", "bridge", "run", "--once", "-c", str(config)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert sorted(fake_omi.texts()) == ["remember 0", "remember 1", "remember 2"]
    status = subprocess.run([sys.executable, "-m", "bridge", "status", "-c", str(config)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert "not a note" in status.stdout
    without = subprocess.run([sys.executable, "-m", "bridge", "check", "-c", str(config)], env=bridge_env(),
                             capture_output=True, text=True, timeout=60)
    assert without.returncode == 2 and "unknown connector type 'notes'" in without.stderr
