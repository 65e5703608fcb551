"""``omi-bridge plan``: what every source would cost in Omi writes, before anything is sent.

Each connector is read the way ``preview`` reads it (nothing sent, no state changed, chat and
mail threads gathered in a scratch store), and counted: items read, skipped by reason,
conversations made, writes (a text over 100,000 characters is several), live and backfill
apart. Groups still open at the end (a thread still talking) count as the conversations they
will become. The time is ``status``'s estimate (bridge/status.py ``estimate``) for these writes and
the ones already queued: at the write limit in force, live first, backfill with what the live
reserve leaves of each window.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from bridge.connector import PreviewSink, reason_kind
from bridge.groups import LINE_OVERHEAD
from bridge.models import MAX_TEXT, PRIORITY_LIVE
from bridge.status import estimate, format_duration, limit_text

if TYPE_CHECKING:
    from bridge.config import Config
    from bridge.store import Store

__all__ = ["SourcePlan", "plan", "reading", "render"]

@dataclass
class SourcePlan:
    connector: str
    items: int = 0  # messages, mails, files read
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    conversations: int = 0
    writes_live: int = 0
    writes_backfill: int = 0
    open_groups: int = 0  # conversations still gathering (a thread still talking), counted in writes
    error: str | None = None

    @property
    def writes(self) -> int:
        return self.writes_live + self.writes_backfill


def _count(name: str, sink: PreviewSink) -> SourcePlan:
    found = SourcePlan(name)
    for queued in sink.queued:
        if queued.priority <= PRIORITY_LIVE:
            found.writes_live += 1
        else:
            found.writes_backfill += 1
    found.conversations = len({q.source_key.split("#part", 1)[0] for q in sink.queued})
    found.skipped = dict(Counter(reason_kind(reason) for _, reason in sink.skipped).most_common())
    assembler = sink.last_assembler
    grouped = 0
    if assembler is not None:
        grouped = assembler.item_count()
        for group in assembler.due(now=math.inf):  # still open: what they become once they close
            if not group.items:
                continue
            parts = max(1, math.ceil(sum(len(i.text) + LINE_OVERHEAD for i in group.items) / MAX_TEXT))
            found.open_groups += 1
            found.conversations += 1
            if any(i.data.get("priority", PRIORITY_LIVE) <= PRIORITY_LIVE for i in group.items):
                found.writes_live += parts
            else:
                found.writes_backfill += parts
    found.items = sink.direct + grouped + len(sink.skipped)
    return found


@contextmanager
def reading(sink: PreviewSink) -> Iterator[None]:
    """On a terminal, a count of what a source gives while plan or preview reads it, so a long
    read (a Takeout, a mailbox over IMAP) is not silence; gone when the source is read."""
    if not sys.stderr.isatty():
        yield
        return
    from bridge.progress import Bar

    with Bar(desc=f"{sink.name}: reading", unit=" item", leave=False) as bar:
        sink.on_items = bar.update
        yield


def plan(config: Config, store: Store | None, connectors: dict[str, Any], only: list[str] | None = None) -> dict:
    """Read every source (``only``: these); the plan as a dict (what ``--json`` prints)."""
    from bridge import activity
    from bridge.connector import call
    from bridge.errors import one_line

    sources = []
    for name in only if only is not None else config.connectors:
        connector = connectors.get(name)
        if connector is None:  # a secret it needs has no value here (an admin shell without it)
            sources.append(SourcePlan(name, error=config.missing_for(name) or "not built"))
            continue
        sink = PreviewSink(store, name, config.connectors[name])
        try:
            with reading(sink), activity.unreported():  # the console's "doing now" is the daemon's own reads
                asyncio.run(call(connector.poll, sink))
        except Exception as exc:
            sources.append(SourcePlan(name, error=one_line(exc)))
            continue
        sources.append(_count(name, sink))
    queued = _queued(store)
    live = sum(s.writes_live for s in sources) + queued["live"]
    backfill = sum(s.writes_backfill for s in sources) + queued["backfill"]
    found = estimate(config.omi, store, live, backfill, time.time())  # what status will say of these writes
    limit = found.limit
    return {
        "limit": {"count": limit.count, "window": limit.window, "source": limit.source, "live_reserve": found.reserve},
        "sources": [{**asdict(s), "writes": s.writes} for s in sources],
        "already_queued": queued,
        "writes": {"live": live, "backfill": backfill, "total": live + backfill},
        "seconds": {"live": round(found.live_seconds), "total": round(found.seconds)},
        "blocked": found.blocked,
    }


def _queued(store: Store | None) -> dict[str, int]:
    if store is None:
        return {"live": 0, "backfill": 0}
    rows = store.rows("SELECT priority <= ? AS live, count(*) AS n FROM outbox WHERE state IN ('pending', 'inflight')"
                      " GROUP BY 1", [PRIORITY_LIVE])
    found = {bool(r["live"]): r["n"] for r in rows}
    return {"live": found.get(True, 0), "backfill": found.get(False, 0)}


def render(found: dict) -> str:
    """The plan as text, one block per connector, then the total."""
    limit = found["limit"]
    lines = [f"Write limit: {limit_text(limit['count'], limit['window'], limit['source'])}; nothing was sent or "
             "stored to make this plan.", ""]
    for source in found["sources"]:
        if source["error"]:
            lines.append(f"{source['connector']}: cannot read the source: {source['error']}")
            continue
        lines.append(f"{source['connector']}: {source['items']:,} item(s) read -> {source['conversations']:,} "
                     f"conversation(s), {source['writes']:,} write(s) (live {source['writes_live']:,}, "
                     f"backfill {source['writes_backfill']:,})")
        if source["open_groups"]:
            lines.append(f"  {source['open_groups']:,} of them still gathering messages (sent when they close)")
        for reason, count in source["skipped"].items():
            lines.append(f"  skipped {count:,}: {reason}")
    queued = found["already_queued"]
    if queued["live"] or queued["backfill"]:
        lines.append(f"already queued: {queued['live'] + queued['backfill']:,} write(s)")
    writes, seconds = found["writes"], found["seconds"]
    if found["blocked"]:
        lines += ["", f"total: {writes['total']:,} write(s), delivered {found['blocked']}"]
    else:
        live = f"live {writes['live']:,}" + (f" in about {format_duration(seconds['live'])}" if writes["live"] else "")
        lines += ["", f"total: {writes['total']:,} write(s): {live}, everything in about "
                      f"{format_duration(seconds['total'])} (backfill leaves {limit['live_reserve']} write(s) of each "
                      "window to live items)"]
    return "\n".join(lines)


def main(config: Config, store: Store | None, connectors: dict[str, Any], *, as_json: bool,
         redact: Callable[[str], str]) -> None:
    found = plan(config, store, connectors)
    print(redact(json.dumps(found, indent=2) if as_json else render(found)))
    sys.stdout.flush()
