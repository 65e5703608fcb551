"""Mail archives through the same mail-to-text as IMAP: an mbox file (a Google Takeout export),
a Maildir folder, or a folder of .eml files.

An archive is read in a stable order and the cursor remembers how far: the number of messages
of the mbox (with a fingerprint of its start, so a replaced file is read again from the top),
or, for Maildir and .eml files, the (modification time, name) of the last file. Mail added
later is picked up on the next poll; a file added later with an older modification time is not
(archives are exports, not live folders). Message-ID dedup makes reading anything twice harmless.
Imports show a progress bar when stderr is a terminal.

A file that is not mail (a binary file, notes, a PDF among the .eml files, an "mbox" with no
"From " line) is recorded as skipped with the reason, and ``check`` names it: a source none of
whose files is mail fails its check. An empty mbox or a Maildir with no mail yet is fine.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import mailbox
import math
import re
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from bridge.config import ConfigPath
from bridge.connector import Sink, files_checked
from bridge.errors import SourceError
from bridge.groups import GroupPolicy
from bridge.models import PRIORITY_BACKFILL, Conversation, Skip
from bridge.progress import Bar
from connectors.mail.selection import MailSelection, MyThreads
from connectors.mail.text import MailJob, MailPiece, convert, decode_header, not_mail_reason, parse_headers
from connectors.mail.threads import Into, close_threads, take

__all__ = ["EmlConnector", "MaildirConnector", "MboxConnector", "not_mail"]


_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)
# a mail's first line: a header field (RFC 5322 2.2: printable ASCII but ":", then ":"), or an
# mbox envelope line some tools keep in a saved .eml
_FIRST_LINE = re.compile(rb"(?:From |[!-9;-~]+[ \t]*:)")
HEAD = 4096  # bytes of a file read to tell whether it is mail
THREAD_BATCH = 200  # mails placed per transaction in a thread-grouped import


class ArchiveConfig(MailSelection):
    path: ConfigPath
    text_source_spec: str = Field(default="email", min_length=1)
    poll_interval: float = Field(default=3600, gt=0)
    skip_automated: bool = True
    group: Literal["thread", "message"] = Field(
        default="thread", description="thread: a thread's mails of a day are one conversation; message: one each")
    reply_languages: list[str] = Field(
        default=["en"], description="languages of signature phrases to cut (quote headers: every language)")
    progress: bool = Field(default=True, description="progress bar on a terminal")

    @model_validator(mode="after")
    def _me(self) -> ArchiveConfig:
        if self.backfill != "all" and not self.me:
            raise ValueError(f'backfill = "{self.backfill}" needs me = ["your@address", ...]')
        return self


class MboxConfig(ArchiveConfig):
    type: Literal["mbox"]


class MaildirConfig(ArchiveConfig):
    type: Literal["maildir"]


class EmlConfig(ArchiveConfig):
    type: Literal["eml"]


class _Archive:
    """Shared reading loop; subclasses list (position, raw bytes loader) in a stable order."""

    Config: ClassVar[type[ArchiveConfig]]
    what: ClassVar[str]

    def __init__(self, name: str, config: ArchiveConfig) -> None:
        self.name = name
        self.config = config
        self.path = Path(config.path)
        self.languages = tuple(dict.fromkeys([*config.reply_languages, config.language]))

    def check(self) -> str:
        items = self._items(None)
        return f"{self.path}: {len(items)} message(s) in the {self.what}"

    def _items(self, cursor: Any) -> list[tuple[Any, Any]]:
        raise NotImplementedError

    def _cursor(self, position: Any) -> Any:
        return position

    def poll(self, sink: Sink) -> None:
        items = self._items(sink.cursor)
        show = self.config.progress and sys.stderr.isatty() and len(items) > 50
        # an archive is history: a thread's mails of a day are one conversation
        assembler = sink.assembler(GroupPolicy(600, 86400, by_day=True)) if self.config.group == "thread" else None
        # my mail anywhere in the archive, not only in what is new since the last poll
        mine = self._my_threads(self._items(None)) if self.config.backfill == "replied" and items else None
        batch: list[Any] = []
        with Bar(total=len(items), desc=self.name, unit="msg", disable=not show, source=self.name,
                 doing=f"importing the {self.what} (messages)") as bar:
            for n, (position, load) in enumerate(items, start=1):
                if sink.closing:
                    return
                batch.append(self._convert(position, load))
                if len(batch) == (THREAD_BATCH if assembler is not None else 1) or n == len(items):
                    # every day of an archive is over (now = inf): it is history
                    take(batch, Into(assembler, by_day=True, mine=mine), sink, self._cursor(position), now=math.inf)
                    batch = []
                bar.update()
        if assembler is not None:
            close_threads(assembler, sink, now=math.inf)  # the archive is read through: every thread-day is over

    def _my_threads(self, items: list[tuple[Any, Any]]) -> MyThreads:
        """The threads ``me`` wrote in, from the archive's own mail from ``me`` (headers only)."""
        me = self.config.my_addresses()
        mine = MyThreads()
        for _, load in items:
            with contextlib.suppress(OSError):
                head = parse_headers(load()[0])
                if email.utils.parseaddr(decode_header(head.get("From")))[1].lower() in me:
                    mine.add(head)
        return mine

    def _convert(self, position: Any, load: Any) -> MailPiece | Skip:
        ref = f"{self.what} message {position[-1] if isinstance(position, list) else position}"
        try:
            raw, mtime = load()
        except OSError as exc:
            return Skip(f"unreadable:{position}", f"unreadable: {exc.strerror or exc}", ref)
        if (why := not_mail(raw[:HEAD])) is not None:  # notes sent as a mail would be noise in Omi
            return Skip("sha256:" + hashlib.sha256(raw).hexdigest(), why, ref)
        result = convert(MailJob(raw, mtime, ref, self.config.skip_automated, self.languages, PRIORITY_BACKFILL,
                                 as_piece=True, filters=self.config.mail_filter(backfill=True)))
        assert not isinstance(result, Conversation)
        return result


