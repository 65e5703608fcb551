"""LINE's "Save chat" / "Send chat history" text (``[LINE] Chat with Anna.txt``).

A header in the phone's language (``[LINE] Chat history with Anna``, ``... in Family`` for a
group, ``[LINE] Annaとのトーク履歴``; ``Saved on: 2025/03/16 10:30``), then days: a day line
(``2025/03/15(Sat)``, ``Sat, 03/15/2025``, ``Sa., 15.03.2025``) and the day's messages as
tab-separated ``time<TAB>name<TAB>text`` (``09:41``, ``9:41 PM``, ``午後9:41``). A message on
several lines is in double quotes. Media are bracketed words in the phone's language
(``[Photo]``, ``[写真]``, ``[Sticker]``...); calls ``☎ Call time 12:34``, ``☎ Missed call``;
unsent messages and a line without a name (joins, invitations) are the app's own: left out.
LINE writes no zone: the times are the phone's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bridge.errors import SourceError
from bridge.groups import Item
from connectors.chats.export import Chat, ChatExportConfig, ChatExportConnector, Skipper, message_key

__all__ = ["LineConfig", "LineConnector"]

_HEADER = re.compile(r"^\ufeff?\[LINE\]\s*(?:Chat history (?P<kind>with|in) (?P<name>.+?)"
                     r"|(?P<jp>.+?)(?P<jpkind>との|の)トーク履歴|(?P<other>.+))\s*$")
_DAYS = (re.compile(r"^(?P<y>\d{4})[/.-](?P<m>\d{1,2})[/.-](?P<d>\d{1,2})\s*[(\uff08].+[)\uff09]\s*$"),  # (Sat), (土)
         re.compile(r"^\w+\.?, (?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\s*$"),
         re.compile(r"^\w+\.?, (?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})\s*$"))
_TIME = re.compile(r"^(?P<pre>午前|午後)?(?P<h>\d{1,2}):(?P<min>\d{2})(?:\s*(?P<ampm>[AaPp][Mm]))?$")
_MEDIA = {"photo": "photo", "写真": "photo", "foto": "photo", "video": "video", "動画": "video",
          "sticker": "sticker", "スタンプ": "sticker", "file": "file", "ファイル": "file",
          "voice message": "voice message", "ボイスメッセージ": "voice message", "contact": "contact",
          "連絡先": "contact", "location": "location", "位置情報": "location", "album": "album", "アルバム": "album",
          "gif": "GIF", "note": "note", "ノート": "note"}
_CALL = re.compile(r"^☎\s*(?:(?:Call time|通話時間|Anrufdauer)\s*(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d{2})"
                   r"|(?P<missed>.+))$")
_UNSENT = re.compile(r"(unsent a message|送信を取り消しました|hat eine Nachricht zurückgenommen)\.?$")


class LineConfig(ChatExportConfig):
    type: Literal["line"]
    text_source_spec: str = Field(default="line", min_length=1)


class LineConnector(ChatExportConnector):
    Config = LineConfig
    app = "LINE"
    patterns = ("*.txt",)

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except UnicodeDecodeError as exc:
            raise SourceError(f"not text in UTF-8 ({exc.reason} at byte {exc.start})") from None
        header = _HEADER.match(lines[0]) if lines else None
        if header is None:
            raise SourceError("not a LINE chat history (no “[LINE] Chat history” line at its top)")
        name = (header.group("name") or header.group("jp") or header.group("other") or path.stem).strip()
        group = header.group("kind") == "in" or header.group("jpkind") == "の"
        if not self.wanted(name):
            return
        yield Chat(key=f"line:{name}", place=f"group “{name}”" if group else f"chat with {name}",
                   items=self._items(lines, f"line:{name}", skip))

    def _items(self, lines: list[str], scope: str, skip: Skipper) -> Iterator[Item]:
        day: date | None = None
        seen: dict[str, int] = {}
        n = 1
        while n < len(lines):
            line = lines[n]
            n += 1
            found = next((d for d in (p.match(line) for p in _DAYS) if d), None)
            if found:
                day = date(int(found.group("y")), int(found.group("m")), int(found.group("d")))
                continue
            fields = line.split("\t")
            if len(fields) < 3 or day is None or not _TIME.match(fields[0].strip()):
                continue  # the header's lines, blank lines, a system line (two fields)
            start = n
            text = "\t".join(fields[2:])
            if text.startswith('"') and not (len(text) > 1 and text.endswith('"')):
                # several lines in quotes: up to the line that ends the quote
                parts = [text[1:]]
                while n < len(lines) and not lines[n].endswith('"'):
                    parts.append(lines[n])
                    n += 1
                if n < len(lines):
                    parts.append(lines[n][:-1])
                    n += 1
                text = "\n".join(parts).replace('""', '"')
            elif text.startswith('"') and text.endswith('"') and len(text) > 1 and "\n" not in text:
                text = text[1:-1].replace('""', '"')
            author = fields[1].strip()
            if not author:
                continue  # joins and invitations have no name
            moment = _TIME.match(fields[0].strip())
            assert moment is not None
            hour = int(moment.group("h"))
            if moment.group("ampm") or moment.group("pre"):
                hour = hour % 12 + (12 if (moment.group("ampm") or "").lower() == "pm" or moment.group("pre") == "午後"
                                    else 0)
            try:
                at = self.local(datetime(day.year, day.month, day.day, hour, int(moment.group("min"))))
            except ValueError:
                skip(f"line {start}", f"no readable time ({fields[0]})")
                continue
            words = _words(text.strip(), author)
            if not words:
                continue
            base = message_key(at, author, words)
            seen[base] = seen.get(base, -1) + 1
            data: dict[str, Any] = {"me": True} if self.is_me(author) else {}
            yield Item(key=f"{scope}:{base}:{seen[base]}", scope=scope, at=at, text=words, author=author, data=data)


def _words(text: str, author: str) -> str:
    if _UNSENT.search(text):
        return ""
    call = _CALL.match(text)
    if call:
        if call.group("missed"):
            return "[missed call]"
        seconds = int(call.group("h") or 0) * 3600 + int(call.group("m")) * 60 + int(call.group("s"))
        return f"[call, {max(1, round(seconds / 60))} min]"
    bracket = re.fullmatch(r"\[(.+?)\]", text)
    if bracket and bracket.group(1).casefold() in _MEDIA:
        return f"[{_MEDIA[bracket.group(1).casefold()]}]"
    return text
