"""The SQLite state: outbox, connector cursors, skipped items, source health, and a little meta.

One connection, opened with WAL and ``synchronous=FULL`` (NORMAL can lose the last commits on a
power cut), shared by the event loop and connector threads behind a lock. Every write that reads
first runs in ``BEGIN IMMEDIATE``: a deferred transaction that upgrades to a write gets
SQLITE_BUSY without waiting. sqlite-utils nests its own writes inside ours as savepoints.

Outbox states: pending -> inflight -> sent | dead; a retry puts a row back to pending with
``next_attempt_at``. ``unknown_since`` marks a row whose last attempt may or may not have created a
conversation (lost answer, crash while inflight): the dispatcher reconciles it before re-sending.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from bridge.assemble import QueuedRequest
from bridge.errors import StateUnwritable
from bridge.health import StateHealth
from bridge.models import PRIORITY_LIVE, CreateConversationRequest, Skip

__all__ = ["KEEP", "Intake", "OutboxRow", "Store", "fingerprint", "free_bytes"]

KEEP: Any = object()  # "leave the cursor as it is"

RECOVER_FREE = 1 << 20  # bytes free on the state's file system before a failing state counts as writable

# SQLite's primary result codes that mean the file, not the statement, is at fault: no space,
# an I/O error, a file or folder that became read-only or vanished (https://sqlite.org/rescode.html)
_UNWRITABLE = {13: "no space left (the disk is full)", 10: "I/O error on the state file",
               8: "the state file is read-only", 14: "the state file cannot be opened"}

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


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged writer may still use on ``folder``'s file system."""
    info = os.statvfs(folder)
    return info.f_bavail * info.f_frsize


def fingerprint(request: CreateConversationRequest, row_id: int) -> CreateConversationRequest:
    """Make (started_at, finished_at) unique to this row, so a lost answer can be matched.

    Omi has no idempotency key and its conversation list does not return the text; the only
    thing that identifies our conversation there is the pair of timestamps we sent. The row id
    goes into the microseconds of finished_at, on a whole second at or after started_at.
    """
    started = request.started_at
    finished = (request.finished_at or started).replace(microsecond=0)
    if finished < started:
        finished += timedelta(seconds=1)
    finished += timedelta(microseconds=row_id % 1_000_000)
    return request.model_copy(update={"finished_at": finished})


class Intake(NamedTuple):
    added: int  # new outbox rows
    skipped: list[Skip]  # skips not recorded before


@dataclass(frozen=True)
class OutboxRow:
    id: int
    connector: str
    source_key: str
    body: dict
    attempts: int
    unknown_since: float | None
    priority: int = 0
    label: str | None = None

    @property
    def named(self) -> str:
        """The row as a person knows it: its label, else its key."""
        return self.label or self.source_key


