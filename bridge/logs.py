"""Logging for a daemon: one line per event, and no secret ever printed."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

__all__ = ["REDACTED", "Redactor", "setup_logging"]

REDACTED = "[redacted]"


class Redactor:
    """Replaces every known secret value in a text (URLs and tracebacks included)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first, so a secret that contains another is replaced whole
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


class _RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, redact: Redactor) -> None:
        super().__init__(fmt)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def setup_logging(level: str = "INFO", redact: Redactor | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", redact or Redactor()))
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
