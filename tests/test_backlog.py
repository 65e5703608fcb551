"""What a backlog costs and why rows wait, where a user looks: status, /healthz, /metrics, run --once."""

from __future__ import annotations

import json
import signal
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bridge.assemble import QueuedRequest
from bridge.health import omi_state
from bridge.models import PRIORITY_BACKFILL, PRIORITY_LIVE, CreateConversationRequest
from bridge.store import Store
from tests.conftest import API_KEY, drop_files, run_cli, wait_until, write_config
from tests.fake_omi import FakeOmi
from tests.test_service import free_port, start, with_listener


def _words(text: str) -> str:
    """Status text with its lines joined: it wraps at 100 columns."""
    return " ".join(text.split())


def _backfill(state, count: int) -> None:
    store = Store(state)
    store.submit("archive", [
        QueuedRequest(f"old-{i}", CreateConversationRequest(text=f"old mail {i}", started_at="2026-01-05T09:00:00Z"),
                      PRIORITY_BACKFILL) for i in range(count)
    ])
    store.close()


def test_a_held_backlog_shows_its_limit_and_when_it_will_be_delivered(tmp_path, fake_omi) -> None:
    fake_omi.quota = (3, 3600.0)  # Omi's limiter: 3 writes an hour on this key
    port = free_port()
    config = write_config(tmp_path, fake_omi.url)
    with_listener(config, port)
    _backfill(tmp_path / "state.db", 12)
    daemon = start(config, tmp_path / "log")
    try:
        # three writes go, the fourth meets a 429 that states the limit; the rest wait for it
        assert wait_until(lambda: len(fake_omi.posts()) >= 4, 30)
        drop_files(tmp_path / "spool", ["new note"])  # the window is spent: it waits too
        store = Store(tmp_path / "state.db")
        assert wait_until(lambda: store.counts()["pending"] == 10, 10)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        status = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)
        table = _words(run_cli("status", "-c", str(config)).stdout)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    assert [s for _, s in fake_omi.posts()] == [200, 200, 200, 429]

    backlog = status["backlog"]
    assert (backlog["live"], backlog["backfill"]) == (1, 9)
    assert backlog["limit"]["count"] == 3 and backlog["limit"]["window_seconds"] == 3600
    assert backlog["limit"]["source"] == "learned" and backlog["limit"]["live_reserve"] == 1
    # the hour's writes are spent; then 9 backfill rows at 2 an hour (one write of each window
    # kept for live items): about 5.5 h
    assert 5.4 * 3600 <= backlog["eta_seconds"] <= 5.5 * 3600
    assert health["backlog"] == backlog | {"eta_seconds": health["backlog"]["eta_seconds"],
                                           "eta": health["backlog"]["eta"]}
    assert "backlog: 1 live, 9 backfill; limit 3 writes per hour (learned from Omi)" in table
    assert "delivered in about 5 h 30 min" in table

    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("omi_bridge_waiting_rows", (("priority", "backfill"),))] == 9
    assert samples[("omi_bridge_waiting_rows", (("priority", "live"),))] == 1
    assert samples[("omi_bridge_write_limit", (("source", "learned"),))] == 3
    assert samples[("omi_bridge_write_limit_window_seconds", ())] == 3600
    assert samples[("omi_bridge_backlog_eta_seconds", ())] >= 5.4 * 3600


def test_status_before_omi_has_stated_a_limit_names_the_default_and_a_configured_one_wins(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url)
    _backfill(tmp_path / "state.db", 50)
    backlog = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)["backlog"]
    assert backlog["limit"]["source"] == "default" and backlog["limit"]["count"] == 25
    # 50 rows at 25 an hour, five of each hour left to live items once Omi states its limit
    assert backlog["eta_seconds"] == round(50 / 20 * 3600)

    config = write_config(tmp_path, fake_omi.url, rate_limit="10/hour")
    backlog = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)["backlog"]
    assert backlog["limit"]["source"] == "configured" and backlog["limit"]["count"] == 10
    assert backlog["eta_seconds"] == round(50 / 8 * 3600)  # two writes of each hour kept for live items


