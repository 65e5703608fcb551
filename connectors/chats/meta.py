"""Messenger and Instagram, as Meta's "Download your information" writes them (JSON).

One folder per chat, its messages in ``message_1.json``, ``message_2.json``, ... (newest
first, newest messages first in each), found under ``messages/inbox/`` (older exports, and
Instagram's), ``your_activity_across_facebook/messages/`` or ``your_facebook_activity/messages/``
and ``your_instagram_activity/messages/`` (current ones), also ``archived_threads``,
``message_requests``, ``filtered_threads`` and ``e2ee_cutover`` beside ``inbox``. A file is
``{participants: [{name}], messages: [...], title, thread_type, thread_path}``; a message has
``sender_name``, ``timestamp_ms``, ``content``, ``type`` (``Generic``, ``Share``, ``Call``,
``Subscribe``/``Unsubscribe``), media (``photos``, ``videos``, ``audio_files``, ``gifs``,
``files``: each ``{uri}``; ``sticker: {uri}``), ``share: {link, share_text}``, ``reactions:
[{reaction, actor}]``, ``call_duration`` (seconds; 0: missed), ``is_unsent``.

Every string is UTF-8 whose bytes were written out as Latin-1 code points (``\\u00e2\\u0080\\u0099``
is a right single quote): mended, or every accent and emoji would be garbage. A chat's files are read as one,
oldest first, so a day that crosses two files is one conversation. Unsent messages, people
joining or leaving and the group's renames are the app's own lines: left out.
"""

from __future__ import annotations

import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import Field

from bridge.errors import SourceError
from bridge.groups import Item
from bridge.zips import DamagedMember, member_name, open_zip, read_member
from connectors.chats.export import Chat, ChatExportConfig, ChatExportConnector, Skipper, message_key
from connectors.chats.jsonfile import parse_json, read_json

__all__ = ["InstagramConfig", "InstagramConnector", "MessengerConfig", "MessengerConnector", "mended"]

_WHAT = "a Messenger or Instagram chat"
_PART = re.compile(r"message_(\d+)\.json$")
_MEDIA = (("photos", "photo"), ("videos", "video"), ("audio_files", "voice message"), ("gifs", "GIF"))
# the app's own lines, in Generic messages (English exports; others keep their language)
_SYSTEM = re.compile(r"^(.+ (named the group|changed the group photo|set the nickname|set your nickname|"
                     r"changed the theme|set the emoji|added .+ to the group|removed .+ from the group|"
                     r"left the group|joined the (video )?call|started sharing video|"
                     r"created the group|unsent a message|pinned a message)\b.*"
                     r"|You (are now connected|can now message and call).*)$", re.S)
_CALL_TEXT = re.compile(r"^(.+ (called you|missed your call|started a (video )?call|started a video chat)|"
                        r"You (called|missed a (video )?call from) .+|The (video )?(call|chat) ended)\.?$")
_LIKE = re.compile(r"^(Liked a message|Reacted .+ to your message\s*)$")  # Instagram's reaction lines


