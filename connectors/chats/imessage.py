"""iMessage and SMS from a Mac, as ``imessage-exporter -f txt`` writes them: one ``.txt`` per chat.

A chat's file is named after it (``Anna Schmidt.txt``, ``+15551234567.txt``, a group's title or
its people, ``Anna Schmidt, Ben Müller.txt``). Each message is a block ending in a blank line::

    Mar 15, 2025  9:41:07 AM (Read by you after 2 minutes)
    Anna Schmidt
    Brunch tomorrow?
    Tapbacks:
    Loved by Me

the time in the Mac's zone (the hour space-padded, so two spaces after the year), the read
receipt, the sender (``Me`` for the person), the words over one or more lines, attachments as
their paths (``Attachment missing!`` when gone), links and app messages as their lines, the
message's tapbacks (``Reactions:`` in older versions) and stickers, and the replies in its thread
indented by four spaces under it. An edited message shows each version (``Edited 2 minutes
later: ...``): the last is what was said. An unsent one ("You deleted a message.", "... unsent
this message"), a renamed conversation (one line after its time) and "Sent with Confetti" are
the app's own: left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bridge.errors import SourceError
from bridge.groups import Item
from connectors.chats.export import Chat, ChatExportConfig, ChatExportConnector, Skipper, message_key

__all__ = ["IMessageConfig", "IMessageConnector"]

_STAMP = re.compile(r"^(?P<when>[A-Z][a-z]{2} \d{1,2}, \d{4} +\d{1,2}:\d{2}:\d{2} [AP]M)"
                    r"(?: \(Read by [^)]*\))?(?: (?P<rest>.*))?$")
_EDITED = re.compile(r"^Edited .+? later: (.*)$")
_GONE = re.compile(r"^(You|They|.+) (deleted a message\.|unsent this message.*|removed .*message.*)$")
_EFFECT = re.compile(r"^Sent with [A-Z][\w ]+$")
_REACTION = re.compile(r"^(?P<what>.+?) by (?P<who>.+)$")
_STICKER = re.compile(r"^Sticker from (?P<who>.+?): .+$")
_TAPBACKS = {"Loved": "❤️", "Liked": "👍", "Disliked": "👎", "Laughed": "😂", "Emphasized": "‼️",
             "Questioned": "❓"}
_KINDS = {".jpg": "photo", ".jpeg": "photo", ".heic": "photo", ".png": "photo", ".gif": "GIF", ".mov": "video",
          ".mp4": "video", ".caf": "voice message", ".m4a": "voice message", ".amr": "voice message",
          ".vcf": "contact", ".pluginpayloadattachment": "link preview"}
_REPLY_NOTE = "This message responded to an earlier message."


class IMessageConfig(ChatExportConfig):
    type: Literal["imessage"]
    text_source_spec: str = Field(default="imessage", min_length=1)


class IMessageConnector(ChatExportConnector):
    Config = IMessageConfig
    app = "iMessage"
    patterns = ("*.txt",)

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        name = path.stem
        if name == "orphaned" or not self.wanted(name):
            return  # messages whose chat the database lost: no one to name
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise SourceError(f"not text in UTF-8 ({exc.reason} at byte {exc.start})") from None
        items = sorted(self._items(lines, f"imessage:{name}", skip), key=lambda i: i.at)
        if not items:
            raise SourceError("no iMessage messages in it (is it an imessage-exporter txt file?)")
        others = {i.author for i in items if not i.data.get("me")}
        group = ", " in name or len(others) > 1
        yield Chat(key=f"imessage:{name}", place=f"group “{name}”" if group else f"chat with {name}",
                   items=_once(items))

    def _items(self, lines: list[str], scope: str, skip: Skipper, depth: int = 0,
               parent: Item | None = None) -> Iterator[Item]:
        """The messages of ``lines`` (a whole file, or a thread's replies dedented)."""
        # a time alone on its line begins a message (a thread's replies follow one another without a
        # blank line); a time with words after it does only after a blank line (a renamed conversation),
        # else it is an edited message's first version
        starts = [n for n, line in enumerate(lines) if (found := _STAMP.match(line))
                  and (not found.group("rest") or n == 0 or not lines[n - 1].strip())]
        for at_line, end in zip(starts, [*starts[1:], len(lines)], strict=False):
            block = lines[at_line:end]
            while block and not block[-1].strip():
                block.pop()
            stamp = _STAMP.match(block[0])
            assert stamp is not None
            if stamp.group("rest") or len(block) < 2:
                continue  # "You renamed the conversation to ...": one line, the app's
            try:
                at = self.local(datetime.strptime(" ".join(stamp.group("when").split()), "%b %d, %Y %I:%M:%S %p"))
            except ValueError:
                skip(f"line {at_line + 1}", f"no readable time ({stamp.group('when')})")
                continue
            author = block[1].strip()
            words, reactions, replies, replying = self._body(block[2:])
            me = author == "Me" or self.is_me(author)
            shown = (self.config.me[0] if self.config.me else "Me") if me else author
            text = " ".join(p for p in (words, reactions) if p)
            item = None
            if words:
                data: dict[str, Any] = {"me": True} if me else {}
                if parent is not None:
                    data["reply"] = {"name": parent.author, "at": parent.at, "text": parent.text, "key": parent.key}
                elif replying:
                    data["reply"] = {"name": "an earlier message"}
                item = Item(key=f"{scope}:{message_key(at, author, words)}", scope=scope, at=at, text=text,
                            author=shown, data=data)
                yield item
            if replies:
                yield from self._items(replies, scope, skip, depth + 1, item)

    def _body(self, lines: list[str]) -> tuple[str, str, list[str], bool]:
        """(words, reactions, the thread's replies dedented, whether it answers an earlier message)."""
        words: list[str] = []
        reactions: list[str] = []
        replies: list[str] = []
        in_reactions = replying = False
        for line in lines:
            if (replies and not line.strip()) or (line.startswith("    ") and (replies or _STAMP.match(line[4:]))):
                replies.append(line[4:])
                continue
            text = line.strip()
            if text in ("Tapbacks:", "Reactions:"):
                in_reactions = True
            elif in_reactions and (_STICKER.match(text) or _REACTION.match(text)):
                sticker = _STICKER.match(text)
                if sticker:
                    reactions.append(f"sticker from {_who(sticker.group('who'))}")
                else:
                    found = _REACTION.match(text)
                    assert found is not None
                    what = found.group("what")
                    reactions.append(f"{_TAPBACKS.get(what, what)} from {_who(found.group('who'))}")
            elif text == _REPLY_NOTE:
                replying = True
            elif _GONE.match(text) or _EFFECT.match(text):
                continue
            elif _EDITED.match(text):
                words = [_EDITED.match(text).group(1)]  # type: ignore[union-attr]  # the latest version
            elif _STAMP.match(text) and _STAMP.match(text).group("rest"):  # type: ignore[union-attr]
                words = [_STAMP.match(text).group("rest")]  # type: ignore[union-attr]  # an edit's first version
            else:
                in_reactions = False
                words.append(_attachment(text))
        said = "\n".join(words).strip()
        return said, f"({', '.join(reactions)})" if reactions and said else "", replies, replying


def _who(name: str) -> str:
    return "me" if name == "Me" else name


def _attachment(line: str) -> str:
    """An attachment's path as what it is: ``[photo]``, ``[file: Plan.pdf]``; other lines as they are."""
    if line == "Attachment missing!":
        return "[attachment]"
    if not re.match(r"^(/|~/|attachments/)\S", line):
        return line
    name = line.rsplit("/", 1)[-1]
    suffix = Path(name).suffix.lower()
    if not suffix:
        return line
    return f"[{_KINDS[suffix]}]" if suffix in _KINDS else f"[file: {name}]"


def _once(items: list[Item]) -> Iterator[Item]:
    """A reply shows under its thread and again in time order (newer exporters): said once."""
    seen: set[str] = set()
    for item in items:
        if item.key not in seen:
            seen.add(item.key)
            yield item
