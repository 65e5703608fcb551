"""A chat transcript: one closed group of items -> the text Omi reads. Every chat source renders
through it, so a conversation reads the same wherever it was said::

    WhatsApp chat with Anna, Mon 23 Nov 2026
    Anna (09:14): lunch today?
    Alex (me, 09:16, replying to Anna 09:14): yes! [file: menu.pdf]

A source fills its items and passes the heading's words ("#general on Slack", "WhatsApp chat
with Anna"); the date follows them. What an item carries, and all that is read of it:

- ``author``: the name shown (a source turns ids into names first); "someone" when empty;
- ``text``: the words, as plain text; ``data["files"]``: names of the files attached;
- ``data["me"]``: the user's own line, marked ``me``;
- ``data["reply"]``: ``{"key", "name", "at", "text"}`` of the message a line answers (a chat's
  quoted reply): the line always says whom it answers, and quotes it when it is not in this
  conversation; only ``name`` is needed;
- ``thread``: the key of a thread's first message (Slack): a reply that does not follow its
  thread's last line says whom it answers; a first message outside the conversation is found
  in ``roots`` and quoted.

A first message quoted once is not quoted again in the same conversation: the reader saw it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo

from bridge.groups import Group, Item
from bridge.models import Conversation

__all__ = ["REPLY_PREVIEW", "ROOT_PREVIEW", "render", "shorten"]

ROOT_PREVIEW = 300  # characters of a thread's first message shown above its replies sent later
REPLY_PREVIEW = 80  # ...and beside a reply, when the message answered is not in the conversation
FENCES = re.compile(r"```.*?```", re.S)


def render(group: Group, *, heading: str, tz: tzinfo | None, priority: int,
           roots: Mapping[str, Item] | None = None, continued: bool = False) -> Conversation:
    """One conversation for a group: ``heading``, the day, then ``Name (HH:MM): text`` lines in
    time order. ``roots``: first messages of threads the group's replies belong to, when not in
    the group (sent earlier); a group of one thread's replies (``group.thread``) quotes its
    first message once, above them. ``continued``: more of a day already sent."""
    first, last = group.items[0], group.items[-1]
    day = _Day(group, tz, roots or {})
    lines = [f"{heading}, {day.local(first.at):%a %d %b %Y}" + (" (continued)" if continued else "")]
    root = day.roots.get(group.thread) if group.thread else None
    if root is not None and root.key not in day.here:
        lines.append(f"In reply to {_name(root)} ({day.when(root.at)}): {shorten(_words(root), ROOT_PREVIEW)}")
    lines += [day.line(item, before) for item, before in zip(group.items, [None, *group.items], strict=False)]
    return Conversation(
        source_key=f"group:{first.key}",
        text="\n".join(lines),
        started_at=datetime.fromtimestamp(first.at, UTC),
        finished_at=datetime.fromtimestamp(last.at, UTC),
        priority=priority,
    )


class _Day:
    """What the lines of one conversation share: its first day, its items, what was quoted."""

    def __init__(self, group: Group, tz: tzinfo | None, roots: Mapping[str, Item]) -> None:
        self.group, self.tz, self.roots = group, tz, roots
        self.here = {item.key: item for item in group.items}
        self.quoted: set[str] = set()
        self.day = self.local(group.items[0].at).date()

    def local(self, at: float) -> datetime:
        return datetime.fromtimestamp(at, UTC).astimezone(self.tz)

    def when(self, at: float) -> str:
        """The time; with the date when it is not the conversation's first day (a message
        answered days, or years, before)."""
        moment = self.local(at)
        return f"{moment:%H:%M}" if moment.date() == self.day else f"{moment:%a %d %b %Y, %H:%M}"

    def line(self, item: Item, before: Item | None) -> str:
        said = ", ".join([*(["me"] if item.data.get("me") else []), self.when(item.at)])
        reply = item.data.get("reply")
        if reply:
            said += self._answering(reply)
        elif item.thread is not None and self.group.thread is None and _thread_of(before) != item.thread:
            # a reply right after its thread's last line answers it plainly; after other lines, say whom
            root = self.here.get(item.thread) or self.roots.get(item.thread)
            said += ", in a thread" if root is None else self._answering(
                {"key": root.key, "name": _name(root), "at": root.at, "text": _words(root)})
        return f"{_name(item)} ({said}): {_words(item)}"

    def _answering(self, reply: Mapping) -> str:
        said = f", replying to {reply['name']}" + (f" {self.when(reply['at'])}" if reply.get("at") else "")
        key = reply.get("key")
        if key not in self.here and key not in self.quoted and reply.get("text"):
            if key is not None:
                self.quoted.add(key)
            said += f": “{shorten(reply['text'], REPLY_PREVIEW, inline=True)}”"
        return said


def _name(item: Item) -> str:
    return item.author or "someone"


def _words(item: Item) -> str:
    files = item.data.get("files")
    if not files:
        return item.text
    attached = f"[file: {', '.join(files)}]"
    return f"{item.text} {attached}" if item.text else attached


def _thread_of(item: Item | None) -> str | None:
    return None if item is None else item.thread or item.key


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