class MboxConnector(_Archive):
    Config = MboxConfig
    what = "mbox"

    def check(self) -> str:
        if (why := self._not_mbox()) is not None:
            raise SourceError(f"{self.path}: {why}")
        return super().check()

    def poll(self, sink: Sink) -> None:
        if (why := self._not_mbox()) is not None:  # recorded once for this content; a new file is looked at anew
            sink.skip(f"not-mbox:{self._fingerprint()}", why, ref=self.path.name)
            return
        super().poll(sink)

    def _not_mbox(self) -> str | None:
        """Why the file is no mbox, or None. An mbox's first line is a "From " line (mboxo and
        mboxrd alike, as Thunderbird, Google Takeout and mutt write them); an empty file is an
        empty mailbox."""
        if not self.path.is_file():
            raise SourceError(f"{self.path} is not a file")
        try:
            with self.path.open("rb") as f:
                head = f.read(HEAD).lstrip()
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror}") from None
        if not head or head.startswith(b"From "):
            return None
        return f"not an mbox: {not_mail_reason(head) or 'its first line is not a “From ” line'}"

    def _fingerprint(self) -> str:
        with self.path.open("rb") as f:
            return hashlib.sha256(f.read(4096)).hexdigest()[:16]

    def _items(self, cursor: Any) -> list[tuple[Any, Any]]:
        if not self.path.is_file():
            raise SourceError(f"{self.path} is not a file")
        box = mailbox.mbox(self.path, create=False)
        try:
            keys = box.keys()  # a scan of the file for "From " lines: offsets only, not messages
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror}") from None
        fingerprint = self._fingerprint()
        start = cursor["count"] if cursor and cursor.get("fingerprint") == fingerprint else 0
        self._print = fingerprint
        mtime = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
        return [(n + 1, lambda key=key: (_unescape_from(box.get_bytes(key, from_=False)), mtime))
                for n, key in enumerate(keys) if n >= start]

    def _cursor(self, position: Any) -> Any:
        return {"count": position, "fingerprint": self._print}


def not_mail(head: bytes) -> str | None:
    """Why a file or message that begins with ``head`` is not a mail, or None."""
    if (why := not_mail_reason(head)) is not None:  # binary data, a PDF, a zip, an Outlook .msg
        return why
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text:
        return "empty, not a mail message"
    if not _FIRST_LINE.match(text):
        return "no mail headers at its start: not a mail message"
    return None


def _unescape_from(raw: bytes) -> bytes:
    """Undo mbox "From " quoting (mboxrd: one '>' less on every ^>+From line)."""
    return _QUOTED_FROM.sub(rb"\1", raw)


class _Folder(_Archive):
    """An archive of one file per mail."""

    def _files(self) -> dict[str, Path]:
        raise NotImplementedError

    def check(self) -> str:
        """The mail it holds, and the files that are not mail named: a folder none of whose
        files is mail is not this kind of archive (one with no file yet is: mail comes later)."""
        files = self._files()
        strays: dict[str, str] = {}
        for name, file in sorted(files.items()):
            try:
                with file.open("rb") as f:
                    why = not_mail(f.read(HEAD))
            except OSError as exc:
                why = f"unreadable: {exc.strerror or exc}"
            if why is not None:
                strays[name] = why
        return files_checked(self.path, f"{len(files) - len(strays)} message(s) in the {self.what}", strays,
                             len(files), label="not mail", none=f"no mail in the {self.what}")


class MaildirConnector(_Folder):
    Config = MaildirConfig
    what = "maildir"

    def _items(self, cursor: Any) -> list[tuple[Any, Any]]:
        # a mail client may move a file from new/ to cur/ between listing and reading
        return _after(cursor, self._files(), relocate=lambda key: self._files().get(key))

    def _files(self) -> dict[str, Path]:
        """Maildir key (the file name before ':2,flags') -> its file, in new/ and cur/."""
        if not (self.path / "cur").is_dir():
            raise SourceError(f"{self.path} is not a Maildir (no cur/ folder)")
        found = {}
        for sub in ("new", "cur"):
            for file in (self.path / sub).iterdir():
                if not file.name.startswith(".") and file.is_file():
                    found[file.name.split(":")[0]] = file
        return found


class EmlConnector(_Folder):
    Config = EmlConfig
    what = "eml folder"

    def _items(self, cursor: Any) -> list[tuple[Any, Any]]:
        return _after(cursor, self._files())

    def _files(self) -> dict[str, Path]:
        if not self.path.is_dir():
            raise SourceError(f"{self.path} is not a folder")
        return {str(p.relative_to(self.path)): p for p in self.path.rglob("*.eml") if p.is_file()}


def _after(cursor: Any, files: dict[str, Path], relocate: Any = None) -> list[tuple[Any, Any]]:
    """Files in (mtime, name) order after the cursor, each with its cursor position and loader."""
    order = []
    for name, file in files.items():
        try:
            order.append(((file.stat().st_mtime_ns, name), name))
        except FileNotFoundError:
            continue
    mark = tuple(cursor) if cursor else None
    return [(list(position), partial(_read, files[name], name, relocate))
            for position, name in sorted(order) if mark is None or position > mark]


def _read(file: Path, name: str, relocate: Any) -> tuple[bytes, datetime]:
    if relocate is not None and not file.exists():
        file = relocate(name) or file
    return file.read_bytes(), datetime.fromtimestamp(file.stat().st_mtime, UTC)
