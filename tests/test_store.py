from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

import pytest

from bridge.assemble import QueuedRequest
from bridge.models import PRIORITY_BACKFILL, PRIORITY_LIVE, CreateConversationRequest, Skip
from bridge.omi import parse_time
from bridge.store import SCHEMA_VERSION, Store

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
LATER = time.time() + 3600  # rows are due from the moment they are queued


def _req(key: str, text: str = "hello", priority: int = PRIORITY_LIVE, at: datetime = T0) -> QueuedRequest:
    return QueuedRequest(key, CreateConversationRequest(text=text, started_at=at, finished_at=at), priority)


@pytest.fixture
def store():
    s = Store(":memory:")
    yield s
    s.close()


def test_submit_queues_and_moves_cursor_together(store):
    assert store.submit("mail", [_req("a"), _req("b")], cursor={"uid": 7}).added == 2
    assert store.cursor("mail") == {"uid": 7}
    assert store.counts()["pending"] == 2


def test_duplicate_source_key_is_ignored_but_cursor_still_moves(store):
    store.submit("mail", [_req("a")], cursor=1)
    assert store.submit("mail", [_req("a", text="other")], cursor=2).added == 0
    assert store.counts()["pending"] == 1
    assert store.cursor("mail") == 2
    # the same key from another connector is a different item
    assert store.submit("other", [_req("a")]).added == 1


def test_a_failed_submit_leaves_neither_row_nor_cursor(store):
    store.submit("mail", [_req("a")], cursor=1)

    broken = QueuedRequest("c", None, 0)  # type: ignore[arg-type]  # fails after row b's insert
    with pytest.raises(AttributeError):
        store.submit("mail", [_req("b"), broken], cursor=2)
    assert store.cursor("mail") == 1
    assert [r["source_key"] for r in store.rows("SELECT source_key FROM outbox")] == ["a"]


def test_finished_at_is_unique_per_row_and_never_before_started_at(store):
    at = datetime(2026, 11, 1, 12, 0, 0, 500000, tzinfo=UTC)
    store.submit("mail", [_req(str(i), at=at) for i in range(50)])
    pairs = set()
    for row in store.claim_due(now=LATER, limit=100):
        started, finished = parse_time(row.body["started_at"]), parse_time(row.body["finished_at"])
        assert finished >= started
        assert finished.microsecond == row.id % 1_000_000
        pairs.add((started, finished))
    assert len(pairs) == 50


def test_claim_takes_live_before_backfill_then_oldest(store):
    store.submit("mail", [_req("old", priority=PRIORITY_BACKFILL), _req("new1"), _req("new2")])
    claimed = store.claim_due(now=LATER, limit=2)
    assert [r.source_key for r in claimed] == ["new1", "new2"]
    assert store.counts() == {"pending": 1, "inflight": 2, "sent": 0, "dead": 0}
    assert store.claim_due(now=LATER, limit=5)[0].source_key == "old"


def test_claim_respects_next_attempt_at(store):
    store.submit("mail", [_req("a")])
    (row,) = store.claim_due(now=LATER, limit=1)
    store.mark_retry(row.id, next_at=1000.0, error="503", unknown=False)
    assert store.claim_due(now=999.0, limit=1) == []
    assert store.next_due_at() == 1000.0
    assert store.claim_due(now=1000.0, limit=1)[0].attempts == 2


def test_unknown_outcome_is_kept_until_cleared(store):
    store.submit("mail", [_req("a")])
    (row,) = store.claim_due(now=LATER + 100, limit=1)
    store.mark_retry(row.id, next_at=0, error="timeout", unknown=True)
    assert store.claim_due(now=LATER + 200, limit=1) == []  # not for sending: to be looked up first
    (row,) = store.claim_due(now=LATER + 200, limit=1, uncertain=True)
    assert row.unknown_since == LATER + 100  # the attempt whose answer was lost
    assert row.attempts == 1  # a lookup is not an attempt
    store.mark_retry(row.id, next_at=0, error="list failed", unknown=True)
    (row,) = store.claim_due(now=LATER + 300, limit=1, uncertain=True)
    assert row.unknown_since == LATER + 100  # still the earliest doubtful attempt
    store.not_created(row.id, LATER + 300)
    assert store.claim_due(now=LATER + 400, limit=1, uncertain=True) == []
    (row,) = store.claim_due(now=LATER + 400, limit=1)
    assert row.unknown_since is None and row.attempts == 2


def test_claim_narrows_to_live_or_backfill(store):
    store.submit("mail", [_req("old", priority=PRIORITY_BACKFILL), _req("new")])
    assert [r.source_key for r in store.claim_due(now=LATER, limit=5, priority_above=0)] == ["old"]
    assert [r.source_key for r in store.claim_due(now=LATER, limit=5, priority_at_most=0)] == ["new"]


