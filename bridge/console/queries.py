"""What the console's pages read beyond ``bridge.status.collect``: lists of rows, a page at a time,
each by an index (see the v6 migration in bridge/store.py; benchmarks/console.py checks the plans).

Numbers that ``status`` also shows are never counted here: pages take them from ``collect``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.connector import reason_kind
from bridge.store import Store

__all__ = ["PAGE", "Page", "activity", "conversation", "dead_rows", "delivered_per_hour", "fts_query", "health_history",
           "reasons_of_kind", "skipped_items", "source_counts"]

PAGE = 50  # rows a list shows at a time

# what a list shows of a sent row: its text's first lines and size, without the whole body
_SENT = (
    "o.id, o.connector, o.label, o.source_key, o.sent_at, o.omi_id, o.discarded, o.created_at,"
    " json_extract(o.body, '$.started_at') AS started_at, json_extract(o.body, '$.finished_at') AS finished_at,"
    " substr(json_extract(o.body, '$.text'), 1, 300) AS head, length(json_extract(o.body, '$.text')) AS size"
)


def fts_query(text: str) -> str | None:
    """A person's words as an FTS5 query: every word must occur, each taken literally (quotes,
    stars and AND/OR/NEAR typed into a search box are words, not syntax)."""
    words = text.split()
    return " ".join('"' + word.replace('"', '""') + '"' for word in words) or None


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    older: str | None  # where the next page starts (``before``), None on the last page


def activity(store: Store, *, source: str | None = None, search: str | None = None, before: str | None = None,
             until: float | None = None, limit: int = PAGE) -> Page:
    """Sent conversations, newest first, a page at a time. Paged by keyset, never OFFSET: a
    page starts where the last one ended (``before``, the mark ``Page.older`` gave), so the
    thousandth page costs what the first does. ``until``: sent before then (a day's end)."""
    where, params = ["o.sent_at IS NOT NULL"], []
    if source:
        where.append("o.connector = ?")
        params.append(source)
    if until is not None:
        where.append("o.sent_at < ?")
        params.append(until)
    match = fts_query(search or "")
    mark = _mark(before, search=match is not None)
    if match is None:
        if mark is not None:  # (sent_at, id): rows sent in the same instant keep one order across pages
            where.append("(o.sent_at, o.id) < (?, ?)")
            params += mark
        sql = (f"SELECT {_SENT} FROM outbox o WHERE {' AND '.join(where)}"
               " ORDER BY o.sent_at DESC, o.id DESC LIMIT ?")
        rows = store.rows(sql, [*params, limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, f"{rows[-1]['sent_at']!r}_{rows[-1]['id']}" if more else None)
    # the index gives matches newest first by id (the order rows were queued), and takes a
    # rowid bound as cheaply; a page of them is then put in the order they were sent
    if mark is not None:
        where.append("f.rowid < ?")
        params += mark
    sql = (f"SELECT {_SENT} FROM sent_text f JOIN outbox o ON o.id = f.rowid"
           f" WHERE sent_text MATCH ? AND {' AND '.join(where)} ORDER BY f.rowid DESC LIMIT ?")
    rows = store.rows(sql, [match, *params, limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    older = str(min(r["id"] for r in rows)) if more else None
    return Page(sorted(rows, key=lambda r: r["sent_at"], reverse=True), older)


def _mark(before: str | None, *, search: bool) -> list[float] | None:
    """A page's start as its link carries it: ``sent_at_id`` for a listing, ``id`` for a search;
    anything else (a hand-edited address) is the first page."""
    parts = (before or "").split("_")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        return None
    return numbers if len(numbers) == (1 if search else 2) else None


def conversation(store: Store, row_id: int) -> dict[str, Any] | None:
    """One outbox row with the whole text as it was sent (or will be)."""
    rows = store.rows(
        "SELECT id, connector, label, source_key, state, sent_at, omi_id, discarded, created_at, attempts,"
        " last_error, json_extract(body, '$.text') AS text, json_extract(body, '$.started_at') AS started_at,"
        " json_extract(body, '$.finished_at') AS finished_at FROM outbox WHERE id = ?", [row_id])
    return rows[0] if rows else None


def delivered_per_hour(store: Store, now: float, hours: int = 168) -> list[int]:
    """Conversations delivered in each of the last ``hours`` whole hours up to now, oldest first."""
    end = (now // 3600 + 1) * 3600
    start = end - hours * 3600
    counts = [0] * hours
    for row in store.rows("SELECT CAST((sent_at - ?) / 3600 AS INTEGER) AS h, count(*) AS n FROM outbox"
                          " WHERE sent_at >= ? GROUP BY h", [start, start]):
        if 0 <= row["h"] < hours:
            counts[row["h"]] = row["n"]
    return counts


def skipped_items(store: Store, *, source: str | None = None, reasons: list[str] | None = None,
                  limit: int = PAGE) -> list[dict[str, Any]]:
    """Skipped items, newest first; ``reasons``: only these exact reasons."""
    where, params = [], []
    if source:
        where.append("connector = ?")
        params.append(source)
    if reasons is not None:
        where.append(f"reason IN ({','.join('?' * len(reasons))})")
        params += reasons
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return store.rows(f"SELECT id, connector, source_key, reason, ref, created_at FROM skipped {clause}"
                      " ORDER BY id DESC LIMIT ?", [*params, limit])


def reasons_of_kind(store: Store, source: str | None, kind: str) -> list[str]:
    """The exact reasons recorded (for one source) that status counts under ``kind``
    (``reason_kind``), read from the index on (connector, reason)."""
    if source:
        rows = store.rows("SELECT DISTINCT reason FROM skipped WHERE connector = ?", [source])
    else:
        rows = store.rows("SELECT DISTINCT reason FROM skipped")
    return [r["reason"] for r in rows if reason_kind(r["reason"]) == kind]


def dead_rows(store: Store, limit: int = 200) -> list[dict[str, Any]]:
    """Rows Omi would not take, newest first, with the reason."""
    return store.rows("SELECT id, connector, source_key, label, attempts, last_error, last_attempt_at FROM outbox"
                      " WHERE state = 'dead' ORDER BY id DESC LIMIT ?", [limit])


def source_counts(store: Store, source: str) -> dict[str, int]:
    """A source's outbox rows by state."""
    counts = {"pending": 0, "inflight": 0, "sent": 0, "dead": 0}
    for row in store.rows("SELECT state, count(*) AS n FROM outbox WHERE connector = ? GROUP BY state", [source]):
        counts[row["state"]] = row["n"]
    return counts


def health_history(store: Store, source: str, limit: int = 20) -> list[dict[str, Any]]:
    """A source's changes of state, newest first: when it started failing and why, when it recovered."""
    return store.rows("SELECT at, state, reason FROM source_changes WHERE connector = ? ORDER BY id DESC LIMIT ?",
                      [source, limit])