class Store:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        self.conn = conn
        self._db: Any = None
        self.health = StateHealth(self.path)
        self._migrate()

    @property
    def db(self) -> Any:
        """sqlite-utils over our connection, imported when first written through (status starts faster)."""
        if self._db is None:
            from sqlite_utils import Database

            self._db = Database(self.conn)
        return self._db

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. A write the file refuses (no space, I/O error) leaves nothing
        behind, marks the state failing and raises StateUnwritable; ``probe_write`` ends it."""
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    self._rollback()
                    raise
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                self._raise_unwritable(exc)
                raise

    def _rollback(self) -> None:
        # SQLite may have rolled back by itself already (it does on SQLITE_FULL and some I/O
        # errors): a second ROLLBACK would raise and hide the error that matters
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    def _raise_unwritable(self, exc: sqlite3.Error) -> None:
        """Raise StateUnwritable (and say so in the health) if the file is at fault."""
        what = _UNWRITABLE.get((getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF)
        if what is not None:
            self.health.failed(f"{what} ({exc})")
            raise StateUnwritable(f"cannot write the state file {self.path}: {what}") from exc

    def _migrate(self) -> None:
        # a store at the current schema is opened without a write: status works on a full disk
        if self.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        with self.transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema version {version}, newer than this omi-bridge "
                    f"({SCHEMA_VERSION}); upgrade omi-bridge"
                )
            for script in _MIGRATIONS[version:]:
                statement = ""
                for part in script.split(";"):  # a trigger's body holds ";" too: whole statements only
                    statement += part + ";"
                    if sqlite3.complete_statement(statement):
                        conn.execute(statement)
                        statement = ""
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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
        added, new_skips = 0, []
        with self.transaction() as conn:
            # the write lock is ours, so the next AUTOINCREMENT id is known: one INSERT per row,
            # with the fingerprint that needs the id already in the body
            seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            next_id = (seq[0] if seq else 0) + 1
            for queued in requests:
                body = json.dumps(fingerprint(queued.request, next_id).body())
                cur = conn.execute(
                    "INSERT OR IGNORE INTO outbox (id, connector, source_key, priority, body, created_at,"
                    " next_attempt_at, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (next_id, connector, queued.source_key, queued.priority, body, now, now, queued.label or None),
                )
                if cur.rowcount:
                    next_id += 1
                    added += 1
            for skip in skips:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO skipped (connector, source_key, reason, ref, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (connector, skip.source_key, skip.reason, skip.ref, now),
                )
                if cur.rowcount:
                    new_skips.append(skip)
            if cursor is not KEEP:
                self._set_cursor(connector, cursor, now)
            if also is not None:
                also(conn)
        return Intake(added, new_skips)

    def is_known(self, connector: str, source_key: str) -> bool:
        """True if the key is queued, sent, dead or skipped already, or waits in (or was sent
        with) a group of the assembler (a mail of a thread)."""
        with self._lock:
            for table, column in (("outbox", "source_key"), ("skipped", "source_key"), ("items", "item_key")):
                row = self.conn.execute(
                    f"SELECT 1 FROM {table} WHERE connector = ? AND {column} = ?", (connector, source_key)
                ).fetchone()
                if row:
                    return True
        return False

    def cursor(self, connector: str) -> Any:
        with self._lock:
            row = self.conn.execute("SELECT value FROM cursors WHERE connector = ?", (connector,)).fetchone()
        return None if row is None else json.loads(row[0])

    def _set_cursor(self, connector: str, value: Any, now: float) -> None:
        self.db["cursors"].upsert(
            {"connector": connector, "value": json.dumps(value), "updated_at": now}, pk="connector"
        )

    # -- dispatch ---------------------------------------------------------------------------

    def claim_due(self, now: float, limit: int, *, uncertain: bool = False,
                  priority_above: int | None = None, priority_at_most: int | None = None) -> list[OutboxRow]:
        """Take up to ``limit`` due rows, live before backfill, oldest first, and mark them inflight.

        ``uncertain=False``: rows to send (the attempt is counted); ``True``: rows whose last
        attempt may have created a conversation, to be looked up in Omi first (not an attempt).
        ``priority_above`` / ``priority_at_most`` narrow the claim to backfill or live rows."""
        if limit <= 0:
            return []
        where, params = ["state = 'pending'", "next_attempt_at <= ?",
                         "unknown_since IS NOT NULL" if uncertain else "unknown_since IS NULL"], [now]
        if priority_above is not None:
            where.append("priority > ?")
            params.append(priority_above)
        if priority_at_most is not None:
            where.append("priority <= ?")
            params.append(priority_at_most)
        counted = "" if uncertain else ", attempts = attempts + 1, last_attempt_at = ?"
        with self.transaction() as conn:
            rows = conn.execute(
                f"UPDATE outbox SET state = 'inflight'{counted}"
                f" WHERE id IN (SELECT id FROM outbox WHERE {' AND '.join(where)} ORDER BY priority, id LIMIT ?)"
                " RETURNING id, connector, source_key, body, attempts, unknown_since, priority, label",
                ([] if uncertain else [now]) + params + [limit],
            ).fetchall()
        rows.sort(key=lambda r: (r[6], r[0]))
        return [OutboxRow(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

    def next_due_at(self, *, uncertain: bool | None = None, live: bool | None = None) -> float | None:
        """When the next pending row is due; ``uncertain``: only rows to look up (True) or to send
        (False); ``live``: only live (True) or backfill (False) rows."""
        where = ["state = 'pending'"]
        if uncertain is not None:
            where.append("unknown_since IS NOT NULL" if uncertain else "unknown_since IS NULL")
        if live is not None:
            where.append(f"priority {'<=' if live else '>'} {PRIORITY_LIVE}")
        with self._lock:
            return self.conn.execute(
                f"SELECT min(next_attempt_at) FROM outbox WHERE {' AND '.join(where)}").fetchone()[0]

    def pending_by_priority(self) -> dict[int, int]:
        """Rows not yet delivered (pending or inflight), by priority."""
        return {r["priority"]: r["n"] for r in self.rows(
            "SELECT priority, count(*) AS n FROM outbox WHERE state IN ('pending', 'inflight') GROUP BY priority")}

    def uncertain_candidates(self, finished_micro: int) -> list[OutboxRow]:
        """Pending rows awaiting a lookup whose fingerprint (see ``fingerprint``) ends in these
        microseconds: the rows a listed conversation could belong to."""
        with self._lock:
            top = self.conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
            ids = list(range(finished_micro or 1_000_000, top + 1, 1_000_000)) if finished_micro <= top else []
            if not ids:
                return []
            rows = self.conn.execute(
                f"SELECT id, connector, source_key, body, attempts, unknown_since, priority, label FROM outbox"
                f" WHERE id IN ({','.join('?' * len(ids))}) AND state = 'pending' AND unknown_since IS NOT NULL",
                ids,
            ).fetchall()
        return [OutboxRow(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

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

    def mark_sent(self, row_id: int, omi_id: str | None, discarded: bool | None, note: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET state = 'sent', omi_id = ?, discarded = ?, sent_at = ?, unknown_since = NULL,"
                " last_error = ? WHERE id = ?",
                (omi_id, discarded, time.time(), note, row_id),
            )

    def mark_retry(self, row_id: int, next_at: float, error: str, unknown: bool) -> None:
        """Back to pending. ``unknown``: this attempt may have created a conversation."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ?,"
                " unknown_since = CASE WHEN ? THEN coalesce(unknown_since, last_attempt_at)"
                "                 ELSE unknown_since END"
                " WHERE id = ?",
                (next_at, error, unknown, row_id),
            )

    def release(self, row_id: int, next_at: float, error: str, *, counted: bool = True) -> None:
        """Back to pending without counting the attempt (the key, not the row, was refused).
        ``counted``: the claim had counted an attempt (a send; a lookup does not)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = attempts - ?, next_attempt_at = ?,"
                " last_error = ? WHERE id = ?",
                (1 if counted else 0, next_at, error, row_id),
            )

    def not_created(self, row_id: int, now: float) -> None:
        """A lookup found no conversation for this row: back to pending for a plain send."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET state = 'pending', unknown_since = NULL, next_attempt_at = ?,"
                " last_error = 'not created by the earlier attempt: sending again' WHERE id = ?",
                (now, row_id),
            )

    def mark_dead(self, row_id: int, error: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE outbox SET state = 'dead', last_error = ? WHERE id = ?", (error, row_id))

    def recover_inflight(self, retry_at_least: float, keep: Iterable[int] = (),
                         why: str = "interrupted while sending") -> int:
        """Rows left inflight by a dead process (at start-up), or whose outcome could not be
        recorded (the state file refused it), have an unknown outcome; ``keep``: rows a send
        still owns.

        They are reconciled no sooner than ``retry_at_least`` seconds after their last attempt,
        so a request the server was still working on has time to show up in its list.
        """
        kept = list(keep)
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE outbox SET state = 'pending',"
                " unknown_since = coalesce(unknown_since, last_attempt_at),"
                " next_attempt_at = coalesce(last_attempt_at, 0) + ?,"
                " last_error = ? || ': outcome unknown'"
                f" WHERE state = 'inflight' AND id NOT IN ({','.join('?' * len(kept))})",
                (retry_at_least, why, *kept),
            )
        return cur.rowcount

    def revive(self, ids: list[int] | None) -> int:
        """Dead rows back to pending (``None``: every dead row)."""
        now = time.time()
        with self.transaction() as conn:
            if ids is None:
                cur = conn.execute(
                    "UPDATE outbox SET state = 'pending', next_attempt_at = ?, attempts = 0 WHERE state = 'dead'",
                    (now,),
                )
            else:
                marks = ",".join("?" * len(ids))
                cur = conn.execute(
                    f"UPDATE outbox SET state = 'pending', next_attempt_at = ?, attempts = 0"
                    f" WHERE state = 'dead' AND id IN ({marks})",
                    (now, *ids),
                )
        return cur.rowcount

    # -- meta and source health -------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def pause_until(self) -> float:
        """When the pause Omi asked for with its last 429 ends (0: none was asked)."""
        return float(self.get_meta("pause_until") or 0)

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.db["meta"].upsert({"key": key, "value": value}, pk="key")

    def probe_write(self, timeout: float) -> None:
        """Commit a small write on a connection of its own, waiting at most ``timeout`` for the
        file's write lock; raises when the store cannot take writes. (The shared connection
        would wait out its busy timeout, holding the lock every other caller needs.)

        It is also what ends a failing state: a small write can succeed on a full disk (SQLite
        rewrites its WAL file in place), so the state is writable again only once the write
        commits and the file system has RECOVER_FREE bytes to spare."""
        if self.path == ":memory:":
            self.set_meta("heartbeat", repr(time.time()))
            return
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=timeout)
            try:
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('heartbeat', ?)", (repr(time.time()),))
                conn.execute("COMMIT")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            self._raise_unwritable(exc)
            raise
        if self.health.failing:
            free = free_bytes(Path(self.path).parent)
            if free < RECOVER_FREE:
                raise StateUnwritable(f"cannot write the state file {self.path}: only {free // 1024} KiB free")
            self.health.ok()

    def source_ok(self, connector: str) -> float | None:
        """Record a good poll; returns when the source had started failing, if it was failing."""
        with self.transaction() as conn:
            row = conn.execute("SELECT failing_since FROM sources WHERE connector = ?", (connector,)).fetchone()
            self.db["sources"].upsert(
                {"connector": connector, "last_success": time.time(), "failing_since": None, "last_error": None},
                pk="connector",
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

    # -- reading, for status and preview ----------------------------------------------------

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        with self._lock:
            cursor = self.conn.execute(sql, list(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def counts(self) -> dict[str, int]:
        counts = {"pending": 0, "inflight": 0, "sent": 0, "dead": 0}
        for row in self.rows("SELECT state, count(*) AS n FROM outbox GROUP BY state"):
            counts[row["state"]] = row["n"]
        return counts

    def sent_since(self, since: datetime) -> int:
        return self.rows("SELECT count(*) AS n FROM outbox WHERE sent_at >= ?", [since.timestamp()])[0]["n"]
