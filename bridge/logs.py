"""Logging for a daemon: one line per event, and no secret ever printed."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

__all__ = ["REDACTED", "Redactor", "hide", "setup_logging", "stderr_is_journal"]

REDACTED = "[redacted]"

HIDDEN_KEPT = 64  # secrets learned at run time that are scrubbed: the newest (tokens expire; hourly ones pile up)
_learned: list[str] = []  # oldest first
_hidden: list[str] = []  # the same, longest first, for scrubbing


def hide(secret: str) -> None:
    """Scrub ``secret`` from every log line and error from now on (a token obtained at run time)."""
    global _learned, _hidden
    if len(secret) < 8:
        return
    kept = [s for s in _learned if s != secret][-(HIDDEN_KEPT - 1):]
    learned = [*kept, secret]
    # new lists, not changed in place: a thread logging meanwhile never sees one half-made
    _learned, _hidden = learned, sorted(learned, key=len, reverse=True)


class Redactor:
    """Replaces every known secret value in a text (URLs and tracebacks included)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first, so a secret that contains another is replaced whole
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in (*self.secrets, *_hidden):
            text = text.replace(secret, REDACTED)
        return text


# syslog priorities, for journald's "<N>" line prefix
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def stderr_is_journal(environ: dict[str, str] | None = None) -> bool:
    """True when systemd connected stderr to the journal ($JOURNAL_STREAM is its dev:inode)."""
    stream = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    try:
        dev, inode = (int(part) for part in stream.split(":"))
        info = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (info.st_dev, info.st_ino) == (dev, inode)


class _TextFormatter(logging.Formatter):
    """Plain lines; under journald "<priority>" first and no timestamp (the journal has one)."""

    def __init__(self, redact: Redactor, journal: bool) -> None:
        fmt = "%(name)s: %(message)s" if journal else "%(asctime)s %(levelname)s %(name)s: %(message)s"
        super().__init__(fmt)
        self.redact = redact
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = self.redact(super().format(record))
        if self.journal:  # every line of a traceback gets the priority, or journald splits it at INFO
            prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
            text = "\n".join(prefix + line for line in text.split("\n"))
        return text


class _JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.redact(record.getMessage()),  # before json.dumps escapes anything in a secret
        }
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class _AboveBars(logging.StreamHandler):
    """A terminal's log handler: each line is written through tqdm, which clears the progress
    bars, writes the line whole and draws the bars again below it, all under the lock the bars
    take (bars of sources read in threads at once). A plain write lands inside a bar's line: the
    line then starts mid-bar or loses its first characters to the bar's next redraw."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)


def setup_logging(level: str = "INFO", redact: Redactor | None = None, fmt: str = "text") -> None:
    redact = redact or Redactor()
    handler = _AboveBars(sys.stderr) if sys.stderr.isatty() else logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter(redact) if fmt == "json" else _TextFormatter(redact, stderr_is_journal()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # one line per request at INFO is noise for a daemon; our own lines say what matters.
    # imapclient at DEBUG logs every protocol line, message bodies included: never wanted.
    # slack_sdk and slack_bolt say every (re)connect and acknowledgement at INFO.
    noisy_loggers = ("httpx", "httpcore", "apscheduler", "imapclient", "slack_sdk", "slack_bolt", "aiohttp.access",
                     "tzlocal")
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # matrix-nio warns of every error answer's "invalid" shape; the connector says what failed
    logging.getLogger("nio").setLevel(logging.ERROR)
