"""Did an attempt whose answer was lost create a conversation? The lookup half of the dispatcher.

A send that timed out or lost its connection, or got a 5xx, may have created the conversation
anyway, and the API has no idempotency key (FACTS): sending again could make a duplicate. Such
a row is "uncertain" and is looked up in Omi's list before anything else happens to it.

Omi stores a conversation posted here with ``created_at`` = its ``started_at`` and lists by
``created_at`` (FACTS), so a lookup lists a narrow window around the row's own started_at and
looks for the conversation whose started_at AND finished_at equal the row's. The store puts the
row id into finished_at's microseconds, so no two rows send the same pair and a match is this
row's conversation, not another item's; every other row awaiting a lookup that a listed
conversation belongs to is settled by the same page. A server that stamps ``created_at`` with its
own clock (Omi before it kept an integration's time) is searched around the uncertain attempt
instead: which of the two the server does is learned from the first conversation found and kept
in the store, and only until then does a row found in neither window cost two lookups. Lookups
are list calls, which Omi limits apart from writes (60 an hour): they run one at a time within
``read_budget``, and a row waiting for it says so (``read_budget_until``, for ``status``).

Found: the row is adopted as sent with Omi's id. Not found: it goes back for a plain send.
Cannot tell yet (Omi failing, the budget spent, too many conversations around its time): it
stays uncertain. Where the match can still fail is listed in the README ("How exactly once holds").
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from bridge.errors import StateUnwritable
from bridge.gate import Gate, NotNow, body_of, describe
from bridge.limits import Budget
from bridge.metrics import Metrics
from bridge.omi import LIST_LIMIT, OmiClient, parse_time
from bridge.store import OutboxRow

__all__ = ["Lookup"]

log = logging.getLogger(__name__)

SKEW = 600.0  # seconds of clock difference tolerated when listing around a lost attempt
NARROW = 1.0  # seconds either side of a row's started_at when listing by it
MAX_PAGES = 10


Retry = Callable[..., None]  # (row, error, *, unknown, floor=0): the dispatcher's backoff


class Lookup:
    """The dispatcher's lookups: one at a time, within the read budget. Their requests pass the
    same gate as sends: a 429's pause and a refused key hold them too."""

    def __init__(self, gate: Gate, client: OmiClient, reads: Budget, metrics: Metrics, retry: Retry) -> None:
        self.gate, self.client, self.reads, self.metrics, self.retry = gate, client, reads, metrics, retry
        self.store, self.config, self.health, self.clock = gate.store, gate.config, gate.health, gate.clock
        self.busy = False  # one lookup at a time: reads are scarcer than writes

    # -- the read budget ----------------------------------------------------------------------

    def claim(self, now: float) -> OutboxRow | None:
        """The next row to look up, if none is being looked up and the reads it may need are
        free (then ``look_up`` it)."""
        if self.busy:
            return None
        if self.reads.allowance(now, live=True) < self._reads_per_lookup():
            due = self.store.next_due_at(uncertain=True)
            if due is not None and due <= now:  # rows to look up wait for the budget: say until when
                self.gate.note_read_wait(self._reads_free_at(now))
            return None
        for row in self.store.claim_due(now, 1, uncertain=True):
            self.busy = True
            return row
        return None

    def next_at(self, now: float) -> float | None:
        """When the next lookup may start (None: none is due, or one is running and its end
        wakes the loop)."""
        due = self.store.next_due_at(uncertain=True)
        if due is None or self.busy:
            return None
        return max(due, self._reads_free_at(now))

    def _reads_per_lookup(self) -> int:
        """List calls a lookup may need: two until the server's clock is known (see _find)."""
        return 1 if self.store.get_meta("list_clock") else 2

    def _reads_free_at(self, now: float) -> float:
        return self.reads.next_free(now, live=True, need=self._reads_per_lookup())

    # -- one row ------------------------------------------------------------------------------

    async def look_up(self, row: OutboxRow) -> None:
        """Settle the row if Omi has its conversation; put it back for a plain send if not;
        leave it uncertain if we cannot tell yet."""
        try:
            if await self._find(row) is False:
                self.store.not_created(row.id, self.clock())
        except StateUnwritable:
            return
        except NotNow as held:
            self.store.release(row.id, held.until, held.why, counted=False)
        except httpx.TransportError as exc:
            self.health.failed(f"cannot list conversations in Omi: {describe(exc)}")
            self.retry(row, f"reconciling: cannot list conversations: {describe(exc)}", unknown=True)
        except Exception as exc:
            log.exception("row %s: unexpected error while reconciling", row.id)
            self.retry(row, f"internal error while reconciling: {describe(exc)}", unknown=True)
        finally:
            self.busy = False

    async def _find(self, row: OutboxRow) -> bool | None:
        """True: found and adopted; False: not in Omi; None: the row was settled otherwise."""
        assert row.unknown_since is not None
        started = parse_time(row.body["started_at"])
        narrow = (started - timedelta(seconds=NARROW), started + timedelta(seconds=NARROW))
        # a conversation is created while its request runs: by the server's clock, within the
        # attempt's timeout of it (give or take the clocks' difference)
        attempt = (datetime.fromtimestamp(row.unknown_since - SKEW, UTC),
                   datetime.fromtimestamp(row.unknown_since + self.config.timeout + SKEW, UTC))
        clock = self.store.get_meta("list_clock")  # how this server stamps created_at, once known
        if clock == "server":
            windows = [attempt]
        elif clock == "started_at":
            windows = [narrow]
        elif narrow[1] >= attempt[0] and narrow[0] <= attempt[1]:
            windows = [(min(narrow[0], attempt[0]), max(narrow[1], attempt[1]))]
        else:
            windows = [narrow, attempt]
        for index, (start, end) in enumerate(windows):
            item = await self._search(row, start, end)
            if item is None:
                continue
            if item is False:
                return None
            if item is True:  # too many to search: not knowing is no reason to send again
                self.retry(row, "reconciling: more conversations around its time than a lookup searches;"
                              " trying again later", unknown=True, floor=3600)
                return None
            self._learn_clock(item, started, None if len(windows) == 1 else ("started_at", "server")[index])
            log.info("%s: delivered %s as Omi conversation %s (found in Omi: the answer to its send was lost)",
                     row.connector, row.named, item.get("id"))
            self._adopt(row, item)
            return True
        return False

    async def _search(self, row: OutboxRow, start: datetime, end: datetime) -> dict | bool | None:
        """Page through one window: the row's conversation, None if it is not there, False if
        the lookup could not finish (the row has been put back), True if there were more pages
        than a lookup reads."""
        for page in range(MAX_PAGES):
            response = await self.gate.request(
                self.reads, lambda page=page: self.client.list_conversations(start, end, offset=page * LIST_LIMIT))
            if response.status_code != 200:
                self._settle_failed_lookup(row, response)
                return False
            self.health.answered()
            items = response.json()
            if not isinstance(items, list):
                self.retry(row, f"reconciling: unexpected list answer: {body_of(response)}", unknown=True)
                return False
            match, ours = None, _fingerprint_of(row.body)
            for item in items:
                if _fingerprint_of(item) == ours:
                    match = item
                else:
                    self._adopt_others(item)
            if match is not None:
                return match
            if len(items) < LIST_LIMIT:
                return None
        log.warning("row %s: more than %d conversations around its time; not all searched",
                    row.id, MAX_PAGES * LIST_LIMIT)
        return True

    def _adopt(self, row: OutboxRow, item: dict) -> None:
        self.store.mark_sent(row.id, item.get("id"), bool(item.get("discarded", False)),
                             note="adopted after reconciliation")
        self.metrics.sends.labels("adopted").inc()

    def _adopt_others(self, item: dict) -> None:
        """A listed conversation that belongs to another row awaiting a lookup settles it too."""
        pair = _fingerprint_of(item)
        if pair is None:
            return
        for other in self.store.uncertain_candidates(pair[1].microsecond):
            if _fingerprint_of(other.body) == pair:
                log.info("%s: delivered %s as Omi conversation %s (found in Omi: the answer to its send was"
                         " lost)", other.connector, other.named, item.get("id"))
                self._adopt(other, item)

    def _learn_clock(self, item: dict, started: datetime, by_window: str | None) -> None:
        """Remember whether this server lists by the posted started_at or by its own clock."""
        clock = by_window
        created = item.get("created_at")
        if isinstance(created, str):
            with contextlib.suppress(ValueError):
                clock = "started_at" if abs((parse_time(created) - started).total_seconds()) < 1 else "server"
        if clock is not None and clock != self.store.get_meta("list_clock"):
            self.store.set_meta("list_clock", clock)
            if clock == "server":
                log.warning("this Omi server lists conversations by its own clock: lost answers are looked"
                            " up around the attempt, not the item's time")

    def _settle_failed_lookup(self, row: OutboxRow, response: httpx.Response) -> None:
        self.gate.judge(response)
        code = response.status_code
        error = f"reconciling: {code}: {body_of(response)}"
        if code == 429:
            self.store.release(row.id, self.gate.pause_until, error, counted=False)
        elif code in (401, 403):
            self.gate.block_auth(code, response)
            self.store.release(row.id, self.gate.auth_blocked_until, error, counted=False)
        else:
            self.retry(row, error, unknown=True)


def _fingerprint_of(record: dict) -> tuple[datetime, datetime] | None:
    """(started_at, finished_at) of a request body or a listed conversation."""
    try:
        return parse_time(record["started_at"]), parse_time(record["finished_at"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
