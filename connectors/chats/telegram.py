"""Telegram Desktop's export (Settings -> Advanced -> Export Telegram data, JSON): ``result.json``.

One chat (``{"name", "type", "id", "messages"}``) or every chat (``{"personal_information",
"chats": {"list": [...]}}``). A message has an ``id`` (stable: the key), ``type`` ``message``
or ``service`` (joins, calls, pins: left out), ``date`` in the exporting computer's local time
and ``date_unixtime``, ``from`` / ``from_id``, ``text`` as a string or a list of strings and
entities (links, mentions, code...), ``reply_to_message_id``, ``edited``, and media fields
(``photo``, ``file`` with ``media_type``, ``sticker_emoji``, ``poll``, ``location_information``,
``contact_information``).

Ids are unique within a chat, except where Telegram joins histories: a group turned supergroup
keeps the old group's messages, whose ids start again at 1. A message is known by its id, and a
later one with the same id but another date or text by its id, date and text. A date before
Telegram existed (a zero ``date_unixtime``: 1 January 1970) is no date: the message is skipped
with that reason.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bridge.errors import SourceError
from bridge.groups import Item
from connectors.chats.export import Chat, ChatExportConfig, ChatExportConnector, Skipper, message_key

__all__ = ["TelegramConfig", "TelegramConnector", "telegram_text"]

RECENT = 20_000  # messages of a chat kept for naming what a reply answers
BEGAN = datetime(2013, 8, 14, tzinfo=UTC).timestamp()  # Telegram's launch: no message is older

_PLACES = {"personal_chat": "chat with {}", "bot_chat": "chat with the bot {}", "saved_messages": "saved messages",
           "private_group": "group “{}”", "private_supergroup": "group “{}”", "public_supergroup": "group “{}”",
           "private_channel": "channel “{}”", "public_channel": "channel “{}”"}
_MEDIA = {"voice_message": "voice message", "video_message": "video message", "video_file": "video",
          "audio_file": "audio", "animation": "GIF", "sticker": "sticker"}


class TelegramConfig(ChatExportConfig):
    type: Literal["telegram-export"]
    text_source_spec: str = Field(default="telegram", min_length=1)


class TelegramConnector(ChatExportConnector):
    Config = TelegramConfig
    app = "Telegram"
    patterns = ("result.json",)  # Telegram names every export so; its media folders hold no JSON of ours

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        try:
            export = json.loads(path.read_bytes())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise SourceError(f"not readable JSON ({exc})") from None
        if not isinstance(export, dict):
            raise SourceError("not a Telegram export (no chat in it)")
        me = export.get("personal_information") or {}
        my_id = f"user{me['user_id']}" if isinstance(me, dict) and me.get("user_id") else None
        if isinstance(export.get("chats"), dict):  # a whole account: its chats, and those it left
            chats = [*(export["chats"].get("list") or []),
                     *((export.get("left_chats") or {}).get("list") or [])]
        elif "messages" in export:
            chats = [export]
        else:
            raise SourceError("not a Telegram export (no messages and no chats list)")
        for n, chat in enumerate(chats, start=1):
            if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
                skip(f"chat record {n}", "not a chat with a list of messages")
                continue
            saved = chat.get("type") == "saved_messages"
            name = str(chat.get("name") or ("Saved Messages" if saved else chat.get("id")))
            if not self.wanted(name, str(chat.get("id"))):
                continue
            place = _PLACES.get(str(chat.get("type")), "chat “{}”").format(name)
            yield Chat(key=f"telegram:{chat.get('id', name)}", place=place,
                       items=self._items(chat, name, my_id, skip))

    def _items(self, chat: dict[str, Any], name: str, my_id: str | None, skip: Skipper) -> Iterator[Item]:
        recent: OrderedDict[Any, tuple[str, float, str, str]] = OrderedDict()  # id -> name, at, text, key
        first_with_id: dict[Any, int] = {}  # id -> a hash of the date and text of the first message with it
        chat_id = chat.get("id", chat.get("name"))
        for n, message in enumerate(chat["messages"], start=1):
            if not isinstance(message, dict):
                skip(f"chat “{name}” message record {n}", "not an object")
                continue
            if message.get("type") != "message":
                continue  # service: joins, calls, pins, title changes
            try:
                at = self._at(message)
            except (KeyError, ValueError, TypeError):
                skip(f"chat “{name}” message record {n}", f"no readable date (message id {message.get('id')})")
                continue
            if at < BEGAN:
                skip(f"chat “{name}” message record {n}", f"impossible date {datetime.fromtimestamp(at, UTC):%d %B %Y}"
                     f", before Telegram began (message id {message.get('id')})")
                continue
            if message.get("id") is None:
                skip(f"chat “{name}” message record {n}", "no message id")
                continue
            forwarded = f"[forwarded from {message['forwarded_from']}]" if message.get("forwarded_from") else ""
            text = " ".join(p for p in (forwarded, _media(message), telegram_text(message.get("text"))) if p).strip()
            if not text:
                continue
            author = str(message.get("from") or message.get("author") or chat.get("name") or "someone")
            key = f"{chat_id}:{message['id']}"
            fingerprint = hash((at, text))
            if first_with_id.setdefault(message["id"], fingerprint) != fingerprint:
                key = f"{key}:{message_key(at, text)}"  # another message under an id already used
            data: dict[str, Any] = {}
            if self.is_me(author) or (my_id is not None and message.get("from_id") == my_id):
                data["me"] = True
            answered = recent.get(message.get("reply_to_message_id"))
            if answered is not None:
                data["reply"] = {"name": answered[0], "at": answered[1], "text": answered[2], "key": answered[3]}
            elif message.get("reply_to_message_id") is not None:
                data["reply"] = {"name": "an earlier message"}
            recent[message["id"]] = (author, at, text, key)
            if len(recent) > RECENT:
                recent.popitem(last=False)
            yield Item(key=key, scope=f"telegram:{chat_id}", at=at, text=text, author=author, data=data)

    def _at(self, message: dict[str, Any]) -> float:
        # date_unixtime is the instant; date is the exporting computer's wall clock (older exports)
        if message.get("date_unixtime") is not None:
            return float(message["date_unixtime"])
        return self.local(datetime.fromisoformat(str(message["date"])))


def telegram_text(text: Any) -> str:
    """``text`` as one string: a string, or a list of strings and entities (``{"type", "text"}``;
    a ``text_link`` shows its address after its words, code keeps backticks)."""
    if isinstance(text, str):
        return text
    if not isinstance(text, list):
        return ""
    parts = []
    for part in text:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict):
            words = str(part.get("text", ""))
            kind = part.get("type")
            if kind == "text_link" and part.get("href") and part["href"] != words:
                words = f"{words} ({part['href']})"
            elif kind == "code":
                words = f"`{words}`"
            elif kind == "pre":
                words = f"\n```\n{words}\n```\n"
            elif kind == "spoiler":
                words = "[spoiler]"
            parts.append(words)
    return "".join(parts)


def _media(message: dict[str, Any]) -> str:
    if message.get("photo"):
        return "[photo]"
    if message.get("media_type") == "sticker":
        return f"[sticker {message.get('sticker_emoji', '')}]".replace(" ]", "]")
    if message.get("media_type") in _MEDIA:
        return f"[{_MEDIA[message['media_type']]}]"
    if message.get("file") or message.get("file_name"):
        name = message.get("file_name") or str(message.get("file"))
        # "(File not included. Change data exporting settings to download.)": the name is all there is
        return "[file]" if name.startswith("(") else f"[file: {Path(name).name}]"
    if isinstance(message.get("poll"), dict):
        poll = message["poll"]
        answers = ", ".join(str(a.get("text")) for a in poll.get("answers") or [] if isinstance(a, dict))
        return f"[poll: {poll.get('question')}{f' ({answers})' if answers else ''}]"
    if isinstance(message.get("location_information"), dict):
        place = message["location_information"]
        return f"[location: {place.get('latitude')}, {place.get('longitude')}]"
    if isinstance(message.get("contact_information"), dict):
        contact = message["contact_information"]
        return f"[contact: {contact.get('first_name', '')} {contact.get('last_name', '')}]".replace(" ]", "]")
    return ""
