"""Skype's export ("Export files and chat history", the ``messages.json`` many people downloaded
before Skype closed in May 2025), or the ``.tar`` it came in, unpacked.

``{userId: "8:live:alex", conversations: [{id, displayName, threadProperties {topic, members},
MessageList: [...]}]}``, each list newest first. A message has ``id``, ``originalarrivaltime``
(ISO, UTC), ``from`` (``8:live:anna``), ``displayName``, ``messagetype`` (``Text``, ``RichText``;
``RichText/UriObject``, ``RichText/Media_*`` for files; ``Event/Call``; ``ThreadActivity/*`` and
``Notice`` are the app's own) and ``content`` in Skype's markup: ``<ss type="smile">:)</ss>``,
``<a href>``, ``<b>``/``<i>``/``<s>``, ``<quote authorname timestamp>`` for a reply (its
``<legacyquote>`` is the old clients' copy), ``<URIObject>`` with ``<OriginalName v=..>``,
``<partlist type="ended"><duration>`` for a call, ``<e_m/>`` on an edited one: all read as words.
A deleted message (``properties.deletetime``, no content) is left out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bridge.groups import Item
from connectors.chats.export import Chat, ChatExportConfig, ChatExportConnector, Skipper
from connectors.chats.jsonfile import read_json

__all__ = ["SkypeConfig", "SkypeConnector", "skype_text"]

_QUOTE = re.compile(r"<quote\b([^>]*)>(.*?)</quote>", re.S)
_LEGACY = re.compile(r"<legacyquote>.*?</legacyquote>", re.S)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_URI = re.compile(r"<URIObject\b([^>]*)>(.*?)</URIObject>", re.S)
_NAME = re.compile(r'<OriginalName v="([^"]*)"')
_LINK = re.compile(r'<a\b[^>]*href="([^"]+)"[^>]*>(.*?)</a>', re.S)
_TAG = re.compile(r"<[^>]+>")
_EMOJI = {"heart": "❤️", "like": "👍", "laugh": "😂", "surprised": "😮", "sad": "😢", "angry": "😠"}
_KINDS = {"Picture": "photo", "Video": "video", "Audio": "voice message", "Sticker": "sticker", "Flik": "GIF",
          "SWIFT": "card", "Contact": "contact"}


class SkypeConfig(ChatExportConfig):
    type: Literal["skype"]
    text_source_spec: str = Field(default="skype", min_length=1)


class SkypeConnector(ChatExportConnector):
    Config = SkypeConfig
    app = "Skype"
    patterns = ("messages.json",)

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        export = read_json(path, needs="conversations", what="Skype's messages.json")
        me = str(export.get("userId") or "")
        for n, conversation in enumerate(export["conversations"], start=1):
            if not isinstance(conversation, dict) or not isinstance(conversation.get("MessageList"), list):
                skip(f"conversation record {n}", "not a conversation with a MessageList")
                continue
            cid = str(conversation.get("id") or n)
            if cid.startswith(("48:", "28:")):
                continue  # notifications, calls log, bots (48:calllogs, 28:concierge)
            thread = conversation.get("threadProperties")
            thread = thread if isinstance(thread, dict) else {}
            name = html.unescape(str(conversation.get("displayName") or thread.get("topic") or _person(cid)))
            if not self.wanted(name, cid):
                continue
            place = f"group “{name}”" if cid.startswith("19:") else f"chat with {name}"
            yield Chat(key=f"skype:{cid}", place=place, items=self._items(conversation, cid, me, skip))

    def _items(self, conversation: dict[str, Any], cid: str, me: str, skip: Skipper) -> Iterator[Item]:
        messages = []
        for n, message in enumerate(conversation["MessageList"], start=1):
            if not isinstance(message, dict):
                continue
            kind = str(message.get("messagetype") or "")
            if kind.startswith(("ThreadActivity/", "Control/", "Notice")) or (message.get("properties") or {}).get(
                    "deletetime"):
                continue
            try:
                at = datetime.fromisoformat(str(message["originalarrivaltime"]).replace("Z", "+00:00")).timestamp()
            except (KeyError, ValueError):
                skip(f"conversation {cid} message record {n}", "no readable originalarrivaltime")
                continue
            messages.append((at, n, message))
        messages.sort(key=lambda t: (t[0], -t[1]))
        for at, n, message in messages:
            text, reply = skype_text(str(message.get("content") or ""), str(message.get("messagetype") or ""))
            if not text:
                continue
            sender = str(message.get("from") or "")
            author = html.unescape(str(message.get("displayName") or "")) or _person(sender) or "someone"
            data: dict[str, Any] = {}
            if (me and sender == me) or self.is_me(author, _person(sender)):
                data["me"] = True
                author = self.config.me[0] if self.config.me else author  # Skype leaves the person unnamed
            text += _emotions(message.get("properties"), me)
            if reply:
                data["reply"] = reply
            yield Item(key=f"skype:{cid}:{message.get('id') or n}", scope=f"skype:{cid}", at=at, text=text,
                       author=author, data=data)


def skype_text(content: str, kind: str = "RichText") -> tuple[str, dict[str, Any] | None]:
    """A message's markup as words, and the message it quotes (``{"name", "at", "text"}``)."""
    reply = None
    if kind == "Event/Call":
        return _call(content), None
    found = _QUOTE.search(content)
    if found:
        attrs = dict(_ATTR.findall(found.group(1)))
        quoted, _ = skype_text(_LEGACY.sub("", found.group(2)))
        reply = {"name": html.unescape(attrs.get("authorname") or _person(attrs.get("author", "")) or "someone"),
                 "text": quoted}
        if attrs.get("timestamp", "").isdigit():
            reply["at"] = float(attrs["timestamp"])
        content = content[:found.start()] + content[found.end():]
    content = _URI.sub(_attachment, content)
    content = _LINK.sub(lambda m: m.group(2) if _TAG.sub("", m.group(2)) == m.group(1) else
                        f"{m.group(2)} ({m.group(1)})", content)
    text = html.unescape(_TAG.sub("", content)).strip()
    return text, reply


def _emotions(properties: Any, me: str) -> str:
    """`` (❤️ from me)``: the reactions a message got."""
    emotions = (properties or {}).get("emotions") if isinstance(properties, dict) else None
    said = [f"{_EMOJI.get(str(e.get('key')), str(e.get('key')))} from "
            + ", ".join("me" if u.get("mri") == me else _person(str(u.get("mri"))) for u in e.get("users") or []
                        if isinstance(u, dict))
            for e in emotions or [] if isinstance(e, dict) and e.get("users")]
    return f" ({', '.join(said)})" if said else ""


def _attachment(found: re.Match[str]) -> str:
    kind = dict(_ATTR.findall(found.group(1))).get("type", "").split(".")[0]
    name = _NAME.search(found.group(2))
    if kind in _KINDS:
        return f"[{_KINDS[kind]}]"
    return f"[file: {html.unescape(name.group(1))}]" if name else "[file]"


def _call(content: str) -> str:
    kind = re.search(r'<partlist\b[^>]*type="(\w+)"', content)
    if kind is None or kind.group(1) == "started":
        return ""  # the call's start: its end says how long it was
    if kind.group(1) == "missed":
        return "[missed call]"
    seconds = [int(d) for d in re.findall(r"<duration>(\d+)", content)]
    return f"[call, {max(1, round(max(seconds) / 60))} min]" if seconds else "[call]"


def _person(mri: str) -> str:
    """``8:live:anna.schmidt`` -> ``anna.schmidt``: the account, when no name is given."""
    return mri.split(":", 1)[-1].removeprefix("live:") if mri else ""
