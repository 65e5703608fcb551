"""What the console reads that the v6 migration adds: the FTS5 index over what was sent (kept by
the outbox's triggers; a person's words taken literally), and each source's health history."""

from __future__ import annotations

import json
import sqlite3

from bridge import store as store_module
from bridge.console.queries import activity, fts_query, health_history
from bridge.store import Store


def _queue(store: Store, key: str, text: str, label: str) -> int:
    with store.transaction() as conn:
        return conn.execute("INSERT INTO outbox (connector, source_key, body, created_at, next_attempt_at, label)"
                            " VALUES ('drop', ?, ?, 1, 1, ?)", (key, json.dumps({"text": text}), label)).lastrowid


def test_rows_sent_before_the_upgrade_are_found_and_so_are_those_sent_after(tmp_path) -> None:
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path)
    for script in store_module._MIGRATIONS[:5]:
        conn.executescript(script)
    conn.execute("INSERT INTO outbox (connector, source_key, state, body, created_at, next_attempt_at, sent_at, label)"
                 " VALUES ('drop', 'a', 'sent', ?, 1, 1, 2, 'file a.txt')", (json.dumps({"text": "Lunch with Ana"}),))
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()
    store = Store(path)
    assert [r["label"] for r in activity(store, search="lunch")] == ["file a.txt"]
    waiting = _queue(store, "b", "Lunch moved to the garden", "file b.txt")
    assert [r["label"] for r in activity(store, search="lunch")] == ["file a.txt"]  # not sent yet: not shown
    store.mark_sent(waiting, "omi-b", False)
    assert {r["label"] for r in activity(store, search="lunch")} == {"file a.txt", "file b.txt"}
    assert [r["label"] for r in activity(store, search="garden lunch")] == ["file b.txt"]  # every word
    assert [r["label"] for r in activity(store, search="b.txt")] == ["file b.txt"]  # the heading too


def test_words_typed_into_the_search_box_are_never_syntax() -> None:
    store = Store()
    row = _queue(store, "c", 'He said "NEAR" AND left* (early)', "note")
    store.mark_sent(row, "omi-c", None)
    for typed in ['"NEAR"', "AND", "left*", "(early)", 'said" OR "x', "-"]:
        assert fts_query(typed) is not None
        activity(store, search=typed)  # no FTS5 syntax error
    assert [r["label"] for r in activity(store, search="near and")] == ["note"]
    assert fts_query("   ") is None


def test_a_source_s_health_history_holds_each_change_of_state_with_its_reason() -> None:
    store = Store()
    store.source_ok("mail")
    store.source_failed("mail", "the server refused the password")
    store.source_failed("mail", "the server refused the password")  # still failing: no new change
    store.source_ok("mail")
    store.source_failed("other", "unreachable")
    assert [(h["state"], h["reason"]) for h in health_history(store, "mail")] == [
        ("recovered", None), ("failing", "the server refused the password")]
    assert [h["state"] for h in health_history(store, "other")] == ["failing"]
