"""The whole bridge as a user runs it: the CLI in its own process, the fake Omi over real HTTP."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import drop_files, run_cli, start_daemon, wait_until, write_config

pytestmark = pytest.mark.slow


def _sent_rows(state) -> list[tuple[str, str]]:
    with sqlite3.connect(state) as conn:
        return conn.execute("SELECT state, omi_id FROM outbox").fetchall()


def test_100_files_with_faults_are_delivered_exactly_once(tmp_path, fake_omi):
    fake_omi.fault_rates = {"500": 0.08, "502": 0.03, "503": 0.04, "drop": 0.06, "drop-before": 0.04, "429:1": 0.04}
    fake_omi.quota = (40, 2.0)  # the real limiter's window, scaled down
    fake_omi.latency = 0.01
    config = write_config(tmp_path, fake_omi.url)
    texts = [f"note number {i}: {'lorem ipsum ' * (i % 7)}".strip() for i in range(100)]
    drop_files(tmp_path / "spool", texts)

    result = run_cli("run", "--once", "-c", str(config))

    assert result.returncode == 0, result.stderr
    assert "sent 100, dead 0, pending 0" in result.stdout
    assert Counter(fake_omi.texts()) == Counter(texts)  # each exactly once
    assert fake_omi.violations == []  # nothing outside the contract, nothing inside a pause
    statuses = Counter(status for _, status in fake_omi.posts())
    assert statuses[429] >= 2 and statuses[500] >= 1 and statuses[0] >= 1  # the faults really happened
    assert statuses[422] == 0
    rows = _sent_rows(tmp_path / "state.db")
    assert {omi_id for _, omi_id in rows} == {c["id"] for c in fake_omi.conversations}
    assert len(list((tmp_path / "spool" / "done").iterdir())) == 100


def test_items_dated_days_back_whose_answers_are_lost_are_delivered_once(tmp_path, fake_omi):
    # Omi files a conversation under its posted started_at: a lost answer for an item dated four
    # days back is only found by looking there
    fake_omi.script.extend((["ok"] * 10 + ["drop"]) * 6)
    config = write_config(tmp_path, fake_omi.url)
    old = (datetime.now(UTC) - timedelta(days=4)).replace(microsecond=0)
    texts = [f"note {i}" for i in range(42)]
    dated = [f"dated note {i}" for i in range(20)]
    drop_files(tmp_path / "spool", texts)
    drop_files(tmp_path / "spool", [json.dumps({"text": t, "started_at": (old + timedelta(minutes=i)).isoformat()})
                                    for i, t in enumerate(dated)], suffix=".json")

    result = run_cli("run", "--once", "-c", str(config))

    assert result.returncode == 0, result.stderr
    assert Counter(fake_omi.texts()) == Counter(texts + dated)  # each exactly once
    assert [s for _, s in fake_omi.posts()].count(0) == 5  # five answers really were lost
    assert result.stderr.count("(found in Omi: the answer to its send was lost)") == 5
    assert fake_omi.violations == []


def test_daemon_survives_bad_input_and_a_broken_source(tmp_path, fake_omi):
    (tmp_path / "not-a-folder").write_text("a file where a folder should be")
    connectors = (
        '[connectors.good]\ntype = "spool"\npath = "spool"\npoll_interval = 0.3\nsettle_seconds = 0\n\n'
        '[connectors.broken]\ntype = "spool"\npath = "not-a-folder/spool"\npoll_interval = 0.3\n'
    )
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        spool = tmp_path / "spool"
        assert wait_until(lambda: (spool / "done").is_dir(), 15)
        long_text = "".join(f"paragraph {i}. " + "words " * 40 + "\n\n" for i in range(1300))[:300_000]
        (spool / "broken.json").write_text("{nope")
        (spool / "dangling.txt").symlink_to(tmp_path / "nowhere")
        (spool / "blob.txt").write_bytes(b"\x00\x01" * 2_500_000)
        (spool / "long.txt").write_text(long_text)
        (spool / "fine.txt").write_text("a fine note")

        assert wait_until(lambda: len(fake_omi.texts()) == 5, 30), fake_omi.texts()
        assert daemon.poll() is None  # still running
        parts = sorted(t for t in fake_omi.texts() if t.startswith("[part "))
        assert len(parts) == 4
        assert "a fine note" in fake_omi.texts()
        time.sleep(1)  # several more polls of the broken source
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0

    text = log.read_text()
    assert text.count("broken: source failing") == 1  # a change of state, not every poll
    assert "Traceback" not in text

    status = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)
    states = {c["name"]: c for c in status["connectors"]}
    assert states["good"]["state"] == "ok" and states["broken"]["state"] == "failing"
    assert "not-a-folder" in states["broken"]["last_error"]
    reasons = {s["ref"]: s["reason"] for s in status["skipped"]}
    assert reasons["blob.txt"] == "binary file (contains NUL bytes)"
    assert reasons["broken.json"].startswith("not valid JSON")
    assert reasons["dangling.txt"] == "unreadable: No such file or directory"
    assert status["outbox"] == {"pending": 0, "inflight": 0, "sent": 5, "dead": 0}


def test_sigterm_during_slow_sends_exits_in_time_and_loses_nothing(tmp_path, fake_omi):
    fake_omi.latency = 4.0  # Omi's LLM work, slower than the shutdown grace
    config = write_config(tmp_path, fake_omi.url, shutdown_grace=1, reconcile_delay=6)
    texts = [f"slow item {i}" for i in range(4)]
    drop_files(tmp_path / "spool", texts)
    daemon = start_daemon(config, tmp_path / "daemon.log")
    assert wait_until(lambda: fake_omi.arrived >= 2, 15)  # two requests are now inside Omi
    started = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(10) == 0
    assert time.monotonic() - started < 4  # within the grace, not after Omi answered
    assert "left for reconciliation" in (tmp_path / "daemon.log").read_text()

    fake_omi.latency = 0
    result = run_cli("run", "--once", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("(found in Omi: the answer to its send was lost)") == 2  # the abandoned two, found in Omi's list
    assert Counter(fake_omi.texts()) == Counter(texts)
    assert fake_omi.violations == []



def test_a_second_ctrl_c_stops_at_once_and_status_shows_nothing_in_flight_after(tmp_path, fake_omi):
    fake_omi.latency = 20.0  # Omi's LLM work, far longer than anyone waits at a terminal
    config = write_config(tmp_path, fake_omi.url, shutdown_grace=30, reconcile_delay=1)
    drop_files(tmp_path / "spool", ["one", "two"])
    daemon = start_daemon(config, tmp_path / "daemon.log")
    assert wait_until(lambda: fake_omi.arrived >= 2, 15)
    daemon.send_signal(signal.SIGINT)
    time.sleep(0.5)
    started = time.monotonic()
    daemon.send_signal(signal.SIGINT)
    assert daemon.wait(10) == 0
    assert time.monotonic() - started < 3  # not the 30 s grace
    assert "second interrupt: stopping now" in (tmp_path / "daemon.log").read_text()
    status = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)
    assert status["outbox"]["inflight"] == 0 and status["outbox"]["pending"] == 2
    assert status["backlog"]["to_check"] == 2  # each is looked up in Omi before any re-send


def test_a_second_daemon_on_the_same_state_refuses_to_start(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url)
    first = start_daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: (tmp_path / "state.db.lock").exists(), 15)
        time.sleep(0.5)
        second = run_cli("run", "--once", "-c", str(config))
        assert second.returncode == 1
        assert second.stderr.strip() == f"omi-bridge run: another omi-bridge is running on {tmp_path / 'state.db'}"
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(15) == 0
