"""Android texts as "SMS Backup & Restore" writes them: one XML file of every SMS and MMS.

``<smses count="..">`` holds ``<sms address date type body contact_name ../>`` (``date`` in ms;
``type`` 1 received, 2 sent; 3 draft, 4 outbox, 5 failed, 6 queued were never sent: left out)
and ``<mms date msg_box address contact_name>`` (``msg_box`` 1 received, 2 sent; ``address``
every other person of a group, ``~`` between them, ``contact_name`` their names, ``, `` between)
with ``<parts><part ct text name cl data/>`` (the words are the ``text/plain`` parts; pictures,
videos, sounds and cards are named, their base64 ``data`` never kept) and ``<addrs><addr
address type/>`` (137: who sent it). Older backups, and Signal's and Silence's plaintext ones in
this format, write an emoji as two numbers of UTF-16 halves (``&#55357;&#56832;``), which no XML
reader accepts: they are joined into the one character first.

Files of hundreds of MB: the XML is streamed, each message forgotten once read, and spilled to
a temporary SQLite file by thread, so memory stays flat; then each thread (the other person,
or the group's people) comes out in time order as one chat. The person's own messages say
``me``, named by the first of ``me`` ("Me" without it). A file cut short is read up to the
break: what came before it comes in, and the break is skipped with its line.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import Field

from bridge.errors import SourceError
from bridge.groups import Item
from connectors.chats.export import Chat, ChatExportConfig, ChatExportConnector, Skipper, message_key

__all__ = ["SmsBackupConfig", "SmsBackupConnector", "SurrogatesJoined"]

CHUNK = 1 << 20
SPILL_BATCH = 2000  # messages written to the scratch file at a time
_HALVES = re.compile(rb"&#(5[5-7]\d{3});(?:&#(5[5-7]\d{3});)?")
_SENT = {"2": True, "1": False}  # sms type / mms msg_box: sent by the person, or received
_KINDS = (("image/gif", "GIF"), ("image/", "photo"), ("video/", "video"), ("audio/", "voice message"),
          ("text/x-vcard", "contact"), ("text/vcard", "contact"), ("text/x-vcalendar", "event"))
_NO_NAME = {"", "null", "(Unknown)"}


class SmsBackupConfig(ChatExportConfig):
    type: Literal["sms-backup"]
    text_source_spec: str = Field(default="sms", min_length=1)


class SmsBackupConnector(ChatExportConnector):
    Config = SmsBackupConfig
    app = "SMS"
    patterns = ("*.xml",)

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        with tempfile.TemporaryDirectory(prefix="omi-bridge-sms-") as folder:
            db = sqlite3.connect(Path(folder) / "threads.db")
            try:
                self._spill(path, db, skip)
                threads = db.execute("SELECT thread, name, people FROM threads ORDER BY thread").fetchall()
                for thread, name, people in threads:
                    if not self.wanted(name, *people.split("~")):
                        continue
                    place = f"group with {name}" if "~" in people else f"chat with {name}"
                    yield Chat(key=f"sms:{thread}", place=place, items=self._items(db, thread))
            finally:
                db.close()

    def _spill(self, path: Path, db: sqlite3.Connection, skip: Skipper) -> None:
        """Every message of the file into ``db`` by thread; memory holds one message at a time."""
        db.execute("PRAGMA journal_mode = OFF")  # a scratch file: nothing to recover after a crash
        db.execute("PRAGMA synchronous = OFF")
        db.execute("CREATE TABLE messages (thread TEXT, at REAL, n INTEGER, key TEXT, author TEXT, text TEXT, "
                   "me INTEGER)")
        db.execute("CREATE TABLE threads (thread TEXT PRIMARY KEY, name TEXT, people TEXT)")
        me = self.config.me[0] if self.config.me else "Me"
        threads: dict[str, tuple[str, str]] = {}  # thread -> its latest name, its people (a few thousand)
        batch: list[tuple[Any, ...]] = []
        n = 0
        with path.open("rb") as raw:
            events = ET.iterparse(SurrogatesJoined(raw), events=("start", "end"))
            root = None
            try:
                for event, element in events:
                    if root is None:
                        root = element
                        if element.tag != "smses":
                            what = "a call log backup" if element.tag == "calls" else f"<{element.tag}>"
                            raise SourceError(f"not an SMS Backup & Restore file of messages ({what})")
                        continue
                    if event != "end" or element.tag not in ("sms", "mms"):
                        continue
                    n += 1
                    message = _sms(element) if element.tag == "sms" else _mms(element)
                    root.clear()  # the message is read: let it go (and its pictures' data)
                    if isinstance(message, str):
                        skip(f"{element.tag} record {n}", message)
                        continue
                    if message is None:
                        continue
                    thread, name, people, at, sent, author, text = message
                    threads[thread] = (name, people)
                    batch.append((thread, at, n, message_key(thread, at, sent, text), me if sent else author, text,
                                  int(sent)))
                    if len(batch) >= SPILL_BATCH:
                        db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
                        batch.clear()
            except ET.ParseError as exc:
                if root is None:
                    raise SourceError(f"not readable XML ({exc})") from None
                line = exc.position[0]
                skip(f"line {line}", f"the XML breaks off here ({_reason(exc)}): the {n} message(s) before it "
                                     "were read")
        db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
        db.executemany("INSERT INTO threads VALUES (?, ?, ?)", [(t, *v) for t, v in threads.items()])
        db.execute("CREATE INDEX by_time ON messages (thread, at, n)")
        if root is None:
            raise SourceError("not readable XML (the file is empty)")

    def _items(self, db: sqlite3.Connection, thread: str) -> Iterator[Item]:
        rows = db.execute("SELECT at, key, author, text, me FROM messages WHERE thread = ? ORDER BY at, n",
                          (thread,))
        seen: set[str] = set()
        for at, key, author, text, me in rows:
            if key in seen:
                continue  # the same message backed up twice in one file (a restore, then a backup)
            seen.add(key)
            yield Item(key=f"sms:{thread}:{key}", scope=f"sms:{thread}", at=at, text=text, author=author,
                       data={"me": True} if me else {})


class SurrogatesJoined:
    """A binary stream with ``&#55357;&#56832;`` (UTF-16 halves as numbers) read as ``&#128512;``,
    and a half without its other half as U+FFFD. A pair cut by the end of a chunk waits for
    the next chunk."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.carry = raw, b""

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(CHUNK if size is None or size < 0 else max(size, 64))
        buf, final = self.carry + data, not data
        cut = len(buf) if final else max(0, len(buf) - 16)  # a pair is 16 bytes at most
        for match in _HALVES.finditer(buf, max(0, cut - 16)):
            if match.start() < cut < match.end():
                cut = match.start()
                break
        self.carry = buf[cut:]
        return _HALVES.sub(_joined, buf[:cut])


