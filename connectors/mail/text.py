"""One email (raw RFC 5322 bytes) -> one Conversation, or SkipItem with the reason.

The text is a short header block (Subject, From, To, Cc, Date) and the body: text/plain when a
non-empty one exists, else the HTML part laid out as text by inscriptis (no tags, no style or
script); a part whose Content-Type is broken is sniffed as clients do. Quoted replies and signatures
are cut (connectors.mail.replies), and a cut that would leave nothing keeps the whole text;
attachments are named, not inlined; invitations (text/calendar, .ics) are rendered as text
(connectors.mail.invitation). Headers are parsed by the stdlib (compat32, decoding RFC 2047
ourselves); the body's MIME tree by fast-mail-parser, with the stdlib parser as the fallback for
anything it refuses (broken base64, say).
"""

from __future__ import annotations

import base64
import email
import email.header
import email.utils
import fnmatch
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

import fast_mail_parser

from bridge.errors import SkipItem
from bridge.models import PRIORITY_LIVE, Conversation, Skip, as_utc
from bridge.text import decode_declared
from connectors.mail.invitation import render_calendar
from connectors.mail.replies import author_text

__all__ = [
    "MESSAGE_ID", "MailFilter", "MailJob", "MailPiece", "automated_reason", "convert", "convert_all", "decode_header",
    "email_to_conversation", "email_to_piece", "message_key", "parse",
]

# Past this, reply/signature detection is skipped: its regexes are not linear on huge bodies,
# and a 100,000-character mail is a document, not a reply.
REPLY_PARSE_LIMIT = 50_000
_NO_REPLY = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+._-].*)?$", re.I)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FORWARD_PREFIX = re.compile(r"^\s*(?:(?:fwd?|fw|wg|tr|rv|i|vs|doorst|enc|pd|přeposl)\s*:\s*)+", re.IGNORECASE)
_SURROGATE = re.compile("[\udc80-\udcff]")  # bytes the stdlib could not decode, escaped
_NOT_CONTROL = bytes(byte for byte in range(256) if byte >= 32 or byte in (9, 10, 12, 13, 27))
# the first bytes of files that are not mail, for the reason a skip gives
_NOT_MAIL = {
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "an Outlook .msg (OLE) file, not a MIME message: save the mail as .eml",
    b"PK\x03\x04": "a ZIP archive, not a MIME message",
    b"%PDF": "a PDF file, not a MIME message",
}
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n){2,}")  # three or more line breaks, blank lines between
MESSAGE_ID = re.compile(r"<([^<>\s]+@[^<>\s]+)>")


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=compat32)


# a line in the header block that is no field ("Name:") and not folded (no leading space or tab)
_UNFOLDED = re.compile(rb"\n(?![ \t]|[!-9;-~]+:|\r?\n)")
_FIELD_LINE = re.compile(rb"\n[!-9;-~]+:")


def unfolded(raw: bytes) -> bytes:
    """``raw`` with header lines that a sender folded without the leading space or tab RFC 5322
    asks for joined to the header above them, as mail clients read them. Otherwise the stdlib
    ends the header block there, and the rest of the headers, the MIME boundaries and raw
    quoted-printable become the body. Only a line with more fields below it is a fold: a body
    that starts without an empty line after the headers stays the body."""
    end = _HEADER_END.search(raw)
    head = raw[: end.start()] if end else raw
    found = _UNFOLDED.search(head)
    if found is None or _FIELD_LINE.search(head, found.end()) is None:
        return raw
    lines = head.split(b"\n")
    last_field = max(n for n, line in enumerate(lines) if _FIELD_LINE.match(b"\n" + line))
    repaired = [lines[0]] + [b" " + line if n <= last_field and line and line[:1] not in b" \t"
                             and not _FIELD_LINE.match(b"\n" + line) else line
                             for n, line in enumerate(lines[1:], start=1)]
    return b"\n".join(repaired) + raw[len(head):]


def parse_headers(raw: bytes) -> Message:
    """The top-level headers only. The stdlib's header parser still reads every line of the
    body, so it is handed the header block alone (up to the first empty line)."""
    end = _HEADER_END.search(raw)
    return BytesHeaderParser(policy=compat32).parsebytes(raw[: end.end()] if end else raw)


