"""What a connector is, and the sink it submits to.

A connector is a small class::

    class MyConnector:
        Config = MyConfig                      # a ConnectorConfig subclass: its own options

        def __init__(self, name: str, config: MyConfig) -> None: ...
        def check(self) -> str: ...            # reach the source; a one-line description, or raise
        def poll(self, sink: Sink) -> None: ...  # read what is new since sink.cursor, submit it

``check`` and ``poll`` may be plain functions (run in a worker thread, so blocking I/O is fine)
or coroutines (run on the event loop). A connector never opens the database and never calls
Omi: it reads its starting point from ``sink.cursor`` and hands conversations to
``sink.submit(conversation, cursor=...)``, which stores them and the new cursor in one
transaction. Raise ``SourceError`` when the source cannot be read; record an item that cannot be
delivered with ``sink.skip``. When ``sink.dry_run`` is true (``omi-bridge preview``), read but
change nothing at the source.

A push source (Slack) may also have ``async def serve(self, sink, live)``: the daemon runs it on
the event loop for its whole life and cancels it at shutdown. ``live.request_poll()`` asks for a
poll now; ``live.http`` (when ``[http] listen`` is set) takes routes on the daemon's listener.
Chat messages are gathered into conversations by ``sink.assembler(policy)`` (bridge/groups.py)
and handed over with ``sink.close_group``.
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bridge.assemble import QueuedRequest, part_requests, to_requests
from bridge.errors import SourceError
from bridge.groups import Assembler, Changes, Group, GroupChanged, GroupPolicy
from bridge.models import Conversation, Skip
from bridge.store import KEEP, Intake, Store

__all__ = [
    "Connector",
    "ConnectorConfig",
    "Live",
    "PreviewSink",
    "Sink",
    "Skip",
    "call",
    "file_sha256",
    "files_checked",
    "reason_kind",
]

log = logging.getLogger(__name__)

CLOSE_BATCH = 200  # groups closed (and their conversations queued) per transaction
NAMED = 3  # files check names that are not what a source reads; the rest are counted
PARTS_PER_COMMIT = 8  # parts of a streamed text queued per transaction: about 1 MB of bodies
_ADDRESS = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_NUMBER = re.compile(r"\d+")


def reason_kind(reason: str) -> str:
    """A skip reason without what names one item, so that alike reasons count together.

    Reasons read "kind: detail: specifics" ("automated: List-Id header", "automated: sender
    noreply@shop.example", "cannot parse the message: ValueError: ..."): the kind is the first
    two parts, with addresses and numbers masked ("automated: sender <address>", "file too large
    (N bytes; max_bytes is N)"), which keeps what tells kinds apart and drops what a file name,
    a sender or an exception's message adds.
    """
    masked = _NUMBER.sub("N", _ADDRESS.sub("<address>", " ".join(reason.split())))
    return ": ".join(masked.split(": ", 2)[:2])


class ConnectorConfig(BaseModel):
    """Options every connector has; a connector's own Config adds to these."""

    model_config = ConfigDict(extra="forbid")

    type: str
    text_source_spec: str = Field(min_length=1)
    language: str = Field(default="en", min_length=2)
    poll_interval: float = Field(default=60, gt=0, description="seconds between polls")
    # paused: nothing is read (no polls, no watcher, no serve); the cursor stays where it was, so
    # resuming reads what came meanwhile, once
    paused: bool = Field(default=False, description="true: nothing is read until it is false again")


@runtime_checkable
class Connector(Protocol):
    Config: ClassVar[type[ConnectorConfig]]

    def __init__(self, name: str, config: Any) -> None: ...

    def check(self) -> Any: ...

    def poll(self, sink: Sink) -> Any: ...


class Live(Protocol):
    """What the daemon gives a connector's ``serve``."""

    http: Any  # bridge.http.Listener, or None when no listener is configured

    def request_poll(self) -> None: ...


class Sink:
    """A connector's only way into the store. Safe to use from a worker thread."""

    dry_run = False

    def __init__(self, store: Store, name: str, config: ConnectorConfig, on_submit: Callable[[], None],
                 on_deadline: Callable[[float], None] | None = None) -> None:
        self.name = name
        self._store = store
        self._config = config
        self._on_submit = on_submit
        self._on_deadline = on_deadline  # a group will be due then: poll at that time
        self.last_assembler: Assembler | None = None  # the one the last poll used
        self._closed = threading.Event()
        self.deferred: tuple[float, str] | None = None  # set by ``wait_for`` during the last poll
        # skips since the last ``log_skips``, by kind: said in one line a poll, not one a mail
        self._skips: Counter[str] = Counter()
        self._skips_lock = threading.Lock()  # a push connector's serve may skip while a poll does

    @property
    def cursor(self) -> Any:
        """Where the last committed poll left off (None before the first)."""
        return self._store.cursor(self.name)

    @property
    def closing(self) -> bool:
        """True once the daemon is stopping: finish the item at hand and return."""
        return self._closed.is_set()

    def close(self) -> None:
        self._closed.set()

    def wait_for(self, seconds: float, what: str) -> None:
        """Items are there but not ready yet (a file still settling): ready in ``seconds``.
        ``run --once`` waits that long and polls again; ``what`` tells the user why."""
        if self.deferred is None or seconds > self.deferred[0]:
            self.deferred = (seconds, what)

    def known(self, source_key: str) -> bool:
        """True if this key was queued, sent or skipped before (cheap dedup before heavy work)."""
        return self._store.is_known(self.name, source_key)

    def known_keys(self, source_keys: Iterable[str]) -> set[str]:
        """Those of ``source_keys`` that ``known`` would say yes to, looked up together."""
        return self._store.known(self.name, source_keys)

    def submit(self, conversation: Conversation, cursor: Any = KEEP) -> int:
        """Queue a conversation and move the cursor, atomically. Returns how many rows were new
        (0 for a duplicate, more than 1 for a text long enough to be split into parts)."""
        return self.submit_many([conversation], cursor)

    def submit_many(self, items: Iterable[Conversation | Skip], cursor: Any = KEEP) -> int:
        """Queue conversations and record skips in ONE transaction with the cursor: for batches
        (a fetched chunk of mail), where a commit per item would cost more than the work."""
        if self._closed.is_set():
            raise SourceError("stopping: submission refused")
        return self._commit(*self._split(items), cursor).added

    def submit_parts(self, conversation: Conversation, chunks: Iterable[str], total: int) -> int:
        """Queue a text too long to hold, from its ``total`` non-blank ``chunks`` as they are made
        (``split_stream`` over a file read in pieces): a few parts at a time, each batch its own
        transaction, so memory holds a batch, not the text. The parts' keys are the ones
        ``submit`` would give; parts queued by a poll that stopped half-way are not queued twice."""
        added = 0
        batch: list[QueuedRequest] = []
        for request in part_requests(conversation, chunks, total, text_source_spec=self._config.text_source_spec,
                                     language=self._config.language):
            batch.append(request)
            if len(batch) == PARTS_PER_COMMIT:
                added += self._queue_parts(batch)
                batch = []
        return added + self._queue_parts(batch)

    def _queue_parts(self, requests: list[QueuedRequest]) -> int:
        if self._closed.is_set():
            raise SourceError("stopping: submission refused")
        return self._commit(requests, [], KEEP).added if requests else 0

    def _split(self, items: Iterable[Conversation | Skip]) -> tuple[list[QueuedRequest], list[Skip]]:
        """Outbox requests for the conversations; skips for the rest, with the reason."""
        requests: list[QueuedRequest] = []
        skips: list[Skip] = []
        for item in items:
            if isinstance(item, Skip):
                skips.append(item)
                continue
            prepared = self._prepare(item)
            if isinstance(prepared, str):
                skips.append(Skip(item.source_key, prepared))
            else:
                requests.extend(prepared)
        return requests, skips

    def assembler(self, policy: GroupPolicy) -> Assembler:
        """This connector's groups of items (chat messages), kept in the store. The daemon polls
        the connector when a group is due, so a group closes at its deadline, not a tick later."""
        self.last_assembler = Assembler(self._store, self.name, policy, self._on_deadline)
        return self.last_assembler

    def next_deadline(self) -> float | None:
        """When the connector's first open group will be due (epoch seconds), or None."""
        return None if self.last_assembler is None else self.last_assembler.next_deadline()

    def close_group(self, assembler: Assembler, group: Group, conversation: Conversation | None,
                    cursor: Any = KEEP) -> int:
        """Queue a closed group's conversation (None: nothing left in it) and mark the group
        closed, in one transaction. Returns the number of new outbox rows."""
        return self.close_groups(assembler, [(group, conversation)], cursor)

    def close_groups(self, assembler: Assembler, closed: list[tuple[Group, Conversation | None]],
                     cursor: Any = KEEP) -> int:
        """``close_group`` for many groups in one transaction (an import closing thousands)."""
        if self._closed.is_set():
            raise SourceError("stopping: submission refused")
        requests, skips = self._split(conversation for _, conversation in closed if conversation is not None)
        try:
            return self._commit(requests, skips, cursor, also=assembler.closer(*(g for g, _ in closed))).added
        except GroupChanged as exc:  # nothing was queued; the group is read again at the next poll
            log.debug("%s: group %s changed while its conversation was made; closing it at the next poll",
                      self.name, exc)
            return 0

    def close_due(self, assembler: Assembler, render: Callable[[Group], Conversation | None],
                  now: float | None = None, batch: int = CLOSE_BATCH) -> int:
        """Close every group of ``assembler`` due by ``now`` into ``render``'s conversation,
        ``batch`` groups to a transaction: a backfill's thousands of threads are neither a commit
        each (each one waits for the disk) nor all in memory at once. A group that changes
        meanwhile is left for the next poll. Returns how many groups were read to close."""
        ids = assembler.due_ids(now)
        closed = 0
        for start in range(0, len(ids), batch):
            if self.closing:
                break
            groups = assembler.groups(ids[start:start + batch])
            self.close_groups(assembler, [(group, render(group) if group.items else None) for group in groups])
            closed += len(groups)
        return closed

    def _commit(self, requests: list[QueuedRequest], skips: list[Skip], cursor: Any, also: Any = None) -> Intake:
        intake = self._store.submit(self.name, requests, cursor, skips, also=also)
        for skip in intake.skipped:
            log.debug("%s: skipped %s: %s", self.name, skip.ref or skip.source_key, skip.reason)
        if intake.skipped:
            with self._skips_lock:
                self._skips.update(reason_kind(skip.reason) for skip in intake.skipped)
        if intake.added:
            self._on_submit()
        return intake

    def log_skips(self) -> None:
        """One INFO line for the skips since the last call (the daemon calls it after each poll):
        a mailbox of newsletters is expected to be skipped, and is a count, not a line a mail.
        Every skip stays in the store with its item and full reason (status; DEBUG logs each)."""
        with self._skips_lock:
            counts, self._skips = self._skips, Counter()
        if counts:
            kinds = ", ".join(f"{kind} {n:,}" for kind, n in counts.most_common())
            log.info("%s: skipped %s: %s", self.name, f"{counts.total():,}", kinds)

    def advance(self, cursor: Any) -> None:
        """Move the cursor past items that produce nothing (already sent, out of range)."""
        self.submit_many([], cursor)

    def commit(self, changes: Changes, cursor: Any, items: Iterable[Conversation | Skip] = ()) -> int:
        """Write an assembler's ``changes`` (and queue ``items``, as ``submit_many`` does) and
        move the cursor in one transaction; how many items they added, edited or removed."""
        if self._closed.is_set():
            raise SourceError("stopping: submission refused")
        self._commit(*self._split(items), cursor, also=changes)
        changes.done()
        return changes.changed

    def skip(self, source_key: str, reason: str, ref: str = "", cursor: Any = KEEP) -> bool:
        """Record an item that will not be delivered, with the reason status shows."""
        if self._closed.is_set():
            raise SourceError("stopping: submission refused")
        return bool(self._commit([], [Skip(source_key, reason, ref)], cursor).skipped)

    def _prepare(self, conversation: Conversation) -> list[QueuedRequest] | str:
        if not conversation.text.strip():
            return "empty text"
        try:
            return to_requests(
                conversation,
                text_source_spec=self._config.text_source_spec,
                language=self._config.language,
            )
        except ValidationError as exc:
            return "not a valid conversation: " + "; ".join(e["msg"] for e in exc.errors())


class PreviewSink(Sink):
    """Collects what would be queued, stores nothing, moves no cursor."""

    dry_run = True

    def __init__(self, store: Store | None, name: str, config: ConnectorConfig) -> None:
        super().__init__(store, name, config, lambda: None)  # type: ignore[arg-type]
        self.queued: list[QueuedRequest] = []
        self.skipped: list[tuple[str, str]] = []
        self.direct = 0  # conversations submitted as they are (not made of a group)
        self.on_items: Callable[[int], None] = lambda count: None  # items taken in: plan's progress

    @property
    def cursor(self) -> Any:
        return None if self._store is None else self._store.cursor(self.name)

    def known(self, source_key: str) -> bool:
        return self._store is not None and self._store.is_known(self.name, source_key)

    def known_keys(self, source_keys: Iterable[str]) -> set[str]:
        return set() if self._store is None else self._store.known(self.name, source_keys)

    def submit_many(self, items: Iterable[Conversation | Skip], cursor: Any = KEEP) -> int:
        items = list(items)
        self.direct += sum(1 for i in items if isinstance(i, Conversation))
        return self._queue(items)

    def _queue(self, items: Iterable[Conversation | Skip]) -> int:
        items = list(items)
        self.on_items(sum(1 for i in items if isinstance(i, Conversation)))  # a skip counts itself in ``skip``
        requests, skips = self._split(i for i in items if isinstance(i, Skip) or not self.known(i.source_key))
        self.queued.extend(requests)
        for skip in skips:
            self.skip(skip.source_key, skip.reason, skip.ref)
        return len(requests)

    def submit_parts(self, conversation: Conversation, chunks: Iterable[str], total: int) -> int:
        self.direct += 1
        self.on_items(1)
        return super().submit_parts(conversation, chunks, total)

    def _queue_parts(self, requests: list[QueuedRequest]) -> int:
        new = [r for r in requests if not self.known(r.source_key)]
        self.queued.extend(new)
        return len(new)

    def skip(self, source_key: str, reason: str, ref: str = "", cursor: Any = KEEP) -> bool:
        self.skipped.append((ref or source_key, reason))
        self.on_items(1)
        return True

    def assembler(self, policy: GroupPolicy) -> Assembler:
        # preview writes nothing to the state file: groups are gathered in a scratch store,
        # where plan finds what is still grouping
        self.last_assembler = Assembler(Store(), self.name, policy)
        return self.last_assembler

    def close_groups(self, assembler: Assembler, closed: list[tuple[Group, Conversation | None]],
                     cursor: Any = KEEP) -> int:
        assembler.close(*(group for group, _ in closed))  # in the scratch store
        return self._queue(conversation for _, conversation in closed if conversation is not None)

    def commit(self, changes: Changes, cursor: Any, items: Iterable[Conversation | Skip] = ()) -> int:
        with changes._assembler._store.transaction() as conn:  # the scratch store; no cursor moves
            changes(conn)
        self.on_items(changes.changed)
        self.submit_many(items)
        return changes.changed


def file_sha256(path: Path) -> str:
    """A file's SHA-256, read a megabyte at a time: an export's cursor (the same file is read once)."""
    import hashlib  # OpenSSL's, loaded when first needed: status and --help never hash

    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_checked(source: Path, found: str, strays: dict[str, str], total: int, *, label: str, none: str) -> str:
    """``check``'s line for a source of ``total`` files, ``strays`` among them (name -> reason)
    not what its connector reads: "<source>: <found>; <label>: a.pdf (why), ...". When every
    file is one, the source is not what it was configured as: ``SourceError`` ("<source>: <none>: ...").
    No file at all is no error: a folder waits for its first export."""
    if strays and len(strays) == total:
        name, reason = next(iter(strays.items()))
        more = f" (and {len(strays) - 1} more file(s) like it)" if len(strays) > 1 else ""
        raise SourceError(f"{source}: {none}: {name}: {reason}{more}")
    if not strays:
        return f"{source}: {found}"
    named = [f"{name} ({reason})" for name, reason in list(strays.items())[:NAMED]]
    more = f" and {len(strays) - NAMED} more" if len(strays) > NAMED else ""
    return f"{source}: {found}; {label}: {', '.join(named)}{more}"


async def call(function: Any, *args: Any) -> Any:
    """Run a connector method: a coroutine on the loop, a plain function in a worker thread."""
    import asyncio  # the daemon's and check's, not status's

    if inspect.iscoroutinefunction(function):
        return await function(*args)
    return await asyncio.to_thread(function, *args)
