"""A folder other programs drop files into; each file becomes one conversation.

``*.txt`` and ``*.md``: the text is the file's contents, started_at its modification time.
``*.json``: an object of CreateConversationRequest fields (``text`` required); missing times
default to the file's modification time. A file is delivered once per distinct content (the
outbox key is its SHA-256), then moved to ``done/``; one that cannot be read or is not a valid
conversation is moved to ``failed/`` and recorded as skipped with the reason. A text file
larger than STREAM_FROM is never held whole: it is read in pieces, hashed and split as they come
(``_take_large``), into the parts and keys a file read whole would give.

Writers should create files under a dot-name (or ``*.tmp``) and rename them into place; as a
safety net, a file younger than ``settle_seconds`` is left for the next poll.
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bridge.assemble import part_key, split_stream
from bridge.config import ConfigPath
from bridge.connector import ConnectorConfig, Sink
from bridge.errors import SkipItem, SourceError
from bridge.models import Conversation, as_utc
from bridge.text import decode_text, detected_charset, text_pieces

__all__ = ["SpoolConfig", "SpoolConnector"]

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md"}
SUFFIXES = TEXT_SUFFIXES | {".json"}
IN_PROGRESS = {".tmp", ".part", ".partial", ".swp"}  # a writer's file before its rename: left alone
STREAM_FROM = 4 * 1024 * 1024  # bytes: a larger .txt or .md is read in pieces, never whole
READ_SIZE = 1024 * 1024


def _read(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(READ_SIZE):
            yield chunk


def _encoding(path: Path) -> tuple[str, str]:
    """UTF-16 with its BOM, else UTF-8 (with or without BOM), strict: ``decode_text``'s first tries."""
    with path.open("rb") as file:
        utf16 = file.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    return ("utf-16" if utf16 else "utf-8-sig"), "strict"


def _scan(path: Path, encoding: tuple[str, str]) -> tuple[str, tuple[tuple[str, str], int] | Exception]:
    """The file's key (the SHA-256 of all its bytes) and, read as ``encoding`` (name, errors),
    its number of non-blank parts, or what made it unreadable as that (SkipItem, UnicodeDecodeError)."""
    digest = hashlib.sha256()

    def hashed() -> Iterator[bytes]:
        for chunk in _read(path):
            digest.update(chunk)
            yield chunk

    chunks = hashed()
    found: tuple[tuple[str, str], int] | Exception
    try:
        found = encoding, sum(1 for c in split_stream(text_pieces(chunks, *encoding)) if c.strip())
    except (SkipItem, UnicodeDecodeError) as exc:
        found = exc
    for _ in chunks:  # the rest of a file that stopped decoding: its key is still the whole file's
        pass
    return "sha256:" + digest.hexdigest(), found


class SpoolConfig(ConnectorConfig):
    type: Literal["spool"]
    path: ConfigPath
    text_source_spec: str = Field(default="file", min_length=1)
    poll_interval: float = Field(default=5, gt=0)
    settle_seconds: float = Field(default=1, ge=0, description="leave files younger than this for later")
    max_bytes: int = Field(default=10 * 1024 * 1024, gt=0, description="larger files are skipped")


