"""The SQLite file the state lives in: one connection, its transactions, its schema, and
whether the file takes writes.

One connection, opened with WAL and ``synchronous=FULL`` (NORMAL can lose the last commits on a
power cut), shared by the event loop and connector threads behind a lock. Every write that reads
first runs in ``BEGIN IMMEDIATE``: a deferred transaction that upgrades to a write gets
SQLITE_BUSY without waiting. A write the file refuses (no space, an I/O error) marks the state
failing (``health``) until ``probe_write`` succeeds with room to spare. Plain SQL upserts (``ON
CONFLICT ... DO UPDATE``): sqlite-utils, used for them before, imported numpy with it (12 MB).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from bridge.errors import StateUnwritable
from bridge.health import StateHealth

__all__ = ["RECOVER_FREE", "StateFile", "free_bytes"]

RECOVER_FREE = 1 << 20  # bytes free on the state's file system before a failing state counts as writable

# SQLite's primary result codes that mean the file, not the statement, is at fault: no space,
# an I/O error, a file or folder that became read-only or vanished (https://sqlite.org/rescode.html)
_UNWRITABLE = {13: "no space left (the disk is full)", 10: "I/O error on the state file",
               8: "the state file is read-only", 14: "the state file cannot be opened"}


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged writer may still use on ``folder``'s file system."""
    info = os.statvfs(folder)
    return info.f_bavail * info.f_frsize


class StateFile:
    """The connection and what every table shares; ``MIGRATIONS``: the schema, one script per
    version (a subclass's)."""

    MIGRATIONS: ClassVar[Sequence[str]] = ()

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        self.conn = conn
        self.health = StateHealth(self.path)
        self._migrate()

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
        if self.conn.execute("PRAGMA user_version").fetchone()[0] == len(self.MIGRATIONS):
            return
        with self.transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(self.MIGRATIONS):
                raise RuntimeError(
                    f"{self.path} has schema version {version}, newer than this omi-bridge "
                    f"({len(self.MIGRATIONS)}); upgrade omi-bridge"
                )
            for script in self.MIGRATIONS[version:]:
                statement = ""
                for part in script.split(";"):  # a trigger's body holds ";" too: whole statements only
                    statement += part + ";"
                    if sqlite3.complete_statement(statement):
                        conn.execute(statement)
                        statement = ""
            conn.execute(f"PRAGMA user_version = {len(self.MIGRATIONS)}")

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

    # -- reading, and a little meta -----------------------------------------------------------

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        with self._lock:
            cursor = self.conn.execute(sql, list(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)"
                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
