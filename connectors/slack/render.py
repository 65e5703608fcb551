"""Slack messages -> assembler items, and a closed group -> one conversation's text.

Shared by the live connector and the export importer, so a channel reads the same either way::

    #general on Slack, Mon 23 Nov 2026
    Alice Example (09:14): the deploy is done
    Bob (09:16): thanks! logs are in #ops
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from bridge.groups import Group, Item
from bridge.models import PRIORITY_LIVE, Conversation
from connectors.slack.mrkdwn import plain_text

__all__ = ["JOINS", "item_key", "message_item", "render_group"]

JOINS = {"channel_join", "channel_leave", "group_join", "group_leave"}
_CONTENT = {None, "thread_broadcast", "file_share", "me_message"}
ROOT_PREVIEW = 300  # characters of a thread's first message shown above replies sent later


def item_key(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def message_item(channel: str, msg: dict[str, Any], *, include_bots: bool, include_joins: bool) -> Item | None:
    """The item a message event (or a history entry) becomes, or None when it is not content:
    joins and bots unless configured, edits/deletes (handled apart), unknown subtypes."""
    subtype = msg.get("subtype")
    is_bot = subtype == "bot_message" or bool(msg.get("bot_id"))
    if subtype in JOINS:
        if not include_joins:
            return None
    elif is_bot:
        if not include_bots:
            return None
    elif subtype not in _CONTENT:
        return None
    ts = msg.get("ts")
    if not isinstance(ts, str):
        return None
    text = msg.get("text") or ""
    files = [f.get("name") or f.get("title") or "file" for f in msg.get("files") or [] if isinstance(f, dict)]
    if not text.strip() and not files:
        return None
    data: dict[str, Any] = {}
    if files:
        data["files"] = files
    if is_bot and msg.get("username"):
        data["name"] = msg["username"]
    thread_ts = msg.get("thread_ts")
    thread = item_key(channel, thread_ts) if isinstance(thread_ts, str) and thread_ts != ts else None
    return Item(
        key=item_key(channel, ts),
        scope=channel,
        at=float(ts),
        text=text,
        author=msg.get("user") or msg.get("bot_id") or "",
        thread=thread,
        data=data,
    )


def render_group(
    group: Group,
    *,
    channel: str,
    user_name: Callable[[str], str],
    channel_name: Callable[[str], str],
    tz: tzinfo | None,
    root: Item | None = None,
    priority: int = PRIORITY_LIVE,
) -> Conversation:
    """One conversation for a group: a header, then ``Name (HH:MM): text`` lines in time order.
    ``root`` (a thread's first message, sent earlier) is quoted above replies that came later."""
    first, last = group.items[0], group.items[-1]

    def local(at: float) -> datetime:
        return datetime.fromtimestamp(at, UTC).astimezone(tz)

    def line(item: Item) -> str:
        name = item.data.get("name") or (user_name(item.author) if item.author else "someone")
        text = plain_text(item.text, user_name, channel_name).strip()
        if item.data.get("files"):
            attached = ", ".join(item.data["files"])
            text = f"{text} [file: {attached}]" if text else f"[file: {attached}]"
        return f"{name} ({local(item.at):%H:%M}): {text}"

    kind = "thread on Slack" if group.thread else "on Slack"
    lines = [f"#{channel} {kind}, {local(first.at):%a %d %b %Y}"]
    if root is not None and all(item.key != root.key for item in group.items):
        quoted = line(root)
        if len(quoted) > ROOT_PREVIEW:
            quoted = quoted[:ROOT_PREVIEW].rstrip() + "…"
        lines.append(f"In reply to {quoted}")
    lines += [line(item) for item in group.items]
    return Conversation(
        source_key=f"group:{first.key}",
        text="\n".join(lines),
        started_at=datetime.fromtimestamp(first.at, UTC),
        finished_at=datetime.fromtimestamp(last.at, UTC),
        priority=priority,
    )
