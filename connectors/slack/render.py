"""Slack messages -> assembler items, and a closed group -> one conversation's text.

Shared by the live connector and the export importer, so a channel reads the same either way::

    #general on Slack, Mon 23 Nov 2026
    Alice Example (09:14): the deploy is done
    Bob (09:16): thanks! logs are in #ops
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from bridge.groups import Group, Item
from bridge.models import PRIORITY_LIVE, Conversation
from connectors.slack.blocks import file_names, message_text
from connectors.slack.mrkdwn import plain_text

__all__ = ["JOINS", "is_bot_message", "item_key", "message_item", "record_problem", "render_group", "shorten"]

JOINS = {"channel_join", "channel_leave", "group_join", "group_leave"}
# subtypes that are someone's words: a huddle's thread (also known by its "room"), a canvas
# comment thread's first message (the canvas section) and a message embedded in a canvas
_CONTENT = {None, "thread_broadcast", "file_share", "me_message", "huddle_thread", "document_comment_root",
            "document_unfurl"}
ROOT_PREVIEW = 300  # characters of a thread's first message shown above replies sent later
REPLY_PREVIEW = 80  # ...and beside a reply in a channel's burst, when the first message was sent before
FENCES = re.compile(r"```.*?```", re.S)
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
    """One conversation for a group: a header naming the ``place`` ("#general"), then
    ``Name (HH:MM): text`` lines in time order.

    ``roots``: threads' first messages the group's replies answer, when not in the group (sent
    earlier). A group of one thread's replies quotes its root once, above them; in a channel's
    burst, a reply that does not follow its thread's last line says whom it answers:
    ``Sam (10:39, replying to Alice 10:30): logs?``."""
    roots = roots or {}
    quoted: set[str] = set()
    first, last = group.items[0], group.items[-1]
    here = {item.key: item for item in group.items}

    def local(at: float) -> datetime:
        return datetime.fromtimestamp(at, UTC).astimezone(tz)

    def when(at: float) -> str:
        moment = local(at)
        return f"{moment:%H:%M}" if moment.date() == local(first.at).date() else f"{moment:%a %d %b, %H:%M}"

    def name(item: Item) -> str:
        return item.data.get("name") or (user_name(item.author) if item.author else "someone")

    def words(item: Item) -> str:
        text = plain_text(item.text, user_name, channel_name).strip()
        if item.data.get("files"):
            attached = ", ".join(item.data["files"])
            text = f"{text} [file: {attached}]" if text else f"[file: {attached}]"
        return text

    def thread_of(item: Item | None) -> str | None:
        return None if item is None else item.thread or item.key

    def line(item: Item, before: Item | None) -> str:
        said = when(item.at)
        # a reply right after its thread's last line answers it plainly; after other lines, say whom
        if item.thread is not None and group.thread is None and thread_of(before) != item.thread:
            root = here.get(item.thread) or roots.get(item.thread)
            if root is None:
                said += ", in a thread"
            elif root.key in here or root.key in quoted:
                said += f", replying to {name(root)} {when(root.at)}"
            else:  # a thread begun before this conversation: its first words, once
                quoted.add(root.key)
                preview = shorten(words(root), REPLY_PREVIEW, inline=True)
                said += f", replying to {name(root)} {when(root.at)}: “{preview}”"
        return f"{name(item)} ({said}): {words(item)}"

    kind = "thread on Slack" if group.thread else "on Slack"
    lines = [f"{place} {kind}, {local(first.at):%a %d %b %Y}"]
    root = roots.get(group.thread) if group.thread else None
    if root is not None and root.key not in here:
        lines.append(f"In reply to {name(root)} ({when(root.at)}): {shorten(words(root), ROOT_PREVIEW)}")
    lines += [line(item, before) for item, before in zip(group.items, [None, *group.items], strict=False)]
    return Conversation(
        source_key=f"group:{first.key}",
        text="\n".join(lines),
        started_at=datetime.fromtimestamp(first.at, UTC),
        finished_at=datetime.fromtimestamp(last.at, UTC),
        priority=priority,
    )


def shorten(text: str, limit: int, *, inline: bool = False) -> str:
    """``text`` cut to about ``limit`` characters at a word, with "…", and any code block or
    code span the cut leaves open closed again. ``inline``: on one line, for inside a line."""
    if inline:
        text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ", limit * 3 // 4)
    cut = (cut[:space] if space > 0 else cut).rstrip() + "…"
    if cut.count("```") % 2:
        return cut + ("```" if inline else "\n```")
    if FENCES.sub("", cut).count("`") % 2:
        return cut + "`"
    return cut
