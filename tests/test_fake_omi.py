"""The fake Omi is only worth its verdicts if it rejects what the real contract rejects."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import API_KEY, wait_until
from tests.fake_omi import FakeOmi

GOOD = {"text": "hi", "text_source": "message", "started_at": "2026-11-01T10:00:00+00:00",
        "finished_at": "2026-11-01T10:00:00.000001+00:00"}


@pytest.mark.parametrize(("change", "problem"), [
    ({"text": ""}, "text"),
    ({"text": "x" * 100_001}, "text"),
    ({"text": "   "}, "text cannot be empty"),
    ({"text_source": "email"}, "text_source"),
    ({"started_at": "yesterday"}, "started_at"),
    ({"finished_at": "2026-11-01T09:00:00+00:00"}, "finished_at must be after started_at"),
    ({"subject": "not in the contract"}, "subject: not a contract field"),
])
def test_fake_rejects_what_the_contract_rejects(fake_omi, change, problem):
    response = httpx.post(f"{fake_omi.url}/v1/dev/user/conversations", json={**GOOD, **change},
                          headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 422
    assert any(problem in v for v in fake_omi.violations), fake_omi.violations


def test_fake_accepts_a_valid_request_and_lists_it_without_text(fake_omi):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    created = httpx.post(f"{fake_omi.url}/v1/dev/user/conversations", json=GOOD, headers=headers)
    assert created.status_code == 200 and set(created.json()) == {"id", "status", "discarded"}
    listed = httpx.get(f"{fake_omi.url}/v1/dev/user/conversations",
                       params={"start_date": "2000-01-01T00:00:00+00:00", "limit": 100}, headers=headers).json()
    assert [c["id"] for c in listed] == [created.json()["id"]]
    assert "text" not in listed[0]
    assert fake_omi.violations == []


def test_fake_refuses_unknown_keys_and_missing_scopes(fake_omi):
    url = f"{fake_omi.url}/v1/dev/user/conversations"
    assert httpx.post(url, json=GOOD, headers={"Authorization": "Bearer wrong"}).status_code == 401
    fake_omi.keys["read-only"] = ["conversations:read"]
    assert httpx.post(url, json=GOOD, headers={"Authorization": "Bearer read-only"}).status_code == 403


def _post(fake, **change):
    return httpx.post(f"{fake.url}/v1/dev/user/conversations", json={**GOOD, **change},
                      headers={"Authorization": f"Bearer {API_KEY}"})


def _list(fake, start, end):
    return httpx.get(f"{fake.url}/v1/dev/user/conversations",
                     params={"start_date": start, "end_date": end, "limit": 100},
                     headers={"Authorization": f"Bearer {API_KEY}"})


def test_fake_files_a_conversation_under_its_posted_started_at_and_lists_newest_first(fake_omi):
    old = _post(fake_omi, started_at="2026-01-05T09:00:00+00:00", finished_at="2026-01-05T09:00:01+00:00").json()
    newer = _post(fake_omi, started_at="2026-01-06T09:00:00+00:00", finished_at="2026-01-06T09:00:01+00:00").json()
    # listed by the time it was posted with, not the time it arrived
    assert [c["id"] for c in _list(fake_omi, "2026-01-05T08:59:59Z", "2026-01-05T09:00:01Z").json()] == [old["id"]]
    assert _list(fake_omi, "2026-11-01T00:00:00Z", "2030-01-01T00:00:00Z").json() == []
    both = _list(fake_omi, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z").json()
    assert [c["id"] for c in both] == [newer["id"], old["id"]]
    assert both[0]["created_at"] == both[0]["started_at"] == "2026-01-06T09:00:00.000000Z"


def test_fake_in_server_clock_mode_lists_by_arrival():
    with FakeOmi(keys={API_KEY: ["conversations:read", "conversations:write"]}, clock="server") as fake:
        _post(fake, started_at="2026-01-05T09:00:00+00:00", finished_at="2026-01-05T09:00:01+00:00")
        assert _list(fake, "2026-01-05T08:59:59Z", "2026-01-05T09:00:01Z").json() == []
        now = datetime.now(UTC)
        assert len(_list(fake, (now - timedelta(minutes=1)).isoformat(), now.isoformat()).json()) == 1


def test_fake_limiter_is_a_fixed_window_that_counts_rejected_calls(fake_omi):
    fake_omi.quota = (2, 3.0)
    answers = [_post(fake_omi) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert not any(h.lower().startswith("x-ratelimit") for h in answers[0].headers)  # successes say nothing
    limited = answers[2]
    assert limited.headers["X-RateLimit-Limit"] == "2" and limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["Retry-After"] in ("2", "3")  # whole seconds left in the window
    assert limited.json()["detail"].startswith("Rate limit exceeded. Try again in")
    time.sleep(3.1)
    assert _post(fake_omi).status_code == 200  # a new window opened by this request
    fake_omi.violations.clear()  # the test itself ignored the Retry-After; the bridge may not


def test_fake_counts_list_calls_apart_from_writes(fake_omi):
    fake_omi.quota = (1, 60.0)
    fake_omi.read_quota = (2, 60.0)
    assert _post(fake_omi).status_code == 200
    statuses = [_list(fake_omi, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    fake_omi.violations.clear()


def test_fake_records_a_request_inside_a_retry_after_as_a_violation(fake_omi):
    fake_omi.script.append("429:2")
    assert _post(fake_omi).status_code == 429
    _post(fake_omi)
    assert any("after a 429" in v for v in fake_omi.violations)


def test_fake_drops_a_request_whose_client_died_mid_body(fake_omi):
    """A client killed while sending leaves a short body: a real server sees the disconnect and
    never runs the handler; that is neither a conversation nor a broken request of ours."""
    host, port = fake_omi.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"POST /v1/dev/user/conversations HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {API_KEY}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"text\": \"half".encode())
        conn.shutdown(socket.SHUT_WR)
        assert conn.recv(100) == b""  # closed without an answer
    assert wait_until(lambda: fake_omi.arrived == 1, 5)
    assert fake_omi.violations == [] and fake_omi.texts() == []
