"""What every chat export connector shares: files in, one conversation per chat per day out.

A connector (WhatsApp, Telegram, Discord) only parses: ``read(path, skip, memory)`` yields the
chats a file holds, each with its messages as assembler items in time order. This module does
the rest:

- the items of a chat go through the assembler grouped by day (the user's time zone), as Omi's
  own chat ingestion does; a day over 100,000 characters closes and the next part begins;
- only what is new is taken: per chat, the cursor keeps the stretches of time already taken
  (``Spans``). A newer export of the same chat repeats the old messages (and may show old ones
  edited or deleted): what falls inside a stretch is passed over; a day already sent that gains
  messages becomes one more conversation, "continued";
- a file already read (same size and time, else same SHA-256) is not read again; a file that
  cannot be read, or is not an export of the app (a binary file, notes, another JSON), is
  recorded as skipped with its reason and the other files go on; ``check`` names such files, and
  fails when no file is an export; a member damaged in a zip is named with the zip; a record
  that cannot be read is skipped with its line or record number and the rest of the chat goes on;
- groups are closed a batch at a time and queued at backfill priority, behind live items.
"""

from __future__ import annotations

import hashlib
import logging
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from bridge.config import ConfigPath, TimeZoneName
from bridge.connector import ConnectorConfig, Sink, file_sha256, files_checked
from bridge.errors import SourceError
from bridge.groups import Assembler, GroupPolicy, Item, day_end
from bridge.models import PRIORITY_BACKFILL
from bridge.progress import Bar
from bridge.transcript import render
from bridge.zips import DamagedMember

__all__ = ["Chat", "ChatExportConfig", "ChatExportConnector", "Skipper"]

log = logging.getLogger(__name__)

CLOSE_BATCH = 200  # conversations made and queued per transaction
HEAD = 8192  # bytes of a file looked at to tell binary data from an export's text

Skipper = Callable[[str, str], None]  # (where: "line 12" / "message record 3", reason)


