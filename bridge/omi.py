"""The thin Omi API client: three calls, raw responses; the dispatcher decides what they mean."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from bridge import __version__

__all__ = ["CONVERSATIONS", "OmiClient", "parse_time", "retry_after"]

CONVERSATIONS = "/v1/dev/user/conversations"
LIST_LIMIT = 100  # the API's largest page


class OmiClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float,
        *,
        max_connections: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": f"omi-bridge/{__version__}"},
            # connect fails fast; the answer may take as long as the server's LLM work
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15)),
            limits=httpx.Limits(max_connections=max_connections),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create_conversation(self, body: dict) -> httpx.Response:
        return await self._http.post(CONVERSATIONS, json=body)

    async def list_conversations(self, start: datetime, end: datetime, offset: int = 0) -> httpx.Response:
        """Completed, non-discarded conversations created between ``start`` and ``end``, newest
        first (Omi's ``created_at`` is the posted ``started_at``)."""
        params = {
            "start_date": start.astimezone(UTC).isoformat(),
            "end_date": end.astimezone(UTC).isoformat(),
            "limit": LIST_LIMIT,
            "offset": offset,
        }
        return await self._http.get(CONVERSATIONS, params=params)

    async def key_info(self) -> httpx.Response:
        return await self._http.get("/v1/dev/key")


def retry_after(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date, RFC 9110 10.2.3)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_time(value: str) -> datetime:
    """An ISO 8601 timestamp from the API, as an aware UTC datetime ("Z" accepted)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