def test_uncertain_candidates_are_found_by_the_fingerprint_microseconds(store):
    store.submit("mail", [_req(str(i)) for i in range(3)])
    for row in store.claim_due(now=LATER, limit=3):
        store.mark_retry(row.id, next_at=0, error="timeout", unknown=row.id != 3)
    assert [r.id for r in store.uncertain_candidates(2)] == [2]
    assert store.uncertain_candidates(3) == []  # not awaiting a lookup
    assert store.uncertain_candidates(7) == []


def test_rows_left_inflight_by_a_crash_are_recovered_as_unknown(tmp_path):
    path = tmp_path / "state.db"
    first = Store(path)
    first.submit("mail", [_req("a"), _req("b")])
    first.claim_due(now=LATER, limit=1)
    first.close()  # the process "dies" with row a inflight

    second = Store(path)
    assert second.recover_inflight(retry_at_least=30) == 1
    rows = second.rows("SELECT source_key, state, unknown_since, next_attempt_at FROM outbox ORDER BY id")
    assert rows[0] == {"source_key": "a", "state": "pending", "unknown_since": LATER, "next_attempt_at": LATER + 30}
    assert rows[1]["unknown_since"] is None


def test_revive_dead_rows(store):
    store.submit("mail", [_req("a"), _req("b")])
    for row in store.claim_due(now=LATER, limit=2):
        store.mark_dead(row.id, "422: bad")
    assert store.revive([1]) == 1
    assert store.counts()["dead"] == 1
    assert store.revive(None) == 1
    assert store.counts()["pending"] == 2


def test_skip_is_recorded_once(store):
    skip = Skip("k", "binary file", "x.bin")
    assert store.submit("spool", [], skips=[skip]).skipped == [skip]
    assert store.submit("spool", [], skips=[skip]).skipped == []  # recorded once
    assert store.is_known("spool", "k")


def test_file_is_wal_full_sync_and_versioned(tmp_path):
    store = Store(tmp_path / "s.db")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="upgrade omi-bridge"):
        Store(tmp_path / "s.db")


def test_a_state_file_of_the_first_schema_is_upgraded_in_place(tmp_path):
    from bridge import store as store_module

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(store_module._MIGRATIONS[0])
    conn.execute("INSERT INTO cursors VALUES ('imap', '{\"uid\": 7}', 0)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = Store(path)
    assert store.cursor("imap") == {"uid": 7}
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    assert store.rows("SELECT count(*) AS n FROM groups")[0]["n"] == 0


# -- a state file that refuses writes ------------------------------------------------------------


def test_a_write_the_file_refuses_fails_the_state_once_keeps_nothing_and_a_probe_ends_it(tmp_path, caplog):
    from bridge.errors import StateUnwritable

    store = Store(tmp_path / "state.db")
    changes: list[float | None] = []
    store.health.listen(lambda health, since: changes.append(since))
    store.submit("mail", [_req("a")], cursor=1)
    [row] = store.claim_due(time.time(), 1)
    # SQLite's own page limit answers as a full disk does (SQLITE_FULL): the file cannot grow
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    with caplog.at_level("ERROR"):
        for n in range(3):
            with pytest.raises(StateUnwritable, match="no space"):
                store.submit("mail", [_req(f"big{n}", text="x" * 50_000)], cursor=2 + n)
    assert store.health.failing and "database or disk is full" in store.health.error
    assert [r.message for r in caplog.records if "state: cannot write" in r.message] != []
    assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 1  # said once, not per write
    assert changes == [None]
    # nothing of the refused transactions was kept, and the connection is usable (not left in one)
    assert not store.conn.in_transaction
    assert store.cursor("mail") == 1 and store.counts() == {"pending": 0, "inflight": 1, "sent": 0, "dead": 0}
    # space again: a small write alone does not end it (a full disk takes some); the probe does
    store.conn.execute("PRAGMA max_page_count = 1073741823")
    store.submit("mail", [_req("b")])
    assert store.health.failing
    store.probe_write(1)
    assert not store.health.failing and changes[-1] is not None
    # the row whose outcome could not be recorded is settled as after a crash; a kept one stays
    store.submit("mail", [_req("c")])
    [other] = store.claim_due(time.time(), 1)
    assert store.recover_inflight(0, keep=[other.id], why="its outcome could not be recorded") == 1
    rows = {r["id"]: r for r in store.rows("SELECT id, state, unknown_since, last_error FROM outbox")}
    assert rows[row.id]["state"] == "pending" and rows[row.id]["unknown_since"] is not None
    assert rows[row.id]["last_error"] == "its outcome could not be recorded: outcome unknown"
    assert rows[other.id]["state"] == "inflight"
    store.close()


def test_a_store_at_the_current_schema_opens_without_writing(tmp_path):
    Store(tmp_path / "state.db").close()
    # another connection holds the write lock: an open that wrote would wait for it, then fail
    writer = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        store = Store(tmp_path / "state.db")  # what status does: it must work on a full disk
        store.conn.execute("PRAGMA busy_timeout = 100")
        assert store.counts()["pending"] == 0
        store.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
