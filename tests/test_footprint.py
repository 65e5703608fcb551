"""What an idle daemon holds in memory: only what its configured connectors use. A spool-only
daemon that has delivered a file has not imported the mail, chat or console libraries, nor
aiohttp; the console's first request brings aiohttp and Jinja2 in and is served.
(The figures themselves are measured by benchmarks/idle_rss.py, not here.)"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

from bridge.store import Store
from tests.conftest import bridge_env, drop_files, listen_on, wait_until, write_config
from tests.test_service import free_port

# each costs megabytes an idle spool-only daemon does not need
NOT_UNTIL_NEEDED = ("aiohttp", "jinja2", "imapclient", "slack_bolt", "slack_sdk", "nio", "inscriptis", "lxml",
                    "icalendar", "authlib", "tomlkit", "sqlite_utils", "numpy", "fast_mail_parser")


def _imported(log: str) -> set[str]:
    """Top-level packages the daemon imported so far, from ``-X importtime``'s lines."""
    return {m.group(1).split(".")[0] for m in re.finditer(r"^import time:.*\|\s*(\S+)\s*$", log, re.M)}


def test_a_spool_only_daemon_imports_the_console_and_aiohttp_only_when_asked(tmp_path, fake_omi) -> None:
    port = free_port()
    config = write_config(tmp_path, fake_omi.url)
    listen_on(config, f"127.0.0.1:{port}")
    log = tmp_path / "log"
    daemon = subprocess.Popen([sys.executable, "-m", "bridge", "run", "-c", str(config)],
                              env=bridge_env(PYTHONPROFILEIMPORTTIME="1"), stdout=subprocess.DEVNULL,
                              stderr=log.open("ab"))
    try:
        drop_files(tmp_path / "spool", ["a note that reaches Omi while nobody browses the console"])
        store = Store(tmp_path / "state.db")
        assert wait_until(lambda: store.counts()["sent"] == 1, 30), log.read_text()[-3000:]
        assert _imported(log.read_text()) & set(NOT_UNTIL_NEEDED) == set()

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status in (200, 401, 403), status  # the console answers (it asks to sign in)
        assert {"aiohttp", "jinja2"} <= _imported(log.read_text())
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
