"""Slack messages -> assembler items, and a closed group -> one conversation's text.

Shared by the live connector and the export importer, so a channel reads the same either way::

    #general on Slack, Mon 23 Nov 2026
    Alice Example (09:14): the deploy is done
    Bob (09:16): thanks! logs are in #ops
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Mapping
from dataclasses import replace
from datetime import tzinfo
from typing import Any

from bridge.groups import Group, Item
from bridge.models import PRIORITY_LIVE, Conversation
from bridge.transcript import render
from connectors.slack.blocks import file_names, message_text
from connectors.slack.mrkdwn import plain_text

__all__ = ["JOINS", "is_bot_message", "item_key", "message_item", "record_problem", "render_group"]

JOINS = {"channel_join", "channel_leave", "group_join", "group_leave"}
# subtypes that are someone's words: a huddle's thread (also known by its "room"), a canvas
# comment thread's first message (the canvas section) and a message embedded in a canvas
_CONTENT = {None, "thread_broadcast", "file_share", "me_message", "huddle_thread", "document_comment_root",
            "document_unfurl"}
_TS = re.compile(r"^\d{1,12}(\.\d{1,9})?$")


def item_key(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def record_problem(message: Any) -> str | None:
    """Why a message record (from an export or history) cannot be read, or None if it can."""
    if not isinstance(message, dict):
        return "not a message object"
    ts = message.get("ts")
    if not isinstance(ts, str) or not _TS.match(ts):
        return f"no usable ts ({ts!r})"
    for name in ("text", "user", "subtype", "thread_ts"):
        if message.get(name) is not None and not isinstance(message[name], str):
            return f"{name} is not a string"
    if message.get("thread_ts") and not _TS.match(message["thread_ts"]):
        return f"no usable thread_ts ({message['thread_ts']!r})"
    return None


def is_bot_message(msg: dict[str, Any], bot_users: Container[str]) -> bool:
    """True for an app's own message. An app posting for a person (a poll, a workflow) stamps
    the person's message with its ``bot_id`` too: that one is the person's."""
    if msg.get("subtype") == "bot_message":
        return True
    if not msg.get("bot_id"):
        return False
    user = msg.get("user")
    profile = msg.get("bot_profile") if isinstance(msg.get("bot_profile"), dict) else {}
    return not user or user in bot_users or user == profile.get("user_id")


def message_item(channel: str, msg: dict[str, Any], *, include_bots: bool, include_joins: bool,
                 bot_users: Container[str] = frozenset()) -> Item | None:
    """The item a message event (or a history entry) becomes, or None when it is not content:
    joins and bots unless configured, edits/deletes (handled apart), unknown subtypes, records
    that cannot be read (``record_problem`` says why). ``bot_users``: ids of apps' users."""
    if record_problem(msg) is not None:
        return None
    subtype = msg.get("subtype")
    is_bot = is_bot_message(msg, bot_users)
    room = msg.get("room") if isinstance(msg.get("room"), dict) else None
    if subtype in JOINS:
        if not include_joins:
            return None
    elif is_bot:
        if not include_bots:
            return None
    elif subtype not in _CONTENT and room is None:
        return None
    ts = msg["ts"]
    text = message_text(msg)
    author = msg.get("user") or msg.get("bot_id") or ""
    data: dict[str, Any] = {}
    if room is not None:  # a huddle: Slackbot says "A huddle started"; say who was in it
        author = room["created_by"] if isinstance(room.get("created_by"), str) else author
        members = room.get("participant_history") or room.get("participants")
        people = [f"<@{u}>" for u in members if isinstance(u, str)] if isinstance(members, list) else []
        text = (text or "A huddle started") + (f" [huddle with {', '.join(people)}]" if people else " [huddle]")
    elif subtype == "document_comment_root":
        data["name"] = "Canvas section"
    files = file_names(msg.get("files"))
    if not text.strip() and not files:
        return None
    if files:
        data["files"] = files
    if is_bot and isinstance(msg.get("username"), str) and msg["username"]:
        data["name"] = msg["username"]
    thread_ts = msg.get("thread_ts")
    thread = item_key(channel, thread_ts) if thread_ts and thread_ts != ts else None
    return Item(key=item_key(channel, ts), scope=channel, at=float(ts), text=text, author=author, thread=thread,
                data=data)


def render_group(
    group: Group,
    *,
    place: str,
    user_name: Callable[[str], str],
    channel_name: Callable[[str], str],
    tz: tzinfo | None,
    roots: Mapping[str, Item] | None = None,
    priority: int = PRIORITY_LIVE,
) -> Conversation:
    """One conversation for a group, in the core's transcript (``bridge.transcript``): a header
    naming the ``place`` ("#general"), then ``Name (HH:MM): text`` lines in time order. What is
    Slack's own is done here: ids to names, mrkdwn to plain text.

    ``roots``: threads' first messages the group's replies answer, when not in the group (sent
    earlier): a group of one thread's replies quotes its root once, above them; in a channel's
    burst, a reply that does not follow its thread's last line says whom it answers:
    ``Sam (10:39, replying to Alice 10:30): logs?``."""

    def readable(item: Item) -> Item:
        name = item.data.get("name") or (user_name(item.author) if item.author else "")
        return replace(item, author=name, text=plain_text(item.text, user_name, channel_name).strip())

    kind = "thread on Slack" if group.thread else "on Slack"
    return render(replace(group, items=[readable(item) for item in group.items]), heading=f"{place} {kind}", tz=tz,
                  priority=priority, roots={key: readable(root) for key, root in (roots or {}).items()})
