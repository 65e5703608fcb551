"""Outbox -> Omi: one loop that claims due rows and sends them, never more than the key allows.

What each answer means (FACTS: the API has no idempotency key, so a re-send after a lost answer
would create a duplicate):

    200                   sent; the conversation id and ``discarded`` are recorded
    429                   nothing is sent on this key until Retry-After has passed (persisted,
                          so a restart waits too); the row waits with it
    401, 403              the key is refused: every row stays pending, one log line, and one
                          send is tried again every ``auth_recheck`` seconds
    408, 503              not processed: retry with backoff (Retry-After, if given, is a floor)
    500, 502, 504, 5xx    may have been processed before failing: retry, reconciling first
    other 4xx (400, 404,  the request itself is wrong: dead-lettered with the answer's body;
    409, 422, ...)        ``omi-bridge retry`` revives it
    connect error         never reached the server: retry with backoff
    timeout, dropped      outcome unknown: reconcile, then retry
    connection

Reconciling a row: Omi stores a conversation posted here with ``created_at`` = its
``started_at`` and lists by ``created_at`` (FACTS), so the dispatcher lists a narrow window around
the row's own started_at and looks for the conversation whose started_at AND finished_at equal
the row's. The store puts the row id into finished_at's microseconds, so no two rows send the
same pair and a match is this row's conversation, not another item's; every other row awaiting a
lookup that a listed conversation belongs to is settled by the same page. A server that stamps
``created_at`` with its own clock (Omi before it kept an integration's time) is searched around
the uncertain attempt instead: which of the two the server does is learned from the first
conversation found and kept in the store, and only until then does a row found in neither window
cost two lookups. Lookups are list calls, which Omi limits apart from writes (60 an hour): they
run one at a time within ``read_budget``, and a row waiting for it says so.

Where the match can still fail is listed in the README ("How exactly once holds").

No request leaves while a 429 is being answered: a request waits until every other request
that left less than ``SETTLE`` seconds ago has been answered (a 429 comes back at once; Omi's real
work takes seconds), and the pause a 429 starts is checked after that wait, before the request
leaves. Writes keep to the limits in ``bridge/limits.py`` (configured, learned from a 429).

Backoff is exponential with full jitter and no cap on attempts. A row waits in the store
(``next_attempt_at``), not in a sleeping coroutine.

While the state file refuses writes (no space, I/O error: ``store.health``), nothing is claimed:
a send whose outcome could not be recorded leaves its row inflight, and the daemon settles such
rows as after a crash (looked up in Omi before any re-send) once the file takes writes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import ValidationError

from bridge.config import OmiConfig
from bridge.errors import StateUnwritable
from bridge.health import OmiHealth, key_problem
from bridge.limits import Budget, Limit
from bridge.metrics import Metrics
from bridge.models import PRIORITY_LIVE, ConversationCreateResponse
from bridge.omi import LIST_LIMIT, OmiClient, parse_time, retry_after
from bridge.store import OutboxRow, Store

__all__ = ["DEAD_STATUSES", "Dispatcher", "DrainResult"]

log = logging.getLogger(__name__)

RETRY_KNOWN = {408, 503}  # the server says it did not process the request
DEAD_STATUSES = "4xx other than 401, 403, 408, 429"
DEFAULT_429_WAIT = 60.0
PAUSE_MARGIN = 0.5  # Omi's Retry-After is whole seconds, rounded: wait this much past it
SKEW = 600.0  # seconds of clock difference tolerated when listing around a lost attempt
NARROW = 1.0  # seconds either side of a row's started_at when listing by it
MAX_PAGES = 10
SETTLE = 0.5  # a request waits for answers to requests younger than this (see the module doc)
IDLE_WAKE = 30.0
FAILING_HORIZON = 5.0  # seconds of Omi failing after which a draining run (--once) stops retrying
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass
class DrainResult:
    waiting: int  # rows still pending because they must wait longer than the horizon
    auth_error: str | None
    omi_error: str | None = None  # why sending is failing, if it is


class _NotNow(Exception):
    """The request was not sent: the key is paused, or the budget is spent, until ``until``."""

    def __init__(self, until: float, why: str) -> None:
        super().__init__(why)
        self.until = until
        self.why = why


class Dispatcher:
    def __init__(
        self,
        store: Store,
        client: OmiClient,
        config: OmiConfig,
        *,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics if metrics is not None else Metrics(store)
        self.client = client
        self.config = config
        self.clock = clock
        self.rng = rng
        now = clock()
        self.pause_until = store.pause_until()
        self.auth_error: str | None = None
        self.auth_blocked_until = 0.0
        self.health = OmiHealth(store, clock)
        pacing = config.pacing()
        self.writes = Budget(store, "write", pacing and Limit(*pacing, "configured"),
                             reserve=config.live_reserve, now=now)
        self.reads = Budget(store, "read", Limit(*config.read_pacing(), "configured"), now=now)
        self._pruned = 0.0  # when old request times were last dropped from the store
        self._active: dict[asyncio.Task, int] = {}  # sends and lookups under way -> their row
        self._looking_up = False  # one lookup at a time: reads are scarcer than writes
        self._reads_wait_noted = 0.0
        self._unsent = 0  # writes claimed that have not left yet (they hold a place in the budget)
        self._probe: int | None = None  # the row sent past a learned limit to see if it was raised
        self._on_wire: dict[object, tuple[float, asyncio.Future]] = {}
        self._wake = asyncio.Event()
        self._stopping = False

    # -- the loop ---------------------------------------------------------------------------

    def wake(self) -> None:
        """New rows were queued (call from the loop's thread)."""
        self._wake.set()

    async def run(self, *, until_idle: float | None = None) -> DrainResult:
        """Send until stopped; with ``until_idle``, return once nothing is due within that many
        seconds and nothing is in flight, or once Omi has been failing for ``FAILING_HORIZON``
        seconds (a run that cannot deliver says so soon instead of retrying on and on)."""
        while not self._stopping:
            now = self.clock()
            if now - self._pruned > 3600:
                self._pruned = now
                self.writes.forget_old(now)
            hold = self._hold_until()
            if hold <= now:
                with contextlib.suppress(StateUnwritable):  # said by the store's health; retried on recovery
                    self._start(now)
            next_at = self._next_event(now, hold)
            if until_idle is not None and not self._active and (
                    next_at is None or next_at - now > until_idle or self.health.failing_for(now) > FAILING_HORIZON):
                break
            await self._sleep(IDLE_WAKE if next_at is None else min(IDLE_WAKE, next_at - now))
        return DrainResult(self.store.counts()["pending"], self.auth_error,
                           self.health.error if self.health.failing else None)

    async def check_key(self) -> None:
        """At start: can this key write conversations? Says so plainly if not (the sends would
        only find out when the first item is due). Not while Omi's pause from a 429 runs: no
        request leaves then, this one neither; the sends will tell."""
        if self._hold_until() > self.clock():
            return
        try:
            response = await self.client.key_info()
        except httpx.HTTPError as exc:
            self.health.failed(f"cannot reach Omi at {self.config.base_url}: {_describe(exc)}")
            return
        problem = key_problem(response)
        if problem is not None:
            self.health.failed(problem, level=logging.ERROR)
        elif response.status_code == 200:
            self.health.answered()

    async def stop(self, grace: float, hurry: asyncio.Event | None = None) -> int:
        """Stop claiming; give in-flight sends ``grace`` seconds (less if ``hurry`` is set), then
        abandon them to reconciliation. Returns how many were abandoned."""
        self._stopping = True
        self._wake.set()
        if not self._active:
            return 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        hurried = asyncio.ensure_future(hurry.wait()) if hurry is not None else None
        while self._active and not (hurried is not None and hurried.done()):
            left = deadline - loop.time()
            if left <= 0:
                break
            await asyncio.wait({*self._active, *([hurried] if hurried else [])}, timeout=left,
                               return_when=asyncio.FIRST_COMPLETED)
        if hurried is not None:
            hurried.cancel()
        pending = set(self._active)
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)
        return len(pending)

    def _hold_until(self) -> float:
        """Until when no request at all may leave (a 429's Retry-After, a refused key)."""
        return max(self.pause_until, self.auth_blocked_until)

    def _free_slots(self) -> int:
        free = self.config.max_in_flight - len(self._active)
        if self.auth_error is not None:
            free = min(free, 1 - len(self._active))  # one probe at a time while the key is refused
        return free

    def _write_allowance(self, now: float, *, live: bool) -> int:
        return max(0, self.writes.allowance(now, live=live) - self._unsent)

    def _probing(self, now: float) -> bool:
        """The learned limit holds every write back and a daily probe past it is due."""
        return self._write_allowance(now, live=True) == 0 and self.writes.probe_due(now)

    def owned(self) -> set[int]:
        """The rows a send or lookup under way holds inflight."""
        return set(self._active.values())

    def _start(self, now: float) -> None:
        if self.store.health.failing:  # an outcome could not be recorded: claim nothing
            return
        free = self._free_slots()
        if free > 0 and not self._looking_up:
            if self.reads.allowance(now, live=True) >= self._reads_per_lookup():
                for row in self.store.claim_due(now, 1, uncertain=True):
                    self._looking_up = True
                    self._spawn(self._look_up(row), row)
                    free -= 1
            else:
                self._waiting_for_reads(now)
        if free <= 0:
            return
        live = min(free, self._write_allowance(now, live=True))
        backfill = self._write_allowance(now, live=False)
        probing = self._probing(now)
        if probing:
            live = backfill = 1
        rows = self.store.claim_due(now, live, priority_at_most=PRIORITY_LIVE)
        rows += self.store.claim_due(now, min(free, backfill) - len(rows), priority_above=PRIORITY_LIVE)
        if probing and rows:
            self.writes.touch_probe(now)
            self._probe = rows[0].id
            log.info("trying one write past the learned limit (%s): Omi may have raised it",
                     self.writes.in_force().describe())
        for row in rows:
            self._unsent += 1
            self._spawn(self._deliver(row), row)

    def _reads_per_lookup(self) -> int:
        """List calls a lookup may need: two until the server's clock is known (see _find)."""
        return 1 if self.store.get_meta("list_clock") else 2

    def _reads_free_at(self, now: float) -> float:
        return self.reads.next_free(now, live=True, need=self._reads_per_lookup())

    def _waiting_for_reads(self, now: float) -> None:
        """Rows to look up are due but the read budget is spent: say until when (for status)."""
        due = self.store.next_due_at(uncertain=True)
        if due is not None and due <= now:
            self._note_read_wait(self._reads_free_at(now))

    def _note_read_wait(self, until: float) -> None:
        if until != self._reads_wait_noted:
            self._reads_wait_noted = until
            self.store.set_meta("read_budget_until", repr(until))

    def _spawn(self, work: Awaitable[None], row: OutboxRow) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(f"send-{row.id}")
        self._active[task] = row.id
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._active.pop(task, None)
        failure = None if task.cancelled() else task.exception()
        if failure is not None and not isinstance(failure, StateUnwritable):  # that one the health said
            log.error("send task failed", exc_info=failure)
        self._wake.set()

    def _next_event(self, now: float, hold: float) -> float | None:
        """When something may next be claimed (None: no pending row at all). A slot or a lookup
        coming free wakes the loop by itself."""
        if hold > now:
            return hold if self.store.next_due_at() is not None else None
        if self.store.health.failing:  # the daemon wakes us when the state takes writes again
            return now + IDLE_WAKE if self._active else None
        if self._free_slots() <= 0:
            return now + IDLE_WAKE if self._active else None
        times = []
        due = self.store.next_due_at(uncertain=True)
        if due is not None and not self._looking_up:
            times.append(max(due, self._reads_free_at(now)))
        probe = self._probing(now)
        for live in (True, False):
            due = self.store.next_due_at(uncertain=False, live=live)
            if due is not None:
                free_at = now if probe else self.writes.next_free(now, live=live)
                times.append(max(due, free_at, now if self._unsent == 0 else now + 0.05))
        if not times:
            return now + IDLE_WAKE if self._active else None
        return max(min(times), now)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(seconds, 0.01))
        self._wake.clear()

    # -- every request ----------------------------------------------------------------------

    async def _request(self, budget: Budget, send: Callable[[], Awaitable[httpx.Response]], *,
                       held: bool = False) -> httpx.Response:
        """Send one request once the key allows it. ``held``: a place in the budget was kept for
        it when its row was claimed; otherwise the budget is checked here. Raises _NotNow."""
        await self._answers_to_young_requests()
        now = self.clock()
        try:
            hold = self._hold_until()
            if hold > now:
                why = self.auth_error or "waiting: Omi asked us to pause"
                raise _NotNow(hold, why)
            if not held and budget.allowance(now, live=True) <= 0:  # reads: writes hold their place
                until = budget.next_free(now, live=True)
                self._note_read_wait(until)
                raise _NotNow(until, f"waiting for read budget ({budget.in_force().describe()})"
                              " to check whether an earlier attempt created it")
            budget.record(now)
        finally:
            if held:
                self._unsent -= 1
        answered = asyncio.get_running_loop().create_future()
        token = object()
        self._on_wire[token] = (now, answered)
        try:
            response = await send()
            if response.status_code == 429:
                self._pause(response)
                budget.learn(response, now, self.clock())
            return response
        finally:
            del self._on_wire[token]
            answered.set_result(None)

    async def _answers_to_young_requests(self) -> None:
        """Wait until every request that left less than SETTLE ago has been answered, so a 429
        among them is seen before another request leaves."""
        while True:
            now = self.clock()
            young = [(at, done) for at, done in self._on_wire.values() if now - at < SETTLE]
            if not young:
                return
            youngest = max(at for at, _ in young)
            await asyncio.wait([done for _, done in young], timeout=SETTLE - (now - youngest))

    # -- one row ----------------------------------------------------------------------------

    async def _deliver(self, row: OutboxRow) -> None:
        async def post() -> httpx.Response:
            with self.metrics.latency.time():
                return await self.client.create_conversation(row.body)

        try:
            response = await self._request(self.writes, post, held=True)
            self._settle(row, response)
        except StateUnwritable:  # the row stays inflight; settled by a lookup once the state recovers
            return
        except _NotNow as held:
            self.store.release(row.id, held.until, held.why)
        except _NOT_SENT as exc:
            self.metrics.sends.labels("unreachable").inc()
            self.health.failed(f"cannot reach Omi at {self.config.base_url}: {_describe(exc)}")
            self._retry(row, f"cannot reach Omi: {_describe(exc)}", unknown=False)
        except httpx.TransportError as exc:
            self.metrics.sends.labels("no_answer").inc()
            self.health.failed(f"no answer from Omi: {_describe(exc)}")
            # the body may have reached the server: find out before sending again
            self._retry(row, f"no answer from Omi: {_describe(exc)}", unknown=True,
                        floor=self.config.reconcile_delay)
        except Exception as exc:  # a bug must not strand the row inflight
            log.exception("row %s: unexpected error while sending", row.id)
            self._retry(row, f"internal error: {_describe(exc)}", unknown=True)
        finally:
            if self._probe == row.id:
                self._probe = None

    def _settle(self, row: OutboxRow, response: httpx.Response) -> None:
        code = response.status_code
        self.metrics.sends.labels(_result(code)).inc()
        self._judge(response)
        if 200 <= code < 300:
            self._clear_auth_block()
            if self._probe == row.id:
                self.writes.confirm_raised()
            try:
                answer = ConversationCreateResponse.model_validate_json(response.content)
            except ValidationError:
                self.store.mark_sent(row.id, None, None, note=f"unreadable answer: {response.text[:200]}")
                return
            self.store.mark_sent(row.id, answer.id, answer.discarded)
            log.info("%s: delivered %s as Omi conversation %s%s", row.connector, row.named, answer.id,
                     " (which Omi discarded)" if answer.discarded else "")
        elif code == 429:
            self.store.release(row.id, self.pause_until, f"429 rate limited: {_body(response)}")
        elif code in (401, 403):
            self._block_auth(code, response)
            self.store.release(row.id, self.auth_blocked_until, self.auth_error or "")
        elif code in RETRY_KNOWN:
            self._retry(row, f"{code}: {_body(response)}", unknown=False, floor=retry_after(response) or 0)
        elif code >= 500:
            self._retry(row, f"{code}: {_body(response)}", unknown=True,
                        floor=max(retry_after(response) or 0, self.config.reconcile_delay))
        else:
            log.error("%s: %s not delivered (row %s, dead-lettered): Omi answered %s: %s; omi-bridge retry %s"
                      " sends it again", row.connector, row.named, row.id, code, _body(response), row.id)
            self.store.mark_dead(row.id, f"{code}: {_body(response, 2000)}")

    # -- did an uncertain attempt create a conversation? -------------------------------------

    async def _look_up(self, row: OutboxRow) -> None:
        """Settle the row if Omi has its conversation; put it back for a plain send if not;
        leave it uncertain if we cannot tell yet."""
        try:
            if await self._find(row) is False:
                self.store.not_created(row.id, self.clock())
        except StateUnwritable:
            return
        except _NotNow as held:
            self.store.release(row.id, held.until, held.why, counted=False)
        except httpx.TransportError as exc:
            self.health.failed(f"cannot list conversations in Omi: {_describe(exc)}")
            self._retry(row, f"reconciling: cannot list conversations: {_describe(exc)}", unknown=True)
        except Exception as exc:
            log.exception("row %s: unexpected error while reconciling", row.id)
            self._retry(row, f"internal error while reconciling: {_describe(exc)}", unknown=True)
        finally:
            self._looking_up = False

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
                self._retry(row, "reconciling: more conversations around its time than a lookup searches;"
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
            response = await self._request(
                self.reads, lambda page=page: self.client.list_conversations(start, end, offset=page * LIST_LIMIT))
            if response.status_code != 200:
                self._settle_failed_lookup(row, response)
                return False
            self.health.answered()
            items = response.json()
            if not isinstance(items, list):
                self._retry(row, f"reconciling: unexpected list answer: {_body(response)}", unknown=True)
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
        self._judge(response)
        code = response.status_code
        error = f"reconciling: {code}: {_body(response)}"
        if code == 429:
            self.store.release(row.id, self.pause_until, error, counted=False)
        elif code in (401, 403):
            self._block_auth(code, response)
            self.store.release(row.id, self.auth_blocked_until, error, counted=False)
        else:
            self._retry(row, error, unknown=True)

    # -- state of the key -------------------------------------------------------------------

    def _retry(self, row: OutboxRow, error: str, *, unknown: bool, floor: float = 0) -> None:
        ceiling = min(self.config.retry_max, self.config.retry_initial * 2 ** min(max(row.attempts, 1) - 1, 40))
        delay = max(self.rng() * ceiling, floor)
        log.debug("row %s: attempt %s failed (%s); next in %.1fs", row.id, row.attempts, error, delay)
        self.metrics.retries.inc()
        self.store.mark_retry(row.id, self.clock() + delay, error, unknown)

    def _pause(self, response: httpx.Response) -> None:
        wait = retry_after(response, self.clock())
        until = self.clock() + (DEFAULT_429_WAIT if wait is None else wait + PAUSE_MARGIN)
        if until > self.pause_until:
            self.metrics.pauses.inc()
            self.pause_until = until
            self.store.set_meta("pause_until", repr(until))
            log.warning("Omi rate limit hit: pausing every request for %.0fs", until - self.clock())

    def _block_auth(self, code: int, response: httpx.Response) -> None:
        self.auth_error = (
            f"Omi refused the API key ({code}: {_body(response)}): "
            + ("the key is missing, wrong or revoked" if code == 401 else "the key lacks the conversations:write scope")
        )
        self.auth_blocked_until = self.clock() + self.config.auth_recheck
        self.health.failed(f"{self.auth_error}; sending paused, trying again every {self.config.auth_recheck:.0f}s",
                           level=logging.ERROR)

    def _clear_auth_block(self) -> None:
        self.auth_error = None
        self.auth_blocked_until = 0.0

    def _judge(self, response: httpx.Response) -> None:
        """Omi's state from an answer: a 5xx or a refused key is failing, anything else works."""
        code = response.status_code
        if code in RETRY_KNOWN or code >= 500:
            self.health.failed(f"Omi answered {code}: {_body(response)}")
        elif code not in (401, 403):
            self.health.answered()


def _result(code: int) -> str:
    """The sends_total label for an HTTP answer (see _settle)."""
    if 200 <= code < 300:
        return "sent"
    if code == 429:
        return "rate_limited"
    if code in (401, 403):
        return "auth_refused"
    if code in RETRY_KNOWN or code >= 500:
        return "retry"
    return "dead"


def _fingerprint_of(record: dict) -> tuple[datetime, datetime] | None:
    """(started_at, finished_at) of a request body or a listed conversation."""
    try:
        return parse_time(record["started_at"]), parse_time(record["finished_at"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _body(response: httpx.Response, limit: int = 300) -> str:
    text = " ".join(response.text.split())
    return text[:limit] or "(empty body)"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
