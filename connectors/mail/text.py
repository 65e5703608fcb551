"""One email (raw RFC 5322 bytes) -> one Conversation, or SkipItem with the reason.

The text is a short header block (Subject, From, To, Cc, Date) and the body: text/plain when a
non-empty one exists, else the HTML part laid out as text by inscriptis (no tags, no style or
script). Quoted replies and signatures are cut by mail-parser-reply in the configured languages;
attachments are named, not inlined. Headers are parsed by the stdlib (compat32, decoding RFC 2047
ourselves); the body's MIME tree by fast-mail-parser, with the stdlib parser as the fallback for
anything it refuses (broken base64, say).
"""

from __future__ import annotations

import email
import email.header
import email.utils
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

import fast_mail_parser
from inscriptis import get_text

from bridge.errors import SkipItem
from bridge.models import PRIORITY_LIVE, Conversation, Skip, as_utc
from bridge.text import decode_declared
from connectors.mail.replies import latest_reply

__all__ = [
    "MailJob", "automated_reason", "convert", "convert_all", "decode_header", "email_to_conversation",
    "message_key", "parse",
]

# Past this, reply/signature detection is skipped: its regexes are not linear on huge bodies,
# and a 100,000-character mail is a document, not a reply.
REPLY_PARSE_LIMIT = 50_000
_NO_REPLY = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+._-].*)?$", re.I)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_QUOTED_LINE = re.compile(r"^[ \t]*>", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n){2,}")  # three or more line breaks, blank lines between


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=compat32)


def parse_headers(raw: bytes) -> Message:
    """The top-level headers only. The stdlib's header parser still reads every line of the
    body, so it is handed the header block alone (up to the first empty line)."""
    end = _HEADER_END.search(raw)
    return BytesHeaderParser(policy=compat32).parsebytes(raw[: end.end()] if end else raw)


def decode_header(value: object) -> str:
    """An RFC 2047 header as text, whatever its charsets; folding whitespace collapsed."""
    if value is None:
        return ""
    text = str(value)
    try:
        chunks = email.header.decode_header(text)
    except Exception:  # malformed encoded-words: show them as they are
        return " ".join(text.split())
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_declared(chunk, charset))
        else:
            out.append(chunk)
    # decode_header drops the space between an encoded word and plain text; keep words apart
    joined = ""
    for piece in out:
        if joined and not joined[-1].isspace() and piece and not piece[0].isspace() and len(chunks) > 1:
            joined += " "
        joined += piece
    return " ".join(joined.split())


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


def _strip_quotes(text: str, languages: tuple[str, ...]) -> str:
    # Everything from the first ">"-quoted line on is old mail, and the parser keeps only what
    # is above it; handing it just that part (with the "On ... wrote:" line that leads into the
    # quote) spares its regexes the quoted history, which is most of a long thread's text.
    quote = _QUOTED_LINE.search(text)
    if quote is not None:
        text = text[: quote.start()]
    if len(text) > REPLY_PARSE_LIMIT:
        return text
    try:
        body = latest_reply(text, languages)
    except Exception:  # a parser bug must not lose the mail: keep the whole text
        return text
    return body if body and body.strip() else text


def _filename(part: Message) -> str | None:
    name = part.get_filename()
    return decode_header(name) if name else None


class _Parts:
    """Collects the first non-empty text/plain, the first text/html, and attachment names."""

    def __init__(self) -> None:
        self.plain: str | None = None
        self.html: str | None = None
        self.attachments: list[str] = []

    def add(self, ctype: str, disposition: str, name: str | None, payload: bytes | None, charset: str | None) -> None:
        if disposition == "attachment" or (name and not ctype.startswith("text/")):
            self.attachments.append(f"{name or 'unnamed'} ({ctype})")
        elif ctype == "text/plain" and self.plain is None:
            text = decode_declared(payload or b"", charset)
            if text.strip():
                self.plain = text
        elif ctype == "text/html" and self.html is None:
            self.html = decode_declared(payload or b"", charset)
        elif not ctype.startswith(("text/", "multipart/", "message/")) and name:
            self.attachments.append(f"{name} ({ctype})")

    def text(self) -> tuple[str, list[str]]:
        if self.plain is not None:
            return self.plain, self.attachments
        if self.html is not None:
            try:
                return get_text(self.html), self.attachments
            except Exception:  # inscriptis on broken markup: fall back to tag-stripped text
                return re.sub(r"<[^>]+>", " ", self.html), self.attachments
        return "", self.attachments


_CHARSET = re.compile(r"""charset\s*=\s*"?([^";\s]+)""", re.IGNORECASE)


def _body_fast(raw: bytes) -> tuple[str, list[str]]:
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
        parts.add((part.content_type or "text/plain").lower(), (part.disposition or "").lower(),
                  part.filename or None, part.content, charset.group(1) if charset else None)

    walk(fast_mail_parser.parse_email_tree(raw))
    return parts.text()


def _body(msg: Message) -> tuple[str, list[str]]:
    """The body through the stdlib parser: slower, and takes anything."""
    parts = _Parts()
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            payload = str(part.get_payload() or "").encode("utf-8", "replace")
        parts.add(part.get_content_type(), str(part.get("Content-Disposition", "") or "").split(";")[0].strip().lower(),
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


def email_to_conversation(
    raw: bytes,
    *,
    internaldate: datetime | None = None,
    skip_automated: bool = True,
    reply_languages: Sequence[str] = ("en",),
    priority: int = PRIORITY_LIVE,
    msg: Message | None = None,
) -> Conversation:
    """Raise SkipItem (automated mail, nothing to say, unparseable) with a reason."""
    try:
        msg = parse_headers(raw) if msg is None else msg
        if skip_automated and (reason := automated_reason(msg)):
            raise SkipItem(reason)
        try:
            body, attachments = _body_fast(raw)
        except Exception:
            body, attachments = _body(parse(raw))
        body = _strip_quotes(body.replace("\r\n", "\n"), tuple(reply_languages)).strip()
        body = _BLANK_LINES.sub("\n\n", body)
        lines = []
        for header in ("Subject", "From", "To", "Cc"):
            value = decode_header(msg.get(header))
            if value:
                lines.append(f"{header}: {value}")
        started = _date(msg, internaldate)
        shown = " ".join(str(msg.get("Date", "") or "").split())
        lines.append(f"Date: {shown or started.isoformat(timespec='seconds')}")
        text = "\n".join(lines) + "\n\n" + body
        if attachments:
            text += "\n\nAttachments: " + ", ".join(attachments)
        if not body and not attachments:
            raise SkipItem("no text in the message")
        return Conversation(source_key=message_key(msg, raw), text=text.strip(), started_at=started,
                            finished_at=started, priority=priority)
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


def convert(job: MailJob) -> Conversation | Skip:
    """A conversation, or the Skip to record for it; never raises."""
    try:
        return email_to_conversation(job.raw, internaldate=job.internaldate, skip_automated=job.skip_automated,
                                     reply_languages=job.reply_languages, priority=job.priority)
    except SkipItem as exc:
        try:
            key = message_key(parse_headers(job.raw), job.raw)  # the Message-ID is all it reads
        except Exception:
            key = "sha256:" + hashlib.sha256(job.raw).hexdigest()
        return Skip(key, exc.reason, job.ref)


def convert_all(jobs: list[MailJob]) -> list[Conversation | Skip]:
    return [convert(job) for job in jobs]
