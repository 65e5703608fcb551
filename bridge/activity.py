"""What each source is doing now: the console's "doing now" on a source's page.

A connector says it in a line or two, each under a key of its own, since one source may do
several things at once (IMAP: an IDLE connection per folder while a poll backfills):

    activity.report(self.name, "idle INBOX", "IDLE connected on INBOX")
    activity.report(self.name, "poll", "backfilling INBOX", done=1200, total=5000)
    activity.clear(self.name, "poll")

A read with a progress bar reports through the bar (``bridge.progress.Bar(..., source=NAME)``),
on a terminal or not. The records live in the daemon's memory only: they are about now, and a
restart begins with none. Reporting is a dict write under a lock: cheap enough per item. A read
for ``plan`` or ``preview`` (``unreported``) is not what the source does, and says nothing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace

__all__ = ["Doing", "advanced", "clear", "doing", "report", "unreported"]


@dataclass(frozen=True)
class Doing:
    what: str
    done: int | None = None
    total: int | None = None
    started: float = 0.0  # when this key's ``what`` began (a new ``what`` starts its clock again)
    at: float = 0.0  # the last report

    @property
    def percent(self) -> int | None:
        if self.done is None or not self.total:
            return None
        return min(100, round(100 * self.done / self.total))

    def seconds_left(self) -> float | None:
        """At the rate so far; None until there is a rate to go by."""
        if self.done is None or not self.total or self.done <= 0 or self.at <= self.started:
            return None
        rate = self.done / (self.at - self.started)
        return max(0.0, (self.total - self.done) / rate)


_lock = threading.Lock()
_now: dict[str, dict[str, Doing]] = {}  # source -> key -> what it is doing
# a context variable, not a thread's flag: asyncio.to_thread, which runs a poll, copies the context
_quiet: ContextVar[bool] = ContextVar("activity_quiet", default=False)


@contextlib.contextmanager
def unreported() -> Iterator[None]:
    """Reads within are not the source's activity (``plan`` reading it in the daemon's process)."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def report(source: str, key: str, what: str, done: int | None = None, total: int | None = None) -> None:
    if _quiet.get():
        return
    at = time.time()
    with _lock:
        held = _now.setdefault(source, {})
        old = held.get(key)
        started = old.started if old is not None and old.what == what else at
        held[key] = Doing(what, done, total, started, at)


def clear(source: str, key: str) -> None:
    if _quiet.get():
        return
    with _lock:
        _now.get(source, {}).pop(key, None)


def doing(source: str) -> list[Doing]:
    """What ``source`` is doing now, what began first first."""
    with _lock:
        found = list(_now.get(source, {}).values())
    return sorted(found, key=lambda d: (d.started, d.what))


def advanced(source: str, key: str, by: int = 1) -> None:
    """One more step of the ``report`` under ``key`` (a bar's update)."""
    if _quiet.get():
        return
    with _lock:
        old = _now.get(source, {}).get(key)
        if old is not None:
            _now[source][key] = replace(old, done=(old.done or 0) + by, at=time.time())
