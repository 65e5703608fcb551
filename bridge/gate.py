"""Every request to Omi passes one gate: sends and lookups alike.

No request leaves while a 429 is being answered: a request waits until every other request
that left less than ``SETTLE`` seconds ago has been answered (a 429 comes back at once; Omi's real
work takes seconds), and the pause a 429 starts is checked after that wait, before the request
leaves. The pause is kept in the store, so a restart waits too. A refused key (401, 403) holds
every request but one probe every ``auth_recheck`` seconds. Writes and reads each keep to their
budget (``bridge/limits.py``: configured, learned from a 429).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx

from bridge.config import OmiConfig
from bridge.health import OmiHealth
from bridge.limits import Budget
from bridge.metrics import Metrics
from bridge.omi import retry_after
from bridge.store import Store

__all__ = ["RETRY_KNOWN", "Gate", "NotNow", "body_of", "describe"]

log = logging.getLogger(__name__)

RETRY_KNOWN = {408, 503}  # the server says it did not process the request
DEFAULT_429_WAIT = 60.0
PAUSE_MARGIN = 0.5  # Omi's Retry-After is whole seconds, rounded: wait this much past it
SETTLE = 0.5  # a request waits for answers to requests younger than this (see the module doc)


class NotNow(Exception):
    """The request was not sent: the key is paused, or the budget is spent, until ``until``."""

    def __init__(self, until: float, why: str) -> None:
        super().__init__(why)
        self.until = until
        self.why = why


class Gate:
    """The key's state (paused by a 429, refused) and the one way a request leaves."""

    def __init__(self, store: Store, config: OmiConfig, health: OmiHealth, metrics: Metrics,
                 clock: Callable[[], float]) -> None:
        self.store, self.config, self.health, self.metrics, self.clock = store, config, health, metrics, clock
        self.pause_until = store.pause_until()
        self.auth_error: str | None = None
        self.auth_blocked_until = 0.0
        self._read_wait_noted = 0.0
        self._on_wire: dict[object, tuple[float, asyncio.Future]] = {}

    def hold_until(self) -> float:
        """Until when no request at all may leave (a 429's Retry-After, a refused key)."""
        return max(self.pause_until, self.auth_blocked_until)

    async def request(self, budget: Budget, send: Callable[[], Awaitable[httpx.Response]], *,
                      held: Callable[[], None] | None = None) -> httpx.Response:
        """Send one request once the key allows it. ``held``: a place in the budget was kept for
        it when its row was claimed, given back by calling it once the request leaves or not;
        otherwise the budget is checked here. Raises NotNow."""
        await self._answers_to_young_requests()
        now = self.clock()
        try:
            hold = self.hold_until()
            if hold > now:
                why = self.auth_error or "waiting: Omi asked us to pause"
                raise NotNow(hold, why)
            if not held and budget.allowance(now, live=True) <= 0:  # reads: writes hold their place
                until = budget.next_free(now, live=True)
                self.note_read_wait(until)
                raise NotNow(until, f"waiting for read budget ({budget.in_force().describe()})"
                             " to check whether an earlier attempt created it")
            budget.record(now)
        finally:
            if held:
                held()
        answered = asyncio.get_running_loop().create_future()
        token = object()
        self._on_wire[token] = (now, answered)
        try:
            response = await send()
            if response.status_code == 429:
                self.pause(response)
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

    def note_read_wait(self, until: float) -> None:
        """Rows to look up wait for the read budget until then (for ``status``)."""
        if until != self._read_wait_noted:
            self._read_wait_noted = until
            self.store.set_meta("read_budget_until", repr(until))

    # -- state of the key ---------------------------------------------------------------------

    def pause(self, response: httpx.Response) -> None:
        wait = retry_after(response, self.clock())
        until = self.clock() + (DEFAULT_429_WAIT if wait is None else wait + PAUSE_MARGIN)
        if until > self.pause_until:
            self.metrics.pauses.inc()
            self.pause_until = until
            self.store.set_meta("pause_until", repr(until))
            log.warning("Omi rate limit hit: pausing every request for %.0fs", until - self.clock())

    def block_auth(self, code: int, response: httpx.Response) -> None:
        self.auth_error = (
            f"Omi refused the API key ({code}: {body_of(response)}): "
            + ("the key is missing, wrong or revoked" if code == 401 else "the key lacks the conversations:write scope")
        )
        self.auth_blocked_until = self.clock() + self.config.auth_recheck
        self.health.failed(f"{self.auth_error}; sending paused, trying again every {self.config.auth_recheck:.0f}s",
                           level=logging.ERROR)

    def clear_auth_block(self) -> None:
        self.auth_error = None
        self.auth_blocked_until = 0.0

    def judge(self, response: httpx.Response) -> None:
        """Omi's state from an answer: a 5xx or a refused key is failing, anything else works."""
        code = response.status_code
        if code in RETRY_KNOWN or code >= 500:
            self.health.failed(f"Omi answered {code}: {body_of(response)}")
        elif code not in (401, 403):
            self.health.answered()


def body_of(response: httpx.Response, limit: int = 300) -> str:
    text = " ".join(response.text.split())
    return text[:limit] or "(empty body)"


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
