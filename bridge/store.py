"""The SQLite state: outbox, connector cursors, skipped items, source health, and a little meta.

Three layers, each read on its own: the file (``bridge/statefile.py``: connection, transactions,
schema, whether it takes writes), the outbox (``bridge/outbox.py``: rows queued for Omi and how
they are settled), and here what the connectors and the budgets keep: taking items in with their
cursor in one transaction, what was seen, the requests sent lately, each source's health. The
schema of every table is here.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from bridge.assemble import QueuedRequest
from bridge.models import Skip
from bridge.outbox import Outbox, OutboxRow, fingerprint
from bridge.statefile import free_bytes

__all__ = ["KEEP", "SCHEMA_VERSION", "Intake", "OutboxRow", "Store", "fingerprint", "free_bytes"]

KEEP: Any = object()  # "leave the cursor as it is"
_KEYS_PER_QUERY = 500  # SQLite takes at most 32,766 parameters; a chunk of mail has a few hundred keys

_MIGRATIONS = [
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        connector TEXT NOT NULL,
        source_key TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'inflight', 'sent', 'dead')),
        body TEXT NOT NULL,
        created_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_attempt_at REAL,
        unknown_since REAL,
        last_error TEXT,
        omi_id TEXT,
        discarded INTEGER,
        sent_at REAL,
        UNIQUE (connector, source_key)
    );
    CREATE INDEX outbox_due ON outbox (state, priority, next_attempt_at);
    CREATE INDEX outbox_sent_at ON outbox (sent_at);
    CREATE TABLE cursors (
        connector TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL
    );
    CREATE TABLE skipped (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        connector TEXT NOT NULL,
        source_key TEXT NOT NULL,
        reason TEXT NOT NULL,
        ref TEXT,
        created_at REAL NOT NULL,
        UNIQUE (connector, source_key)
    );
    CREATE TABLE sources (
        connector TEXT PRIMARY KEY,
        last_success REAL,
        failing_since REAL,
        last_error TEXT
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # v2: the assembler's open groups and the events already taken in (bridge/groups.py)
    """
    CREATE TABLE events (
        connector TEXT NOT NULL, event_key TEXT NOT NULL, received_at REAL NOT NULL,
        PRIMARY KEY (connector, event_key)
    ) WITHOUT ROWID;
    CREATE INDEX events_received ON events (received_at);
    CREATE TABLE groups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        connector TEXT NOT NULL,
        scope TEXT NOT NULL,
        thread TEXT,
        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'full', 'closed')),
        first_at REAL NOT NULL,
        last_at REAL NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        closed_at REAL
    );
    CREATE INDEX groups_open ON groups (connector, state, scope);
    CREATE TABLE items (
        connector TEXT NOT NULL,
        item_key TEXT NOT NULL,
        group_id INTEGER REFERENCES groups (id),
        scope TEXT NOT NULL,
        thread TEXT,
        at REAL NOT NULL,
        author TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        data TEXT,
        PRIMARY KEY (connector, item_key)
    );
    CREATE INDEX items_group ON items (group_id);
    CREATE INDEX items_thread ON items (connector, thread);
    """,
    # v3: when requests left for Omi, per limiter ('write', 'read'): the dispatcher's budgets
    # survive a restart (bridge/limits.py)
    """
    CREATE TABLE requests (at REAL NOT NULL, kind TEXT NOT NULL);
    CREATE INDEX requests_kind_at ON requests (kind, at);
    """,
    # v4: the assembler finds a thread's open group and a channel's open burst by index, not by
    # reading the connector's items (an 80k-message export took minutes, growing with the square;
    # items_thread, which that lookup used, is dropped: nothing asks for it, every insert paid it);
    # a group that holds a day (a channel's day, a thread's follow-ups of a day) ends at ends_at;
    # links: what finds a mail's thread (its Message-ID, Gmail's thread id, a subject) -> the thread;
    # changes: counts what happened to a group, so one rendered before an edit is not closed as it was
    """
    ALTER TABLE groups ADD COLUMN ends_at REAL;
    ALTER TABLE groups ADD COLUMN changes INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE links (
        connector TEXT NOT NULL, key TEXT NOT NULL, scope TEXT NOT NULL,
        PRIMARY KEY (connector, key)
    ) WITHOUT ROWID;
    CREATE INDEX groups_thread ON groups (connector, thread, state, ends_at) WHERE thread IS NOT NULL;
    CREATE INDEX groups_scope ON groups (connector, scope, state, ends_at, last_at) WHERE thread IS NULL;
    CREATE INDEX items_scope_at ON items (connector, scope, at);
    DROP INDEX items_thread;
    """,
    # v5: what a row is, in words a person knows it by ("email thread 'Lunch' (3 messages)"), for
    # the line that says it was delivered and for status
    """
    ALTER TABLE outbox ADD COLUMN label TEXT;
    """,
    # v6: the web console (bridge/console). What was sent, searchable by its words: an FTS5 index
    # over a view of the outbox (external content: the text stays once, in the body), kept by
    # triggers as rows become sent (or, should one ever, stop being sent or go away). Activity by
    # source, newest first, status's items today and its skip totals (which every page shows) by
    # index: a scan of the outbox reads every body past the columns (100,000 rows: 270 ms).
    # source_changes: each source's health history (failing with the reason, recovered), kept by
    # triggers on ``sources`` so the code that records a poll stays as it is.
    """
    CREATE VIEW sent_text_source AS
        SELECT id, coalesce(label, '') AS label, coalesce(json_extract(body, '$.text'), '') AS text FROM outbox;
    CREATE VIRTUAL TABLE sent_text USING fts5 (label, text, content = 'sent_text_source', content_rowid = 'id');
    INSERT INTO sent_text (rowid, label, text)
        SELECT id, label, text FROM sent_text_source WHERE id IN (SELECT id FROM outbox WHERE state = 'sent');
    CREATE TRIGGER sent_text_add AFTER UPDATE OF state ON outbox WHEN new.state = 'sent' AND old.state != 'sent'
    BEGIN
        INSERT INTO sent_text (rowid, label, text)
            VALUES (new.id, coalesce(new.label, ''), coalesce(json_extract(new.body, '$.text'), ''));
    END;
    CREATE TRIGGER sent_text_unsent AFTER UPDATE OF state ON outbox WHEN old.state = 'sent' AND new.state != 'sent'
    BEGIN
        INSERT INTO sent_text (sent_text, rowid, label, text)
            VALUES ('delete', old.id, coalesce(old.label, ''), coalesce(json_extract(old.body, '$.text'), ''));
    END;
    CREATE TRIGGER sent_text_gone AFTER DELETE ON outbox WHEN old.state = 'sent'
    BEGIN
        INSERT INTO sent_text (sent_text, rowid, label, text)
            VALUES ('delete', old.id, coalesce(old.label, ''), coalesce(json_extract(old.body, '$.text'), ''));
    END;
    CREATE INDEX outbox_sent_by_connector ON outbox (connector, sent_at) WHERE sent_at IS NOT NULL;
    CREATE INDEX outbox_created ON outbox (connector, created_at);
    CREATE INDEX skipped_by_reason ON skipped (connector, reason, created_at);
    CREATE TABLE source_changes (
        id INTEGER PRIMARY KEY, connector TEXT NOT NULL, at REAL NOT NULL, state TEXT NOT NULL, reason TEXT
    );
    CREATE INDEX source_changes_by_connector ON source_changes (connector, id);
    CREATE TRIGGER source_failing_first AFTER INSERT ON sources WHEN new.failing_since IS NOT NULL
    BEGIN
        INSERT INTO source_changes (connector, at, state, reason)
            VALUES (new.connector, new.failing_since, 'failing', new.last_error);
    END;
    CREATE TRIGGER source_failing AFTER UPDATE OF failing_since ON sources
        WHEN old.failing_since IS NULL AND new.failing_since IS NOT NULL
    BEGIN
        INSERT INTO source_changes (connector, at, state, reason)
            VALUES (new.connector, new.failing_since, 'failing', new.last_error);
    END;
    CREATE TRIGGER source_recovered AFTER UPDATE OF failing_since ON sources
        WHEN old.failing_since IS NOT NULL AND new.failing_since IS NULL
    BEGIN
        INSERT INTO source_changes (connector, at, state, reason)
            VALUES (new.connector, coalesce(new.last_success, old.failing_since), 'recovered', NULL);
    END;
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)



