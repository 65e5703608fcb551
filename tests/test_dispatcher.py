"""The dispatcher over httpx.MockTransport: what each answer from Omi does to a row."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import yaml

from bridge.assemble import QueuedRequest
from bridge.config import OmiConfig
from bridge.dispatcher import Dispatcher
from bridge.models import CreateConversationRequest
from bridge.omi import OmiClient, parse_time, retry_after
from bridge.store import Store
from tests.fake_omi import CONTRACT

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class FakeApi:
    """Answers scripted per POST; lists what it 'created' the way Omi does: filtered on
    created_at (= the posted started_at; ``clock="server"``: the time it was created), newest
    first, 100 a page."""

    def __init__(self, answers: list[Callable[[dict], httpx.Response] | int] | None = None,
                 clock: str = "started_at") -> None:
        self.answers = list(answers or [])
        self.calls: list[tuple[float, str, dict | None]] = []
        self.created: list[dict] = []
        self.clock = clock

    def create(self, body: dict) -> httpx.Response:
        created_at = body["started_at"] if self.clock == "started_at" else datetime.now(UTC).isoformat()
        item = {"id": f"c{len(self.created) + 1}", "created_at": created_at, "started_at": body["started_at"],
                "finished_at": body["finished_at"], "discarded": False}
        self.created.append(item)
        return httpx.Response(200, json={"id": item["id"], "status": "completed", "discarded": False})

    def listed(self, params: dict) -> list[dict]:
        start, end = parse_time(params["start_date"]), parse_time(params["end_date"])
        found = [c for c in self.created if start <= parse_time(c["created_at"]) <= end]
        found.sort(key=lambda c: parse_time(c["created_at"]), reverse=True)
        offset, limit = int(params.get("offset", 0)), int(params["limit"])
        return found[offset:offset + limit]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            params = dict(request.url.params)
            self.calls.append((time.time(), "GET", params))
            return httpx.Response(200, json=self.listed(params))
        body = json.loads(request.content)
        self.calls.append((time.time(), "POST", body))
        answer = self.answers.pop(0) if self.answers else 200
        if answer == 200:
            return self.create(body)
        if isinstance(answer, int):
            return httpx.Response(answer, json={"detail": f"status {answer}"})
        return answer(body)

    def methods(self) -> list[str]:
        return [m for _, m, _ in self.calls]

    def times(self, method: str) -> list[float]:
        return [t for t, m, _ in self.calls if m == method]


def _requests(rows: int, priority: int = 0, at: datetime = T0, prefix: str = "k") -> list[QueuedRequest]:
    return [QueuedRequest(f"{prefix}{i}", CreateConversationRequest(text=f"text {i}", started_at=at, finished_at=at),
                          priority) for i in range(rows)]


def _setup(api: FakeApi, rows: int = 1, store: Store | None = None, **omi: object) -> tuple[Dispatcher, Store]:
    store = store or Store(":memory:")
    store.submit("src", _requests(rows))
    settings = {"api_key": "k", "retry_initial": 0.05, "retry_max": 0.2, "reconcile_delay": 0, **omi}
    config = OmiConfig(**settings)  # type: ignore[arg-type]
    client = OmiClient("http://omi.test", "k", 5, transport=httpx.MockTransport(api))
    return Dispatcher(store, client, config), store


async def _drain(dispatcher: Dispatcher) -> None:
    await asyncio.wait_for(dispatcher.run(until_idle=5), timeout=20)


def _row(store: Store, row_id: int = 1) -> dict:
    return store.rows("SELECT * FROM outbox WHERE id = ?", [row_id])[0]


def _raising(exc: Exception) -> Callable[[dict], httpx.Response]:
    """An answer that never comes: the connection fails with ``exc``."""
    def answer(body: dict) -> httpx.Response:
        raise exc
    return answer


def _created_then_lost(api: FakeApi) -> Callable[[dict], httpx.Response]:
    """Omi creates the conversation, then the answer is lost."""
    def answer(body: dict) -> httpx.Response:
        api.create(body)
        raise httpx.ReadTimeout("timed out")
    return answer


def _limited(retry: int, limit: int = 5) -> Callable[[dict], httpx.Response]:
    def answer(body: dict) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": str(retry), "X-RateLimit-Limit": str(limit),
                                            "X-RateLimit-Remaining": "0"},
                              json={"detail": f"Rate limit exceeded. Try again in {retry}s."})
    return answer


async def test_success_records_the_conversation_id_and_discarded():
    def discarded(body: dict) -> httpx.Response:
        return httpx.Response(200, json={"id": "abc", "status": "completed", "discarded": True})

    dispatcher, store = _setup(FakeApi([discarded]))
    await _drain(dispatcher)
    row = _row(store)
    assert (row["state"], row["omi_id"], row["discarded"]) == ("sent", "abc", 1)


async def test_request_carries_only_contract_fields_with_explicit_times():
    api = FakeApi()
    dispatcher, store = _setup(api)
    await _drain(dispatcher)
    body = api.calls[0][2]
    contract = yaml.safe_load(CONTRACT.read_text())["components"]["schemas"]["CreateConversationRequest"]
    assert set(body) <= set(contract["properties"])
    assert body["text_source"] == "message"
    assert body["started_at"] and body["finished_at"]


@pytest.mark.parametrize("status", [400, 404, 409, 422])
async def test_client_errors_are_dead_lettered_with_the_body(status):
    dispatcher, store = _setup(FakeApi([status]))
    await _drain(dispatcher)
    row = _row(store)
    assert row["state"] == "dead"
    assert row["last_error"] == f'{status}: {{"detail":"status {status}"}}'
    assert store.revive([1]) == 1
    await _drain(dispatcher)
    assert _row(store)["state"] == "sent"


@pytest.mark.parametrize("status", [408, 503])
async def test_not_processed_answers_retry_without_asking_the_list(status):
    api = FakeApi([status, status])
    dispatcher, store = _setup(api)
    await _drain(dispatcher)
    assert api.methods() == ["POST", "POST", "POST"]
    assert _row(store)["state"] == "sent" and _row(store)["attempts"] == 3


async def test_connect_error_retries_without_reconciling():
    api = FakeApi([_raising(httpx.ConnectError("connection refused"))])
    dispatcher, store = _setup(api)
    await _drain(dispatcher)
    assert api.methods() == ["POST", "POST"]


async def test_lost_answer_is_reconciled_by_the_rows_own_started_at():
    api = FakeApi()
    api.answers = [_created_then_lost(api)]
    dispatcher, store = _setup(api)  # the item's started_at is weeks before the attempt
    await _drain(dispatcher)
    assert api.methods() == ["POST", "GET"]  # no second POST: it would be a duplicate
    row = _row(store)
    assert (row["state"], row["omi_id"], row["last_error"]) == ("sent", "c1", "adopted after reconciliation")
    params = api.calls[1][2]
    assert parse_time(params["start_date"]) <= T0 <= parse_time(params["end_date"])
    assert parse_time(params["end_date"]) - parse_time(params["start_date"]) <= timedelta(seconds=2)  # narrow
    assert store.get_meta("list_clock") == "started_at"  # learned from the conversation found


async def test_lost_answer_without_a_conversation_is_sent_again_after_one_list_call():
    api = FakeApi([_raising(httpx.RemoteProtocolError("server disconnected"))])
    store = Store(":memory:")
    store.set_meta("list_clock", "started_at")  # learned earlier
    dispatcher, store = _setup(api, store=store)
    await _drain(dispatcher)
    assert api.methods() == ["POST", "GET", "POST"]
    assert _row(store)["state"] == "sent" and len(api.created) == 1
    assert _row(store)["attempts"] == 2  # the lookup was not an attempt


async def test_until_the_servers_clock_is_known_a_missing_row_is_looked_for_around_the_attempt_too():
    api = FakeApi([_raising(httpx.RemoteProtocolError("server disconnected"))])
    dispatcher, store = _setup(api)
    await _drain(dispatcher)
    assert api.methods() == ["POST", "GET", "GET", "POST"]
    second = api.calls[2][2]
    assert parse_time(second["start_date"]) <= datetime.fromtimestamp(api.calls[0][0], UTC)  # covers the attempt


async def test_a_server_that_lists_by_its_own_clock_is_learned_and_searched_around_the_attempt():
    api = FakeApi(clock="server")
    api.answers = [_created_then_lost(api)]
    dispatcher, store = _setup(api)
    await _drain(dispatcher)
    # the first lookup tries the row's own time, then the attempt's
    assert api.methods() == ["POST", "GET", "GET"]
    assert store.get_meta("list_clock") == "server"

    api.answers = [_created_then_lost(api)]
    store.submit("src", _requests(1, prefix="later"))
    await _drain(dispatcher)
    assert api.methods()[3:] == ["POST", "GET"]  # now it knows where to look
    assert [r["omi_id"] for r in store.rows("SELECT omi_id FROM outbox ORDER BY id")] == ["c1", "c2"]
    assert len(api.created) == 2


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_server_errors_that_may_have_processed_are_reconciled(status):
    api = FakeApi()

    def created_then_failed(body: dict) -> httpx.Response:
        api.create(body)
        return httpx.Response(status, json={"detail": "boom"})

    api.answers = [created_then_failed]
    dispatcher, store = _setup(api)
    await _drain(dispatcher)
    assert api.methods() == ["POST", "GET"]
    assert len(api.created) == 1 and _row(store)["omi_id"] == "c1"


async def test_reconciliation_needs_both_timestamps_to_match():
    api = FakeApi()

    def lost(body: dict) -> httpx.Response:
        # another item's conversation with the same start, a different fingerprint
        other = dict(body, finished_at=(datetime.fromisoformat(body["finished_at"]) + timedelta(microseconds=1))
                     .isoformat())
        api.create(other)
        raise httpx.ReadTimeout("timed out")

    api.answers = [lost]
    store = Store(":memory:")
    store.set_meta("list_clock", "started_at")
    dispatcher, store = _setup(api, store=store)
    await _drain(dispatcher)
    assert api.methods() == ["POST", "GET", "POST"]
    assert _row(store)["omi_id"] == "c2"


async def test_one_list_page_settles_every_uncertain_row_it_shows():
    api = FakeApi()
    dispatcher, store = _setup(api, rows=6)  # one started_at for all: one narrow window holds them all
    for row in store.claim_due(time.time(), 6):  # sent, created, every answer lost
        api.create(row.body)
        store.mark_retry(row.id, 0, "no answer from Omi", unknown=True)
    await _drain(dispatcher)
    assert api.methods() == ["GET"]
    assert {r["omi_id"] for r in store.rows("SELECT omi_id FROM outbox")} == {f"c{i}" for i in range(1, 7)}


async def test_429_pauses_every_send_until_retry_after():
    def limited(body: dict) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "1"}, json={"detail": "Rate limit exceeded."})

    api = FakeApi([limited])
    dispatcher, store = _setup(api, rows=3, max_in_flight=1)
    await _drain(dispatcher)
    times = [t for t, m, _ in api.calls if m == "POST"]
    assert len(times) == 4
    assert min(times[1:]) - times[0] >= 1.0  # nothing at all went out inside the pause
    assert float(store.get_meta("pause_until")) >= times[0] + 1.0  # a restart waits too
    assert _row(store)["attempts"] == 1  # the refused attempt does not count against the row


async def test_pause_survives_a_restart():
    api = FakeApi()
    dispatcher, store = _setup(api)
    store.set_meta("pause_until", repr(time.time() + 0.8))
    restarted = Dispatcher(store, dispatcher.client, dispatcher.config)
    started = time.time()
    await _drain(restarted)
    assert api.calls[0][0] - started >= 0.7


def test_retry_after_accepts_seconds_and_http_dates():
    now = time.time()
    assert retry_after(httpx.Response(429, headers={"Retry-After": "120"})) == 120
    date = format_datetime(datetime.fromtimestamp(now + 90, UTC), usegmt=True)
    assert 88 <= retry_after(httpx.Response(429, headers={"Retry-After": date}), now) <= 91
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(429)) is None


async def test_refused_key_keeps_rows_pending_logs_once_and_rechecks(caplog):
    api = FakeApi([401] * 100)
    dispatcher, store = _setup(api, rows=5, auth_recheck=0.3)
    caplog.set_level(logging.ERROR)
    task = asyncio.create_task(dispatcher.run())
    await asyncio.sleep(1.0)
    assert store.counts()["pending"] == 5
    posts = api.methods().count("POST")
    assert 2 <= posts <= 5  # one probe per recheck, not one per row
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "refused the API key (401" in caplog.records[0].message
    assert all(r["attempts"] == 0 for r in store.rows("SELECT attempts FROM outbox"))

    api.answers = []  # the key works again
    await asyncio.sleep(1.0)
    await dispatcher.stop(1)
    await task
    assert store.counts()["sent"] == 5


async def test_403_reports_the_missing_scope():
    dispatcher, store = _setup(FakeApi([403] * 10), auth_recheck=60)
    result = await asyncio.wait_for(dispatcher.run(until_idle=5), 10)
    assert result.auth_error and "conversations:write" in result.auth_error
    assert result.waiting == 1


async def test_client_side_pacing():
    api = FakeApi()
    dispatcher, store = _setup(api, rows=3, rate_limit="2/second")
    await _drain(dispatcher)
    times = [t for t, m, _ in api.calls if m == "POST"]
    assert times[2] - times[0] >= 0.95


async def test_backoff_grows_with_attempts_and_has_no_cap_on_attempts():
    api = FakeApi([500] * 8)
    dispatcher, store = _setup(api, retry_initial=0.01, retry_max=0.05)
    dispatcher.rng = lambda: 1.0  # the top of the jitter range
    await _drain(dispatcher)
    assert _row(store)["state"] == "sent" and _row(store)["attempts"] == 9


async def test_until_idle_leaves_long_waits_pending():
    def limited(body: dict) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "3600"}, json={"detail": "later"})

    dispatcher, store = _setup(FakeApi([limited]), rows=2, max_in_flight=1)
    result = await asyncio.wait_for(dispatcher.run(until_idle=60), 5)
    assert result.waiting == 2


async def test_a_lookup_that_needs_two_reads_waits_for_both_without_spinning():
    # the server's clock is not known yet, so a lookup may need two list calls; one is left
    api = FakeApi()
    dispatcher, store = _setup(api, read_budget="2/hour")
    store.log_request("read", time.time())
    dispatcher.reads.times.append(time.time())
    for row in store.claim_due(time.time(), 1):
        store.mark_retry(row.id, 0, "no answer from Omi", unknown=True)
    loops = 0
    start_ = dispatcher._start

    def counting(now: float) -> None:
        nonlocal loops
        loops += 1
        start_(now)

    dispatcher._start = counting  # type: ignore[method-assign]
    result = await asyncio.wait_for(dispatcher.run(until_idle=60), 5)
    assert result.waiting == 1 and api.calls == []  # nothing asked: the second read is an hour away
    assert loops < 5
