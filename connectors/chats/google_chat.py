"""Google Chat from Google Takeout: ``Google Chat/Groups/<DM or Space id>/messages.json``.

Beside each ``messages.json``, ``group_info.json`` names a space (``name``) or lists a direct
message's ``members``; ``Google Chat/Users/User <id>/user_info.json`` is the person themself
(their lines say ``me``). A message has ``creator {name, email, user_type}``, ``created_date``
as English words in UTC (``Saturday, March 15, 2025 at 9:41:07\\u202fAM UTC``: the space before
AM/PM is a narrow no-break one), ``text`` (mentions already written as ``@Name``),
``annotations`` (Drive files, link previews, video meetings), ``attached_files [{original_name,
export_name}]``, ``quoted_message_metadata`` for a reply, ``reactions``, ``topic_id`` (a space's
thread), ``message_state: DELETED`` for one taken back (left out).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bridge.groups import Item
from connectors.chats.export import Chat, ChatExportConfig, ChatExportConnector, Skipper
from connectors.chats.jsonfile import read_json

__all__ = ["GoogleChatConfig", "GoogleChatConnector", "takeout_time"]

_WHEN = re.compile(r"^\w+, (?:(?P<month>[A-Z][a-z]+) (?P<day>\d{1,2})|(?P<day2>\d{1,2}) (?P<month2>[A-Z][a-z]+)),? "
                   r"(?P<year>\d{4}) at (?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\s*(?P<ampm>[AP]M))?"
                   r"\s*(?P<zone>UTC|GMT(?:[+-]\d{1,2}(?::?\d{2})?)?)?$")
_MONTHS = {m: n for n, m in enumerate(("January", "February", "March", "April", "May", "June", "July", "August",
                                       "September", "October", "November", "December"), start=1)}


class GoogleChatConfig(ChatExportConfig):
    type: Literal["google-chat"]
    text_source_spec: str = Field(default="google_chat", min_length=1)


class GoogleChatConnector(ChatExportConnector):
    Config = GoogleChatConfig
    app = "Google Chat"
    patterns = ("messages.json",)

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        export = read_json(path, needs="messages", what="a Google Chat messages.json")
        me = _me(path)
        info = _json_or_empty(path.parent / "group_info.json")
        members = [m for m in info.get("members") or [] if isinstance(m, dict)]
        others = [str(m.get("name") or m.get("email")) for m in members if m.get("email") != me]
        group_id = path.parent.name  # "DM 1a2b3c", "Space AAAAxyz": stable across downloads
        if info.get("name"):
            place = f"space “{info['name']}”"
        elif others:
            place = f"chat with {', '.join(others)}" if len(others) == 1 else f"group with {', '.join(others)}"
        else:
            place = f"chat {group_id}"
        if not self.wanted(info.get("name"), group_id, *others):
            return
        yield Chat(key=f"google-chat:{group_id}", place=place,
                   items=self._items(export["messages"], group_id, me, skip,
                                     {str(m.get("email")): str(m.get("name") or m.get("email")) for m in members}))

    def _items(self, messages: list[Any], group_id: str, me: str | None, skip: Skipper,
               names: dict[str, str]) -> Iterator[Item]:
        ordered = []
        for n, message in enumerate(messages, start=1):
            if not isinstance(message, dict):
                skip(f"message record {n}", "not an object")
                continue
            if message.get("message_state") == "DELETED" or "deletion_metadata" in message:
                continue
            try:
                at = takeout_time(str(message.get("created_date")), self.local)
            except ValueError:
                skip(f"message record {n}", f"no readable created_date ({message.get('created_date')!r})")
                continue
            ordered.append((at, n, message))
        ordered.sort(key=lambda t: (t[0], t[1]))
        for at, n, message in ordered:
            text = _text(message, {**names, **({me: "me"} if me else {})})
            if not text:
                continue
            creator = message.get("creator") if isinstance(message.get("creator"), dict) else {}
            author = str(creator.get("name") or creator.get("email") or "someone")
            data: dict[str, Any] = {}
            if (me is not None and creator.get("email") == me) or self.is_me(author, creator.get("email")):
                data["me"] = True
            quoted = message.get("quoted_message_metadata")
            if isinstance(quoted, dict):
                who = quoted.get("creator") if isinstance(quoted.get("creator"), dict) else {}
                data["reply"] = {"name": str(who.get("name") or "an earlier message"),
                                 "text": str(quoted.get("text") or "")}
            mid = str(message.get("message_id") or f"{at}:{n}")
            yield Item(key=f"google-chat:{mid}", scope=f"google-chat:{group_id}", at=at, text=text, author=author,
                       data=data)


def takeout_time(words: str, local: Any) -> float:
    """Epoch seconds of Takeout's ``Saturday, March 15, 2025 at 9:41:07\\u202fAM UTC`` (also a
    day-first ``15 March 2025 at 21:41:07 UTC``); a time with no zone is ``local``'s."""
    found = _WHEN.match(" ".join(words.replace("\u202f", " ").replace("\u00a0", " ").split()))
    if not found:
        raise ValueError(words)
    month = _MONTHS[found.group("month") or found.group("month2")]
    hour = int(found.group("h")) % 12 + (12 if found.group("ampm") == "PM" else 0) if found.group("ampm") else int(
        found.group("h"))
    naive = datetime(int(found.group("year")), month, int(found.group("day") or found.group("day2")), hour,
                     int(found.group("m")), int(found.group("s")))
    zone = found.group("zone")
    if not zone:
        return local(naive)
    offset = zone[3:]
    if not offset:
        return naive.replace(tzinfo=UTC).timestamp()
    sign = -1 if offset[0] == "-" else 1
    hours, _, minutes = offset[1:].partition(":")
    if not minutes and len(hours) > 2:
        hours, minutes = hours[:-2], hours[-2:]
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return naive.replace(tzinfo=timezone(sign * delta)).timestamp()


def _text(message: dict[str, Any], names: dict[str, str]) -> str:
    parts = [str(message.get("text") or "").strip()]
    for file in message.get("attached_files") or []:
        if isinstance(file, dict):
            parts.append(f"[file: {file.get('original_name') or file.get('export_name') or 'attachment'}]")
    for note in message.get("annotations") or []:
        if not isinstance(note, dict):
            continue
        if isinstance(note.get("drive_metadata"), dict):
            parts.append(f"[file: {note['drive_metadata'].get('title') or 'a Drive file'}]")
        elif "video_call_meeting_metadata" in note:
            parts.append("[video meeting]")
    reactions = [r for r in message.get("reactions") or [] if isinstance(r, dict)]
    text = " ".join(p for p in parts if p)
    named = [f"{r['emoji'].get('unicode', '?')} from "
             + ", ".join(names.get(e, e) for e in r.get("reactor_emails") or [])
             for r in reactions if isinstance(r.get("emoji"), dict)]
    return f"{text} ({', '.join(named)})" if text and named else text


def _me(path: Path) -> str | None:
    """The person's address from ``Users/User <id>/user_info.json`` beside ``Groups``."""
    for users in (path.parent.parent.parent / "Users",):
        for info in sorted(users.glob("*/user_info.json")) if users.is_dir() else []:
            user = _json_or_empty(info).get("user")
            if isinstance(user, dict) and user.get("email"):
                return str(user["email"])
    return None


def _json_or_empty(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