def decode_header(value: object, hint: str | None = None) -> str:
    """An RFC 2047 header as text, whatever its charsets; folding whitespace collapsed."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        # compat32 hands raw 8-bit header bytes (UTF-8 per RFC 6532, or a legacy charset) over
        # as an "unknown-8bit" Header whose str() is U+FFFD: decode those bytes like a body
        value = "".join(_header_bytes(chunk, hint) if isinstance(chunk, bytes) else chunk
                        for chunk, _ in email.header.decode_header(value))
    text = _unescape(str(value), hint)
    try:
        chunks = email.header.decode_header(text)
    except Exception:  # malformed encoded-words: show them as they are
        return " ".join(text.split())
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            # words outside encoded-words come back as raw-unicode-escape bytes
            out.append(decode_declared(chunk, charset) if charset else chunk.decode("raw-unicode-escape"))
        else:
            out.append(chunk)
    # decode_header drops the space between an encoded word and plain text; keep words apart
    joined = ""
    for piece in out:
        if joined and not joined[-1].isspace() and piece and not piece[0].isspace() and len(chunks) > 1:
            joined += " "
        joined += piece
    return " ".join(joined.split())


def _unescape(text: str, hint: str | None = None) -> str:
    """Text the stdlib read as ASCII with surrogate escapes, with its raw bytes decoded."""
    if text.isascii():
        # raw ISO-2022-JP, as old Japanese mailers send it, else plain ASCII
        return decode_declared(text.encode("ascii"), None) if "\x1b" in text else text
    if _SURROGATE.search(text) is None:
        return text
    return _header_bytes(text.encode("ascii", "surrogateescape"), hint)


def _header_bytes(data: bytes, hint: str | None = None) -> str:
    """Raw 8-bit header bytes: UTF-8 (RFC 6532) when they are; else the message's own charset
    (``hint``: mailers that write raw headers write them in their body's charset); else a
    detected charset when there are enough bytes to tell; else windows-1252 (detection guesses
    wildly on a few bytes: "\\xdcberweisung" is Latin-1, not CJK)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    label = (hint or "").strip().strip('"').lower()
    if label and label not in ("us-ascii", "ascii", "utf-8"):
        try:
            return data.decode(label)
        except (LookupError, UnicodeDecodeError):
            pass
    import charset_normalizer

    if sum(1 for byte in data if byte > 127) >= 8:
        best = charset_normalizer.from_bytes(data).best()
        if best is not None:
            return str(best)
    try:
        return data.decode("windows-1252")
    except UnicodeDecodeError:  # bytes windows-1252 leaves undefined: not it, whatever the length
        best = charset_normalizer.from_bytes(data).best()
        return str(best) if best is not None else data.decode("latin-1")  # never U+FFFD in a name


_CHARSET_BYTES = re.compile(rb"""charset\s*=\s*["']?([\w.:-]{2,40})""", re.IGNORECASE)


def _header_charset(raw: bytes, declared: object) -> str | None:
    """The charset raw 8-bit headers are most likely in: the top-level one declared; else, when
    the headers hold bytes that are not UTF-8, the first a part declares (mailers write raw
    headers in their body's charset); else one detected from the headers and the body together
    (a name alone is too short to tell Big5 from Shift_JIS)."""
    if isinstance(declared, str):
        return declared
    end = _HEADER_END.search(raw)
    head = raw[: end.start()] if end else raw
    if head.isascii():
        return None
    try:
        head.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    if found := _CHARSET_BYTES.search(raw, len(head), len(head) + 65536):
        return found.group(1).decode("ascii")
    import charset_normalizer

    eight_bit = b"\n".join(line for line in head.split(b"\n") if not line.isascii())
    best = charset_normalizer.from_bytes(eight_bit + b"\n" + raw[len(head): len(head) + 8192]).best()
    return best.encoding if best is not None else None


def message_key(msg: Message, raw: bytes) -> str:
    """The outbox key: the Message-ID, else a hash of the raw message (RFC 5322 3.6.4)."""
    mid = " ".join(str(msg.get("Message-ID", "") or "").split()).strip("<>")
    if mid and len(mid) < 500 and "@" in mid:
        return f"mid:{mid}"
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def automated_reason(msg: Message) -> str | None:
    """Why this looks like mail no person wrote (RFC 3834 and what bulk senders add), or None."""
    auto = str(msg.get("Auto-Submitted", "") or "").strip().lower()
    if auto and auto != "no":
        return f"automated: Auto-Submitted: {auto}"
    precedence = str(msg.get("Precedence", "") or "").strip().lower()
    if precedence in ("bulk", "list", "junk"):
        return f"automated: Precedence: {precedence}"
    for header in ("List-Id", "List-Unsubscribe", "X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if msg.get(header) is not None:
            return f"automated: {header} header"
    if msg.get_content_type() == "multipart/report":
        return "automated: delivery report (bounce)"
    if str(msg.get("Return-Path", "")).strip() == "<>":
        return "automated: null Return-Path (bounce)"
    _, address = email.utils.parseaddr(decode_header(msg.get("From")))
    if _NO_REPLY.match(address.split("@")[0]) if address else False:
        return f"automated: sender {address}"
    return None


def _authored(body: str, subject: str, languages: tuple[str, ...]) -> str:
    """What the author wrote (see connectors.mail.replies); a forwarded message's subject is
    kept when nothing else says what was forwarded."""
    if len(body) > REPLY_PARSE_LIMIT:
        return body
    try:
        authored = author_text(body, languages)
    except Exception:  # a parser bug must not lose the mail: keep the whole text
        return body
    text = authored.text
    if not text.strip():  # whatever the cut, it never leaves nothing: a leak is better than a loss
        return body
    forwarded = authored.history_subject
    said = subject.lower() + text.lower()
    if (forwarded and (authored.forward or _FORWARD_PREFIX.match(subject))
            and _FORWARD_PREFIX.sub("", forwarded).strip().lower() not in said):
        text = f"{text}\n\nForwarded: {forwarded}".strip()
    return text


def not_mail_reason(raw: bytes) -> str | None:
    """Why ``raw`` is not a mail message at all (a binary file), or None."""
    for magic, reason in _NOT_MAIL.items():
        if raw.startswith(magic):
            return reason
    head = raw[:4096]
    controls = len(head.translate(None, _NOT_CONTROL))
    if b"\x00" in head or controls > len(head) // 20:
        return "binary data, not a MIME message"
    return None


def _filename(part: Message) -> str | None:
    raw = [(key, value) for key, value in part.raw_items() if key.lower() in ("content-disposition", "content-type")]
    decoded = [(key, _unescape(value)) for key, value in raw]
    if decoded != raw:  # a raw 8-bit file name
        part = Message()
        for key, value in decoded:
            part[key] = value
    name = part.get_filename()
    return decode_header(name) if name else None


_PARAM = re.compile(r"<param>.*?</param>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<(/?[A-Za-z0-9-]{1,60})>")


def _enriched_to_text(text: str, richtext: bool) -> str:
    """text/enriched (RFC 1896) or text/richtext (RFC 1341) as plain text: formatting commands
    dropped, their line breaks kept. Enriched: a lone line break is a space, n breaks are n-1;
    "<<" is "<". Richtext: line breaks are <nl> only, "<lt>" is "<"."""
    text = _PARAM.sub("", text.replace("\r\n", "\n"))
    if richtext:
        text = re.sub(r"\s*\n\s*", " ", text)
        text = re.sub(r"<nl>", "\n", text, flags=re.IGNORECASE)
        text = re.sub(r"<np>", "\n\n", text, flags=re.IGNORECASE)
        parts = re.split(r"<lt>", text, flags=re.IGNORECASE)
        return "<".join(_TAG.sub("", part) for part in parts)
    text = re.sub(r"\n+", lambda breaks: " " if len(breaks.group()) == 1 else "\n" * (len(breaks.group()) - 1), text)
    parts = text.split("<<")
    return "<".join(_TAG.sub("", part) for part in parts)


_CALENDAR_TYPES = ("text/calendar", "application/ics", "text/x-vcalendar", "application/x-ics")
_MIME_TYPE = re.compile(r"^[a-z0-9][\w!#$&^.+-]*/[\w!#$&^.+-]+$")
_HTML_START = re.compile(rb"\s*(?:<!--.*?-->\s*)?<(?:!doctype\s+html|html|head|body|div|p|table|br|span|meta|font)\b",
                         re.IGNORECASE | re.DOTALL)
_HR = re.compile(r"<hr\b[^>]*>", re.IGNORECASE)
_HR_TEXT = "<div>" + "_" * 32 + "</div>"


def _sniffed(declared: str, payload: bytes) -> str:
    """The type of a part whose Content-Type is broken ("text/plain>", "<html>", "text"), read as
    mail clients do: HTML when it says so or its text opens with a tag, else plain text (RFC 2045's
    default). One that names another kind ("application", "image/") or holds binary is no text."""
    if "html" in declared or _HTML_START.match(payload[:1024]):
        return "text/html"
    if declared.lstrip("<\"' ").startswith(("application", "image", "audio", "video", "model", "font")) \
            or b"\x00" in payload[:4096]:
        return "application/octet-stream"
    return "text/plain"


class _Parts:
    """Collects the first non-empty text/plain, the first text/html, the first text/enriched or
    text/richtext, and attachment names."""

    def __init__(self) -> None:
        self.plain: str | None = None
        self.html: str | None = None
        self.enriched: str | None = None
        self.attachments: list[str] = []
        self.events: list[str] = []  # invitations rendered as text
        self._seen_events: set[tuple[str, str]] = set()
        self._calendars: set[bytes] = set()

    def add(self, ctype: str, disposition: str, name: str | None, payload: bytes | None, charset: str | None) -> None:
        if not _MIME_TYPE.match(ctype):
            ctype = _sniffed(ctype, payload or b"")
        if ctype in _CALENDAR_TYPES or (name or "").lower().endswith((".ics", ".vcs")):
            calendar = decode_declared(payload or b"", charset).encode("utf-8")
            if calendar not in self._calendars:  # Gmail sends the same file inline and as invite.ics
                self._calendars.add(calendar)
                if rendered := render_calendar(calendar, None, self._seen_events):  # None: the machine's zone
                    self.events.append(rendered)
        if disposition == "attachment" or (name and not ctype.startswith("text/")):
            self.attachments.append(f"{name or 'unnamed'} ({ctype})")
        elif ctype == "text/plain" and self.plain is None:
            text = decode_declared(payload or b"", charset)
            if text.strip():
                self.plain = text
        elif ctype == "text/html" and self.html is None:
            self.html = decode_declared(payload or b"", charset)
        elif ctype in ("text/enriched", "text/richtext") and self.enriched is None:
            self.enriched = _enriched_to_text(decode_declared(payload or b"", charset), ctype == "text/richtext")
        elif not ctype.startswith(("text/", "multipart/", "message/")) and name:
            self.attachments.append(f"{name} ({ctype})")

    def text(self) -> tuple[str, list[str], str]:
        """The body's text, the attachments named, and the invitations rendered."""
        events = "\n\n".join(self.events)
        if self.plain is not None:
            return self.plain, self.attachments, events
        if self.html is not None:
            from inscriptis import get_text  # lxml with it: 4 MB an idle daemon need not hold

            try:
                # inscriptis drops <hr>; as a line it still parts a reply from the history under it
                return get_text(_HR.sub(_HR_TEXT, self.html)), self.attachments, events
            except Exception:  # inscriptis on broken markup: fall back to tag-stripped text
                return re.sub(r"<[^>]+>", " ", self.html), self.attachments, events
        return self.enriched or "", self.attachments, events


_CHARSET = re.compile(r"""charset\s*=\s*"?([^";\s]+)""", re.IGNORECASE)


def _body_fast(raw: bytes) -> tuple[str, list[str], str]:
    """The body through fast-mail-parser's MIME tree (Rust, ~20x the stdlib's speed). It hands
    over transfer-decoded bytes, so the charset chain is still ours. Raises on what it cannot
    parse (broken base64, say); the caller then uses the stdlib."""
    parts = _Parts()

    def walk(part: Any) -> None:
        if part.children:
            for child in part.children:
                walk(child)
            return
        header = (part.headers.get("Content-Type") or [""])[0]
        charset = _CHARSET.search(header)
        name = part.filename or None
        if name and "=?" in name:  # an encoded word it left as written (unquoted: name==?utf-8?B?...?=)
            name = decode_header(name)
        content = _odd_base64((part.headers.get("Content-Transfer-Encoding") or [""])[0], part.content)
        parts.add((part.content_type or "text/plain").lower(), (part.disposition or "").lower(),
                  name, content, charset.group(1) if charset else None)

    walk(fast_mail_parser.parse_email_tree(raw))
    return parts.text()


_BASE64_LINES = re.compile(rb"[A-Za-z0-9+/=\r\n]+")  # base64 text: no spaces within its lines


def _odd_base64(encoding: str, payload: bytes | None) -> bytes | None:
    """``payload`` base64-decoded when its transfer encoding names base64 in a way the parsers
    miss (" Base64 ", '"base64"', "base-64"), as mail clients still read it; else as it is."""
    if not payload or encoding.lower() == "base64":  # the parsers decoded that one
        return payload
    if encoding.strip(" \t\"';").lower().replace("-", "") != "base64" or not _BASE64_LINES.fullmatch(payload.strip()):
        return payload
    try:
        return base64.b64decode(re.sub(rb"\s", b"", payload) + b"==")
    except ValueError:
        return payload


def _body(msg: Message) -> tuple[str, list[str], str]:
    """The body through the stdlib parser: slower, and takes anything."""
    parts = _Parts()
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            payload = str(part.get_payload() or "").encode("utf-8", "replace")
        payload = _odd_base64(str(part.get("Content-Transfer-Encoding", "") or ""), payload)
        declared = str(part.get("Content-Type", "") or "").split(";")[0].strip().lower()
        ctype = part.get_content_type() if not declared or _MIME_TYPE.match(declared) else declared
        parts.add(ctype, str(part.get("Content-Disposition", "") or "").split(";")[0].strip().lower(),
                  _filename(part), payload, part.get_content_charset())
    return parts.text()


def _date(msg: Message, fallback: datetime | None) -> datetime:
    value = msg.get("Date")
    if value:
        try:
            return as_utc(email.utils.parsedate_to_datetime(str(value)))
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    return as_utc(fallback) if fallback else datetime.now(UTC)


@dataclass(frozen=True)
class MailFilter:
    """Which mail to leave out, by address (glob patterns, any case), and ``direct``: only mail
    addressed to one of ``me`` in To or Cc that is not bulk (a selective backfill)."""

    exclude_from: tuple[str, ...] = ()
    exclude_to: tuple[str, ...] = ()
    me: frozenset[str] = frozenset()
    direct: bool = False

    def reason(self, sender: str, to: frozenset[str], bulk: str | None) -> str | None:
        """Why a mail from ``sender`` to ``to`` is left out, or None."""
        for pattern in self.exclude_from:
            if sender and fnmatch.fnmatchcase(sender, pattern.lower()):
                return f"excluded: from {sender} (exclude_from {pattern!r})"
        for pattern in self.exclude_to:
            if hit := next((a for a in sorted(to) if fnmatch.fnmatchcase(a, pattern.lower())), None):
                return f"excluded: to {hit} (exclude_to {pattern!r})"
        if self.direct:
            if bulk:
                return f"backfill = direct: bulk mail ({bulk.removeprefix('automated: ')})"
            if not to & self.me:
                return "backfill = direct: not addressed to me in To or Cc"
        return None


@dataclass(frozen=True)
class MailPiece:
    """One mail as a part of its thread (group = "thread"): who wrote what, when, and what it
    answers. Picklable, so a process pool can make it."""

    key: str  # message_key: "mid:..." or "sha256:..."
    references: tuple[str, ...]  # Message-IDs it answers, the thread's first one first (References, In-Reply-To)
    subject: str
    sender: str  # "Name <address>" as written
    recipients: str  # "To: ...\nCc: ..." as written, lines left out when empty
    at: datetime
    shown_date: str  # the Date header as written, for the reader
    body: str  # the author's own words, quotes cut, attachments named
    bulk: str | None  # why it looks automated, or None
    gmail_thread: str | None = None
    priority: int = PRIORITY_LIVE
    ref: str = ""
    people: frozenset[str] | None = None  # ``addresses``, when read where the mail was converted

    @property
    def addresses(self) -> frozenset[str]:
        """From, To and Cc, lower case (read when asked: one conversation per mail never asks)."""
        if self.people is not None:
            return self.people
        values = [self.sender, *(line.split(": ", 1)[-1] for line in self.recipients.splitlines())]
        return frozenset(a.lower() for _, a in email.utils.getaddresses(values) if "@" in a)

    def conversation(self) -> Conversation:
        """The mail as a conversation of its own: a header block, then the body."""
        lines = [f"Subject: {self.subject}"] if self.subject else []
        lines += [f"From: {self.sender}"] if self.sender else []
        lines += [self.recipients] if self.recipients else []
        text = "\n".join([*lines, f"Date: {self.shown_date}"]) + "\n\n" + self.body
        return Conversation(source_key=self.key, text=text.strip(), started_at=self.at, finished_at=self.at,
                            priority=self.priority, label=f"email “{self.subject or '(no subject)'}”")


def _read_body(msg: Message, raw: bytes, hint: str | None, bulk: str | None, skip_automated: bool,
               reply_languages: Sequence[str], gmail_labels: Sequence[str]) -> tuple[str, str]:
    """The subject and the author's words (attachments named) of a mail whose headers are read;
    raises SkipItem for mail in Gmail's Spam or Trash, automated mail and mail with no text."""
    # Gmail's labels (X-GM-LABELS over IMAP; Google Takeout's "All mail Including Spam and
    # Trash.mbox" writes them as X-Gmail-Labels) say where a mail is: not Spam or Trash
    labels = {label.strip().lstrip("\\") for label in
              [*gmail_labels, *decode_header(msg.get("X-Gmail-Labels")).split(",")]}
    if binned := sorted(labels & {"Spam", "Trash"}):
        raise SkipItem(f"in Gmail's {binned[0]}")
    if skip_automated and bulk:
        raise SkipItem(bulk)
    try:
        body, attachments, events = _body_fast(raw)
    except Exception:
        body, attachments, events = _body(parse(raw))
    subject = decode_header(msg.get("Subject"), hint)
    body = _authored(body.replace("\r\n", "\n"), subject, tuple(reply_languages)).strip()
    if events:  # after the cut: an event's "Organizer:" lines are not a quoted header block
        body = (body + "\n\n" if body else "") + events
    body = _BLANK_LINES.sub("\n\n", body)
    if not body and not attachments and not subject:  # a subject alone is the message
        raise SkipItem("no text in the message")
    if attachments:
        body = (body + "\n\n" if body else "") + "Attachments: " + ", ".join(attachments)
    return subject, body


def _recipients(msg: Message, hint: str | None = None) -> frozenset[str]:
    """The addresses in To and Cc, lower case."""
    values = [decode_header(v, hint) for v in (msg.get_all("To") or []) + (msg.get_all("Cc") or [])]
    return frozenset(a.lower() for _, a in email.utils.getaddresses(values) if "@" in a)


def email_to_conversation(
    raw: bytes,
    *,
    internaldate: datetime | None = None,
    skip_automated: bool = True,
    reply_languages: Sequence[str] = ("en",),
    priority: int = PRIORITY_LIVE,
) -> Conversation:
    """Raise SkipItem (automated mail, nothing to say, unparseable) with a reason."""
    return email_to_piece(raw, internaldate=internaldate, skip_automated=skip_automated,
                          reply_languages=reply_languages, priority=priority).conversation()


def email_to_piece(raw: bytes, *, internaldate: datetime | None = None, skip_automated: bool = True,
                   reply_languages: Sequence[str] = ("en",), priority: int = PRIORITY_LIVE,
                   gmail_thread: str | None = None, ref: str = "", filters: MailFilter | None = None,
                   gmail_id: str | None = None, gmail_labels: Sequence[str] = ()) -> MailPiece:
    """The mail as a part of its thread; raises SkipItem like ``email_to_conversation``, also
    for mail ``filters`` leave out."""
    try:
        if reason := not_mail_reason(raw):
            raise SkipItem(reason)
        original, raw = raw, unfolded(raw)
        msg = parse_headers(raw)
        hint = _header_charset(raw, msg.get_param("charset"))  # for raw 8-bit headers
        sender = decode_header(msg.get("From"), hint)
        bulk = automated_reason(msg)
        # before the body is read: a mail left out costs only its headers
        if filters is not None and (reason := filters.reason(email.utils.parseaddr(sender)[1].lower(),
                                                             _recipients(msg, hint), bulk)):
            raise SkipItem(reason)
        subject, body = _read_body(msg, raw, hint, bulk, skip_automated, reply_languages, gmail_labels)
        started = _date(msg, internaldate)
        key = message_key(msg, original)  # the key of the mail as stored, whatever was repaired
        if gmail_id and not key.startswith("mid:"):  # no Message-ID: Gmail's id is the same in every label
            key = f"gmid:{gmail_id}"
        references = [*MESSAGE_ID.findall(str(msg.get("References", "") or "")),
                      *MESSAGE_ID.findall(str(msg.get("In-Reply-To", "") or ""))]
        recipients = "\n".join(f"{h}: {v}" for h in ("To", "Cc") if (v := decode_header(msg.get(h), hint)))
        return MailPiece(
            key=key, references=tuple(dict.fromkeys(references)), subject=subject, sender=sender,
            recipients=recipients, at=started,
            shown_date=decode_header(msg.get("Date"), hint) or started.isoformat(timespec="seconds"),
            body=body, bulk=bulk, gmail_thread=gmail_thread, priority=priority, ref=ref,
        )
    except SkipItem:
        raise
    except Exception as exc:
        raise SkipItem(f"cannot parse the message: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class MailJob:
    """One message to convert, picklable so a process pool can do the work."""

    raw: bytes
    internaldate: datetime | None
    ref: str
    skip_automated: bool = True
    reply_languages: tuple[str, ...] = ("en",)
    priority: int = PRIORITY_LIVE
    as_piece: bool = False  # a MailPiece for its thread, not a conversation of its own
    gmail_thread: str | None = None
    filters: MailFilter | None = None
    gmail_id: str | None = None  # X-GM-MSGID
    gmail_labels: tuple[str, ...] = ()  # X-GM-LABELS
    # the piece goes to its thread, which is found by its subject among the same people: their
    # addresses are read in the pool's worker, not one by one where the threads are placed
    threads: bool = False


def convert(job: MailJob) -> Conversation | MailPiece | Skip:
    """A conversation (or a piece of a thread), or the Skip to record for it; never raises."""
    try:
        if job.as_piece:
            piece = email_to_piece(job.raw, internaldate=job.internaldate, skip_automated=job.skip_automated,
                                   reply_languages=job.reply_languages, priority=job.priority,
                                   gmail_thread=job.gmail_thread, ref=job.ref, filters=job.filters,
                                   gmail_id=job.gmail_id, gmail_labels=job.gmail_labels)
            return replace(piece, people=piece.addresses) if job.threads else piece
        return email_to_piece(job.raw, internaldate=job.internaldate, skip_automated=job.skip_automated,
                              reply_languages=job.reply_languages, priority=job.priority,
                              filters=job.filters, gmail_id=job.gmail_id, gmail_labels=job.gmail_labels).conversation()
    except SkipItem as exc:
        try:
            key = message_key(parse_headers(job.raw), job.raw)  # the Message-ID is all it reads
        except Exception:
            key = "sha256:" + hashlib.sha256(job.raw).hexdigest()
        return Skip(key, exc.reason, job.ref)


def convert_all(jobs: list[MailJob]) -> list[Conversation | MailPiece | Skip]:
    return [convert(job) for job in jobs]