def mended(text: str) -> str:
    """Meta's strings: UTF-8 bytes written as Latin-1 code points, read back as UTF-8. A string
    that is not such (a code point above 255, or bytes that are not UTF-8) is left as it is."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text


class MessengerConfig(ChatExportConfig):
    type: Literal["messenger"]
    text_source_spec: str = Field(default="messenger", min_length=1)


class InstagramConfig(ChatExportConfig):
    type: Literal["instagram"]
    text_source_spec: str = Field(default="instagram", min_length=1)


class MessengerConnector(ChatExportConnector):
    Config: type[ChatExportConfig] = MessengerConfig
    app = "Messenger"
    key_prefix = "messenger"
    patterns = ("message_*.json", "*.zip")

    def files(self) -> list[Path]:
        """One file per chat (its ``message_1.json``, or its lowest part): ``read`` takes the rest;
        and every zip as downloaded (its chats are read inside it)."""
        first: dict[Path, tuple[int, Path]] = {}
        zips = []
        for path in super().files():
            match = _PART.search(path.name)
            if path.suffix.lower() == ".zip":
                zips.append(path)
            elif match:
                n = int(match.group(1))
                if path.parent not in first or n < first[path.parent][0]:
                    first[path.parent] = (n, path)
        return sorted([p for _, p in first.values()] + zips)

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        if path.suffix.lower() == ".zip":
            yield from self._zip(path, skip)
            return
        parts = sorted((int(m.group(1)), p) for p in path.parent.glob("message_*.json") if (m := _PART.search(p.name)))
        chat = self._chat(path.parent.name, [(f"chat part {p.name}" if p != path else "", p.name,
                                              lambda p=p: _load(p)) for _, p in parts], skip, whole=True)
        if chat is not None:
            yield chat

    def _zip(self, path: Path, skip: Skipper) -> Iterator[Chat]:
        """The chats of a downloaded zip, each folder's ``message_N.json`` members read one at a time."""
        with open_zip(path) as archive:
            folders: dict[PurePosixPath, list[tuple[int, zipfile.ZipInfo]]] = defaultdict(list)
            for info in archive.infolist():
                name = PurePosixPath(member_name(info))
                if (m := _PART.search(name.name)) and "/messages/" in f"/{name}":
                    folders[name.parent].append((int(m.group(1)), info))
            if not folders:
                raise SourceError(f"no {self.app} chats in the zip (no messages/.../message_1.json)")
            for folder in sorted(folders):
                parts = [(f"/{member_name(info)}", PurePosixPath(member_name(info)).name,
                          lambda info=info: _loads(read_member(archive, info)))
                         for _, info in sorted(folders[folder], key=lambda t: t[0])]
                chat = self._chat(folder.name, parts, skip, whole=False)
                if chat is not None:
                    yield chat

    def _chat(self, folder: str, parts: list[tuple[str, str, Any]], skip: Skipper, whole: bool) -> Chat | None:
        """The chat of ``parts`` (where to name a problem, the part's name, how to load it; lowest
        number first): the first readable part names it. ``whole``: the first part is the file
        being read, and a chat none of whose parts can be read is that file's problem."""
        head = None
        for n, (where, _, load) in enumerate(parts):
            try:
                head = load()
                break
            except (SourceError, DamagedMember) as exc:
                if whole and n == len(parts) - 1:
                    raise
                skip(where or "", exc.reason if isinstance(exc, DamagedMember) else str(exc))
        if head is None:
            return None
        readable = parts[n:]
        title = mended(str(head.get("title") or folder))
        people = [mended(str(p.get("name"))) for p in head.get("participants") or [] if isinstance(p, dict)]
        key = str(head.get("thread_path") or folder)
        if not self.wanted(title, key, folder):
            return None
        group = head.get("thread_type") == "RegularGroup" or len(people) > 2
        place = f"group “{title}”" if group else f"chat with {title}"
        return Chat(key=f"{self.key_prefix}:{key}", place=place,
                    items=self._items(readable, head, f"{self.key_prefix}:{key}", skip))

    def _items(self, parts: list[tuple[str, str, Any]], head: dict[str, Any], scope: str,
               skip: Skipper) -> Iterator[Item]:
        for where, name, load in reversed(parts):  # the oldest messages first
            try:
                export = head if load is parts[0][2] else load()
            except (SourceError, DamagedMember) as exc:  # one damaged part: the chat's other parts come in
                skip(where, exc.reason if isinstance(exc, DamagedMember) else str(exc))
                continue
            ordered = []
            for n, message in enumerate(export["messages"], start=1):
                if not isinstance(message, dict) or not isinstance(message.get("timestamp_ms"), int | float):
                    skip(f"{where} message record {n}" if where.startswith("/") else f"{name} message record {n}",
                         "no readable timestamp_ms")
                    continue
                ordered.append((message["timestamp_ms"], -n, message))
            ordered.sort(key=lambda t: (t[0], t[1]))  # written newest first
            seen: dict[str, int] = {}
            for ms, _, message in ordered:
                item = self._item(message, ms, scope, seen)
                if item is not None:
                    yield item

    def _item(self, message: dict[str, Any], ms: float, scope: str, seen: dict[str, int]) -> Item | None:
        if message.get("is_unsent") or message.get("type") in ("Subscribe", "Unsubscribe"):
            return None
        author = mended(str(message.get("sender_name") or "someone"))
        text = _text(message, self.is_me)
        if not text:
            return None
        # no ids in these exports: the instant, the sender and the words; the same three twice
        # (a sticker sent twice in one millisecond) are told apart by their order
        base = message_key(ms, author, text)
        seen[base] = seen.get(base, -1) + 1
        data: dict[str, Any] = {"me": True} if self.is_me(author) else {}
        return Item(key=f"{scope}:{int(ms)}:{base}:{seen[base]}", scope=scope, at=ms / 1000, text=text,
                    author=author, data=data)


