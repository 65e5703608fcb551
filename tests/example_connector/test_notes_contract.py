"""The example connector runs the shared contract against itself, as any connector can."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from omi_bridge_notes import NotesConnector

from bridge.testing import ConnectorContract

_ids = itertools.count()


class TestNotesContract(ConnectorContract):
    def config(self, tmp_path: Path) -> dict:
        return {"type": "notes", "path": "notes.jsonl"}

    def connector_class(self) -> type:
        return NotesConnector

    def add_items(self, tmp_path: Path, count: int) -> None:
        with (tmp_path / "notes.jsonl").open("a") as file:
            for _ in range(count):
                n = next(_ids)
                file.write(json.dumps({"id": f"n{n}", "text": f"note {n}", "at": "2026-11-23T09:00:00+00:00"}) + "\n")
