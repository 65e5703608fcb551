"""The shared connector contract (bridge/testing.py), run against a built-in connector."""

from __future__ import annotations

import itertools
from pathlib import Path

from bridge.testing import ConnectorContract
from connectors.spool import SpoolConnector

_numbers = itertools.count()


class TestSpoolContract(ConnectorContract):
    def config(self, tmp_path: Path) -> dict:
        return {"type": "spool", "path": "spool", "settle_seconds": 0}

    def connector_class(self) -> type:
        return SpoolConnector

    def add_items(self, tmp_path: Path, count: int) -> None:
        folder = tmp_path / "spool"
        folder.mkdir(exist_ok=True)
        for _ in range(count):
            n = next(_numbers)
            (folder / f"note-{n}.txt").write_text(f"contract note {n}")
