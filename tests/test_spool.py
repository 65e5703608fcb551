"""The spool connector through a real Sink and Store (in-memory SQLite)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from bridge.connector import PreviewSink, Sink
from bridge.errors import SourceError
from bridge.store import Store
from connectors import spool as spool_module
from connectors.spool import SpoolConfig, SpoolConnector


@pytest.fixture
def spool(tmp_path):
    folder = tmp_path / "spool"
    folder.mkdir()
    config = SpoolConfig(type="spool", path=folder, settle_seconds=0)
    store = Store(":memory:")
    sink = Sink(store, "drop", config, lambda: None)
    yield folder, SpoolConnector("drop", config), sink, store
    store.close()


def _bodies(store: Store) -> list[dict]:
    return [json.loads(r["body"]) for r in store.rows("SELECT body FROM outbox ORDER BY id")]


def _old(path: Path, mtime: float = 1_700_000_000) -> Path:
    os.utime(path, (mtime, mtime))
    return path


def test_text_and_markdown_files_become_conversations_and_move_to_done(spool):
    folder, connector, sink, store = spool
    (folder / "a.txt").write_text("first note")
    (folder / "b.md").write_text("# heading\nsecond")
    (folder / "ignored.pdf").write_bytes(b"%PDF")
    _old(folder / "a.txt")
    connector.poll(sink)
    bodies = _bodies(store)
    assert [b["text"] for b in bodies] == ["first note", "# heading\nsecond"]
    assert bodies[0]["started_at"] == "2023-11-14T22:13:20.000000+00:00"  # the file's mtime
    assert bodies[0]["text_source"] == "message" and bodies[0]["text_source_spec"] == "file"
    assert sorted(p.name for p in (folder / "done").iterdir()) == ["a.txt", "b.md"]


def test_a_file_the_spool_does_not_take_is_set_aside_with_its_reason(spool):
    folder, connector, sink, store = spool
    (folder / "scan.pdf").write_bytes(b"%PDF")
    (folder / "notes.txt.tmp").write_text("still being written")  # a writer's file before its rename
    connector.poll(sink)
    (skip,) = store.rows("SELECT reason, ref FROM skipped")
    assert skip == {"reason": "not a file the spool takes (.txt, .md or .json): .pdf", "ref": "scan.pdf"}
    assert (folder / "failed" / "scan.pdf").exists()
    assert (folder / "notes.txt.tmp").exists() and store.counts()["pending"] == 0


def test_json_whose_finished_at_is_before_started_at_is_skipped_not_changed(spool):
    folder, connector, sink, store = spool
    (folder / "c.json").write_text(json.dumps({
        "text": "backwards", "started_at": "2026-01-02T03:04:05Z", "finished_at": "2026-01-02T02:00:00Z"}))
    connector.poll(sink)
    assert store.rows("SELECT reason, ref FROM skipped") == [
        {"reason": "not a conversation: finished_at is before started_at", "ref": "c.json"}]
    assert store.counts()["pending"] == 0


def test_json_file_carries_request_fields(spool):
    folder, connector, sink, store = spool
    (folder / "c.json").write_text(json.dumps({
        "text": "from json", "started_at": "2026-01-02T03:04:05Z", "finished_at": "2026-01-02T03:14:05Z",
        "language": "de", "text_source_spec": "notes",
    }))
    connector.poll(sink)
    (body,) = _bodies(store)
    assert body["text"] == "from json" and body["language"] == "de" and body["text_source_spec"] == "notes"
    assert body["started_at"] == "2026-01-02T03:04:05.000000+00:00"
    assert body["finished_at"].startswith("2026-01-02T03:14:05.")


@pytest.mark.parametrize(("content", "reason"), [
    (b"{not json", "not valid JSON"),
    (json.dumps({"txt": "typo"}).encode(), "not a conversation: text: Field required; txt: unknown field"),
    (json.dumps({"text": "x", "started_at": "yesterday"}).encode(), "not a conversation: started_at"),
    (json.dumps(["a list"]).encode(), "not a conversation"),
])
def test_invalid_json_goes_to_failed_with_its_reason(spool, content, reason):
    folder, connector, sink, store = spool
    (folder / "bad.json").write_bytes(content)
    connector.poll(sink)
    assert store.counts()["pending"] == 0
    (skip,) = store.rows("SELECT reason, ref FROM skipped")
    assert skip["ref"] == "bad.json" and skip["reason"].startswith(reason)
    assert (folder / "failed" / "bad.json").exists()


def test_binary_file_is_skipped_not_sent(spool):
    folder, connector, sink, store = spool
    (folder / "blob.txt").write_bytes(os.urandom(5 * 1024 * 1024) + b"\x00")
    (folder / "fine.txt").write_text("still delivered")
    connector.poll(sink)
    assert [b["text"] for b in _bodies(store)] == ["still delivered"]
    (skip,) = store.rows("SELECT reason FROM skipped")
    assert skip["reason"] == "binary file (contains NUL bytes)"
    assert (folder / "failed" / "blob.txt").exists()


def test_oversize_file_is_skipped(tmp_path):
    config = SpoolConfig(type="spool", path=tmp_path, settle_seconds=0, max_bytes=100)
    store = Store(":memory:")
    (tmp_path / "big.txt").write_text("x" * 101)
    SpoolConnector("drop", config).poll(Sink(store, "drop", config, lambda: None))
    assert store.rows("SELECT reason FROM skipped")[0]["reason"].startswith("file too large (101 bytes")


def test_unreadable_file_is_skipped_with_the_reason(spool):
    folder, connector, sink, store = spool
    (folder / "dangling.txt").symlink_to(folder / "gone")
    (folder / "ok.txt").write_text("ok")
    connector.poll(sink)
    (skip,) = store.rows("SELECT reason, ref FROM skipped")
    assert skip == {"reason": "unreadable: No such file or directory", "ref": "dangling.txt"}
    assert [b["text"] for b in _bodies(store)] == ["ok"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_file_without_read_permission_is_skipped(spool):
    folder, connector, sink, store = spool
    secret = folder / "locked.txt"
    secret.write_text("can't read me")
    secret.chmod(0)
    connector.poll(sink)
    assert store.rows("SELECT reason FROM skipped")[0]["reason"] == "unreadable: Permission denied"


def test_latin1_file_is_decoded(spool):
    folder, connector, sink, store = spool
    (folder / "legacy.txt").write_bytes("Grüße aus Köln, café crème, à bientôt. Ça va très bien.".encode("cp1252"))
    connector.poll(sink)
    assert _bodies(store)[0]["text"] == "Grüße aus Köln, café crème, à bientôt. Ça va très bien."


def test_same_content_twice_is_delivered_once(spool):
    folder, connector, sink, store = spool
    (folder / "one.txt").write_text("same words")
    connector.poll(sink)
    (folder / "one.txt").write_text("same words")  # dropped again under the same name
    connector.poll(sink)
    assert store.counts()["pending"] == 1
    assert len(list((folder / "done").iterdir())) == 2  # both copies moved, no name clobbered


def test_crash_after_commit_before_move_does_not_duplicate(spool):
    folder, connector, sink, store = spool
    (folder / "x.txt").write_text("exactly once")
    connector._move = lambda *a: None  # the process dies before the file is moved
    connector.poll(sink)
    del connector._move
    connector.poll(sink)
    assert store.counts()["pending"] == 1
    assert not (folder / "x.txt").exists()


def test_300k_character_file_is_split_into_labelled_parts(spool):
    folder, connector, sink, store = spool
    text = "".join(f"line {i} of a long transcript\n" for i in range(12_000))[:300_000]
    (folder / "long.txt").write_text(text)
    connector.poll(sink)
    bodies = _bodies(store)
    assert len(bodies) == 4
    assert all(len(b["text"]) <= 100_000 for b in bodies)
    assert "".join(b["text"].split("\n\n", 1)[1] for b in bodies) == text
    keys = [r["source_key"] for r in store.rows("SELECT source_key FROM outbox ORDER BY id")]
    assert keys[0].endswith("#part1of4") and keys[3].endswith("#part4of4")


def _large(tmp_path: Path, monkeypatch) -> tuple[Path, SpoolConnector, Store]:
    """A spool that reads files above 200 kB in pieces of 4,099 bytes (an odd size, so pieces cut
    characters of several bytes), on a state file."""
    monkeypatch.setattr(spool_module, "STREAM_FROM", 200_000)
    monkeypatch.setattr(spool_module, "READ_SIZE", 4099)
    folder = tmp_path / "spool"
    folder.mkdir()
    return folder, SpoolConnector("drop", SpoolConfig(type="spool", path=folder, settle_seconds=0)), \
        Store(tmp_path / "state.db")


def _rows(store: Store) -> list[dict]:
    return store.rows("SELECT source_key, priority, label, body FROM outbox ORDER BY id")


def _transcript(lines: int) -> str:
    return "".join(f"line {i} of a long transcript\n" for i in range(lines))


def _accented(lines: int, extra: str = "") -> str:
    return "".join(f"Zeile {i}: Grüße aus Köln, café crème{extra}\n" + ("\n" if i % 7 == 0 else "")
                   for i in range(lines))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_large_file_read_in_pieces_is_queued_as_the_same_parts_as_read_whole(tmp_path, monkeypatch, encoding):
    data = _accented(14_000, " — ça va 😀").encode(encoding)
    (whole := tmp_path / "whole").mkdir()
    (whole / "notes.txt").write_bytes(data)
    _old(whole / "notes.txt")
    config = SpoolConfig(type="spool", path=whole, settle_seconds=0)
    read_whole = Store(":memory:")
    SpoolConnector("drop", config).poll(Sink(read_whole, "drop", config, lambda: None))
    assert read_whole.counts()["pending"] > 4  # split into parts

    folder, connector, store = _large(tmp_path, monkeypatch)
    (folder / "notes.txt").write_bytes(data)
    _old(folder / "notes.txt")  # the same mtime: the same started_at
    connector.poll(Sink(store, "drop", connector.config, lambda: None))
    assert _rows(store) == _rows(read_whole)
    assert (folder / "done" / "notes.txt").exists()


def test_a_large_file_in_a_legacy_charset_is_read_in_the_charset_its_beginning_shows(tmp_path, monkeypatch):
    folder, connector, store = _large(tmp_path, monkeypatch)
    monkeypatch.setattr(spool_module, "READ_SIZE", 64 * 1024)  # what the charset is judged from
    text = _accented(14_000)
    (folder / "legacy.txt").write_bytes(text.encode("cp1252"))
    connector.poll(Sink(store, "drop", connector.config, lambda: None))
    assert "".join(json.loads(r["body"])["text"].split("\n\n", 1)[1] for r in _rows(store)) == text


def test_a_large_file_dropped_again_is_not_queued_again(tmp_path, monkeypatch):
    folder, connector, store = _large(tmp_path, monkeypatch)
    sink = Sink(store, "drop", connector.config, lambda: None)
    (folder / "long.txt").write_text(_transcript(30_000))
    connector.poll(sink)
    queued = _rows(store)
    assert len(queued) == 10
    (folder / "long.txt").write_text(_transcript(30_000))  # the same file, again
    connector.poll(sink)
    assert _rows(store) == queued and len(list((folder / "done").iterdir())) == 2


def test_a_large_file_whose_queueing_stopped_half_way_is_finished_by_the_next_poll(tmp_path, monkeypatch):
    folder, connector, store = _large(tmp_path, monkeypatch)
    (folder / "long.txt").write_text(_transcript(30_000))
    stopping = Sink(store, "drop", connector.config, lambda: stopping.close())  # stops after its first commit
    with pytest.raises(SourceError, match="stopping"):
        connector.poll(stopping)
    assert 0 < store.counts()["pending"] < 10 and (folder / "long.txt").exists()
    connector.poll(Sink(store, "drop", connector.config, lambda: None))
    keys = [r["source_key"].split("#")[1] for r in _rows(store)]
    assert sorted(keys) == sorted(f"part{n}of10" for n in range(1, 11))  # each part once
    assert not (folder / "long.txt").exists()


def test_a_large_binary_file_is_skipped_with_the_key_of_its_whole_content(tmp_path, monkeypatch):
    folder, connector, store = _large(tmp_path, monkeypatch)
    data = b"text " * 100_000 + b"\x00\x01" + b"more " * 10_000
    (folder / "blob.txt").write_bytes(data)
    connector.poll(Sink(store, "drop", connector.config, lambda: None))
    (skip,) = store.rows("SELECT source_key, reason FROM skipped")
    assert skip == {"source_key": "sha256:" + hashlib.sha256(data).hexdigest(),
                    "reason": "binary file (contains NUL bytes)"}
    assert (folder / "failed" / "blob.txt").exists() and store.counts()["pending"] == 0


def test_blank_file_is_skipped_as_empty(spool):
    folder, connector, sink, store = spool
    (folder / "blank.txt").write_text("  \n\n ")
    connector.poll(sink)
    assert store.rows("SELECT reason, ref FROM skipped") == [{"reason": "empty file", "ref": "blank.txt"}]
    assert (folder / "failed" / "blank.txt").exists()


def test_young_files_wait_for_the_next_poll(tmp_path):
    config = SpoolConfig(type="spool", path=tmp_path, settle_seconds=60)
    store = Store(":memory:")
    (tmp_path / "fresh.txt").write_text("being written")
    SpoolConnector("drop", config).poll(Sink(store, "drop", config, lambda: None))
    assert store.counts()["pending"] == 0 and (tmp_path / "fresh.txt").exists()


def test_preview_reads_but_changes_nothing(spool):
    folder, connector, sink, store = spool
    (folder / "p.txt").write_text("preview me")
    (folder / "bad.json").write_text("{")
    preview = PreviewSink(store, "drop", connector.config)
    connector.poll(preview)
    assert [q.request.text for q in preview.queued] == ["preview me"]
    assert preview.skipped[0][0] == "bad.json"
    assert (folder / "p.txt").exists() and (folder / "bad.json").exists()
    assert store.counts()["pending"] == 0 and store.rows("SELECT * FROM skipped") == []


def test_preview_of_a_large_file_shows_its_parts_and_counts_one_item(tmp_path, monkeypatch):
    folder, connector, store = _large(tmp_path, monkeypatch)
    (folder / "long.txt").write_text(_transcript(30_000))
    preview = PreviewSink(store, "drop", connector.config)
    connector.poll(preview)
    assert [q.source_key.split("#")[1] for q in preview.queued] == [f"part{n}of10" for n in range(1, 11)]
    assert preview.direct == 1 and (folder / "long.txt").exists() and store.counts()["pending"] == 0
