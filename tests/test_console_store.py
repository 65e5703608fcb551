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
    assert [r["label"] for r in activity(store, search="lunch").rows] == ["file a.txt"]
    waiting = _queue(store, "b", "Lunch moved to the garden", "file b.txt")
    assert [r["label"] for r in activity(store, search="lunch").rows] == ["file a.txt"]  # not sent yet: not shown
    store.mark_sent(waiting, "omi-b", False)
    assert {r["label"] for r in activity(store, search="lunch").rows} == {"file a.txt", "file b.txt"}
    assert [r["label"] for r in activity(store, search="garden lunch").rows] == ["file b.txt"]  # every word
    assert [r["label"] for r in activity(store, search="b.txt").rows] == ["file b.txt"]  # the heading too


def test_words_typed_into_the_search_box_are_never_syntax() -> None:
    store = Store()
    row = _queue(store, "c", 'He said "NEAR" AND left* (early)', "note")
    store.mark_sent(row, "omi-c", None)
    for typed in ['"NEAR"', "AND", "left*", "(early)", 'said" OR "x', "-"]:
        assert fts_query(typed) is not None
        activity(store, search=typed)  # no FTS5 syntax error
    assert [r["label"] for r in activity(store, search="near and").rows] == ["note"]
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


def test_activity_pages_by_keyset_through_every_row_once_listing_and_search() -> None:
    """Past the newest 50: each page starts where the last ended, rows sent in the same second
    keep one order, and a search pages the same way."""
    store = Store()
    for n in range(130):
        row = _queue(store, f"k{n}", f"Kestrel sighting number {n}" if n % 2 else f"Plain note {n}", f"note {n}")
        store.mark_sent(row, f"omi-{n}", None)
    with store.transaction() as conn:  # a burst: forty sent in one instant
        conn.execute("UPDATE outbox SET sent_at = 1000 + (CASE WHEN id BETWEEN 40 AND 80 THEN 40 ELSE id END)")

    def every_page(**query) -> list[list[str]]:
        pages, before = [], None
        while True:
            found = activity(store, before=before, **query)
            pages.append([r["label"] for r in found.rows])
            if found.older is None:
                return pages
            before = found.older

    listed = every_page()
    assert [len(p) for p in listed] == [50, 50, 30]
    # each row once
    assert sorted(label for labels in listed for label in labels) == sorted(f"note {n}" for n in range(130))
    searched = every_page(search="kestrel")
    assert [len(p) for p in searched] == [50, 15]
    assert sorted(label for labels in searched for label in labels) == sorted(f"note {n}" for n in range(1, 130, 2))
    assert activity(store, before="not a mark").rows == activity(store).rows  # a hand-edited link: the newest
