"""Omi's rate limits as the bridge knows them, and the budgets the dispatcher keeps to.

Omi limits each API key with fixed windows (FACTS): a window opens with the first request after
the last one expired and holds ``X-RateLimit-Limit`` calls, rejected ones included; writes
(create, PATCH, DELETE) and list calls are counted apart. The limit is only ever stated on a 429,
whose ``Retry-After`` is what is left of the window. So from one 429 the bridge learns both
numbers: the limit from the header, and the window as the time from the request that opened it
(the ``limit``-th before the rejected one, by our own log of requests) to its end.

A budget keeps to every limit in force at once (the configured ``rate_limit`` and the learned
one, so the lower wins) as a sliding window over the requests that left: never more than
``count`` in any ``window``, which never overruns a fixed window of the same length. Backfill
rows stop ``reserve`` requests short, so a live item finds a write in the current window.

Until Omi has stated a limit (and none is configured) nothing is paced: the default of 25 per
hour is only used to estimate when a backlog will be delivered. A 429 that states a limit higher
than the requests we sent lately (another client shares the key) teaches nothing but its pause.
A learned limit that was raised is noticed by one probe a day: one request past the limit while a
backlog waits (a 429 then costs nothing, the window is spent anyway); if it is accepted, the limit
is learned again.
"""

from __future__ import annotations

import json
import logging
import math
from collections import deque
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # status reads budgets too, and starts without the HTTP client
    import httpx

    from bridge.store import Store

__all__ = ["DEFAULT_WRITES", "Budget", "Limit", "format_window"]

log = logging.getLogger(__name__)

MARGIN = 0.25  # seconds added to every window: a request's way to Omi takes longer some times than others
PROBE_AFTER = 86400.0  # a learned limit is tried once a day, in case Omi raised it
KEEP_LOG = 2 * 86400.0  # request times older than this are forgotten


@dataclass(frozen=True)
class Limit:
    count: int
    window: float
    source: str  # "configured", "learned" or "default"
    since: float | None = None  # when it was learned (or last confirmed)

    def describe(self) -> str:
        return f"{self.count} per {format_window(self.window)} ({self.source})"

    def rate(self) -> float:
        return self.count / self.window


DEFAULT_WRITES = Limit(25, 3600.0, "default")


def format_window(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds == size:
            return unit
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} hours"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} minutes"
    return f"{seconds:g}s"


