"""WhatsApp's "Export chat": a ``.txt`` (Android) or a ``.zip`` holding ``_chat.txt`` (iOS).

The text has no ids, no time zone and no fixed date format: each phone writes its own locale
and calendar.

- A message starts with a date and a time: iOS ``[15/03/2025, 09:41:07] Anna: text`` (before
  2017 ``13/06/15 17:56:34: Anna: text``), Android ``15/03/2025, 09:41 - Anna: text``; 12-hour
  clocks (``9:41 PM``, ``9:41 p. m.``, Canadian ``9:15 in the morning``, Arabic ``٩:٤١ م``,
  often with a narrow no-break space before the marker), ``15.03.25``, year-first dates, the time
  first (Vietnamese ``[21:41:35, 3/27/22]``, ``19:07, 20 Sep 2013``), month names with or without
  a year (``Mar 5, 8:11 PM``: the year comes from the file's other lines or the export's date,
  and turns at January), Arabic-Indic digits and right-to-left marks inside the date, Buddhist
  (``2565 BE``) and Japanese (``R4``) years. Whether ``03/04`` is the 3rd of April or March 4th
  cannot be told from one line: the file's message lines vote (a first field over 12, a second
  over 12), else the order that keeps the dates running forward wins; a chat keeps the order it
  was first read in.
- Lines without a date continue the message before. Lines with a date but no author are the
  app's own (the encryption notice, "Anna added Ben"): left out; so are, on iOS, the app's
  lines put under a name, which start with a left-to-right mark (U+200E). Android puts that
  mark before attachment names and people's own text too: there it means nothing.
- Media is named, not inlined: ``<attached: 00000012-PHOTO-....jpg>``, ``IMG-2024...jpg (file
  attached)``, ``<Media omitted>``, ``image omitted``, a document's ``Resume.pdf • 2 pages
  document omitted``, a caption before or after, and their translations -> ``[photo]``,
  ``[voice message]``, ``[file: name]``, ``[media] caption``. Polls keep their question and
  options, calls and places are named. A deleted message is left out; "<This message was
  edited>" is taken off the text it follows.
- A message's key is stable across exports of the chat: its chat, minute (or second), author
  and text, and its rank among identical messages of that minute.

The file is read twice, line by line: once to decide the date order, the year of dates written
without one and who writes in it, once to read the messages. Memory does not grow with the chat.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

from pydantic import Field

from bridge.errors import SourceError
from bridge.groups import Item
from bridge.zips import member_name, open_member, open_zip
from connectors.chats.export import Chat, ChatExportConfig, ChatExportConnector, Skipper, message_key
from connectors.chats.whatsapp_words import (
    ATTACHED,
    CALL_KINDS,
    CALLS,
    DELETED,
    EDITED,
    FILE_ATTACHED,
    LOCATION,
    MEDIA_WORDS,
    MONTHS,
    NOTICE,
    NOTICE_INSIDE,
    NOTICE_NAME,
    OMITTED,
    POLL,
)

__all__ = ["WhatsAppConfig", "WhatsAppConnector"]

RANKS_KEPT = 4096  # (time, message) pairs remembered for telling identical messages apart
STAMPS_KEPT = 4096  # date-and-time texts remembered once read (a chat repeats its minutes)

# marks that are not text: left-to-right and right-to-left marks and embeddings, byte order marks
_INVISIBLE = re.compile("[\u200e\u200f\u061c\ufeff\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile("[\u202f\u00a0\u2007\u2009]")
_MARK = "\u200e"  # iOS puts it before what the app wrote: media markers, the app's own lines

_TIME = r"(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:[:.](?P<s>\d{2}))?"
# AM, am, a.m., "a. m." (Spanish), Canadian English's parts of the day, Arabic ص (morning) and م
_DAYPART = (r"(?:\s?(?P<ampm>[aApP])\.?\s?[mM]\.?(?![^\W\d_])|\s(?P<part>in the morning|in the afternoon|"
            r"in the evening|at night|noon|midnight)|\s?(?P<ar>[\u0635\u0645]))?")
# 15/03/2025, 3/27/22, 15.03.25, 2025-03-15, Korean "2025. 3. 15.", Japanese era "3/27/R4", "3/27/2565 BE"
_DATE = r"(?P<a>\d{1,4})[./-]\s?(?P<b>\d{1,2})[./-]\s?(?P<era>[RHST])?(?P<c>\d{1,4})(?:\s(?P<be>BE|B\.E\.))?\.?"
_JOIN = r"(?:,|\sà|\sklo|\sum)?\s"
# the forms nearly every export has, tried first: iOS "[15/03/2025, 09:41:07] ", Android
# "15/03/2025, 09:41 - ", old iOS "13/06/15 17:56:34: "; French "26/09/2019 à 22:39 - ",
# Finnish "13.6.2018 klo 21.25.15 - "
_HEADER = re.compile(
    rf"^(?P<open>\[)?{_DATE}{_JOIN}{_TIME}{_DAYPART}(?(open)\]\s|(?P<sep>\s[-\u2013]\s|:\s))(?P<rest>.*)$", re.S)
# the rest: a stamp in brackets or before a dash, read on its own once marks are out of it
_BRACKETED = re.compile(r"^\[(?P<stamp>[^\]\n]{5,48})\]\s(?P<rest>.*)$", re.S)
_DASHED = re.compile(r"^(?P<stamp>[^\n]{5,48}?)\s[-\u2013]\s(?P<rest>.*)$", re.S)
_MONTH = r"(?P<mon>[^\W\d_]{3,}\.?)"
_STAMPS = [re.compile(p, re.I) for p in (
    rf"^{_DATE}{_JOIN}{_TIME}{_DAYPART}$",  # with marks and the Arabic comma taken out
    rf"^{_TIME}{_DAYPART},?\s{_DATE}$",  # Vietnamese: the time first
    rf"^{_MONTH}\s(?P<day>\d{{1,2}}),?(?:\s(?P<year>\d{{4}}),?)?\s{_TIME}{_DAYPART}$",  # Mar 5, 8:11 PM
    rf"^(?P<day>\d{{1,2}})\.?\s{_MONTH}(?:\s(?P<year>\d{{4}}))?,?\s{_TIME}{_DAYPART}$",  # 18 Mar 12:14
    rf"^{_TIME}{_DAYPART},?\s(?P<day>\d{{1,2}})\.?\s{_MONTH}(?:\s(?P<year>\d{{4}}))?$",  # 19:07, 20 Sep 2013
    rf"^{_TIME}{_DAYPART},?\s{_MONTH}\s(?P<day>\d{{1,2}})(?:,?\s(?P<year>\d{{4}}))?$",  # 8:11 PM, Mar 5
)]
_STAMP_MARKS = str.maketrans({"\u200e": None, "\u200f": None, "\u061c": None, "\ufeff": None, "\u060c": ","})
_ERAS = {"R": 2018, "H": 1988, "S": 1925, "T": 1911}  # Reiwa 1 is 2019, Heisei 1 1989, Showa 1 1926
_PM_PARTS = {"in the afternoon", "in the evening", "noon"}

_AUTHOR = re.compile(r"^(?P<name>[^:\n]{1,80}?): (?P<text>.*)$", re.S)

# file names of exports, by language: "WhatsApp Chat with Anna.txt", "WhatsApp Chat - Family.zip"
_CHAT_NAME = re.compile(
    r"^(?:WhatsApp Chat with |WhatsApp Chat mit |Chat de WhatsApp con |Discussion WhatsApp avec |"
    r"Conversa do WhatsApp com |Conversa no WhatsApp com |Chat WhatsApp con |WhatsApp-chat met |"
    r"Чат WhatsApp с контактом |Чат WhatsApp с |Chat WhatsApp s uživatelem |WhatsApp Chat [-\u2013] )"  # noqa: RUF001
    r"(?P<name>.+?)(?: \(\d+\))?$", re.I)


class _Stamp(NamedTuple):
    """A message line's date and time as written. ``named``: the month was a word (``a`` the day,
    ``b`` the month, ``c`` the year or 0); else three numbers in the file's order."""

    a: int
    b: int
    c: int
    named: bool
    hour: int
    minute: int
    second: int
    half: str  # "am", "pm", "night" or ""