class _JsonFile(BaseModel):
    """A .json spool file: CreateConversationRequest fields, nothing else."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    text: str
    text_source: Literal["audio_transcript", "message", "other_text"] = "message"
    text_source_spec: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    language: str | None = None
    geolocation: dict | None = None


class SpoolConnector:
    Config = SpoolConfig

    def __init__(self, name: str, config: SpoolConfig) -> None:
        self.name = name
        self.config = config
        self.folder = Path(config.path)

    def check(self) -> str:
        if not self.folder.exists() and self.folder.parent.is_dir():
            if not os.access(self.folder.parent, os.W_OK | os.X_OK):
                raise SourceError(f"{self.folder} does not exist and cannot be created in {self.folder.parent}")
            return f"{self.folder} (created on the first poll)"
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder} is not a folder")
        if not os.access(self.folder, os.R_OK | os.W_OK | os.X_OK):
            raise SourceError(f"{self.folder}: no permission to read and move files")
        waiting = sum(1 for p in self._candidates())
        return f"{self.folder}, {waiting} file(s) waiting"

    def poll(self, sink: Sink) -> None:
        if not sink.dry_run:
            try:
                for sub in ("", "done", "failed"):
                    (self.folder / sub).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SourceError(f"cannot create {self.folder}: {exc.strerror}") from exc
        elif not self.folder.is_dir():
            return  # preview before the first run: nothing has been dropped yet
        now = time.time()
        settling = []
        for path in self._candidates():
            if sink.closing:
                return
            age = self._take(path, sink, now)
            if age is not None:
                settling.append(age)
        if settling:
            sink.wait_for(self.config.settle_seconds - min(settling),
                          f"{len(settling)} file(s) younger than settle_seconds ({self.config.settle_seconds:g}s)")

    def _candidates(self) -> list[Path]:
        try:
            entries = sorted(self.folder.iterdir())
        except OSError as exc:
            raise SourceError(f"cannot list {self.folder}: {exc.strerror}") from exc
        return [p for p in entries if not p.name.startswith(".") and p.suffix.lower() not in IN_PROGRESS
                and not p.is_dir()]

    def _take(self, path: Path, sink: Sink, now: float) -> float | None:
        """Deliver or skip one file; a file too young to take is left, and its age returned."""
        try:
            stat = path.stat()
            if now - stat.st_mtime < self.config.settle_seconds:
                return max(0.0, now - stat.st_mtime)  # maybe still being written
            if path.suffix.lower() not in SUFFIXES:
                raise SkipItem(f"not a file the spool takes (.txt, .md or .json): {path.suffix or 'no extension'}")
            if stat.st_size > self.config.max_bytes:
                raise SkipItem(f"file too large ({stat.st_size} bytes; max_bytes is {self.config.max_bytes})")
            if stat.st_size > STREAM_FROM and path.suffix.lower() in TEXT_SUFFIXES:
                self._take_large(path, sink, stat.st_mtime)
                return None
            data = path.read_bytes()
        except SkipItem as exc:
            self._fail(path, sink, f"refused:{path.name}:{stat.st_size}:{stat.st_mtime_ns}", exc.reason)
            return None
        except OSError as exc:
            if not os.path.lexists(path):
                return None  # taken away by its writer between listing and reading
            self._fail(path, sink, f"unreadable:{path.name}", f"unreadable: {exc.strerror or exc}")
            return None

        key = "sha256:" + hashlib.sha256(data).hexdigest()
        try:
            if not data.strip():
                raise SkipItem("empty file")
            conversation = self._parse(path, data, key, stat.st_mtime)
        except SkipItem as exc:
            self._fail(path, sink, key, exc.reason)
            return None
        sink.submit(conversation)
        if not sink.dry_run:
            self._move(path, "done", key)
        return None

    def _take_large(self, path: Path, sink: Sink, mtime: float) -> None:
        """A text file too large to hold, read in pieces twice: to hash it (its key, as any
        file's) and count its parts, then to queue the parts as they are cut (Sink.submit_parts).
        Memory holds a piece and a few parts, whatever the size; the parts are the ones a file
        read whole would make. Queued parts survive a stop half-way: the next poll adds the rest."""
        encoding = _encoding(path)
        key, found = _scan(path, encoding)
        if isinstance(found, UnicodeDecodeError) and encoding[0] == "utf-8-sig":
            # not UTF-8: the charset decode_text would guess, from the first piece
            try:
                with path.open("rb") as file:
                    found = _scan(path, (detected_charset(file.read(READ_SIZE)), "replace"))[1]
            except SkipItem as exc:
                found = exc
        if isinstance(found, Exception):
            reason = found.reason if isinstance(found, SkipItem) else "not text: invalid UTF-16"
            self._fail(path, sink, key, reason)
            return
        encoding, total = found
        if total == 0:
            self._fail(path, sink, key, "empty file")
            return
        if not sink.known(part_key(key, total, total)):  # its last part is queued: so are all the others
            chunks = (c for c in split_stream(text_pieces(_read(path), *encoding)) if c.strip())
            first = next(chunks)
            modified = datetime.fromtimestamp(mtime, UTC)
            conversation = Conversation(source_key=key, text=first, started_at=modified, label=f"file {path.name}")
            sink.submit_parts(conversation, itertools.chain([first], chunks), total)
        if not sink.dry_run:
            self._move(path, "done", key)

    def _parse(self, path: Path, data: bytes, key: str, mtime: float) -> Conversation:
        text = decode_text(data)
        modified = datetime.fromtimestamp(mtime, UTC)
        if path.suffix.lower() in TEXT_SUFFIXES:
            return Conversation(source_key=key, text=text, started_at=modified, label=f"file {path.name}")
        try:
            fields = _JsonFile.model_validate(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SkipItem(f"not valid JSON: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'file'}: "
                f"{'unknown field' if e['type'] == 'extra_forbidden' else e['msg']}"
                for e in exc.errors()
            )
            raise SkipItem(f"not a conversation: {problems}") from None
        values = fields.model_dump(exclude_none=True)
        values.setdefault("started_at", modified)
        if "finished_at" in values and as_utc(values["finished_at"]) < as_utc(values["started_at"]):
            raise SkipItem("not a conversation: finished_at is before started_at")
        try:
            return Conversation(source_key=key, label=f"file {path.name}", **values)
        except ValidationError as exc:
            raise SkipItem("not a conversation: " + "; ".join(e["msg"] for e in exc.errors())) from None

    def _fail(self, path: Path, sink: Sink, key: str, reason: str) -> None:
        sink.skip(key, reason, ref=path.name)
        if not sink.dry_run:
            self._move(path, "failed", key)

    def _move(self, path: Path, where: str, key: str) -> None:
        target = self.folder / where / path.name
        if target.exists():
            target = target.with_name(f"{path.stem}.{key.split(':')[-1][:12]}{path.suffix}")
        try:
            os.replace(path, target)
        except OSError as exc:
            # stays in the spool; its key makes the next pass a no-op for the outbox
            log.warning("%s: cannot move %s to %s/: %s", self.name, path.name, where, exc.strerror)
