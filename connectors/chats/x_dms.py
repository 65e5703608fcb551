"""X (Twitter) direct messages, from "Download an archive of your data": ``data/direct-messages.js``
and ``data/direct-messages-group.js`` (``-part1`` ... in large archives).

Each file is a JavaScript assignment around JSON (``window.YTD.direct_messages.part0 = [...]``):
conversations ``{dmConversation: {conversationId, messages: [...]}}``, newest first. A message
is ``{messageCreate: {id, senderId, recipientId (one-to-one only), text, createdAt (ISO, UTC),
urls [{url, expanded}], mediaUrls, reactions [{senderId, reactionKey}]}}``; others are the app's
own (``joinConversation``, ``participantsJoin``/``Leave``, ``conversationNameUpdate``: the
group's name is taken from it). Only ids, no names: the person is ``account.js``'s
``accountId``; others are named from the archive's own mentions (``tweets.js``), else by id.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bridge.errors import SourceError
from bridge.groups import Item
from connectors.chats.export import Chat, ChatExportConfig, ChatExportConnector, Skipper

__all__ = ["XDmsConfig", "XDmsConnector", "ytd_json"]

_ASSIGNMENT = re.compile(rb"^\s*window\.YTD\.[\w.]+\s*=\s*")
_REACTIONS = {"like": "❤️", "funny": "😂", "surprised": "😲", "sad": "😢", "excited": "🔥", "agree": "👍",
              "disagree": "👎"}


class XDmsConfig(ChatExportConfig):
    type: Literal["x-dms"]
    text_source_spec: str = Field(default="x_dms", min_length=1)


class XDmsConnector(ChatExportConnector):
    Config = XDmsConfig
    app = "X"
    patterns = ("direct-messages*.js",)

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        conversations = ytd_json(path)
        if not conversations or not all(isinstance(c, dict) and "dmConversation" in c for c in conversations[:1]):
            raise SourceError("not X's direct messages (no dmConversation in it)")
        me, names = _people(path.parent)
        group = "group" in path.name
        for n, record in enumerate(conversations, start=1):
            conversation = record.get("dmConversation") if isinstance(record, dict) else None
            if not isinstance(conversation, dict) or not isinstance(conversation.get("messages"), list):
                skip(f"conversation record {n}", "not a conversation with a list of messages")
                continue
            cid = str(conversation.get("conversationId") or n)
            events = [m for m in conversation["messages"] if isinstance(m, dict)]
            title = next((str(e["conversationNameUpdate"].get("name")) for e in events
                          if isinstance(e.get("conversationNameUpdate"), dict)), "")  # newest first: the latest
            ids = set() if group else set(cid.split("-"))  # a one-to-one id is its two people's
            for event in events:
                if isinstance(event.get("messageCreate"), dict):
                    ids |= {str(event["messageCreate"].get(k) or "") for k in ("senderId", "recipientId")}
            others = sorted(names.get(i, i) for i in ids if i and i != me)
            if not self.wanted(title, cid, *others):
                continue
            place = (f"group “{title}”" if title else f"group with {', '.join(others)}") if group else (
                f"chat with {others[0] if others else cid}")
            yield Chat(key=f"x:{cid}", place=place, items=self._items(events, cid, me, names, skip))

    def _items(self, events: list[dict[str, Any]], cid: str, me: str | None, names: dict[str, str],
               skip: Skipper) -> Iterator[Item]:
        messages = []
        for n, event in enumerate(events, start=1):
            message = event.get("messageCreate")
            if not isinstance(message, dict):
                continue  # joins, leaves, renames: the app's own
            try:
                at = datetime.fromisoformat(str(message["createdAt"]).replace("Z", "+00:00")).timestamp()
                mid = str(message["id"])
            except (KeyError, ValueError):
                skip(f"conversation {cid} message record {n}", "no id or no readable createdAt")
                continue
            messages.append((at, mid, message))
        messages.sort(key=lambda t: (t[0], t[1]))
        for at, mid, message in messages:
            sender = str(message.get("senderId") or "")
            text = _text(message, names, me)
            if not text:
                continue
            mine = (me is not None and sender == me) or self.is_me(sender, names.get(sender))
            data: dict[str, Any] = {"me": True} if mine else {}
            yield Item(key=f"x:{cid}:{mid}", scope=f"x:{cid}", at=at, text=text,
                       author=names.get(sender, sender or "someone"), data=data)


def ytd_json(path: Path) -> list[Any]:
    """The JSON inside one of the archive's ``window.YTD.<name>.part0 = [...]`` files."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot be read ({exc})") from None
    prefix = _ASSIGNMENT.match(data)
    if prefix is None:
        raise SourceError("not a file of X's archive (no window.YTD assignment)")
    try:
        value = json.loads(data[prefix.end():].decode("utf-8").rstrip().rstrip(";"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"not readable JSON after the assignment ({exc})") from None
    if not isinstance(value, list):
        raise SourceError("not a file of X's archive (no list in it)")
    return value


def _people(data: Path) -> tuple[str | None, dict[str, str]]:
    """The person's id (``account.js``), and names by id: theirs, and those the archive's own
    tweets mention (``tweets.js``, ``tweet.js``)."""
    me, names = None, {}
    for record in _quiet(data / "account.js"):
        account = record.get("account") if isinstance(record, dict) else None
        if isinstance(account, dict) and account.get("accountId"):
            me = str(account["accountId"])
            names[me] = str(account.get("accountDisplayName") or account.get("username") or me)
    for file in ("tweets.js", "tweet.js"):
        for record in _quiet(data / file):
            tweet = record.get("tweet") if isinstance(record, dict) else None
            for mention in ((tweet or {}).get("entities") or {}).get("user_mentions") or []:
                if isinstance(mention, dict) and mention.get("id_str"):
                    names.setdefault(str(mention["id_str"]),
                                     str(mention.get("name") or f"@{mention.get('screen_name')}"))
    return me, _Named(names)


class _Named(dict):
    """Names by id; an id the archive never names is "user <id>"."""

    def __missing__(self, key: str) -> str:
        return f"user {key}"

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key else default


def _quiet(path: Path) -> list[Any]:
    try:
        return ytd_json(path) if path.is_file() else []
    except SourceError:
        return []  # the names are a help; the messages come in without them


def _text(message: dict[str, Any], names: dict[str, str], me: str | None) -> str:
    text = html.unescape(str(message.get("text") or ""))  # X writes &amp; &lt; &gt; as in tweets
    media = [str(u) for u in message.get("mediaUrls") or []]
    for url in message.get("urls") or []:
        if not isinstance(url, dict) or not url.get("url"):
            continue
        expanded = str(url.get("expanded") or url["url"])
        # the link to the message's own picture: the picture is named instead
        text = text.replace(str(url["url"]), "" if "/messages/media/" in expanded else expanded)
    parts = [text.strip()]
    for url in media:
        parts.append("[video]" if "dm_video" in url else "[GIF]" if "dm_gif" in url else "[photo]")
    said = " ".join(p for p in parts if p)
    reactions = [r for r in message.get("reactions") or [] if isinstance(r, dict)]
    if said and reactions:
        said += " (" + ", ".join(
            f"{r.get('emoji') or _REACTIONS.get(str(r.get('reactionKey')), str(r.get('reactionKey')))} from "
            f"{'me' if str(r.get('senderId')) == me else names.get(str(r.get('senderId')), str(r.get('senderId')))}"
            for r in reactions) + ")"
    return said
