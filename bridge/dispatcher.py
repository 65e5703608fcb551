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

A row whose answer was lost (timeout, dropped connection, 5xx) is looked up in Omi's list before
it is sent again: ``bridge/lookup.py``. Every request, send or lookup, leaves through one gate
that holds it during a 429's pause or while the key is refused, and keeps it within its budget
(``bridge/gate.py``; the limits are ``bridge/limits.py``'s).

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

import httpx
from pydantic import ValidationError

from bridge.config import OmiConfig
from bridge.errors import StateUnwritable
from bridge.gate import RETRY_KNOWN, Gate, NotNow, body_of, describe
from bridge.health import OmiHealth, key_problem
from bridge.limits import Budget, Limit
from bridge.lookup import Lookup
from bridge.metrics import Metrics
from bridge.models import PRIORITY_LIVE, ConversationCreateResponse
from bridge.omi import OmiClient, retry_after
from bridge.store import OutboxRow, Store

__all__ = ["DEAD_STATUSES", "Dispatcher", "DrainResult"]

log = logging.getLogger(__name__)

DEAD_STATUSES = "4xx other than 401, 403, 408, 429"
IDLE_WAKE = 30.0
FAILING_HORIZON = 5.0  # seconds of Omi failing after which a draining run (--once) stops retrying
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass
class DrainResult:
    waiting: int  # rows still pending because they must wait longer than the horizon
    auth_error: str | None
    omi_error: str | None = None  # why sending is failing, if it is


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
        self.health = OmiHealth(store, clock)
        self.gate = Gate(store, config, self.health, self.metrics, clock)
        pacing = config.pacing()
        self.writes = Budget(store, "write", pacing and Limit(*pacing, "configured"),
                             reserve=config.live_reserve, now=now)
        self.reads = Budget(store, "read", Limit(*config.read_pacing(), "configured"), now=now)
        self.lookups = Lookup(self.gate, client, self.reads, self.metrics, self._retry)
        self._pruned = 0.0  # when old request times were last dropped from the store
        self._active: dict[asyncio.Task, int] = {}  # sends and lookups under way -> their row
        self._unsent = 0  # writes claimed that have not left yet (they hold a place in the budget)
        self._probe: int | None = None  # the row sent past a learned limit to see if it was raised
        self._wake = asyncio.Event()
        self._stopping = False

    # -- the loop -----------------------------------------------------------------------------

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
            hold = self.gate.hold_until()
            if hold <= now:
                with contextlib.suppress(StateUnwritable):  # said by the store's health; retried on recovery
                    self._start(now)
            next_at = self._next_event(now, hold)
            if until_idle is not None and not self._active and (
                    next_at is None or next_at - now > until_idle or self.health.failing_for(now) > FAILING_HORIZON):
                break
            await self._sleep(IDLE_WAKE if next_at is None else min(IDLE_WAKE, next_at - now))
        return DrainResult(self.store.counts()["pending"], self.gate.auth_error,
                           self.health.error if self.health.failing else None)

    async def check_key(self) -> None:
        """At start: can this key write conversations? Says so plainly if not (the sends would
        only find out when the first item is due). Not while Omi's pause from a 429 runs: no
        request leaves then, this one neither; the sends will tell."""
        if self.gate.hold_until() > self.clock():
            return
        try:
            response = await self.client.key_info()
        except httpx.HTTPError as exc:
            self.health.failed(f"cannot reach Omi at {self.config.base_url}: {describe(exc)}")
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

    def _free_slots(self) -> int:
        free = self.config.max_in_flight - len(self._active)
        if self.gate.auth_error is not None:
            free = min(free, 1 - len(self._active))  # one probe at a time while the key is refused
        return free

    def _write_allowance(self, now: float, *, live: bool) -> int:
        return max(0, self.writes.allowance(now, live=live) - self._unsent)

    def _left(self) -> None:
        """A claimed write left, or was held back: the place kept for it in the budget is free."""
        self._unsent -= 1

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
        lookup = self.lookups.claim(now) if free > 0 else None
        if lookup is not None:
            self._spawn(self.lookups.look_up(lookup), lookup)
            free -= 1
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
        # no slot free, or the state file refusing writes (the daemon wakes us when it takes them)
        if self.store.health.failing or self._free_slots() <= 0:
            return now + IDLE_WAKE if self._active else None
        times = []
        lookup = self.lookups.next_at(now)
        if lookup is not None:
            times.append(lookup)
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

    # -- one row ------------------------------------------------------------------------------

    async def _deliver(self, row: OutboxRow) -> None:
        async def post() -> httpx.Response:
            with self.metrics.latency.time():
                return await self.client.create_conversation(row.body)

        try:
            response = await self.gate.request(self.writes, post, held=self._left)
            self._settle(row, response)
        except StateUnwritable:  # the row stays inflight; settled by a lookup once the state recovers
            return
        except NotNow as held:
            self.store.release(row.id, held.until, held.why)
        except _NOT_SENT as exc:
            self.metrics.sends.labels("unreachable").inc()
            self.health.failed(f"cannot reach Omi at {self.config.base_url}: {describe(exc)}")
            self._retry(row, f"cannot reach Omi: {describe(exc)}", unknown=False)
        except httpx.TransportError as exc:
            self.metrics.sends.labels("no_answer").inc()
            self.health.failed(f"no answer from Omi: {describe(exc)}")
            # the body may have reached the server: find out before sending again
            self._retry(row, f"no answer from Omi: {describe(exc)}", unknown=True,
                        floor=self.config.reconcile_delay)
        except Exception as exc:  # a bug must not strand the row inflight
            log.exception("row %s: unexpected error while sending", row.id)
            self._retry(row, f"internal error: {describe(exc)}", unknown=True)
        finally:
            if self._probe == row.id:
                self._probe = None

    def _settle(self, row: OutboxRow, response: httpx.Response) -> None:
        code = response.status_code
        self.metrics.sends.labels(_result(code)).inc()
        self.gate.judge(response)
        if 200 <= code < 300:
            self.gate.clear_auth_block()
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
            self.store.release(row.id, self.gate.pause_until, f"429 rate limited: {body_of(response)}")
        elif code in (401, 403):
            self.gate.block_auth(code, response)
            self.store.release(row.id, self.gate.auth_blocked_until, self.gate.auth_error or "")
        elif code in RETRY_KNOWN:
            self._retry(row, f"{code}: {body_of(response)}", unknown=False, floor=retry_after(response) or 0)
        elif code >= 500:
            self._retry(row, f"{code}: {body_of(response)}", unknown=True,
                        floor=max(retry_after(response) or 0, self.config.reconcile_delay))
        else:
            log.error("%s: %s not delivered (row %s, dead-lettered): Omi answered %s: %s; omi-bridge retry %s"
                      " sends it again", row.connector, row.named, row.id, code, body_of(response), row.id)
            self.store.mark_dead(row.id, f"{code}: {body_of(response, 2000)}")

    # -- backoff (for a lookup too) -----------------------------------------------------------

    def _retry(self, row: OutboxRow, error: str, *, unknown: bool, floor: float = 0) -> None:
        ceiling = min(self.config.retry_max, self.config.retry_initial * 2 ** min(max(row.attempts, 1) - 1, 40))
        delay = max(self.rng() * ceiling, floor)
        log.debug("row %s: attempt %s failed (%s); next in %.1fs", row.id, row.attempts, error, delay)
        self.metrics.retries.inc()
        self.store.mark_retry(row.id, self.clock() + delay, error, unknown)


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
