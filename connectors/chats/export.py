"""What every chat export connector shares: files in, one conversation per chat per day out.

A connector (WhatsApp, Telegram, Discord) only parses: ``read(path, skip)`` yields the chats a
file holds, each with its messages as assembler items in time order. This module does the rest:

- the items of a chat go through the assembler grouped by day (the user's time zone), as Omi's
  own chat ingestion does; a day over 100,000 characters closes and the next part begins;
- only what is new is taken: per chat, the cursor keeps the time of the newest message taken
  and the keys of the messages at that instant. A newer export of the same chat repeats the old
  messages (and may show old ones edited or deleted): everything up to that point is passed
  over; a day already sent that gains messages becomes one more conversation, "continued";
- a file already read (same SHA-256) is not read again; a file that cannot be read is recorded
  as skipped with its reason and the other files go on; a record that cannot be read is skipped
  with its line or record number and the rest of the chat goes on;
- groups are closed a batch at a time and queued at backfill priority, behind live items.
"""

from __future__ import annotations

import hashlib
import logging
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from tqdm import tqdm

from bridge.config import ConfigPath, TimeZoneName
from bridge.connector import ConnectorConfig, Sink, file_sha256
from bridge.errors import SourceError
from bridge.groups import Assembler, Group, GroupPolicy, Item, day_end
from bridge.models import PRIORITY_BACKFILL, Conversation

__all__ = ["Chat", "ChatExportConfig", "ChatExportConnector", "Skipper", "render_day"]

log = logging.getLogger(__name__)

CLOSE_BATCH = 200  # conversations made and queued per transaction
REPLY_PREVIEW = 80  # characters of a replied-to message quoted when it is not in the same conversation

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
    items: Iterable[Item]  # in time order; data: "me", "reply" {"name", "at", "text"}
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

    def read(self, path: Path, skip: Skipper) -> Iterator[Chat]:
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
        files = self.files()
        return f"{self.config.path}: {len(files)} export file(s)"

    def poll(self, sink: Sink) -> None:
        cursor = sink.cursor or {"files": {}, "chats": {}}
        assembler = sink.assembler(GroupPolicy(86400, 86400, by_day=True, tz=self.tz))
        for path in self.files():
            if sink.closing:
                return
            ref = str(path.relative_to(self.config.path)) if path != self.config.path else path.name
            digest = file_sha256(path)
            if cursor["files"].get(ref) == digest:
                continue
            # records that cannot be read are noted while the items are being stored (one
            # transaction per chat) and recorded right after
            problems: list[tuple[str, str]] = []
            try:
                for chat in self.read(path, lambda where, reason, noted=problems: noted.append((where, reason))):
                    if sink.closing:
                        return
                    self._take(chat, assembler, sink, cursor)
                    self._record(sink, ref, problems)
            except SourceError as exc:  # this file only: the others go on
                problems.append(("", str(exc)))
            self._record(sink, ref, problems, digest)
            cursor["files"][ref] = digest
            sink.advance(cursor)

    def _record(self, sink: Sink, ref: str, problems: list[tuple[str, str]], digest: str = "") -> None:
        for where, reason in problems:
            if where:
                sink.skip(f"{ref}:{where}", reason, ref=f"{ref} {where}")
            else:  # the file as a whole
                sink.skip(f"file:{ref}:{digest[:12]}", reason, ref=ref)
        problems.clear()

    def _take(self, chat: Chat, assembler: Assembler, sink: Sink, cursor: dict[str, Any]) -> None:
        """A chat's new messages into day groups, then every group closed and queued."""
        before = cursor["chats"].get(chat.key) or {}
        through = float(before.get("through", -math.inf))
        edge = set(before.get("edge", ()))
        newest = {"at": through, "keys": set(edge)}

        def new(items: Iterable[Item]) -> Iterator[Item]:
            for item in items:
                if item.at < through or (item.at == through and item.key in edge):
                    continue  # taken from an earlier export
                if item.at > newest["at"]:
                    newest["at"], newest["keys"] = item.at, set()
                if item.at == newest["at"]:
                    newest["keys"].add(item.key)
                yield item

        items = tqdm(new(chat.items), desc=f"{self.name}: {chat.place}", unit=" msg", leave=False,
                     disable=not sys.stderr.isatty(), mininterval=0.5)
        added = assembler.add_many(items, by_day=True)
        sent_day = day_end(through, self.tz) if math.isfinite(through) else None
        closed = 0
        while True:
            groups = assembler.due(now=math.inf, limit=CLOSE_BATCH)
            if not groups or sink.closing:
                break
            batch = [(g, render_day(g, app=self.app, place=chat.place, tz=self.tz,
                                    continued=sent_day is not None and day_end(g.first_at, self.tz) == sent_day)
                      if g.items else None) for g in groups]
            if not sink.close_groups(assembler, batch) and assembler.due(now=math.inf, limit=1) == groups[:1]:
                break  # nothing closed (a group changed under us): the next poll closes it
            closed += len(batch)
        cursor["chats"][chat.key] = {"through": newest["at"], "edge": sorted(newest["keys"])}
        sink.advance(cursor)
        if added:
            log.info("%s: %s: %d new message(s) into %d conversation(s)", self.name, chat.place, added, closed)


def render_day(group: Group, *, app: str, place: str, tz: tzinfo | None, continued: bool = False) -> Conversation:
    """A chat's day: a header naming the chat and the app, then ``Name (HH:MM): text`` lines;
    the user's own lines say ``me``, a reply says whom it answers (and quotes them when the
    answered message is not in this conversation)."""
    here = {item.key for item in group.items}
    first, last = group.items[0], group.items[-1]

    def local(at: float) -> datetime:
        return datetime.fromtimestamp(at, UTC).astimezone(tz)

    def when(at: float) -> str:
        moment = local(at)
        return f"{moment:%H:%M}" if moment.date() == local(first.at).date() else f"{moment:%a %d %b %Y, %H:%M}"

    def line(item: Item) -> str:
        notes = ["me"] if item.data.get("me") else []
        notes.append(when(item.at))
        reply = item.data.get("reply")
        if reply:
            answered = f"replying to {reply['name']} {when(reply['at'])}" if reply.get("at") else \
                f"replying to {reply['name']}"
            if reply.get("key") not in here and reply.get("text"):
                answered += f": “{_shorten(reply['text'], REPLY_PREVIEW)}”"
            notes[-1] += f", {answered}"
        return f"{item.author} ({', '.join(notes)}): {item.text}"

    header = f"{app} {place}, {local(first.at):%a %d %b %Y}" + (" (continued)" if continued else "")
    return Conversation(
        source_key=f"group:{first.key}",
        text="\n".join([header, *(line(item) for item in group.items)]),
        started_at=datetime.fromtimestamp(first.at, UTC),
        finished_at=datetime.fromtimestamp(last.at, UTC),
        priority=PRIORITY_BACKFILL,
    )


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ", limit * 3 // 4)
    return (cut[:space] if space > 0 else cut).rstrip() + "…"


def message_key(*parts: object) -> str:
    """A short stable key from a message's parts (for exports without ids)."""
    return hashlib.sha1("\x00".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()[:16]