def test_run_once_right_after_files_were_dropped_waits_for_them_to_settle(tmp_path, fake_omi) -> None:
    connectors = '[connectors.drop]\ntype = "spool"\npath = "spool"\nsettle_seconds = 2\n'
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    drop_files(tmp_path / "spool", ["call the plumber", "buy milk"])
    started = time.monotonic()
    result = run_cli("run", "--once", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 1.5
    assert "2 file(s) younger than settle_seconds (2s); waiting" in result.stderr
    assert result.stdout.splitlines()[0] == "sent 2, dead 0, pending 0"
    assert result.stdout.splitlines()[1].startswith("backlog: nothing waiting; limit 25 writes per hour")
    assert sorted(fake_omi.texts()) == ["buy milk", "call the plumber"]

    # a second run reports what it did, not what all runs did
    again = run_cli("run", "--once", "-c", str(config))
    assert again.stdout.splitlines()[0] == "sent 0, dead 0, pending 0"


def test_omi_unreachable_is_said_once_shown_everywhere_and_its_recovery_too(tmp_path) -> None:
    first = FakeOmi(keys={API_KEY: ["conversations:read", "conversations:write"]})
    url = first.start()
    first.stop()  # nothing listens there now: Omi is unreachable
    omi_port = int(url.rsplit(":", 1)[1])
    port = free_port()
    config = write_config(tmp_path, url)
    with_listener(config, port)
    log = tmp_path / "log"
    daemon = start(config, log)
    try:
        drop_files(tmp_path / "spool", ["a note while Omi is away"])
        store = Store(tmp_path / "state.db")
        assert wait_until(lambda: omi_state(store)["state"] == "failing", 20)
        time.sleep(2)  # several more failed attempts
        status = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)
        table = _words(run_cli("status", "-c", str(config)).stdout)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        with FakeOmi(keys={API_KEY: ["conversations:read", "conversations:write"]}) as omi:
            omi.stop()
            omi.start(omi_port)  # Omi is back where it was
            assert wait_until(lambda: omi.texts() == ["a note while Omi is away"], 30)
            assert wait_until(lambda: omi_state(store)["state"] == "ok", 10)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    text = log.read_text()
    assert text.count("cannot deliver to Omi: cannot reach Omi at") == 1  # a change of state, not every try
    assert text.count("Omi answers again after") == 1
    assert status["omi"]["state"] == "failing" and "ConnectError" in status["omi"]["error"]
    assert "omi: failing since" in table and "cannot reach Omi at" in table
    assert health["omi"]["state"] == "failing"
    assert "omi_bridge_omi_failing 1.0" in metrics


def test_run_once_with_omi_unreachable_keeps_the_item_says_why_and_does_not_retry_for_a_minute(tmp_path) -> None:
    omi = FakeOmi()
    url = omi.start()
    omi.stop()  # nothing listens there: Omi is unreachable
    config = write_config(tmp_path, url)
    drop_files(tmp_path / "spool", ["written while offline"])
    started = time.monotonic()
    result = run_cli("run", "--once", "-c", str(config))
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[0] == "sent 0, dead 0, pending 1"
    assert result.stdout.splitlines()[-1].startswith("1 row(s) wait because Omi cannot be delivered to: cannot reach")
    assert result.stderr.count("cannot deliver to Omi: cannot reach Omi at") == 1
    # it gave up after a few seconds of failures; retrying for its whole minute took 60-80 s
    assert elapsed < 30, elapsed
    # the note is safe in the state and the next run delivers it
    with FakeOmi(keys={API_KEY: ["conversations:read", "conversations:write"]}) as back:
        back.stop()
        back.start(int(url.rsplit(":", 1)[1]))
        again = run_cli("run", "--once", "-c", str(config))
        assert again.returncode == 0, again.stderr
        assert back.texts() == ["written while offline"]


def _live(state, count: int) -> None:
    store = Store(state)
    store.submit("drop", [
        QueuedRequest(f"new-{i}", CreateConversationRequest(text=f"new note {i}", started_at="2026-12-01T09:00:00Z"),
                      PRIORITY_LIVE) for i in range(count)
    ])
    store.close()


def test_status_and_plan_give_one_estimate_and_none_while_omi_refuses_the_key(tmp_path, fake_omi) -> None:
    config = write_config(tmp_path, fake_omi.url, rate_limit="25/hour")
    (tmp_path / "spool").mkdir()
    _backfill(tmp_path / "state.db", 130)
    _live(tmp_path / "state.db", 7)

    status = run_cli("status", "--json", "-c", str(config))
    plan = run_cli("plan", "--json", "-c", str(config))
    assert status.returncode == 0 and plan.returncode == 0, status.stderr + plan.stderr
    backlog, found = json.loads(status.stdout)["backlog"], json.loads(plan.stdout)
    assert (backlog["live"], backlog["backfill"]) == (7, 130)
    assert found["writes"] == {"live": 7, "backfill": 130, "total": 137}  # nothing new: what waits
    # 7 live first, 18 backfill in the hour they open (5 kept for live), then 112 at 20 an hour
    assert backlog["eta_seconds"] == found["seconds"]["total"] == round((1 + 112 / 20) * 3600)
    table = _words(run_cli("status", "-c", str(config)).stdout)
    text = run_cli("plan", "-c", str(config)).stdout
    assert "delivered in about 6 h 36 min at that rate" in table
    assert "everything in about 6 h 36 min" in text
    assert "limit 25 writes per hour (configured)" in table and "Write limit: 25 writes per hour (configured)" in text

    with FakeOmi(keys={}) as refusing:  # the key was revoked: Omi answers 401 to everything
        config = write_config(tmp_path, refusing.url, rate_limit="25/hour", auth_recheck=300)
        assert run_cli("run", "--once", "-c", str(config)).returncode == 1
    table = _words(run_cli("status", "-c", str(config)).stdout)
    backlog = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)["backlog"]
    text = run_cli("plan", "-c", str(config)).stdout
    assert "backlog: 7 live, 130 backfill; limit 25 writes per hour (configured); delivered not while Omi " \
           "refuses the key" in table
    assert backlog["eta_seconds"] is None and backlog["blocked"] == "not while Omi refuses the key"
    assert "total: 137 write(s), delivered not while Omi refuses the key" in text
