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

Reconciling a row: list the conversations created since the uncertain attempt (minus a margin
for clock skew) and look for one whose started_at AND finished_at equal the row's. The store
puts the row id into finished_at's microseconds, so no two rows send the same pair and a match
is this row's conversation, not another item's. Where it can still fail: a conversation the
server created but marked discarded is not listed, so it is sent again (to be judged again);
more than ten pages (1,000 conversations) created since the attempt are not searched; two rows
a multiple of 1,000,000 ids apart that share started_at and the second of finished_at could be
confused; a server that rounded the timestamps it stores would never match, so rows would be
re-sent (duplicates, never losses).

Backoff is exponential with full jitter and no cap on attempts. A row waits in the store
(``next_attempt_at``), not in a sleeping coroutine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from pydantic import ValidationError

from bridge.config import OmiConfig
from bridge.metrics import Metrics
from bridge.models import ConversationCreateResponse
from bridge.omi import LIST_LIMIT, OmiClient, parse_time, retry_after
from bridge.store import OutboxRow, Store

__all__ = ["DEAD_STATUSES", "Dispatcher", "DrainResult"]

log = logging.getLogger(__name__)

RETRY_KNOWN = {408, 503}  # the server says it did not process the request
DEAD_STATUSES = "4xx other than 401, 403, 408, 429"
DEFAULT_429_WAIT = 60.0
SKEW = 600.0  # seconds of clock difference tolerated when listing after a lost answer
MAX_PAGES = 10
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass
class DrainResult:
    waiting: int  # rows still pending because they must wait longer than the horizon
    auth_error: str | None


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
        self.pause_until = float(store.get_meta("pause_until") or 0)
        self.auth_error: str | None = None
        self.auth_blocked_until = 0.0
        self._pacing = config.pacing()
        self._attempts: deque[float] = deque()
        if self._pacing:
            self._attempts.extend(store.attempt_times(clock() - self._pacing[1]))
        self._active: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._stopping = False

    # -- the loop ---------------------------------------------------------------------------

    def wake(self) -> None:
        """New rows were queued (call from the loop's thread)."""
        self._wake.set()

    async def run(self, *, until_idle: float | None = None) -> DrainResult:
        """Send until stopped; with ``until_idle``, return once nothing is due within that many
        seconds and nothing is in flight."""
        while not self._stopping:
            now = self.clock()
            gate = self._gate(now)
            if gate <= now:
                self._start_sends(now)
            if until_idle is not None and not self._active:
                due = self.store.next_due_at()
                if due is None or max(due, gate) - now > until_idle:
                    break
            await self._sleep(self._next_wake(now, gate))
        return DrainResult(self.store.counts()["pending"], self.auth_error)

    async def stop(self, grace: float) -> int:
        """Stop claiming; give in-flight sends ``grace`` seconds, then abandon them to
        reconciliation at the next start. Returns how many were abandoned."""
        self._stopping = True
        self._wake.set()
        if not self._active:
            return 0
        _, pending = await asyncio.wait(set(self._active), timeout=grace)
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)
        return len(pending)

    def _gate(self, now: float) -> float:
        """The earliest moment any request may go out."""
        gate = max(self.pause_until, self.auth_blocked_until)
        if self._pacing:
            count, window = self._pacing
            while self._attempts and self._attempts[0] <= now - window:
                self._attempts.popleft()
            if len(self._attempts) >= count:
                gate = max(gate, self._attempts[0] + window)
        return gate

    def _start_sends(self, now: float) -> None:
        free = self.config.max_in_flight - len(self._active)
        if self._pacing:
            free = min(free, self._pacing[0] - len(self._attempts))
        if self.auth_error is not None:
            free = min(free, 1 - len(self._active))  # one probe at a time while the key is refused
        if free <= 0:
            return
        for row in self.store.claim_due(now, free):
            if self._pacing:
                self._attempts.append(now)
            task = asyncio.create_task(self._deliver(row), name=f"send-{row.id}")
            self._active.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._active.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("send task failed", exc_info=task.exception())
        self._wake.set()

    def _next_wake(self, now: float, gate: float) -> float:
        if gate > now:
            return gate - now
        due = self.store.next_due_at()
        return 30.0 if due is None else min(30.0, max(0.0, due - now))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(seconds, 0.01))
        self._wake.clear()

    # -- one row ----------------------------------------------------------------------------

    async def _deliver(self, row: OutboxRow) -> None:
        try:
            if row.unknown_since is not None and await self._reconciled(row):
                return
            hold = max(self.pause_until, self.auth_blocked_until)
            if hold > self.clock():
                # a 429 or 401 arrived while this row was being claimed or reconciled
                self.store.release(row.id, hold, "waiting: Omi asked us to pause")
                return
            with self.metrics.latency.time():
                response = await self.client.create_conversation(row.body)
        except _NOT_SENT as exc:
            self.metrics.sends.labels("unreachable").inc()
            self._retry(row, f"cannot reach Omi: {_describe(exc)}", unknown=False)
        except httpx.TransportError as exc:
            self.metrics.sends.labels("no_answer").inc()
            # the body may have reached the server: find out before sending again
            self._retry(row, f"no answer from Omi: {_describe(exc)}", unknown=True,
                        floor=self.config.reconcile_delay)
        except Exception as exc:  # a bug must not strand the row inflight
            log.exception("row %s: unexpected error while sending", row.id)
            self._retry(row, f"internal error: {_describe(exc)}", unknown=True)
        else:
            self._settle(row, response)

    def _settle(self, row: OutboxRow, response: httpx.Response) -> None:
        code = response.status_code
        self.metrics.sends.labels(_result(code)).inc()
        if 200 <= code < 300:
            self._clear_auth_block()
            try:
                answer = ConversationCreateResponse.model_validate_json(response.content)
            except ValidationError:
                self.store.mark_sent(row.id, None, None, note=f"unreadable answer: {response.text[:200]}")
                return
            self.store.mark_sent(row.id, answer.id, answer.discarded)
            log.debug("row %s sent as %s%s", row.id, answer.id, " (discarded)" if answer.discarded else "")
        elif code == 429:
            self._pause(response)
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
            log.error("row %s (%s %s) dead-lettered: Omi answered %s: %s",
                      row.id, row.connector, row.source_key, code, _body(response))
            self.store.mark_dead(row.id, f"{code}: {_body(response, 2000)}")

    async def _reconciled(self, row: OutboxRow) -> bool:
        """Did the uncertain attempt create a conversation? Settle the row and return True if it
        did, or if we cannot tell yet; return False (and clear the doubt) if it did not."""
        started = parse_time(row.body["started_at"])
        finished = parse_time(row.body["finished_at"])
        since = datetime.fromtimestamp(row.unknown_since - SKEW, UTC)
        for page in range(MAX_PAGES):
            response = await self.client.list_conversations(since, offset=page * LIST_LIMIT)
            if response.status_code != 200:
                self._settle_failed_lookup(row, response)
                return True
            items = response.json()
            for item in items:
                if _same(item.get("started_at"), started) and _same(item.get("finished_at"), finished):
                    log.info("row %s: adopted conversation %s created by an attempt whose answer was lost",
                             row.id, item.get("id"))
                    self.store.mark_sent(row.id, item.get("id"), bool(item.get("discarded", False)),
                                         note="adopted after reconciliation")
                    self.metrics.sends.labels("adopted").inc()
                    return True
            if len(items) < LIST_LIMIT:
                break
        else:
            log.warning("row %s: more than %d conversations since the lost answer; not all searched",
                        row.id, MAX_PAGES * LIST_LIMIT)
        self.store.clear_unknown(row.id)
        return False

    def _settle_failed_lookup(self, row: OutboxRow, response: httpx.Response) -> None:
        code = response.status_code
        error = f"reconciling: {code}: {_body(response)}"
        if code == 429:
            self._pause(response)
            self.store.release(row.id, self.pause_until, error)
        elif code in (401, 403):
            self._block_auth(code, response)
            self.store.release(row.id, self.auth_blocked_until, error)
        else:
            self._retry(row, error, unknown=True)

    # -- state of the key -------------------------------------------------------------------

    def _retry(self, row: OutboxRow, error: str, *, unknown: bool, floor: float = 0) -> None:
        ceiling = min(self.config.retry_max, self.config.retry_initial * 2 ** min(row.attempts - 1, 40))
        delay = max(self.rng() * ceiling, floor)
        log.debug("row %s: attempt %s failed (%s); next in %.1fs", row.id, row.attempts, error, delay)
        self.metrics.retries.inc()
        self.store.mark_retry(row.id, self.clock() + delay, error, unknown)

    def _pause(self, response: httpx.Response) -> None:
        wait = retry_after(response, self.clock())
        until = self.clock() + (DEFAULT_429_WAIT if wait is None else wait)
        if until > self.pause_until:
            self.metrics.pauses.inc()
            self.pause_until = until
            self.store.set_meta("pause_until", repr(until))
            log.warning("Omi rate limit hit: pausing every request for %.0fs", until - self.clock())

    def _block_auth(self, code: int, response: httpx.Response) -> None:
        first = self.auth_error is None
        self.auth_error = (
            f"Omi refused the API key ({code}: {_body(response)}): "
            + ("the key is missing, wrong or revoked" if code == 401 else "the key lacks the conversations:write scope")
        )
        self.auth_blocked_until = self.clock() + self.config.auth_recheck
        if first:
            log.error("%s; sending paused, trying again every %.0fs", self.auth_error, self.config.auth_recheck)

    def _clear_auth_block(self) -> None:
        if self.auth_error is not None:
            log.warning("Omi accepts the API key again; sending resumed")
            self.auth_error = None
            self.auth_blocked_until = 0.0


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


def _same(value: object, expected: datetime) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return parse_time(value) == expected
    except ValueError:
        return False


def _body(response: httpx.Response, limit: int = 300) -> str:
    text = " ".join(response.text.split())
    return text[:limit] or "(empty body)"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
