"""The assembler: many small messages -> few conversations.

Omi takes tens of conversation writes an hour, so a chat is not sent message by message. Items
(chat messages; later, mails of a thread) are kept in SQLite in open groups, and a group becomes
ONE conversation when it closes. Two ways to group (``GroupPolicy.by_day``):

- **bursts** (live chat): a group closes after ``quiet_period`` seconds without a new item, when
  it spans ``max_span`` seconds, or when its text would pass ``max_chars``. A reply joins the
  open group that holds its thread; a reply to a thread already sent joins that thread's
  follow-up group of its day, which closes when the day ends: late replies to a thread cost one
  conversation a day, not one each.
- **days** (history: an export, the finished days an outage covered): a scope's (channel's)
  day is one group, replies of that day included wherever their thread began; it closes when the
  day ends (in the policy's time zone) or at ``max_chars``.

An item that does not fit its group starts a new one and the old one closes. Items are placed
by their own time, so items that arrive late in bulk are cut into the same groups live delivery
would have made.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from bridge.models import MAX_TEXT
from bridge.store import Store

__all__ = ["Assembler", "Changes", "Group", "GroupChanged", "GroupPolicy", "Item"]

EVENT_RETENTION = 7 * 86400  # Slack retries for minutes; a week of event ids is plenty
RETENTION = 30 * 86400  # items of closed groups, to recognise them if seen again
LINE_OVERHEAD = 24  # "Name (HH:MM): " per item, for the size limit


class GroupChanged(Exception):
    """A group changed between being read and being closed; see ``Assembler.closer``."""


@dataclass(frozen=True)
class Item:
    key: str  # unique within the connector, forever: "C0123:1700000000.000100"
    scope: str  # where it was said: a channel
    at: float  # epoch seconds
    text: str
    author: str = ""
    thread: str | None = None  # key of the thread's first item, for a reply
    data: dict[str, Any] = field(default_factory=dict)  # whatever rendering needs later


@dataclass(frozen=True)
class Group:
    id: int
    scope: str
    thread: str | None  # set for a group that holds only one thread's replies
    first_at: float
    last_at: float
    items: list[Item]
    changes: int = 0  # what had happened to it when it was read (see ``closer``)


class GroupPolicy(NamedTuple):
    quiet_period: float
    max_span: float
    max_chars: int = MAX_TEXT
    by_day: bool = False  # a scope's day is one group; else bursts split by quiet_period
    tz: tzinfo | None = None  # where days begin and end; None: the machine's zone


def day_end(at: float, tz: tzinfo | None) -> float:
    """The epoch second the local day holding ``at`` ends (midnight after it, in ``tz``)."""
    moment = datetime.fromtimestamp(at, UTC).astimezone(tz)
    midnight = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), moment.tzinfo)
    return midnight.timestamp() if tz is not None else midnight.replace(tzinfo=None).timestamp()


class Assembler:
    """One connector's groups. Safe to call from the event loop or a worker thread."""

    def __init__(self, store: Store, connector: str, policy: GroupPolicy,
                 on_deadline: Callable[[float], None] | None = None) -> None:
        self._store = store
        self._connector = connector
        self.policy = policy
        self._on_deadline = on_deadline  # told when a group placed into will be due (epoch seconds)

    # -- taking items in -----------------------------------------------------------------------

    def add(self, item: Item, event_key: str | None = None) -> bool:
        """Place a new item. False if the event or the item was seen before."""
        with self._store.transaction() as conn:
            if not self._first_sight(conn, event_key):
                return False
            due = self._insert(conn, item, self.policy.by_day)
        if due is not None and self._on_deadline is not None:
            self._on_deadline(due)
        return due is not None

    def add_many(self, items: Iterable[Item], *, by_day: bool | None = None) -> int:
        """Place items read in bulk (an export, a page of history) in ONE transaction; returns
        how many were new. For sources that can be read again: no event ids are kept.
        ``by_day``: group these by day (or by burst) whatever the policy says."""
        added, soonest = 0, math.inf
        by_day = self.policy.by_day if by_day is None else by_day
        with self._store.transaction() as conn:
            for item in items:
                due = self._insert(conn, item, by_day)
                if due is not None:
                    added += 1
                    soonest = min(soonest, due)
        if added and self._on_deadline is not None:
            self._on_deadline(soonest)
        return added

    def scopes_of(self, keys: Iterable[str]) -> dict[str, str]:
        """The scope each of ``keys`` that is linked belongs to (see ``link``): one read per
        500 keys, for a whole batch of mails."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):  # well under SQLite's limit on parameters
            chunk = wanted[start:start + 500]
            rows = self._store.rows(f"SELECT key, scope FROM links WHERE connector = ? AND key IN"
                                    f" ({', '.join('?' * len(chunk))})", [self._connector, *chunk])
            found.update((row["key"], row["scope"]) for row in rows)
        return found

    def link(self, links: Iterable[tuple[Iterable[str], str]]) -> None:
        """Remember, in one transaction, that each ``(keys, scope)``'s keys lead to its scope (a
        mail's Message-ID to its thread); a key linked before keeps its first scope."""
        with self._store.transaction() as conn:
            self._link(conn, links)

    def _link(self, conn: sqlite3.Connection, links: Iterable[tuple[Iterable[str], str]]) -> None:
        conn.executemany("INSERT OR IGNORE INTO links (connector, key, scope) VALUES (?, ?, ?)",
                         [(self._connector, key, scope) for keys, scope in links for key in keys])

    def edit(self, key: str, text: str, event_key: str | None = None) -> bool:
        """New text for an item not sent yet. False if unknown, deleted or already sent."""
        with self._store.transaction() as conn:
            return self._first_sight(conn, event_key) and self._edit(conn, key, text)

    def remove(self, key: str, scope: str, event_key: str | None = None) -> bool:
        """Drop an item not sent yet. An item not seen yet is remembered as deleted, so its
        late arrival (retry, history) adds nothing. False if already sent or already gone."""
        with self._store.transaction() as conn:
            return self._first_sight(conn, event_key) and self._remove(conn, key, scope)

    def changes(self) -> Changes:
        """A batch of additions, edits and removals to commit in one transaction with a cursor
        (``Sink.commit``): a source read by cursor (Matrix's ``/sync``) never moves its cursor
        past items that were not stored, nor stores items twice for one cursor."""
        return Changes(self)

    def item(self, key: str) -> Item | None:
        """An item by key, sent or not (a thread's first message, for context)."""
        rows = self._store.rows(
            "SELECT item_key, scope, at, text, author, thread, data FROM items"
            " WHERE connector = ? AND item_key = ? AND NOT deleted",
            [self._connector, key],
        )
        return _item(rows[0].values()) if rows else None

    def roots(self, group: Group) -> dict[str, Item]:
        """The first items of the threads the group's items reply to, where not in the group
        (sent before), by key: what the group's text quotes or names."""
        inside = {item.key for item in group.items}
        wanted = {item.thread for item in group.items if item.thread} | ({group.thread} if group.thread else set())
        found = {key: self.item(key) for key in sorted(wanted - inside)}
        return {key: item for key, item in found.items() if item is not None}

    def thread_roots(self, scope: str, threads_since: float, messages_since: float) -> list[str]:
        """Where replies we missed may be: threads of ``scope`` with a reply since
        ``threads_since``, and first-level items since ``messages_since`` (a reply may start a thread)."""
        rows = self._store.rows(
            "SELECT DISTINCT thread AS root FROM items WHERE connector = ? AND scope = ? AND thread IS NOT NULL"
            " AND at >= ? UNION SELECT item_key FROM items WHERE connector = ? AND scope = ? AND thread IS NULL"
            " AND NOT deleted AND at >= ?",
            [self._connector, scope, threads_since, self._connector, scope, messages_since],
        )
        return [r["root"] for r in rows]

    # -- closing -------------------------------------------------------------------------------

    def due(self, now: float | None = None, limit: int = -1) -> list[Group]:
        """Groups ready to become conversations, oldest first, with their live items in order;
        at most ``limit`` of them (an import closes its groups a batch at a time, so memory
        does not grow with the export)."""
        return self.groups(self.due_ids(now, limit))

    def due_ids(self, now: float | None = None, limit: int = -1) -> list[int]:
        """The ids of ``due``'s groups, oldest first: one read for a backfill's thousands of
        thread-days, whose groups are then read (``groups``) and closed a batch at a time."""
        now = time.time() if now is None else now
        quiet, span = self.policy.quiet_period, self.policy.max_span
        rows = self._store.rows(
            "SELECT id FROM groups WHERE connector = ? AND state IN ('open', 'full') AND (state = 'full'"
            " OR (ends_at IS NULL AND (last_at <= ? OR first_at <= ?)) OR ends_at <= ?) ORDER BY first_at, id LIMIT ?",
            [self._connector, now - quiet, now - span, now, limit],
        )
        return [row["id"] for row in rows]

    def groups(self, ids: list[int]) -> list[Group]:
        """The groups of ``ids`` still open (in that order), with their live items in order: two
        reads, whatever the number of groups."""
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        with self._store.transaction() as conn:  # the groups and their items as of one moment
            found = {row[0]: row for row in conn.execute(
                f"SELECT id, scope, thread, first_at, last_at, changes FROM groups WHERE id IN ({marks})"
                " AND state IN ('open', 'full')", ids)}
            items: dict[int, list[Item]] = {group_id: [] for group_id in found}
            # at the same instant: in the order they came
            for row in conn.execute(
                    "SELECT group_id, item_key, scope, at, text, author, thread, data FROM items"
                    f" WHERE group_id IN ({marks}) AND NOT deleted ORDER BY at, rowid", ids):
                if row[0] in items:
                    items[row[0]].append(_item(row[1:]))
        return [Group(group_id, scope, thread, first_at, last_at, items[group_id], changes)
                for group_id, scope, thread, first_at, last_at, changes in (found[i] for i in ids if i in found)]

    def next_deadline(self) -> float | None:
        """When the first open group will be due (epoch seconds; past if one is due now), or
        None when no group is open: the daemon polls then, not at its next tick."""
        quiet, span = self.policy.quiet_period, self.policy.max_span
        [row] = self._store.rows(
            "SELECT min(CASE WHEN state = 'full' THEN 0 WHEN ends_at IS NOT NULL THEN ends_at"
            " ELSE min(last_at + ?, first_at + ?) END) AS due FROM groups"
            " WHERE connector = ? AND state IN ('open', 'full')",
            [quiet, span, self._connector],
        )
        return row["due"]

    def closer(self, *groups: Group) -> Any:
        """The write that marks groups sent, for ``Store.submit(also=...)``: the conversations
        and the groups' closing commit together, so a crash between them cannot send one twice.
        A group that changed since it was read (an edit, a delete, a late message while its text
        was being made) is not closed: ``GroupChanged`` undoes the whole write, and the group
        is closed, as it is now, at the next poll."""

        def close(conn: sqlite3.Connection) -> None:
            now = time.time()
            for group in groups:
                cur = conn.execute("UPDATE groups SET state = 'closed', closed_at = ? WHERE id = ? AND changes = ?",
                                   (now, group.id, group.changes))
                if cur.rowcount != 1:
                    raise GroupChanged(group.id)

        return close

    def close(self, *groups: Group) -> None:
        """Mark groups closed with nothing queued (a preview's scratch store)."""
        with self._store.transaction() as conn:
            self.closer(*groups)(conn)

    def item_count(self) -> int:
        """The items taken in, sent or not (deleted ones left out)."""
        [row] = self._store.rows("SELECT count(*) AS n FROM items WHERE connector = ? AND NOT deleted",
                                 [self._connector])
        return int(row["n"])

    def counts(self) -> dict[str, int]:
        rows = self._store.rows(
            "SELECT state, count(*) AS n FROM groups WHERE connector = ? GROUP BY state", [self._connector]
        )
        return {r["state"]: r["n"] for r in rows}

    def prune(self, now: float | None = None) -> None:
        """Forget old event ids, and closed groups past the retention."""
        now = time.time() if now is None else now
        with self._store.transaction() as conn:
            conn.execute(
                "DELETE FROM events WHERE connector = ? AND received_at < ?", (self._connector, now - EVENT_RETENTION)
            )
            old = "SELECT id FROM groups WHERE connector = ? AND state = 'closed' AND closed_at < ?"
            conn.execute(f"DELETE FROM items WHERE group_id IN ({old})", (self._connector, now - RETENTION))
            conn.execute(
                "DELETE FROM items WHERE connector = ? AND group_id IS NULL AND at < ?",
                (self._connector, now - RETENTION),
            )
            conn.execute(f"DELETE FROM groups WHERE id IN ({old})", (self._connector, now - RETENTION))

    # -- inside a transaction ------------------------------------------------------------------

    def _first_sight(self, conn: sqlite3.Connection, event_key: str | None) -> bool:
        if event_key is None:
            return True
        cur = conn.execute(
            "INSERT OR IGNORE INTO events (connector, event_key, received_at) VALUES (?, ?, ?)",
            (self._connector, event_key, time.time()),
        )
        return cur.rowcount == 1

    def _insert(self, conn: sqlite3.Connection, item: Item, by_day: bool) -> float | None:
        """Place and store a new item; returns when its group will be due, or None if the item
        was there already (then the text of an item still open is brought up to date: history
        carries edits we may have missed)."""
        row = conn.execute(
            "SELECT i.group_id, i.deleted, i.text, g.state FROM items i LEFT JOIN groups g ON g.id = i.group_id"
            " WHERE i.connector = ? AND i.item_key = ?",
            (self._connector, item.key),
        ).fetchone()
        if row is not None:
            group_id, deleted, text, state = row
            if not deleted and state in ("open", "full") and text != item.text:
                self._set_text(conn, item.key, group_id, text, item.text)
            return None
        group_id, due = self._place(conn, item, by_day)
        conn.execute(
            "INSERT INTO items (connector, item_key, group_id, scope, thread, at, author, text, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self._connector, item.key, group_id, item.scope, item.thread, item.at, item.author, item.text,
             json.dumps(item.data) if item.data else None),
        )
        return due

    def _edit(self, conn: sqlite3.Connection, key: str, text: str) -> bool:
        row = conn.execute(
            "SELECT i.group_id, i.text FROM items i JOIN groups g ON g.id = i.group_id"
            " WHERE i.connector = ? AND i.item_key = ? AND NOT i.deleted AND g.state != 'closed'",
            (self._connector, key),
        ).fetchone()
        if row is None or row[1] == text:
            return False
        self._set_text(conn, key, row[0], row[1], text)
        return True

    def _remove(self, conn: sqlite3.Connection, key: str, scope: str) -> bool:
        row = conn.execute(
            "SELECT i.group_id, i.deleted, length(i.text), g.state FROM items i"
            " LEFT JOIN groups g ON g.id = i.group_id WHERE i.connector = ? AND i.item_key = ?",
            (self._connector, key),
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO items (connector, item_key, scope, at, text, deleted) VALUES (?, ?, ?, ?, '', 1)",
                (self._connector, key, scope, time.time()),
            )
            return True
        group_id, deleted, length, state = row
        if deleted or state == "closed":
            return False
        conn.execute("UPDATE items SET deleted = 1 WHERE connector = ? AND item_key = ?", (self._connector, key))
        conn.execute("UPDATE groups SET size = size - ?, changes = changes + 1 WHERE id = ?",
                     (length + LINE_OVERHEAD, group_id))
        return True

    def _set_text(self, conn: sqlite3.Connection, key: str, group_id: int, old: str, new: str) -> None:
        conn.execute("UPDATE items SET text = ? WHERE connector = ? AND item_key = ?", (new, self._connector, key))
        conn.execute("UPDATE groups SET size = size + ?, changes = changes + 1 WHERE id = ?",
                     (len(new) - len(old), group_id))

    def _place(self, conn: sqlite3.Connection, item: Item, by_day: bool) -> tuple[int, float]:
        """The open group this item joins, or a new one, and when that group will be due; closes
        groups the item shows are over. Every lookup is by index."""
        quiet, span, max_chars, _, tz = self.policy
        size = len(item.text) + LINE_OVERHEAD
        reply = item.thread is not None and item.thread != item.key
        ends_at = day_end(item.at, tz)
        if by_day:  # the scope's day, wherever the item's thread began
            candidates = conn.execute(
                "SELECT id, first_at, last_at, size, ends_at FROM groups WHERE connector = ? AND scope = ?"
                " AND state = 'open' AND ends_at = ? AND thread IS NULL ORDER BY last_at DESC",
                (self._connector, item.scope, ends_at),
            ).fetchall()
            thread, ends = None, ends_at
        elif reply:  # the group holding its thread's first item, or the thread's follow-ups of the day
            candidates = conn.execute(
                "SELECT id, first_at, last_at, size, ends_at FROM groups WHERE state = 'open' AND id IN"
                " (SELECT group_id FROM items WHERE connector = ? AND item_key = ?"
                " UNION ALL SELECT id FROM groups"
                " WHERE connector = ? AND thread = ? AND state = 'open' AND ends_at = ?)"
                " ORDER BY last_at DESC",
                (self._connector, item.thread, self._connector, item.thread, ends_at),
            ).fetchall()
            thread, ends = item.thread, ends_at
        else:  # the scope's burst
            candidates = conn.execute(
                "SELECT id, first_at, last_at, size, ends_at FROM groups WHERE connector = ? AND scope = ?"
                " AND state = 'open' AND ends_at IS NULL AND thread IS NULL ORDER BY last_at DESC",
                (self._connector, item.scope),
            ).fetchall()
            thread, ends = None, None
        ended = False
        for group_id, first_at, last_at, used, group_ends in candidates:
            if group_ends is not None:  # a day: anything of that day fits while there is room
                fits = group_ends == ends_at and used + size <= max_chars
            else:
                fits = (
                    first_at - quiet <= item.at <= last_at + quiet
                    and max(last_at, item.at) - min(first_at, item.at) <= span
                    and used + size <= max_chars
                )
            if fits:
                first_at, last_at = min(first_at, item.at), max(last_at, item.at)
                conn.execute(
                    "UPDATE groups SET first_at = ?, last_at = ?, size = size + ?, changes = changes + 1 WHERE id = ?",
                    (first_at, last_at, size, group_id),
                )
                due = group_ends if group_ends is not None else min(last_at + quiet, first_at + span)
                return group_id, 0.0 if ended else due
            if item.at >= last_at:  # a later item that does not fit: this group is over
                conn.execute("UPDATE groups SET state = 'full' WHERE id = ?", (group_id,))
                ended = True
        cur = conn.execute(
            "INSERT INTO groups (connector, scope, thread, first_at, last_at, size, ends_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self._connector, item.scope, thread, item.at, item.at, size, ends),
        )
        due = ends if ends is not None else item.at + min(quiet, span)
        return int(cur.lastrowid), 0.0 if ended else due