class Intake(NamedTuple):
    added: int  # new outbox rows
    skipped: list[Skip]  # skips not recorded before


class Store(Outbox):
    MIGRATIONS = _MIGRATIONS

    # -- intake -----------------------------------------------------------------------------

    def submit(
        self,
        connector: str,
        requests: Iterable[QueuedRequest],
        cursor: Any = KEEP,
        skips: Iterable[Skip] = (),
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> Intake:
        """Queue requests, record skipped items and move the cursor, all in one transaction
        (with ``also``'s writes, e.g. closing the group the requests were assembled from)."""
        now = time.time()
        new_skips: list[Skip] = []
        with self.transaction() as conn:
            added = self._queue(conn, connector, requests, now)
            for skip in skips:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO skipped (connector, source_key, reason, ref, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (connector, skip.source_key, skip.reason, skip.ref, now),
                )
                if cur.rowcount:
                    new_skips.append(skip)
            if cursor is not KEEP:
                self._set_cursor(conn, connector, cursor, now)
            if also is not None:
                also(conn)
        return Intake(added, new_skips)

    def is_known(self, connector: str, source_key: str) -> bool:
        """True if the key is queued, sent, dead or skipped already, or waits in (or was sent
        with) a group of the assembler (a mail of a thread)."""
        return bool(self.known(connector, [source_key]))

    def known(self, connector: str, source_keys: Iterable[str]) -> set[str]:
        """The keys of ``source_keys`` that ``is_known``: a query per table for a whole fetched
        chunk, not three for each mail."""
        keys = list(dict.fromkeys(source_keys))
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                chunk = keys[start:start + _KEYS_PER_QUERY]
                marks = ", ".join("?" * len(chunk))
                for table, column in (("outbox", "source_key"), ("skipped", "source_key"), ("items", "item_key")):
                    found.update(row[0] for row in self.conn.execute(
                        f"SELECT {column} FROM {table} WHERE connector = ? AND {column} IN ({marks})",
                        (connector, *chunk)))
        return found

    def cursor(self, connector: str) -> Any:
        with self._lock:
            row = self.conn.execute("SELECT value FROM cursors WHERE connector = ?", (connector,)).fetchone()
        return None if row is None else json.loads(row[0])

    def _set_cursor(self, conn: sqlite3.Connection, connector: str, value: Any, now: float) -> None:
        conn.execute("INSERT INTO cursors (connector, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (connector)"
                     " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                     (connector, json.dumps(value), now))

    # -- what left for Omi, for the budgets --------------------------------------------------

    def log_request(self, kind: str, at: float) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO requests (at, kind) VALUES (?, ?)", (at, kind))

    def request_times(self, kind: str, since: float) -> list[float]:
        with self._lock:
            rows = self.conn.execute("SELECT at FROM requests WHERE kind = ? AND at >= ? ORDER BY at",
                                     (kind, since)).fetchall()
        return [r[0] for r in rows]

    def forget_requests(self, before: float) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM requests WHERE at < ?", (before,))

    # -- meta and source health -------------------------------------------------------------

    def pause_until(self) -> float:
        """When the pause Omi asked for with its last 429 ends (0: none was asked)."""
        return float(self.get_meta("pause_until") or 0)

    # what the state keeps of one source, by its name (the health history last: the sources
    # row's triggers write to it)
    _KEPT_BY_SOURCE = ("outbox", "cursors", "skipped", "events", "items", "groups", "links", "sources",
                       "source_changes")

    def kept_sources(self, besides: Iterable[str] = ()) -> dict[str, int]:
        """The sources the state keeps something of, other than ``besides`` (the configured
        ones), with the conversations each sent; read through indexes, never the outbox's rows
        (they hold the bodies: a scan of a long-running state's reads them all)."""
        names = {row["connector"] for row in self.rows(
            "SELECT DISTINCT connector FROM outbox UNION SELECT connector FROM cursors "
            "UNION SELECT connector FROM skipped")}
        return {name: self.rows("SELECT count(*) AS n FROM outbox WHERE connector = ? AND sent_at IS NOT NULL",
                                (name,))[0]["n"]
                for name in sorted(names - set(besides))}

    def forget(self, connector: str) -> int:
        """Take everything the state keeps of ``connector`` out of it: what it sent (so the same
        mail read again would be sent again), what waits, its cursor, skips and health. Refused
        while one of its rows is out to Omi (its answer must be recorded). The rows removed."""
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM outbox WHERE connector = ? AND state = 'inflight' LIMIT 1",
                            (connector,)).fetchone():
                raise ValueError(f"a conversation of {connector} is being sent right now: try again in a minute")
            return sum(conn.execute(f"DELETE FROM {table} WHERE connector = ?", (connector,)).rowcount
                       for table in self._KEPT_BY_SOURCE)

    def source_ok(self, connector: str) -> float | None:
        """Record a good poll; returns when the source had started failing, if it was failing."""
        with self.transaction() as conn:
            row = conn.execute("SELECT failing_since FROM sources WHERE connector = ?", (connector,)).fetchone()
            conn.execute(
                "INSERT INTO sources (connector, last_success) VALUES (?, ?) ON CONFLICT (connector)"
                " DO UPDATE SET last_success = excluded.last_success, failing_since = NULL, last_error = NULL",
                (connector, time.time()),
            )
        return row[0] if row else None

    def source_failed(self, connector: str, error: str) -> bool:
        """Record a failed poll; returns True if the source was healthy until now."""
        now = time.time()
        with self.transaction() as conn:
            row = conn.execute("SELECT failing_since FROM sources WHERE connector = ?", (connector,)).fetchone()
            was_ok = row is None or row[0] is None
            conn.execute(
                "INSERT INTO sources (connector, failing_since, last_error) VALUES (?, ?, ?)"
                " ON CONFLICT (connector) DO UPDATE SET last_error = excluded.last_error,"
                " failing_since = coalesce(failing_since, excluded.failing_since)",
                (connector, now, error),
            )
        return was_ok
