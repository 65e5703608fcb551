"""The fake Omi is only worth its verdicts if it rejects what the real contract rejects."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import API_KEY

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
