"""What the daemon and status cost, held to by behaviour (the figures themselves are measured by
benchmarks/idle_rss.py and status_time.py, not here). An idle daemon holds only what its configured
connectors use: a spool-only daemon that has delivered a file has not imported the mail, chat or
console libraries, nor aiohttp; the console's first request brings aiohttp and Jinja2 in and is
served. ``status`` reads a large outbox by its indexes."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime

from bridge.assemble import QueuedRequest
from bridge.config import load_config
from bridge.models import PRIORITY_LIVE, CreateConversationRequest, Skip
from bridge.status import collect
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


def test_status_reads_the_outbox_by_index_except_for_its_one_count_by_state(tmp_path, monkeypatch) -> None:
    """Every statement ``status`` runs, planned on a state with rows: the outbox is searched by an
    index, never scanned, except by the count of rows per state (a covering index, no row read),
    so a new scan of a 100,000-row outbox shows up here before it shows up in status's time."""
    monkeypatch.setenv("OMI_API_KEY", "k")
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9"))
    store = Store(tmp_path / "state.db")
    now = datetime.now(UTC)
    store.submit("drop", [QueuedRequest(f"k{n}", CreateConversationRequest(text=f"note {n}", started_at=now),
                                        PRIORITY_LIVE) for n in range(50)], skips=[Skip("s", "empty file")])
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    collect(config, store)
    store.conn.set_trace_callback(None)
    scans = set()
    for sql in dict.fromkeys(s for s in statements if s.lstrip().upper().startswith("SELECT")):
        for *_, step in store.conn.execute("EXPLAIN QUERY PLAN " + sql):
            if step.startswith("SCAN outbox"):
                scans.add((step, sql))
    assert {step for step, _ in scans} <= {"SCAN outbox USING COVERING INDEX outbox_due"}, scans
    assert [sql for _, sql in scans] == ["SELECT state, count(*) AS n FROM outbox GROUP BY state"]