class WhatsAppConfig(ChatExportConfig):
    type: Literal["whatsapp"]
    text_source_spec: str = Field(default="whatsapp", min_length=1)
    date_order: Literal["auto", "dmy", "mdy", "ymd"] = Field(
        default="auto", description="auto: decided from the whole file; set it when a chat is too short to tell")


@dataclass
class _Scan:
    """What the first reading of a file finds: the date order, who writes, the year its first
    date without a year is in, how many lines start with a date, and its first line."""

    order: str
    authors: Counter[str]
    start_year: int = 0
    dated: int = 0
    first_line: str = ""


class _Years:
    """The year of dates written without one ("Mar 5"): it goes up when the month goes back
    (December, then January), and a date with a year sets it."""

    def __init__(self, start: int) -> None:
        self.year, self.month = start, 0

    def of(self, month: int, year: int) -> int:
        if year:
            self.year = year
        elif month < self.month:
            self.year += 1
        self.month = month
        return self.year


class WhatsAppConnector(ChatExportConnector):
    Config = WhatsAppConfig
    app = "WhatsApp"
    patterns = ("*.txt", "*.zip")

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        name = chat_name(path)
        if not self.wanted(name):
            return
        key = f"whatsapp:{name}"
        with self._text(path) as (first, exported):
            # a chat read before keeps its date order: a later, longer export must not read its
            # old lines on other days
            scan = self._scan(first, (memory.get(key) or {}).get("order"), exported)
        if not scan.authors:
            if scan.dated:
                return  # only the app's own lines (an export from a linked device): nothing to send
            raise SourceError(f"no line starts with a date in a form I know; first line: '{scan.first_line}'; "
                              "set date_order or tell us the phone's language")
        others = {a for a in scan.authors if not self.is_me(a)}
        place = f"chat with {name}" if others <= {name} else f"group “{name}”"
        yield Chat(key=key, place=place, items=self._items(path, name, scan, skip), info={"order": scan.order})

    # -- the file ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _text(self, path: Path) -> Iterator[tuple[IO[str], datetime]]:
        """The chat's text, decoded as it is read, and when it was exported (the text file's time)."""
        if path.suffix.lower() == ".zip":
            with open_zip(path) as archive:
                names = [(member_name(info), info) for info in archive.infolist()]
                member = next((i for n, i in names if n.rsplit("/", 1)[-1] == "_chat.txt"),
                              next((i for n, i in names if n.lower().endswith(".txt")), None))
                if member is None:
                    raise SourceError("no _chat.txt in the zip: not a WhatsApp export")
                try:
                    exported = datetime(*member.date_time)
                except ValueError:
                    exported = datetime.fromtimestamp(path.stat().st_mtime)
                # damage shows while the text is read (the CRC at its end): a DamagedMember naming it
                with open_member(archive, member) as raw:
                    yield io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=None), exported
        else:
            with path.open(encoding="utf-8-sig", errors="replace", newline=None) as file:
                yield file, datetime.fromtimestamp(path.stat().st_mtime)

    def _scan(self, lines: IO[str], remembered: str | None = None, exported: datetime | None = None) -> _Scan:
        """Decide the date order from the dates of every message line, and count who writes.
        Lines vote: a first field over 12 for day-first, a second over 12 for month-first; one
        stray line (a date quoted inside a message) does not outvote a chat's own. Dates without
        a year count the Januaries they pass, to find the year they start in."""
        fields: list[tuple[int, int, int]] = []
        authors: Counter[str] = Counter()
        votes: Counter[str] = Counter()
        stamps: dict[str, _Stamp | None] = {}
        years, anchor = _Years(0), None
        dated, first_line = 0, ""
        for raw in lines:
            line = _clean(raw)
            head = _head(line, stamps)
            if head is None:
                if not first_line and line.strip():
                    first_line = _INVISIBLE.sub("", line.strip())[:60]
                continue
            dated += 1
            stamp, rest, ios = head
            if stamp.named:
                if stamp.c and anchor is None:
                    anchor = stamp.c - years.year
                years.of(stamp.b, stamp.c)
            if (said := _said(rest, ios)) is None:
                continue
            authors[said[0]] += 1
            if stamp.named:
                continue
            a, b, c = stamp.a, stamp.b, stamp.c
            if a > 31:
                votes["ymd"] += 1
            elif a > 12:
                votes["dmy"] += 1
            elif b > 12:
                votes["mdy"] += 1
            if len(fields) < 5000:
                fields.append((a, b, c))
        if self.config.date_order != "auto":  # type: ignore[attr-defined]
            order = self.config.date_order  # type: ignore[attr-defined]
        elif remembered in ("dmy", "mdy", "ymd"):
            order = remembered
        elif votes:
            order = votes.most_common(1)[0][0]
        else:  # no field tells: the order in which the dates run forward
            order = min(("dmy", "mdy"), key=lambda o: _backwards(fields, o))
        if anchor is None:  # no date says its year: the last one is the export's year (or the one before)
            exported = exported or datetime.now()
            last_year = exported.year - (1 if years.month > exported.month else 0)
            anchor = last_year - years.year
        return _Scan(order, authors, anchor, dated, first_line)

    def _items(self, path: Path, chat: str, scan: _Scan, skip: Skipper) -> Iterator[Item]:
        ranks: Counter[tuple[float, str]] = Counter()
        stamps: dict[str, _Stamp | None] = {}
        years = _Years(scan.start_year)
        pending: tuple[datetime, str, list[str]] | None = None  # when, author, text lines
        notice = False  # the lines after an app's notice are the notice's
        with self._text(path) as (lines, _):
            for number, raw in enumerate(lines, start=1):
                line = _clean(raw.rstrip("\n"))
                head = _head(line, stamps)
                if head is None:
                    if pending is not None:
                        pending[2].append(_INVISIBLE.sub("", line))
                    elif line.strip() and not notice:
                        skip(f"line {number}", "text before the first message")
                    continue
                notice = False
                if pending is not None:
                    if (item := self._item(chat, *pending, ranks)) is not None:
                        yield item
                    pending = None
                stamp, rest, ios = head
                try:
                    when = _when(stamp, scan.order, years)
                except ValueError as exc:
                    skip(f"line {number}", f"unreadable date or time ({exc}): {_INVISIBLE.sub('', line)[:40]}")
                    notice = True  # its further lines go with it
                    continue
                said = _said(rest, ios)
                if said is None:
                    notice = True  # the app's own line
                    continue
                pending = (when, said[0], [said[1]])
        if pending is not None and (item := self._item(chat, *pending, ranks)) is not None:
            yield item

    def _item(self, chat: str, when: datetime, author: str, lines: list[str],
              ranks: Counter[tuple[float, str]]) -> Item | None:
        text = "\n".join(lines).strip()
        if text.endswith(">"):  # "<This message was edited>" closes the text it follows
            text = EDITED.sub("", text)
        if DELETED.match(text):
            return None
        text = _media(text)
        if not text:
            return None
        at = self.local(when)
        same = (at, message_key(author, text))
        if same not in ranks and len(ranks) >= RANKS_KEPT:
            # ranks count among a minute's identical messages: the recent minutes are enough
            # (a phone's clock may step back a little), and memory stays flat
            for old in list(ranks)[: RANKS_KEPT // 2]:
                del ranks[old]
        ranks[same] += 1
        key = f"{chat}:{when:%Y%m%d%H%M%S}:{same[1]}:{ranks[same]}"
        return Item(key=key, scope=f"whatsapp:{chat}", at=at, text=text, author=author,
                    data={"me": True} if self.is_me(author) else {})


def chat_name(path: Path) -> str:
    """The chat's name from its file: "WhatsApp Chat with Anna.txt" -> "Anna"."""
    stem = path.stem
    if stem == "_chat":
        stem = path.parent.name
    match = _CHAT_NAME.match(stem)
    return match["name"].strip() if match else stem


def _clean(line: str) -> str:
    """Plain spaces, and no marks before the date; marks inside the line stay (they tell the
    app's lines from people's)."""
    return _SPACES.sub(" ", line).lstrip("\ufeff\u200e\u200f")


# -- dates -------------------------------------------------------------------------------------


def _head(line: str, stamps: dict[str, _Stamp | None]) -> tuple[_Stamp, str, bool] | None:
    """(date and time, the rest, written by iOS) of a line that starts a message or an app's
    line; None for a line that continues one. ``stamps``: date texts already read."""
    match = _HEADER.match(line)
    if match is not None:
        sep = match["sep"]
        ios = sep is None or sep[0] == ":"
        if sep is None or sep[0] != ":" or match["s"]:  # old iOS always wrote the seconds
            return _numeric(match), match["rest"], ios
    if line[:1] == "[":
        found, ios = _BRACKETED.match(line), True
    elif " - " in line[:52] or " \u2013 " in line[:52]:
        found, ios = _DASHED.match(line), False
    else:
        return None
    if found is None:
        return None
    text = found["stamp"]
    if text not in stamps:
        if len(stamps) >= STAMPS_KEPT:
            stamps.clear()
        stamps[text] = _read_stamp(text)
    stamp = stamps[text]
    return None if stamp is None else (stamp, found["rest"], ios)


def _read_stamp(text: str) -> _Stamp | None:
    """A date and time in any of the forms phones write, marks and the Arabic comma taken out."""
    text = text.translate(_STAMP_MARKS).strip()
    for pattern in _STAMPS:
        match = pattern.match(text)
        if match is None:
            continue
        if "mon" not in pattern.groupindex:
            return _numeric(match)
        word = match["mon"].lower().rstrip(".")
        month = MONTHS.get(word[:4]) or MONTHS.get(word[:3])
        if month is None:
            return None
        return _Stamp(int(match["day"]), month, int(match["year"] or 0), True, int(match["h"]), int(match["m"]),
                      int(match["s"] or 0), _half(match))
    return None


def _numeric(match: re.Match[str]) -> _Stamp:
    a, b, c, era, be, h, m, s, ampm, part, ar = match.group("a", "b", "c", "era", "be", "h", "m", "s", "ampm", "part",
                                                             "ar")
    year = int(c)
    if era:  # Japanese: R4 is the 4th year of Reiwa, 2022
        year += _ERAS[era.upper()]
    elif be:  # Buddhist era: 2565 BE is 2022
        year -= 543
    return _Stamp(int(a), int(b), year, False, int(h), int(m), int(s or 0),
                  _half(match) if ampm or part or ar else "")


def _half(match: re.Match[str]) -> str:
    if match["ampm"]:
        return "pm" if match["ampm"] in "pP" else "am"
    if match["part"]:
        part = match["part"].lower()
        return "night" if part == "at night" else "pm" if part in _PM_PARTS else "am"
    if match["ar"]:
        return "pm" if match["ar"] == "\u0645" else "am"
    return ""


def _when(stamp: _Stamp, order: str, years: _Years) -> datetime:
    if stamp.named:
        day, month = stamp.a, stamp.b
        year = years.of(month, stamp.c)
    else:
        a, b, c = stamp.a, stamp.b, stamp.c
        year, month, day = (c, b, a) if order == "dmy" else (c, a, b) if order == "mdy" else (a, b, c)
    if year < 100:
        year += 2000
    elif year >= 2400:  # a Buddhist-era year written without "BE"
        year -= 543
    hour = stamp.hour
    # a marker that contradicts the hour ("23:59 PM", "00:04 AM") is ignored, as WhatsApp's own viewer does
    if stamp.half and 1 <= hour <= 12:
        evening = stamp.half == "pm" or (stamp.half == "night" and 6 <= hour < 12)
        hour = hour % 12 + (12 if evening else 0)
    return datetime(year, month, day, hour, stamp.minute, stamp.second)


def _backwards(fields: list[tuple[int, int, int]], order: str) -> int:
    """How often the dates run backwards when read in ``order`` (impossible dates count too)."""
    count, last = 0, None
    for a, b, c in fields:
        day, month = (a, b) if order == "dmy" else (b, a)
        if not (1 <= month <= 12 and 1 <= day <= 31):
            count += 1
            continue
        now = (c, month, day)
        if last is not None and now < last:
            count += 1
        last = now
    return count


# -- who said what -----------------------------------------------------------------------------


def _said(rest: str, ios: bool) -> tuple[str, str] | None:
    """(author, text) of a message line's rest, or None for the app's own lines: no author
    ("Anna added Ben"), a notice under anyone's name, or (iOS) a marked text that is no medium."""
    said = _AUTHOR.match(rest)
    if said is None or NOTICE_NAME.search(said["name"]):
        return None
    name = _INVISIBLE.sub("", said["name"]).strip().lstrip("~").strip()  # "~ Name": not in the phone's contacts
    text = _INVISIBLE.sub("", said["text"])
    if not name or NOTICE.match(text.strip()) or any(words in text for words in NOTICE_INSIDE):
        return None
    # iOS marks the app's lines ("‎Boris added you"), and also what people sent that the app
    # describes; Android marks attachment names and people's own words: there it tells nothing
    if ios and said["text"].startswith(_MARK) and not _sent_marked(text.strip()):
        return None
    return name, text


def _sent_marked(text: str) -> bool:
    """A text iOS marks that a person sent: a medium, a deletion, a call, a place, a poll."""
    first = text.split("\n", 1)[0].strip()
    return bool(first) and bool(
        first[0] in "<\u2039" or ATTACHED.search(first) or _omitted(first) or DELETED.match(first) or _call(first)
        or ("://" in first and LOCATION.match(first)) or _poll_head(first))


# -- media and the app's words -----------------------------------------------------------------

_KINDS = {"PHOTO": "photo", "IMG": "photo", "VIDEO": "video", "VID": "video", "AUDIO": "voice message",
          "PTT": "voice message", "AUD": "voice message", "STICKER": "sticker", "STK": "sticker", "GIF": "GIF"}
_OMITTED_KINDS = list(OMITTED)
# a placeholder at the end of a line, a caption (or a document's name) before it
_OMITTED = re.compile("^(?:(?P<before>.*?)\\s)??(?:" + "|".join(
    f"(?P<k{n}>{words})" for n, words in enumerate(OMITTED.values())) + ")\\s*$", re.I | re.S)
# the last word of each placeholder: only a line ending so is looked at closely
_OMITTED_ENDS = {words.rsplit(None, 1)[-1].lower() for phrases in OMITTED.values() for words in phrases.split("|")}
_DOC_TITLE = re.compile(r"\s*•.*$", re.S)  # "Resume.pdf • 2 pages", "• ページ数: 2": the name is before
# iOS writes a document's name (and pages) before it: "Plan • 2 pages <attached: 00000047-Plan.pdf>",
# "Notes.txt <attached: 00000046-Notes.txt>"
_DOC_BEFORE_ATTACHED = re.compile(r"^(?P<title>[^\n<\u2039]+?)\s*(?P<bullet>•[^\n<\u2039]*)?(?=[<\u2039][^:>\n]{2,30}"
                                  r"\s?: \d{8}-(?P<file>[^>\n]+)>\s*$)")
# a poll: "POLL:" (or a translation not listed: one word in capitals and a colon), the question, "OPTION: ..."
_POLL_HEAD = re.compile(r"^[^\W\d_]{3,24}\s?:$")
_OPTION = re.compile(r"^[^\W\d_][^:\n]{0,30}:\s(?P<option>.+)$")


def _media(text: str) -> str:
    """Attachment markers, calls, places and polls as words: ``[photo]``, ``[voice message]``,
    ``[file: name]``, ``[missed voice call]``, ``[location: ...]``, ``[poll: ...]``."""
    if "<" in text or "\u2039" in text:
        if (doc := _DOC_BEFORE_ATTACHED.match(text)) and (doc["bullet"] or doc["file"].startswith(doc["title"])):
            text = text[doc.end():]
        text = ATTACHED.sub(lambda m: _named(m["file"]), text)
    if "(" in text:
        text = FILE_ATTACHED.sub(lambda m: _named(m["wa"] or m["file"]), text)
    first, _, more = text.partition("\n")
    first, more = first.strip(), more.strip()
    if more and (poll := _poll(first, more)):
        return poll
    if (found := _omitted(first)) is not None:  # "<Media omitted>" then a caption on the next line (Android)
        return f"{found} {more}".strip()
    if more and (found := _omitted(text.rsplit("\n", 1)[1].strip())) is not None:  # a caption over lines (iOS)
        return f"{text.rsplit(chr(10), 1)[0].strip()}\n{found}"
    if not more and (call := _call(first)) is not None:
        return call
    if "://" in text:  # a place; Android writes a named one on three lines: name, town, "location: ..."
        return "\n".join(_place(line) for line in text.strip().split("\n"))
    return text.strip()


def _place(line: str) -> str:
    if "://" not in line or not (place := LOCATION.match(line.strip())):
        return line
    where = f"{place['name'].strip()}, " if place["name"] else ""
    return f"[location: {where}{place['url']}]"


def _omitted(line: str) -> str | None:
    """A placeholder line as words: "image omitted" -> "[photo]", "Schöner Tag Bild weggelassen"
    -> "Schöner Tag [photo]", "Resume.pdf • 2 pages document omitted" -> "[file: Resume.pdf]"."""
    if not line:
        return None
    if line[0] in "<\u2039" and line[-1] == ">":
        match = _OMITTED.match(line)
        if match is None:
            return "[media]" if MEDIA_WORDS.match(line) else None
    elif line.rsplit(None, 1)[-1].lower() not in _OMITTED_ENDS:
        return None
    else:
        match = _OMITTED.match(line)
        if match is None:
            return None
    kind = _OMITTED_KINDS[int(next(k for k, v in match.groupdict().items() if v and k[0] == "k")[1:])]
    before = (match["before"] or "").strip()
    if kind == "file":
        name = _DOC_TITLE.sub("", before)
        return f"[file: {name}]" if name else "[file]"
    return f"{before} [{kind}]" if before else f"[{kind}]"


def _call(line: str) -> str | None:
    if len(line) > 80:
        return None
    match = CALLS.match(line)
    if match is None:
        return None
    kind = CALL_KINDS[int(next(k for k, v in match.groupdict().items() if v and k[0] == "c")[1:])]
    detail = (match["detail"] or "").strip(" ,")
    # iOS adds "Tap to call back" (in the phone's language): only a duration is worth keeping
    keep = detail and any(ch.isdigit() for ch in detail)
    return f"[{kind}{f', {detail}' if keep else ''}]"


def _poll(first: str, more: str) -> str | None:
    """``[poll: question — option (votes); option]`` from the app's lines of a poll."""
    if not _poll_head(first):
        return None
    question, _, rest = more.partition("\n")
    options = [_OPTION.match(line.strip()) for line in rest.split("\n") if line.strip()]
    if not options or not all(options):
        return None
    return f"[poll: {question.strip()} — {'; '.join(o['option'].strip() for o in options if o)}]"


def _poll_head(line: str) -> bool:
    return bool(POLL.match(line) or (_POLL_HEAD.match(line) and line.isupper()))


def _named(file: str) -> str:
    """A medium's file name as what it is: iOS "00000012-PHOTO-2024-...jpg", Android "IMG-2024...jpg"."""
    file = file.strip()
    for part in re.split(r"[-_.]", file)[:3]:
        if part.upper() in _KINDS:
            return f"[{_KINDS[part.upper()]}]"
    file = re.sub(r"^\d{8}-", "", file)  # iOS numbers the files of an export
    if file.lower().endswith((".opus", ".m4a")):
        return "[voice message]"
    if file.lower().endswith(".vcf"):
        return f"[contact: {file[:-4]}]"
    return f"[file: {file}]"
