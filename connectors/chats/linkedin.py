"""LinkedIn messages, from "Get a copy of your data": ``messages.csv``.

Columns ``CONVERSATION ID, CONVERSATION TITLE, FROM, SENDER PROFILE URL, TO, RECIPIENT PROFILE
URLS, DATE (2025-03-15 08:41:07 UTC), SUBJECT, CONTENT, FOLDER`` (newer files add ``ATTACHMENTS``
and ``IS MESSAGE DRAFT``), newest first, the conversations mixed. ``CONTENT`` is often HTML
(``<p>``, links, entities; InMail and sponsored messages wholly so): read as text. Drafts are
left out. The person's own messages are those from ``me``, else from the one name found in
every conversation of the file.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from inscriptis import get_text
from pydantic import Field

from bridge.errors import SourceError
from bridge.groups import Item
from connectors.chats.export import Chat, ChatExportConfig, ChatExportConnector, Skipper, message_key

__all__ = ["LinkedInConfig", "LinkedInConnector"]

_LINK = re.compile(r"<a\s[^>]*href=\"([^\"]+)\"[^>]*>(.*?)</a>", re.S | re.I)
_NEEDED = {"CONVERSATION ID", "FROM", "DATE", "CONTENT"}


class LinkedInConfig(ChatExportConfig):
    type: Literal["linkedin"]
    text_source_spec: str = Field(default="linkedin", min_length=1)


class LinkedInConnector(ChatExportConnector):
    Config = LinkedInConfig
    app = "LinkedIn"
    patterns = ("messages.csv", "*messages*.csv")

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(f"not text in UTF-8 ({exc.reason} at byte {exc.start})") from None
        rows = csv.DictReader(io.StringIO(text, newline=""))
        if not {(f or "").strip().upper() for f in rows.fieldnames or []} >= _NEEDED:
            raise SourceError("not LinkedIn's messages.csv (no CONVERSATION ID, FROM, DATE and CONTENT columns)")
        chats: dict[str, list[tuple[float, int, dict[str, str]]]] = defaultdict(list)
        people: dict[str, set[str]] = defaultdict(set)
        for n, raw in enumerate(rows, start=2):  # line 1 is the header; a quoted field may span lines
            row = {(k or "").strip().upper(): (v or "") for k, v in raw.items() if k}
            if row.get("IS MESSAGE DRAFT", "").lower() == "true" or row.get("FOLDER", "").upper() == "DRAFT":
                continue
            try:
                at = datetime.strptime(row["DATE"].strip().removesuffix(" UTC"), "%Y-%m-%d %H:%M:%S").replace(
                    tzinfo=UTC).timestamp()
            except ValueError:
                skip(f"record {n - 1}", f"no readable DATE ({row['DATE']!r})")
                continue
            conversation = row["CONVERSATION ID"].strip()
            chats[conversation].append((at, n, row))
            people[conversation] |= {row["FROM"].strip(), *(t.strip() for t in row.get("TO", "").split(","))}
        mine = set(self._me) or _everywhere(people)
        for conversation, messages in chats.items():
            messages.sort(key=lambda t: (t[0], t[1]))
            title = next((r.get("CONVERSATION TITLE", "").strip() for _, _, r in messages
                          if r.get("CONVERSATION TITLE", "").strip()), "")
            others = sorted(p for p in people[conversation] if p and p.casefold() not in mine)
            if not self.wanted(title, conversation, *others):
                continue
            place = (f"conversation “{title}”" if title else
                     f"chat with {others[0]}" if len(others) == 1 else f"group with {', '.join(others) or 'someone'}")
            yield Chat(key=f"linkedin:{conversation}", place=place, items=self._items(conversation, messages, mine))

    def _items(self, conversation: str, messages: list[tuple[float, int, dict[str, str]]],
               mine: set[str]) -> Iterator[Item]:
        for at, _, row in messages:
            words = _text(row.get("CONTENT", ""))
            subject = row.get("SUBJECT", "").strip()
            if subject:
                words = f"[subject: {subject}] {words}".strip()
            for name in filter(None, (a.strip() for a in row.get("ATTACHMENTS", "").split(","))):
                words += f" [file: {name.rsplit('/', 1)[-1].split('?')[0]}]"
            words = words.strip()
            if not words:
                continue
            author = row["FROM"].strip() or "someone"
            data: dict[str, Any] = {"me": True} if author.casefold() in mine else {}
            key = message_key(at, author, words)
            yield Item(key=f"linkedin:{conversation}:{key}", scope=f"linkedin:{conversation}", at=at, text=words,
                       author=author, data=data)


def _text(content: str) -> str:
    """CONTENT as plain text: HTML read as a browser shows it, a link's address kept after its
    words; plain text as it is."""
    if not (("<" in content and ">" in content) or "&" in content):
        return content.strip()
    if "<" not in content:  # plain text with an entity or two: its line breaks stay
        content = content.replace("\r\n", "<br>").replace("\n", "<br>")
    return get_text(_LINK.sub(_link, content)).strip()


def _link(found: re.Match[str]) -> str:
    href, words = html.unescape(found.group(1)), found.group(2)
    return found.group(0) if get_text(words).strip() == href else f"{found.group(0)} ({html.escape(href)})"


def _everywhere(people: dict[str, set[str]]) -> set[str]:
    """The name in every conversation: the person who downloaded them (two conversations at least)."""
    if len(people) < 2:
        return set()
    common = set.intersection(*({p.casefold() for p in names if p} for names in people.values()))
    return common if len(common) == 1 else set()