def _joined(match: re.Match[bytes]) -> bytes:
    high, low = int(match.group(1)), int(match.group(2)) if match.group(2) else None
    if 0xD800 <= high < 0xDC00 and low is not None and 0xDC00 <= low < 0xE000:
        return b"&#%d;" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    return b"".join(b"&#65533;" if 0xD800 <= v < 0xE000 else b"&#%d;" % v
                    for v in (high, low) if v is not None)


def _reason(exc: ET.ParseError) -> str:
    words = str(exc).split(":")[0]
    return "it ends here: cut short" if "no element found" in words or "unclosed token" in words else words


def _number(address: str) -> str:
    """A phone number as a thread key: its last nine digits (``+49 151 1234567`` and
    ``0151 1234567`` are one person); a sender's name (``DHL``) as it is."""
    digits = re.sub(r"\D", "", address)
    return digits[-9:] if len(digits) >= 7 else address.strip().casefold()


Message = tuple[str, str, str, float, bool, str, str]  # thread, name, people, at, sent, author, text


def _sms(element: ET.Element) -> Message | str | None:
    sent = _SENT.get(element.get("type", ""))
    if sent is None:
        return None  # a draft, or a message that failed to go
    try:
        at = int(element.get("date", "")) / 1000
    except ValueError:
        return f"no readable date ({element.get('date')!r})"
    address = element.get("address") or ""
    if address in _NO_NAME:
        return "no address: whose it is cannot be told"
    name = element.get("contact_name") or ""
    name = address if name in _NO_NAME else name
    body = element.get("body") or ""
    if body in ("", "null"):
        return None
    return _number(address), name, _number(address), at, sent, name, body


def _mms(element: ET.Element) -> Message | str | None:
    sent = _SENT.get(element.get("msg_box", ""))
    if sent is None:
        return None
    try:
        at = int(element.get("date", "")) / 1000
    except ValueError:
        return f"no readable date ({element.get('date')!r})"
    if at > 1e11:  # some phones store mms dates in ms where seconds were meant
        at /= 1000
    others = [a.strip() for a in re.split(r"[~,]", element.get("address") or "") if a.strip() not in _NO_NAME]
    if not others:
        return "no address: whose it is cannot be told"
    names = [n.strip() for n in (element.get("contact_name") or "").split(", ")]
    named = {_number(a): (names[i] if i < len(names) and names[i] not in _NO_NAME else a) for i, a in enumerate(others)}
    thread = "~".join(sorted(named))
    title = ", ".join(sorted(named.values(), key=str.casefold))
    author = ""
    for addr in element.iter("addr"):
        if addr.get("type") == "137":  # PduHeaders.FROM
            author = named.get(_number(addr.get("address") or ""), addr.get("address") or "")
    if not author and len(named) == 1:
        author = title
    words, extras = [], []
    for part in element.iter("part"):
        kind = (part.get("ct") or "").lower()
        if kind == "application/smil":
            continue  # the slide layout
        if kind == "text/plain":
            text = part.get("text") or ""
            if text not in ("", "null"):
                words.append(text)
            continue
        label = next((label for prefix, label in _KINDS if kind.startswith(prefix)), None)
        file = next((v for v in (part.get("name"), part.get("cl"), part.get("fn")) if v and v != "null"), "")
        extras.append(f"[{label}]" if label else f"[file: {file or kind}]")
    text = " ".join(p for p in ("\n".join(words).strip(), *extras) if p)
    if not text:
        return None
    return thread, title, thread, at, sent, author or "someone", text
