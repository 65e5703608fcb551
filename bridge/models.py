"""The Omi API's request and response bodies, and what a connector hands to the core.

``CreateConversationRequest`` mirrors ``components.schemas.CreateConversationRequest`` of the Omi
OpenAPI contract field for field, so nothing outside the contract is ever sent. Each model's
validator is built when first used (``defer_build``): status and --help never use them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "MAX_TEXT",
    "PRIORITY_BACKFILL",
    "PRIORITY_LIVE",
    "PRIORITY_LIVE_REST",
    "Conversation",
    "ConversationCreateResponse",
    "CreateConversationRequest",
    "Geolocation",
    "Skip",
    "as_utc",
]

MAX_TEXT = 100_000  # the API's maxLength for text
PRIORITY_LIVE = 0  # sent first
PRIORITY_LIVE_REST = 1  # a live conversation's later parts: behind live items, outside their reserved writes
PRIORITY_BACKFILL = 10  # history imports wait behind live items


def as_utc(value: datetime) -> datetime:
    """Naive datetimes from sources are taken as UTC; aware ones are converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Geolocation(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    latitude: float
    longitude: float
    address: str | None = None
    google_place_id: str | None = None
    location_type: str | None = None


TextSource = Literal["audio_transcript", "message", "other_text"]


class CreateConversationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    text_source: TextSource = "message"
    text_source_spec: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    language: str | None = "en"
    geolocation: Geolocation | None = None

    def body(self) -> dict:
        """The JSON body: timestamps in UTC with microseconds, empty optionals left out."""
        data = self.model_dump(mode="python", exclude_none=True)
        for key in ("started_at", "finished_at"):
            if key in data:
                data[key] = as_utc(data[key]).isoformat(timespec="microseconds")
        if self.geolocation is not None:
            data["geolocation"] = self.geolocation.model_dump(exclude_none=True)
        return data


class ConversationCreateResponse(BaseModel):
    id: str
    status: str
    discarded: bool


class Skip(NamedTuple):
    """An item that will not be delivered, and why (shown by ``omi-bridge status``)."""

    source_key: str
    reason: str
    ref: str = ""


class Conversation(BaseModel):
    """One conversation as a connector produces it, before the core splits and queues it.

    ``source_key`` identifies it within its connector forever (a Message-ID, a content hash, a
    Slack thread ts): the outbox is unique on (connector, source_key), so submitting the same
    key twice is harmless. ``language`` and ``text_source_spec`` default to the connector's config.
    ``label`` names it for a person in the log and ``status`` ("email thread 'Lunch' (3 messages)",
    "file notes.txt"); without one, the text's first line does (a chat day's heading).
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    source_key: str = Field(min_length=1)
    text: str
    started_at: datetime
    finished_at: datetime | None = None
    language: str | None = None
    text_source: TextSource = "message"
    text_source_spec: str | None = None
    geolocation: Geolocation | None = None
    priority: int = PRIORITY_LIVE
    label: str = ""

    @field_validator("started_at", "finished_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)
