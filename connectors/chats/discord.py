"""DiscordChatExporter's JSON: one file per channel (``guild``, ``channel``, ``messages``).

A message has a snowflake ``id`` (the key), ``type`` (``Default`` and ``Reply`` are people
talking; joins, pins, calls and boosts are left out), ``timestamp`` with its offset,
``content`` in Discord's markdown with mentions as ``<@id>``, ``<#id>``, ``<@&id>`` (resolved
from the message's ``mentions`` and the export's other messages; where the exporter already
wrote ``@name`` it stays), ``author`` (``nickname`` is the server's name for them),
``attachments``, ``embeds``, ``stickers`` and ``reference`` for a reply.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bridge.errors import SourceError
from bridge.groups import Item
from connectors.chats.export import Chat, ChatExportConfig, ChatExportConnector, Skipper

__all__ = ["DiscordConfig", "DiscordConnector"]

RECENT = 20_000  # messages of a channel kept for naming what a reply answers
TALK = {"Default", "Reply", "ThreadStarterMessage"}
_MENTION = re.compile(r"<(@!?|#|@&)(\d+)>")
_EMOJI = re.compile(r"<a?(:\w+:)\d+>")
_EMPHASIS = re.compile(r"(\*\*|~~)(?=\S)(.+?)(?<=\S)\1")  # bold, strike: the words stay (not __: __init__ is a name)
_SPOILER = re.compile(r"\|\|(.+?)\|\|")


class DiscordConfig(ChatExportConfig):
    type: Literal["discord-export"]
    text_source_spec: str = Field(default="discord", min_length=1)
    include_bots: bool = False


class DiscordConnector(ChatExportConnector):
    Config = DiscordConfig
    app = "Discord"
    patterns = ("*.json",)

    def files(self) -> list[Path]:
        # "general.json_Files/" holds the media --media downloads, a JSON attachment among them
        return [p for p in super().files() if not any(part.endswith("_Files") for part in p.parts)]

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        try:
            export = json.loads(path.read_bytes())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise SourceError(f"not readable JSON ({exc})") from None
        if not isinstance(export, dict) or not isinstance(export.get("messages"), list):
            raise SourceError("not a DiscordChatExporter JSON export (no messages list)")
        channel = export.get("channel") if isinstance(export.get("channel"), dict) else {}
        guild = export.get("guild") if isinstance(export.get("guild"), dict) else {}
        name = str(channel.get("name") or path.stem)
        if not self.wanted(name, str(channel.get("id")), f"#{name}"):
            return
        if str(channel.get("type", "")).startswith("Direct") or guild.get("name") == "Direct Messages":
            place = f"direct messages “{name}”"
        else:
            place = f"#{name}" + (f" on {guild['name']}" if guild.get("name") else "")
        yield Chat(key=f"discord:{channel.get('id') or name}", place=place,
                   items=self._items(export["messages"], str(channel.get("id") or name), skip))

    def _items(self, messages: list[Any], channel: str, skip: Skipper) -> Iterator[Item]:
        people = _people(messages)
        recent: OrderedDict[str, tuple[str, float, str, str]] = OrderedDict()
        for n, message in enumerate(messages, start=1):
            if not isinstance(message, dict) or message.get("type", "Default") not in TALK:
                continue
            author = message.get("author") if isinstance(message.get("author"), dict) else {}
            if author.get("isBot") and not self.config.include_bots:  # type: ignore[attr-defined]
                continue
            try:
                at = datetime.fromisoformat(str(message["timestamp"]).replace("Z", "+00:00")).timestamp()
                mid = str(message["id"])
            except (KeyError, ValueError):
                skip(f"message record {n}", "no id or no readable timestamp")
                continue
            text = _text(message, people)
            if not text:
                continue
            name = str(author.get("nickname") or people.get(str(author.get("id"))) or author.get("name") or "someone")
            key = f"{channel}:{mid}"
            data: dict[str, Any] = {}
            if self.is_me(author.get("name"), author.get("nickname"), str(author.get("id"))):
                data["me"] = True
            reference = message.get("reference") if isinstance(message.get("reference"), dict) else {}
            if reference.get("messageId"):
                answered = recent.get(str(reference["messageId"]))
                data["reply"] = ({"name": answered[0], "at": answered[1], "text": answered[2], "key": answered[3]}
                                 if answered else {"name": "an earlier message"})
            recent[mid] = (name, at, text, key)
            if len(recent) > RECENT:
                recent.popitem(last=False)
            yield Item(key=key, scope=f"discord:{channel}", at=at, text=text, author=name, data=data)


def _people(messages: list[Any]) -> dict[str, str]:
    """Names by user id, from every author and mention in the export (the exporter's tables)."""
    names: dict[str, str] = {}
    for message in messages:
        if not isinstance(message, dict):
            continue
        for person in [message.get("author"), *(message.get("mentions") or [])]:
            if isinstance(person, dict) and person.get("id"):
                names.setdefault(str(person["id"]), str(person.get("nickname") or person.get("name") or person["id"]))
    return names


def _text(message: dict[str, Any], people: dict[str, str]) -> str:
    content = str(message.get("content") or "")

    def mention(match: re.Match[str]) -> str:
        kind, ident = match.groups()
        if kind.startswith("@") and kind != "@&":
            return f"@{people.get(ident, 'someone')}"
        return "#a channel" if kind == "#" else "@a role"

    content = _EMOJI.sub(r"\1", _MENTION.sub(mention, content))
    content = _SPOILER.sub("[spoiler]", _EMPHASIS.sub(r"\2", content))
    extras = []
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict):
            extras.append(f"[file: {attachment.get('fileName') or 'attachment'}]")
    for sticker in message.get("stickers") or []:
        if isinstance(sticker, dict):
            extras.append(f"[sticker: {sticker.get('name', '')}]")
    for embed in message.get("embeds") or []:
        if isinstance(embed, dict) and (embed.get("title") or embed.get("description")):
            title = " ".join(str(embed.get(k) or "") for k in ("title", "description")).strip()
            extras.append(f"[link: {title[:200]}]")
    return " ".join(p for p in (content.strip(), *extras) if p)
