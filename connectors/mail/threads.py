"""Mail threads (group = "thread"): the mails of one thread become one conversation.

A mail's thread is found, in this order, by:

1. Gmail's thread id (``X-GM-THRID``), when the server gives it;
2. a Message-ID it answers (In-Reply-To, then References from the newest) that is linked to a
   thread already;
3. the first Message-ID of its References: the thread's first mail, even when that one was
   never seen here;
4. as a last resort, for a reply (``Re:``/``AW:``... subject) with no references at all, an
   earlier mail with the same subject among the same people.

Otherwise it starts a thread of its own. Every mail links its Message-ID, the ids it answers and
its subject to its thread (``Assembler.link``), so later mails find it. Mails then go through
the core assembler with the thread as their scope: live, the mails of a thread that arrive
within ``quiet_period`` of each other are one conversation; a backfill or an archive groups a
thread's mails per day. The conversation reads like the exchange it was::

    Email thread: Budget for Q3 (3 messages)

    From: Alice <alice@example.com>
    To: Bob <bob@example.com>
    Date: Mon, 23 Nov 2026 10:02:11 +0100

    Can we keep travel under 5k?

    From: Bob <bob@example.com>
    ...
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from bridge.connector import Sink
from bridge.groups import Assembler, Changes, Group, Item, day_end
from bridge.models import PRIORITY_LIVE, Conversation, Skip
from connectors.mail.selection import MyThreads
from connectors.mail.text import MailPiece

__all__ = ["Into", "close_threads", "normal_subject", "place", "render_thread", "take"]

# "Re:", "AW:", "Fwd:", "[list-tag]" and friends, any number, at the start of a subject
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|antwort|odp|r|rif|ref|réf|res|enc|fwd?|fw|wg|tr|rv|i|doorst|pd)"
    r"(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]\s*|\[[^\]]{1,40}\]\s*)+", re.IGNORECASE)  # \uff1a: a CJK colon


def normal_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and list tags, spaces collapsed, lower case."""
    return " ".join(_PREFIX.sub("", subject).split()).lower()


def _subject_key(piece: MailPiece) -> str | None:
    subject = normal_subject(piece.subject)
    if not subject:
        return None
    people = ",".join(sorted(piece.addresses))
    return "subj:" + hashlib.sha256(f"{subject}\n{people}".encode()).hexdigest()[:24]


def place(assembler: Assembler, pieces: Iterable[MailPiece], changes: Changes | None = None) -> list[Item]:
    """The assembler items for ``pieces``, each scoped to its thread; links them for later mails
    (with ``changes``, when those are written; else now)."""
    now = time.time()
    found: dict[str, str] = {}  # links made in this batch, not yet stored
    links: list[tuple[list[str], str]] = []
    items = []
    keyed = [(piece, [f"mid:{mid}" for mid in reversed(piece.references)], _subject_key(piece)) for piece in pieces]
    # the links stored before, for every key the batch may look up: one read, not one a mail
    stored = assembler.scopes_of(key for piece, answers, subject_key in keyed
                                 for key in [piece.key, *answers, *([subject_key] if subject_key else [])])

    def linked(keys: list[str]) -> str | None:
        for key in keys:
            if key in found:
                return found[key]
        return next((stored[key] for key in keys if key in stored), None)

    for piece, answers, subject_key in keyed:
        scope = None
        if piece.gmail_thread:
            scope = f"gm:{piece.gmail_thread}"
        if scope is None and answers:
            scope = linked(answers) or f"mid:{piece.references[0]}"
        if scope is None and subject_key and _PREFIX.match(piece.subject):
            scope = linked([subject_key])
        scope = scope or linked([piece.key]) or piece.key
        keys = [piece.key, *answers, *([subject_key] if subject_key else [])]
        for key in keys:
            found.setdefault(key, scope)
        links.append((keys, scope))
        # a Date in the future (a wrong clock) would hold the thread until then
        items.append(Item(key=piece.key, scope=scope, at=min(piece.at.timestamp(), now), text=piece.body,
                          author=piece.sender or "someone",
                          data={"subject": piece.subject, "date": piece.shown_date, "to": piece.recipients,
                                "priority": piece.priority}))
    if changes is None:
        assembler.link(links)
    else:
        for keys, scope in links:
            changes.link(keys, scope)
    return items