class Budget:
    """The requests of one kind (``"write"`` or ``"read"``) against the limits in force."""

    def __init__(self, store: Store, kind: str, configured: Limit | None, *, reserve: int | None = 0,
                 now: float) -> None:
        self.store = store
        self.kind = kind
        self.configured = configured
        self._reserve = reserve  # None: a fifth of the limit, at least 1
        raw = store.get_meta(f"{kind}_limit")
        self.learned = Limit(**json.loads(raw)) if raw else None
        self.times: deque[float] = deque(store.request_times(kind, now - self._horizon()))

    # -- the limits -------------------------------------------------------------------------

    def enforced(self) -> list[Limit]:
        return [limit for limit in (self.configured, self.learned) if limit is not None]

    def in_force(self) -> Limit:
        """The tightest limit kept to; the default when nothing is known."""
        return min(self.enforced(), key=Limit.rate, default=DEFAULT_WRITES)

    def reserve(self, limit: Limit) -> int:
        """Requests of each window that backfill rows leave to live ones (never all of them)."""
        wanted = max(1, limit.count // 5) if self._reserve is None else self._reserve
        return max(0, min(wanted, limit.count - 1))

    def _span(self, limit: Limit) -> float:
        return limit.window + MARGIN

    def _horizon(self) -> float:
        """How far back request times are kept: two windows, so the one that opened the current
        fixed window is known too."""
        return 2 * max([self._span(limit) for limit in self.enforced()] + [3600.0])

    # -- what may leave now -----------------------------------------------------------------

    def allowance(self, now: float, *, live: bool) -> int:
        """How many requests may leave now (a large number when no limit is known)."""
        self._forget(now)
        free = 1 << 30
        for limit in self.enforced():
            used = len(self._inside(limit, now))
            free = min(free, limit.count - (0 if live else self.reserve(limit)) - used)
        return max(0, free)

    def next_free(self, now: float, *, live: bool, need: int = 1) -> float:
        """When ``allowance`` will next be at least ``need``."""
        when = now
        for limit in self.enforced():
            room = limit.count - (0 if live else self.reserve(limit)) - need  # requests that may stay inside
            if room < 0:
                return math.inf
            inside = self._inside(limit, now)
            if len(inside) > room:
                when = max(when, inside[len(inside) - room - 1] + self._span(limit))
        return when

    def _inside(self, limit: Limit, now: float) -> list[float]:
        """Our requests still inside ``limit``'s window, oldest first."""
        cut = now - self._span(limit)
        return [t for t in self.times if t > cut]

    def _forget(self, now: float) -> None:
        horizon = now - self._horizon()
        while self.times and self.times[0] <= horizon:
            self.times.popleft()

    def probe_due(self, now: float) -> bool:
        """True once a day while the learned limit is what holds sending back and Omi's own
        window is full: one request past it then tells whether the limit was raised."""
        learned = self.learned
        if learned is None or now - (learned.since or 0) < PROBE_AFTER or self.in_force() != learned:
            return False
        start = self._window_start(learned)
        return start is not None and now < start + learned.window and \
            sum(1 for t in self.times if t >= start) >= learned.count

    def _window_start(self, limit: Limit) -> float | None:
        """When Omi's current fixed window opened: with the first request after the last one ended."""
        start = None
        for t in self.times:
            if start is None or t >= start + limit.window:
                start = t
        return start

    # -- what happened ------------------------------------------------------------------------

    def record(self, at: float) -> None:
        """A request of this kind is leaving now."""
        self.times.append(at)
        self.store.log_request(self.kind, at)

    def learn(self, response: httpx.Response, sent_at: float, now: float) -> None:
        """Take the limit and its window from a 429 (the request that got it left at ``sent_at``)."""
        from bridge.omi import retry_after

        header = response.headers.get("X-RateLimit-Limit", "").strip()
        wait = retry_after(response, now)
        if not header.isdigit() or int(header) < 1 or wait is None:
            return  # not the fixed-window limiter's answer: nothing to learn
        count = int(header)
        before = sorted(t for t in self.times if t <= sent_at)
        if len(before) <= count:
            # fewer of our own requests than the limit: another client shares the key, and when
            # the window opened cannot be told; the pause is all this 429 gives
            log.info("Omi stated a limit of %d %ss, more than this bridge sent recently: not learned", count, self.kind)
            return
        # the window opened with the count-th request before the rejected one
        window = float(max(1, round(now + wait - before[-count - 1])))
        old = self.learned
        self._keep(Limit(count, window, "learned", now))
        if old is None or (old.count, old.window) != (count, window):
            log.warning("Omi limits %ss to %d per %s on this key: pacing to that from now on",
                        self.kind, count, format_window(window))

    def confirm_raised(self) -> None:
        """A probe past the learned limit was accepted: the limit was raised; learn it again."""
        if self.learned is not None:
            log.warning("Omi accepted more %ss than its last stated limit (%d per %s): learning it again",
                        self.kind, self.learned.count, format_window(self.learned.window))
            self._keep(None)

    def touch_probe(self, now: float) -> None:
        """A probe is leaving: the next one is a day away."""
        if self.learned is not None:
            self._keep(Limit(self.learned.count, self.learned.window, "learned", now))

    def _keep(self, learned: Limit | None) -> None:
        """The learned limit, here and in the store (so a restart paces to it)."""
        self.learned = learned
        self.store.set_meta(f"{self.kind}_limit", "" if learned is None else json.dumps(asdict(learned)))

    def forget_old(self, now: float) -> None:
        self.store.forget_requests(now - KEEP_LOG)

