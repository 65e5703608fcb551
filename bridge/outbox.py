"""The outbox: conversations queued for Omi, one row each, until Omi has them.

States: pending -> inflight -> sent | dead; a retry puts a row back to pending with
``next_attempt_at``. ``unknown_since`` marks a row whose last attempt may or may not have created a
conversation (lost answer, crash while inflight): the dispatcher looks it up in Omi
(``bridge/lookup.py``) before sending it again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.assemble import QueuedRequest
from bridge.models import PRIORITY_LIVE, CreateConversationRequest
from bridge.statefile import StateFile

__all__ = ["Outbox", "OutboxRow", "fingerprint"]


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


class Outbox(StateFile):
    """The outbox's rows: queued, claimed, settled."""

    def _queue(self, conn: sqlite3.Connection, connector: str, requests: Iterable[QueuedRequest], now: float) -> int:
        """Insert new rows inside the caller's transaction; returns how many were new."""
        added = 0
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
        return added

    # -- claiming and settling --------------------------------------------------------------

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

    # -- counting -----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        counts = {"pending": 0, "inflight": 0, "sent": 0, "dead": 0}
        for row in self.rows("SELECT state, count(*) AS n FROM outbox GROUP BY state"):
            counts[row["state"]] = row["n"]
        return counts

    def sent_since(self, since: datetime) -> int:
        return self.rows("SELECT count(*) AS n FROM outbox WHERE sent_at >= ?", [since.timestamp()])[0]["n"]
