"""An example omi-bridge connector (docs/connectors.md walks through it).

Source: a JSON-lines file another program appends to, one note per line:
``{"id": "n1", "text": "Buy milk", "at": "2026-11-23T09:00:00+00:00"}``.
Cursor: how many complete lines were taken.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from bridge.config import ConfigPath
from bridge.connector import ConnectorConfig, Sink, Skip
from bridge.errors import SourceError
from bridge.models import Conversation


class NotesConfig(ConnectorConfig):
    type: Literal["notes"]
    path: ConfigPath
    text_source_spec: str = Field(default="notes", min_length=1)
    poll_interval: float = Field(default=30, gt=0)


class NotesConnector:
    Config = NotesConfig

    def __init__(self, name: str, config: NotesConfig) -> None:
        self.name = name
        self.config = config

    def check(self) -> str:
        if not self.config.path.is_file():
            raise SourceError(f"{self.config.path}: no such file")
        return f"{self.config.path}, {len(self._lines())} note(s)"

    def poll(self, sink: Sink) -> None:
        if not self.config.path.exists():
            return
        taken = (sink.cursor or {}).get("lines", 0)
        lines = self._lines()
        items: list[Conversation | Skip] = []
        for number, line in enumerate(lines[taken:], start=taken + 1):
            try:
                note = json.loads(line)
                items.append(Conversation(
                    source_key=f"note:{note['id']}",
                    text=note["text"],
                    started_at=datetime.fromisoformat(note["at"]) if "at" in note else datetime.now(UTC),
                ))
            except (ValueError, KeyError, TypeError) as exc:
                items.append(Skip(f"line:{number}", f"not a note: {exc}", ref=f"line {number}"))
        # the notes and the new cursor are stored together: a crash keeps both or neither
        sink.submit_many(items, cursor={"lines": len(lines)})

    def _lines(self) -> list[str]:
        text = self.config.path.read_text(encoding="utf-8")
        complete = text[: text.rfind("\n") + 1]  # a line still being written waits for its newline
        return complete.splitlines()
