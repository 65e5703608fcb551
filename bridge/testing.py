"""The contract every connector must keep, as pytest tests any connector can run against itself.

Subclass ``ConnectorContract`` in a test module (its name must start with ``Test``) and give it
three methods; pytest then runs every ``test_*`` below for your connector::

    from bridge.testing import ConnectorContract

    class TestNotesContract(ConnectorContract):
        def config(self, tmp_path):            # a valid config table, as in config.toml
            return {"type": "notes", "path": str(tmp_path / "notes.jsonl")}

        def connector_class(self):
            return NotesConnector

        def add_items(self, tmp_path, count):  # make ``count`` new items appear at the source
            ...

The tests use a real ``Store`` (SQLite in ``tmp_path``) and the real ``Sink``: what they check
is what the daemon relies on.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.connector import PreviewSink, Sink
from bridge.models import MAX_TEXT
from bridge.store import Store

__all__ = ["ConnectorContract"]


def _call(function: Any, *args: Any) -> Any:
    result = function(*args)
    if asyncio.iscoroutine(result):
        return asyncio.run(result)
    return result


class ConnectorContract:
    # -- what a connector's test supplies -------------------------------------------------------

    def config(self, tmp_path: Path) -> dict[str, Any]:
        raise NotImplementedError

    def connector_class(self) -> type:
        raise NotImplementedError

    def add_items(self, tmp_path: Path, count: int) -> None:
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------------------

    def make(self, tmp_path: Path) -> Any:
        cls = self.connector_class()
        return cls("contract", cls.Config.model_validate(self.config(tmp_path), context={"base_dir": tmp_path}))

    def poll(self, connector: Any, store: Store) -> Store:
        sink = Sink(store, "contract", connector.config, lambda: None)
        _call(connector.poll, sink)
        return store

    def rows(self, store: Store) -> list[dict[str, Any]]:
        return store.rows("SELECT source_key, body FROM outbox WHERE connector = 'contract' ORDER BY id")

    # -- the contract ---------------------------------------------------------------------------

    def test_config_is_a_connector_config_that_refuses_unknown_options(self, tmp_path: Path) -> None:
        cls = self.connector_class()
        table = self.config(tmp_path)
        cls.Config.model_validate(table, context={"base_dir": tmp_path})
        with pytest.raises(ValidationError):
            cls.Config.model_validate({**table, "no_such_option": 1}, context={"base_dir": tmp_path})
        for option in ("type", "text_source_spec", "language", "poll_interval"):
            assert option in cls.Config.model_fields, f"Config lacks the common option {option!r}"

    def test_check_describes_the_source_in_one_line(self, tmp_path: Path) -> None:
        self.add_items(tmp_path, 1)
        description = _call(self.make(tmp_path).check)
        assert isinstance(description, str) and description and "\n" not in description

    def test_new_items_are_submitted_once_each(self, tmp_path: Path) -> None:
        store = Store(tmp_path / "contract.db")
        connector = self.make(tmp_path)
        self.poll(connector, store)  # a first poll may set the starting point
        self.add_items(tmp_path, 3)
        self.poll(connector, store)
        assert len(self.rows(store)) == 3
        self.poll(connector, store)
        assert len(self.rows(store)) == 3, "a second poll with nothing new submitted something"
        self.add_items(tmp_path, 2)
        self.poll(connector, store)
        assert len(self.rows(store)) == 5

    def test_a_new_instance_resumes_from_the_stored_cursor(self, tmp_path: Path) -> None:
        store = Store(tmp_path / "contract.db")
        self.poll(self.make(tmp_path), store)
        self.add_items(tmp_path, 2)
        self.poll(self.make(tmp_path), store)
        self.poll(self.make(tmp_path), store)  # as after a restart: the cursor, not memory, says what is new
        assert len(self.rows(store)) == 2
        cursor = store.cursor("contract")
        assert json.loads(json.dumps(cursor)) == cursor

    def test_requests_are_within_the_api_contract(self, tmp_path: Path) -> None:
        store = Store(tmp_path / "contract.db")
        connector = self.make(tmp_path)
        self.poll(connector, store)
        self.add_items(tmp_path, 2)
        self.poll(connector, store)
        for row in self.rows(store):
            body = json.loads(row["body"])
            assert set(body) <= {"text", "text_source", "text_source_spec", "started_at", "finished_at",
                                 "language", "geolocation"}
            assert 0 < len(body["text"]) <= MAX_TEXT
            assert body["text_source"] in ("audio_transcript", "message", "other_text")
            assert body["text_source_spec"] and body["started_at"]

    def test_preview_reads_but_changes_nothing(self, tmp_path: Path) -> None:
        store = Store(tmp_path / "contract.db")
        connector = self.make(tmp_path)
        self.poll(connector, store)
        self.add_items(tmp_path, 2)
        preview = PreviewSink(store, "contract", connector.config)
        _call(connector.poll, preview)
        assert len(preview.queued) == 2
        assert self.rows(store) == []
        self.poll(connector, store)
        assert len(self.rows(store)) == 2, "after a preview the items must still be delivered"