def render_thread(group: Group) -> Conversation:
    """One conversation for a group of a thread's mails, in time order; queued as live if one of
    its mails is live."""
    first, last = group.items[0], group.items[-1]
    priority = min(item.data.get("priority", PRIORITY_LIVE) for item in group.items)
    subject = first.data.get("subject") or "(no subject)"
    count = len(group.items)
    lines = [f"Email thread: {subject} ({count} messages)" if count > 1 else f"Subject: {subject}"]
    for item in group.items:
        block = ["", f"From: {item.author}", *([item.data["to"]] if item.data.get("to") else [])]
        own = item.data.get("subject") or ""
        if normal_subject(own) != normal_subject(subject):
            block.append(f"Subject: {own}")
        lines += [*block, f"Date: {item.data.get('date', '')}", "", item.text]
    return Conversation(
        source_key=f"thread:{first.key}",
        text="\n".join(lines).strip(),
        started_at=datetime.fromtimestamp(first.at, UTC),
        finished_at=datetime.fromtimestamp(last.at, UTC),
        priority=priority,
        label=f"email thread “{subject}” ({count} messages)" if count > 1 else f"email “{subject}”",
    )


class Into(NamedTuple):
    """Where converted mails go."""

    assembler: Assembler | None  # threads go here; None: one conversation per mail
    by_day: bool = False  # history: a thread's mails of a day that is over are one conversation
    live_threads: bool = False  # the rest goes by thread and quiet_period too (else one conversation each)
    mine: MyThreads | None = None  # backfill = "replied": only these threads


def take(results: Iterable[Conversation | MailPiece | Skip], into: Into, sink: Sink, cursor: Any,
         now: float | None = None) -> None:
    """Queue what a batch of mail became, and move the cursor: skips, mails already known left
    out, the rest to their threads or as conversations of their own. Mails of threads go to the
    assembler first and the cursor moves after them: a crash in between reads them again, and
    the assembler knows them by Message-ID. ``now``: what "a day that is over" is measured by."""
    results = list(results)
    skips = [r for r in results if isinstance(r, Skip)]
    known = sink.known_keys(r.key for r in results if isinstance(r, MailPiece))
    pieces = []
    for piece in results:
        if not isinstance(piece, MailPiece) or piece.key in known:
            continue
        if into.mine is not None and not into.mine.holds(piece):
            skips.append(Skip(piece.key, 'backfill = "replied": a thread you did not write in', piece.ref))
        else:
            pieces.append(piece)
    if into.assembler is None:
        sink.submit_many([*skips, *(p.conversation() for p in pieces)], cursor)
        return
    now = time.time() if now is None else now
    days: list[MailPiece] = []
    recent: list[MailPiece] = []
    for piece in pieces:
        (days if into.by_day and day_end(piece.at.timestamp(), None) <= now else recent).append(piece)
    threaded, alone = ([*days, *recent], []) if into.live_threads else (days, recent)
    # the threads' items and links, the other mails' rows and the cursor: one transaction (one
    # wait for the disk a fetched chunk)
    changes = into.assembler.changes()
    for n, item in enumerate(place(into.assembler, threaded, changes)):
        changes.add(item, by_day=n < len(days))
    sink.commit(changes, cursor, [*skips, *(p.conversation() for p in alone)])


def close_threads(assembler: Assembler, sink: Sink, now: float | None = None) -> None:
    """Send the threads' conversations that are due (``now``: math.inf, every one)."""
    sink.close_due(assembler, render_thread, now)
