"""The budgets the dispatcher keeps to, without a server: what a 429 teaches, the live reserve,
and when a learned limit is probed."""

from __future__ import annotations

import json

import httpx

from bridge.limits import Budget, Limit
from bridge.store import Store

NOW = 1_800_000_000.0


def _budget(times: list[float], learned: Limit | None = None, configured: Limit | None = None,
            reserve: int | None = None) -> Budget:
    store = Store(":memory:")
    if learned is not None:
        store.set_meta("write_limit", json.dumps(learned.__dict__))
    for t in times:
        store.log_request("write", t)
    return Budget(store, "write", configured, reserve=reserve, now=NOW)


def _429(retry: int, limit: int) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": str(retry), "X-RateLimit-Limit": str(limit)})


def test_a_429_teaches_the_limit_and_the_window_from_the_request_that_opened_it():
    # five accepted, the sixth refused 3 s after the first, with 17 s left in the window
    times = [NOW - 3 + 0.5 * i for i in range(6)]
    budget = _budget(times)
    budget.learn(_429(17, 5), times[-1], NOW)
    assert (budget.learned.count, budget.learned.window) == (5, 20.0)
    assert json.loads(budget.store.get_meta("write_limit"))["window"] == 20.0


def test_a_429_stating_more_than_we_sent_teaches_nothing():
    budget = _budget([NOW - 1, NOW])  # another client shares the key
    budget.learn(_429(30, 25), NOW, NOW)
    assert budget.learned is None


def test_backfill_leaves_the_reserve_to_live_items():
    budget = _budget([NOW - 10, NOW - 5, NOW - 1], learned=Limit(5, 20.0, "learned", NOW))
    assert budget.reserve(budget.in_force()) == 1  # a fifth of 5
    assert budget.allowance(NOW, live=True) == 2
    assert budget.allowance(NOW, live=False) == 1
    assert budget.next_free(NOW, live=False) == NOW
    full = _budget([NOW - 10, NOW - 5, NOW - 1, NOW], learned=Limit(5, 20.0, "learned", NOW))
    assert full.allowance(NOW, live=False) == 0 and full.allowance(NOW, live=True) == 1
    assert full.next_free(NOW, live=False) == NOW - 10 + 20.25  # the oldest leaves the window


def test_the_lower_of_configured_and_learned_wins():
    budget = _budget([], learned=Limit(100, 3600.0, "learned", NOW), configured=Limit(10, 3600.0, "configured"))
    assert budget.in_force().source == "configured"
    assert budget.allowance(NOW, live=True) == 10


def test_the_daily_probe_waits_for_omis_own_window_to_be_full():
    learned = Limit(2, 3600.0, "learned", NOW - 90_000)
    # Omi's window A opened at -3650 and ended at -50; the request at -40 opened window B, which
    # holds one: the sliding count is full (two in the last hour), Omi's window is not
    budget = _budget([NOW - 3650, NOW - 3590, NOW - 40], learned=learned)
    assert budget.allowance(NOW, live=True) == 0
    assert not budget.probe_due(NOW)
    budget.times.append(NOW - 1)  # window B full now: a probe tells whether the limit was raised
    assert budget.probe_due(NOW)
    configured = _budget([NOW - 40, NOW - 1], learned=learned, configured=Limit(1, 3600.0, "configured"))
    assert not configured.probe_due(NOW)  # the user's own limit holds sending back: nothing to learn


def test_next_free_for_more_than_one_request():
    budget = _budget([NOW - 15, NOW - 10, NOW - 5], configured=Limit(4, 20.0, "configured"))
    assert budget.next_free(NOW, live=True) == NOW  # one place is free now
    assert budget.next_free(NOW, live=True, need=2) == NOW - 15 + 20.25  # two once the oldest leaves