class ChatExportConfig(ConnectorConfig):
    path: ConfigPath = Field(description="an export file, or a folder of them")
    me: list[str] = Field(default=[], description="your name(s) as the export shows them: your lines are marked")
    chats: list[str] = Field(default=[], description="chat names or ids to import; empty = all")
    timezone: TimeZoneName | None = Field(default=None, description="where the chats happened; default the machine's")
    poll_interval: float = Field(default=3600, gt=0, description="seconds; a new export dropped in is read then")

    @field_validator("me", "chats", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


@dataclass
class Chat:
    """One chat of an export: its stable key, how the header names it, and its messages."""

    key: str  # stable across exports of the same chat: the scope of its items
    place: str  # "chat with Anna", "group “Family”", "#general on Friends"
    items: Iterable[Item]  # in time order, filled as bridge.transcript reads them ("me", "reply")
    info: dict[str, Any] = field(default_factory=dict)


class ChatExportConnector:
    """The shared connector; a subclass sets ``Config``, ``app`` and ``read``."""

    Config: type[ChatExportConfig] = ChatExportConfig
    app = "chat"  # "WhatsApp": the header says where the chat happened
    patterns: tuple[str, ...] = ("*",)  # the files of a folder that are exports

    def __init__(self, name: str, config: ChatExportConfig) -> None:
        self.name = name
        self.config = config
        self.tz: tzinfo | None = ZoneInfo(config.timezone) if config.timezone else None
        self._me = {m.casefold() for m in config.me}

    # -- what a subclass provides ------------------------------------------------------------------

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        """The chats of one file. ``memory``: what earlier imports kept per chat key (a chat's
        ``info``), e.g. the date order a WhatsApp chat was read in."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------------

    def is_me(self, *names: str | None) -> bool:
        return any(n is not None and n.casefold() in self._me for n in names)

    def wanted(self, *names: str | None) -> bool:
        """The chat is to be imported (``chats`` names it, or is empty)."""
        if not self.config.chats:
            return True
        return any(n is not None and n in self.config.chats for n in names)

    def local(self, naive: datetime) -> float:
        """Epoch seconds of a wall-clock time in the configured zone (exports carry none)."""
        return naive.replace(tzinfo=self.tz).timestamp() if self.tz else naive.timestamp()

    def files(self) -> list[Path]:
        path = self.config.path
        if path.is_file():
            return [path]
        if not path.is_dir():
            raise SourceError(f"no such file or folder: {path}")
        found = {p for pattern in self.patterns for p in path.rglob(pattern) if p.is_file()}
        return sorted(p for p in found if not any(part.startswith(".") for part in p.relative_to(path).parts))

    def check(self) -> str:
        """The export files, and those that are not (each read up to its first chat): a source
        none of whose files is an export fails; an empty folder waits for exports."""
        files = self.files()
        strays: dict[str, str] = {}
        for path in files:
            chats = self._chats(path, lambda where, reason: None, {})
            try:
                next(chats, None)
            except _FILE_ERRORS as exc:
                where, reason = _file_problem(exc)
                strays[self._ref(path) + where] = reason
            finally:
                chats.close()
        return files_checked(self.config.path, f"{len(files) - len(strays)} export file(s)", strays, len(files),
                             label="not read", none=f"no readable {self.app} export")

    def _ref(self, path: Path) -> str:
        return str(path.relative_to(self.config.path)) if path != self.config.path else path.name

    def _chats(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        """``read``, after a look at the file's start: binary data is no export of any app
        (a zip is looked into by the connector that reads zips)."""
        if path.suffix.lower() != ".zip":
            with path.open("rb") as file:
                if b"\x00" in file.read(HEAD):
                    raise SourceError(f"binary data, not a {self.app} export")
        yield from self.read(path, skip, memory)

    def poll(self, sink: Sink) -> None:
        cursor = sink.cursor or {"files": {}, "chats": {}}
        assembler = sink.assembler(GroupPolicy(86400, 86400, by_day=True, tz=self.tz))
        for path in self.files():
            if sink.closing:
                return
            ref = self._ref(path)
            info = path.stat()
            seen = cursor["files"].get(ref)
            if isinstance(seen, dict) and (seen.get("size"), seen.get("mtime")) == (info.st_size, info.st_mtime_ns):
                continue  # unchanged since it was read: not even hashed
            digest = file_sha256(path)
            if isinstance(seen, dict) and seen.get("sha256") == digest:
                continue
            # records that cannot be read are noted while the items are being stored (one
            # transaction per chat) and recorded right after
            problems: list[tuple[str, str]] = []
            try:
                for chat in self._chats(path, lambda where, reason, noted=problems: noted.append((where, reason)),
                                        cursor["chats"]):
                    if sink.closing:
                        return
                    self._take(chat, assembler, sink, cursor)
                    self._record(sink, ref, problems, digest)
            except _FILE_ERRORS as exc:
                if sink.closing:
                    return  # stopping mid-import: read again at the next start
                problems.append(_file_problem(exc))
            self._record(sink, ref, problems, digest)
            cursor["files"][ref] = {"sha256": digest, "size": info.st_size, "mtime": info.st_mtime_ns}
            sink.advance(cursor)

    def _record(self, sink: Sink, ref: str, problems: list[tuple[str, str]], digest: str) -> None:
        for where, reason in problems:  # keyed by the file's content: a newer file's problems are its own
            # where: "line 12", "" (the whole file), "/_chat.txt" (a member of the zip: a path in it)
            sink.skip(f"{ref}:{digest[:12]}:{where or 'file'}", reason,
                      ref=f"{ref}{where}" if where.startswith("/") else f"{ref} {where}".strip())
        problems.clear()

    def _take(self, chat: Chat, assembler: Assembler, sink: Sink, cursor: dict[str, Any]) -> None:
        """A chat's messages not taken before into day groups, then every group closed and queued."""
        memory = cursor["chats"].get(chat.key) or {}
        taken = Spans(memory.get("spans") or [])
        seen = Spans([])  # what this file covers, old messages included

        def new(items: Iterable[Item]) -> Iterator[Item]:
            for item in items:
                seen.add(item)
                if not taken.covers(item):
                    yield item

        items = Bar(new(chat.items), desc=f"{self.name}: {chat.place}", unit=" msg", leave=False,
                    disable=not sys.stderr.isatty(), mininterval=0.5, source=self.name,
                    doing=f"importing {chat.place} (messages read)")
        added = assembler.add_many(items, by_day=True)
        sent_days = taken.edge_days(self.tz)  # a day with messages already sent: this is more of it
        closed = 0
        while True:
            groups = assembler.due(now=math.inf, limit=CLOSE_BATCH)
            if not groups or sink.closing:
                break
            batch = [(g, render(g, heading=f"{self.app} {chat.place}", tz=self.tz, priority=PRIORITY_BACKFILL,
                                continued=day_end(g.first_at, self.tz) in sent_days)
                      if g.items else None) for g in groups]
            if not sink.close_groups(assembler, batch) and assembler.due(now=math.inf, limit=1) == groups[:1]:
                break  # nothing closed (a group changed under us): the next poll closes it
            closed += len(batch)
        cursor["chats"][chat.key] = {**memory, **chat.info, "spans": taken.merged(seen).dump()}
        sink.advance(cursor)
        if added:
            log.info("%s: %s: %d new message(s) into %d conversation(s)", self.name, chat.place, added, closed)


_FILE_ERRORS = (SourceError, DamagedMember, OSError, UnicodeError)


def _file_problem(exc: Exception) -> tuple[str, str]:
    """(where, reason) of a file that cannot be read: a member damaged in a zip is a path in
    it ("/_chat.txt"), so the person knows which; else the whole file ("")."""
    if isinstance(exc, DamagedMember):
        return f"/{exc.member}", exc.reason
    return "", str(exc) if isinstance(exc, SourceError) else f"cannot be read: {exc}"


class Spans:
    """The stretches of a chat's time that were taken, each with the keys of the messages at
    its two ends (the end's instant may hold more messages than were seen). A message is
    covered when it falls inside a stretch, or at an end with a key seen there. Two exports of
    one chat in any order (an older one read after a newer, a long channel in parts) leave no
    hole and repeat nothing."""

    def __init__(self, spans: list[dict[str, Any]]) -> None:
        self.spans = [{"from": float(s["from"]), "to": float(s["to"]), "first": set(s.get("first", ())),
                       "last": set(s.get("last", ()))} for s in spans]

    def covers(self, item: Item) -> bool:
        for span in self.spans:
            if span["from"] < item.at < span["to"]:
                return True
            if (item.at == span["from"] and item.key in span["first"]) or (
                    item.at == span["to"] and item.key in span["last"]):
                return True
        return False

    def add(self, item: Item) -> None:
        """Widen the one stretch this object holds to ``item`` (a file's messages)."""
        if not self.spans:
            self.spans.append({"from": item.at, "to": item.at, "first": {item.key}, "last": {item.key}})
            return
        span = self.spans[0]
        for end, keys, wider in (("from", "first", item.at < span["from"]), ("to", "last", item.at > span["to"])):
            if wider:
                span[end], span[keys] = item.at, {item.key}
            elif item.at == span[end]:
                span[keys].add(item.key)

    def merged(self, other: Spans) -> Spans:
        """These stretches and ``other``'s, overlapping ones joined."""
        spans = sorted(self.spans + other.spans, key=lambda s: s["from"])
        joined: list[dict[str, Any]] = []
        for span in spans:
            last = joined[-1] if joined else None
            if last is None or span["from"] > last["to"]:
                joined.append({**span, "first": set(span["first"]), "last": set(span["last"])})
                continue
            if span["from"] == last["from"]:
                last["first"] |= span["first"]
            if span["to"] > last["to"]:
                last["to"], last["last"] = span["to"], set(span["last"])
            elif span["to"] == last["to"]:
                last["last"] |= span["last"]
        result = Spans([])
        result.spans = joined
        return result

    def edge_days(self, tz: tzinfo | None) -> set[float]:
        """The days the stretches begin and end in: days partly sent."""
        return {day_end(s[end], tz) for s in self.spans for end in ("from", "to")}

    def dump(self) -> list[dict[str, Any]]:
        return [{"from": s["from"], "to": s["to"], "first": sorted(s["first"]), "last": sorted(s["last"])}
                for s in self.spans]


def message_key(*parts: object) -> str:
    """A short stable key from a message's parts (for exports without ids)."""
    return hashlib.sha1("\x00".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()[:16]
