"""The dispatcher against the fake Omi over real HTTP: Omi's limiters, its list, its 429s."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bridge.assemble import QueuedRequest
from bridge.config import OmiConfig
from bridge.dispatcher import Dispatcher
from bridge.models import PRIORITY_BACKFILL, PRIORITY_LIVE, CreateConversationRequest
from bridge.omi import OmiClient
from bridge.store import Store
from tests.conftest import API_KEY
from tests.fake_omi import FakeOmi

DAYS_AGO = datetime.now(UTC).replace(microsecond=0) - timedelta(days=4)


@pytest.fixture
def omi() -> Iterator[FakeOmi]:
    with FakeOmi(keys={API_KEY: ["conversations:read", "conversations:write"]}) as fake:
        yield fake


def _queue(store: Store, count: int, *, priority: int = PRIORITY_BACKFILL, prefix: str = "item",
           spread: timedelta = timedelta(minutes=1)) -> None:
    store.submit("src", [
        QueuedRequest(f"{prefix}-{i}", CreateConversationRequest(text=f"{prefix} {i}", started_at=DAYS_AGO + i * spread),
                      priority)
        for i in range(count)
    ])


def _dispatcher(store: Store, url: str, **omi: object) -> Dispatcher:
    settings = {"api_key": API_KEY, "base_url": url, "retry_initial": 0.1, "retry_max": 1, "reconcile_delay": 0.3,
                **omi}
    config = OmiConfig(**settings)  # type: ignore[arg-type]
    client = OmiClient(url, API_KEY, 10, max_connections=config.max_in_flight + 1)
    return Dispatcher(store, client, config)


async def _drain(dispatcher: Dispatcher, timeout: float = 120) -> None:
    try:
        await asyncio.wait_for(dispatcher.run(until_idle=60), timeout)
    finally:
        await dispatcher.client.aclose()


def _sent(store: Store) -> int:
    return store.counts()["sent"]


@pytest.mark.parametrize("in_flight", [2, 4])
async def test_no_request_arrives_between_a_429_and_its_retry_after(omi, in_flight, tmp_path):
    # every 7th post is refused while other requests are inside Omi; a store on disk, whose
    # commits hold the event loop up as they do in the daemon
    omi.script.extend((["ok"] * 6 + ["429:1"]) * 8)
    omi.latency = 0.005
    store = Store(tmp_path / "state.db")
    _queue(store, 48)
    await _drain(_dispatcher(store, omi.url, max_in_flight=in_flight))
    statuses = [status for _, status in omi.posts()]
    assert statuses.count(429) == 7  # the pauses really happened...
    assert omi.violations == []  # ...and nothing arrived inside one
    assert _sent(store) == 48 and sorted(omi.texts()) == sorted(f"item {i}" for i in range(48))


async def test_old_items_with_lost_answers_are_delivered_exactly_once(omi):
    # answers lost after the conversation was created, 500s after it was created, lost before:
    # every row's started_at is days before the attempt, where Omi files the conversation
    omi.fault_rates = {"drop": 0.12, "500-after": 0.08, "drop-before": 0.05}
    store = Store(":memory:")
    _queue(store, 40)
    await _drain(_dispatcher(store, omi.url))
    assert sorted(omi.texts()) == sorted(f"item {i}" for i in range(40))  # each exactly once
    adopted = store.rows("SELECT count(*) AS n FROM outbox WHERE last_error = 'adopted after reconciliation'")[0]["n"]
    assert adopted >= 3 and _sent(store) == 40
    assert omi.violations == []


async def test_a_server_that_stamps_its_own_clock_still_gets_each_item_once():
    with FakeOmi(keys={API_KEY: ["conversations:read", "conversations:write"]}, clock="server") as omi:
        omi.fault_rates = {"drop": 0.15, "500-after": 0.1}
        store = Store(":memory:")
        _queue(store, 30)
        await _drain(_dispatcher(store, omi.url))
        assert sorted(omi.texts()) == sorted(f"item {i}" for i in range(30))
        assert store.get_meta("list_clock") == "server"


async def test_the_limit_stated_on_a_429_is_learned_kept_and_learned_again_when_it_changes(omi, tmp_path):
    omi.quota = (3, 4.0)
    path = tmp_path / "state.db"
    store = Store(path)
    _queue(store, 9, priority=PRIORITY_LIVE)
    await _drain(_dispatcher(store, omi.url))
    assert [s for _, s in omi.posts()].count(429) == 1  # one to learn from, none after
    limit = json.loads(store.get_meta("write_limit"))
    assert (limit["count"], limit["window"], limit["source"]) == (3, 4.0, "learned")
    store.close()

    # a restart paces to what was learned: no 429 to find out again
    store = Store(path)
    _queue(store, 4, priority=PRIORITY_LIVE, prefix="after restart")
    before = len(omi.posts())
    await _drain(_dispatcher(store, omi.url))
    assert [s for _, s in omi.posts()[before:]] == [200] * 4

    # Omi lowers the limit: one 429 teaches the new one
    omi.quota = (2, 4.0)
    time.sleep(4.5)  # a fresh window on the fake
    _queue(store, 5, priority=PRIORITY_LIVE, prefix="lowered")
    before = len(omi.posts())
    await _drain(_dispatcher(store, omi.url))
    assert [s for _, s in omi.posts()[before:]].count(429) == 1
    assert json.loads(store.get_meta("write_limit"))["count"] == 2
    assert omi.violations == []


async def test_a_raised_limit_is_noticed_by_a_daily_probe(omi):
    store = Store(":memory:")
    a_day_ago = time.time() - 90_000
    store.set_meta("write_limit", json.dumps({"count": 2, "window": 3600.0, "source": "learned", "since": a_day_ago}))
    _queue(store, 5, priority=PRIORITY_LIVE)
    await _drain(_dispatcher(store, omi.url))
    # two within the learned limit, one probe past it that Omi accepts, then no limit is assumed
    assert _sent(store) == 5 and store.get_meta("write_limit") == ""


async def test_a_configured_rate_limit_lower_than_the_learned_one_wins(omi):
    store = Store(":memory:")
    store.set_meta("write_limit", json.dumps({"count": 100, "window": 1.0, "source": "learned", "since": time.time()}))
    _queue(store, 3, priority=PRIORITY_LIVE)
    await _drain(_dispatcher(store, omi.url, rate_limit="2/second"))
    times = [t for t, _ in omi.posts()]
    assert times[2] - times[0] >= 0.95


async def test_read_budget_holds_with_150_uncertain_rows_and_sending_goes_on(omi):
    # 150 rows whose outcome is unknown (a crash, a timeout), none of them created in Omi, each
    # with its own time: every lookup is a list call of its own
    omi.read_quota = (12, 1.0)  # Omi's read limiter, scaled down; the budget stays below it
    store = Store(":memory:")
    _queue(store, 150, prefix="uncertain")
    for row in store.claim_due(time.time(), 150):
        store.mark_retry(row.id, 0, "no answer from Omi", unknown=True)
    _queue(store, 5, priority=PRIORITY_LIVE, prefix="fresh")
    dispatcher = _dispatcher(store, omi.url, read_budget="10/second", max_in_flight=2)
    task = asyncio.create_task(dispatcher.run())
    await asyncio.sleep(4.5)
    status = store.rows("SELECT count(*) AS n FROM outbox WHERE unknown_since IS NOT NULL AND state = 'pending'")
    await dispatcher.stop(2)
    await task
    await dispatcher.client.aclose()

    lists = omi.lists()
    assert len(lists) >= 20  # lookups did run...
    busiest = max(sum(1 for t in lists if at <= t < at + 1.0) for at in lists)
    assert busiest <= 10  # ...never more in a second than the budget
    assert not [1 for t, m, p, s in omi.requests if s == 429]
    assert status[0]["n"] > 0  # the rest wait for read budget
    assert {f"fresh {i}" for i in range(5)} <= set(omi.texts())  # while new rows were sent
    assert float(store.get_meta("read_budget_until")) > 0


async def test_backlog_meets_one_429_uses_the_windows_and_a_live_item_goes_in_its_window(omi):
    limit, window = 5, 6.0  # Omi's 25 an hour, scaled down: ten windows instead of an afternoon
    omi.quota = (limit, window)
    omi.latency = 0.05
    store = Store(":memory:")
    _queue(store, 40)  # a backfill: backfill rows leave one write of each window to live items
    dispatcher = _dispatcher(store, omi.url)
    run = asyncio.create_task(dispatcher.run(until_idle=60))
    await asyncio.sleep(window * 2.5)  # in the middle of the backlog
    live_at = time.time()
    store.submit("src", [QueuedRequest("live", CreateConversationRequest(text="live mail", started_at=datetime.now(UTC)), PRIORITY_LIVE)])
    dispatcher.wake()
    await asyncio.wait_for(run, 600)
    await dispatcher.client.aclose()

    posts = omi.posts()
    assert [s for _, s in posts].count(429) == 1
    assert _sent(store) == 41 and omi.violations == []
    # what Omi's limiter allowed in the time the backlog took: the first window in full (nothing
    # was known yet), then each window less the write kept for live items, plus the live item
    opened = [at for kind, at in omi.windows if kind == "write"]
    arrivals = [at for at, method, _ in omi.arrivals if method == "POST"]
    windows = int((arrivals[-1] - arrivals[0]) // window) + 1
    possible = limit + (limit - 1) * (windows - 1) + 1
    created = len(omi.texts())
    assert created >= 0.95 * possible, (created, possible, windows, len(opened))
    # the live item left within the window that was open when it arrived (or opened one)
    live_sent = next(at for at in arrivals if at >= live_at)
    current = max((at for at in opened if at <= live_at), default=None)
    if current is not None and live_at < current + window:
        assert live_sent < current + window
    else:
        assert live_sent - live_at < 2


async def test_the_key_check_at_start_waits_out_a_pause_from_before_a_restart(omi):
    store = Store(":memory:")
    omi.script.append("429:2")
    _queue(store, 1)
    first = _dispatcher(store, omi.url)
    await asyncio.wait_for(first.run(until_idle=0.5), 10)  # meets the 429, returns: the pause is stored
    await first.client.aclose()
    restarted = _dispatcher(store, omi.url)  # a restart inside the pause
    await restarted.check_key()
    await _drain(restarted)
    assert omi.violations == [] and _sent(store) == 1