class Changes:
    """Additions, edits and removals gathered from one read of a source, written together (see
    ``Assembler.changes``); called with the transaction's connection, then ``done``."""

    def __init__(self, assembler: Assembler) -> None:
        self._assembler = assembler
        self._ops: list[tuple[str, Any, Any]] = []
        self.soonest = math.inf
        self.changed = 0

    def __bool__(self) -> bool:
        return bool(self._ops)

    def add(self, item: Item, *, by_day: bool | None = None) -> None:
        """``by_day``: group it by day (or by burst) whatever the policy says."""
        self._ops.append(("add", item, self._assembler.policy.by_day if by_day is None else by_day))

    def link(self, keys: Iterable[str], scope: str) -> None:
        """``Assembler.link``, written with the rest."""
        self._ops.append(("link", [(list(keys), scope)], None))

    def edit(self, key: str, text: str) -> None:
        self._ops.append(("edit", key, text))

    def remove(self, key: str, scope: str) -> None:
        self._ops.append(("remove", key, scope))

    def __call__(self, conn: sqlite3.Connection) -> None:
        assembler, self.soonest, self.changed = self._assembler, math.inf, 0
        for op, first, second in self._ops:
            if op == "add":
                due = assembler._insert(conn, first, second)
                if due is not None:
                    self.soonest = min(self.soonest, due)
                    self.changed += 1
            elif op == "link":
                assembler._link(conn, first)
            elif op == "edit":
                self.changed += assembler._edit(conn, first, second)
            else:
                self.changed += assembler._remove(conn, first, second)

    def done(self) -> None:
        """After the commit: the daemon learns when the groups written to will be due."""
        if self.soonest < math.inf and self._assembler._on_deadline is not None:
            self._assembler._on_deadline(self.soonest)


def _item(row: Iterable[Any]) -> Item:
    key, scope, at, text, author, thread, data = row
    return Item(key, scope, at, text, author, thread, json.loads(data) if data else {})
