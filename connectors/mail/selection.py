"""Which mail is worth a write: options every mail connector shares.

- ``exclude_from`` / ``exclude_to``: glob patterns on addresses (``*@newsletters.example.com``,
  ``noreply-*``), any case; a match is skipped with the pattern that matched.
- ``me``: the user's own addresses (default: the IMAP login name when it is an address).
- ``backfill``: what history to bring: ``all``; ``direct``, mail addressed to ``me`` in To or
  Cc that is not bulk; ``replied``, only threads in which ``me`` wrote (found from the Sent
  folder over IMAP, from the archive's own mail from ``me`` in an archive). New IMAP mail is
  never held to it: what arrives from now on is what the user reads. Every mail of an archive
  is history.
"""

from __future__ import annotations

from email.message import Message
from typing import Literal

from pydantic import Field, field_validator

from bridge.connector import ConnectorConfig
from connectors.mail.text import MESSAGE_ID, MailFilter, MailPiece

__all__ = ["MailSelection", "MyThreads"]


class MailSelection(ConnectorConfig):
    me: list[str] = Field(default=[], description="your addresses; default: the login name when it is one")
    backfill: Literal["all", "direct", "replied"] = Field(
        default="all", description="history to bring: all, mail addressed to me, threads I wrote in")
    exclude_from: list[str] = Field(default=[], description="glob patterns of senders to leave out")
    exclude_to: list[str] = Field(default=[], description="glob patterns of recipients to leave out")

    @field_validator("me")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address:
                raise ValueError(f"{address!r} is not an email address")
        return [a.strip().lower() for a in value]

    def my_addresses(self, login: str = "") -> frozenset[str]:
        return frozenset(self.me or ([login.lower()] if "@" in login else []))

    def mail_filter(self, *, backfill: bool, login: str = "") -> MailFilter | None:
        """The filter for mail read now: a backfill's (``direct`` applies), or new mail's."""
        direct = backfill and self.backfill == "direct"
        if not (self.exclude_from or self.exclude_to or direct):
            return None
        return MailFilter(tuple(self.exclude_from), tuple(self.exclude_to), self.my_addresses(login), direct)


class MyThreads:
    """The threads I wrote in: the Message-IDs of my mails and of all they answer, and Gmail's
    thread ids of my mails. A mail is in one when it, or a mail it answers, is among them."""

    def __init__(self) -> None:
        self.message_ids: set[str] = set()
        self.gmail_threads: set[str] = set()

    def add(self, head: Message, gmail_thread: str | None = None) -> None:
        """Take in one of my mails (its headers)."""
        for name in ("Message-ID", "References", "In-Reply-To"):
            self.message_ids.update(MESSAGE_ID.findall(str(head.get(name, "") or "")))
        if gmail_thread is not None:
            self.gmail_threads.add(gmail_thread)

    def holds(self, piece: MailPiece) -> bool:
        return (piece.gmail_thread in self.gmail_threads
                or piece.key.removeprefix("mid:") in self.message_ids
                or any(mid in self.message_ids for mid in piece.references))