class InstagramConnector(MessengerConnector):
    Config = InstagramConfig
    app = "Instagram"
    key_prefix = "instagram"


def _load(path: Path) -> dict[str, Any]:
    return read_json(path, needs="messages", what=_WHAT)


def _loads(data: bytes) -> dict[str, Any]:
    return parse_json(data, needs="messages", what=_WHAT)


def _text(message: dict[str, Any], is_me: Callable[[str], bool]) -> str:
    """The words and what came with them, named: ``[photo]``, ``[call, 12 min]``, ``[link: ...]``."""
    content = mended(str(message.get("content") or "")).strip()
    parts: list[str] = []
    if message.get("type") == "Call" or "call_duration" in message:
        minutes = round(float(message.get("call_duration") or 0) / 60)
        parts.append("[missed call]" if not message.get("call_duration") else f"[call, {max(minutes, 1)} min]")
        content = ""  # "Anna called you." says no more than the call
    elif _SYSTEM.match(content) or _LIKE.match(content):
        return ""
    elif _CALL_TEXT.match(content):
        parts.append("[call]")
        content = ""
    for field, name in _MEDIA:
        count = sum(1 for m in message.get(field) or [] if isinstance(m, dict))
        if count:
            parts.append(f"[{name}]" if count == 1 else f"[{count} {name}s]")
            if content.endswith((" sent a photo.", " sent a video.", " sent an attachment.", " sent a GIF.",
                                 " sent a voice message.")) or content.startswith("You sent"):
                content = ""  # Meta's placeholder words for the media just named
    for file in message.get("files") or []:
        if isinstance(file, dict) and file.get("uri"):
            parts.append(f"[file: {mended(Path(str(file['uri'])).name)}]")
    if isinstance(message.get("sticker"), dict):
        parts.append("[sticker]")
        content = "" if content.endswith("sent a sticker.") else content
    share = message.get("share") if isinstance(message.get("share"), dict) else {}
    link = mended(str(share.get("link") or ""))
    if link:
        words = mended(str(share.get("share_text") or "")).strip()
        parts.append(f"[link: {link}" + (f" “{words}”]" if words else "]"))
        if content in (link, "") or content.endswith(("sent an attachment.", "sent a link.")):
            content = ""
    reactions = [r for r in message.get("reactions") or [] if isinstance(r, dict) and r.get("reaction")]
    text = " ".join(p for p in (content, *parts) if p)
    if text and reactions:
        actors = [mended(str(r.get("actor") or "someone")) for r in reactions]
        text += " (" + ", ".join(f"{mended(str(r['reaction']))} from {'me' if is_me(actor) else actor}"
                                 for r, actor in zip(reactions, actors, strict=True)) + ")"
    return text
