"""``omi-bridge plan``: what every source would cost in Omi writes, before anything is sent.

Each connector is read the way ``preview`` reads it (nothing sent, no state changed, chat and
mail threads gathered in a scratch store), and counted: items read, skipped by reason,
conversations made, writes (a text over 100,000 characters is several), live and backfill
apart. Groups still open at the end (a thread still talking) count as the conversations they
will become. The time is the writes over the write limit in force: the one learned from Omi's
429s or the configured ``rate_limit`` (the lower), else Omi's usual 25 an hour; live writes go
first, and backfill gets what the live reserve leaves of each window.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from bridge.connector import PreviewSink
from bridge.groups import LINE_OVERHEAD
from bridge.limits import Budget, Limit
from bridge.models import MAX_TEXT, PRIORITY_LIVE

if TYPE_CHECKING:
    from bridge.config import Config
    from bridge.store import Store

__all__ = ["SourcePlan", "plan", "render"]

_ADDRESS = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")


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
    found.skipped = dict(Counter(_reason(reason) for _, reason in sink.skipped).most_common())
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


def _reason(reason: str) -> str:
    """A skip reason without the address that names one item, so alike reasons count together."""
    return _ADDRESS.sub("<address>", reason)


def plan(config: Config, store: Store | None, connectors: dict[str, Any]) -> dict:
    """Read every source; the plan as a dict (what ``--json`` prints)."""
    from bridge.daemon import call, one_line

    sources = []
    for name in config.connectors:
        connector = connectors.get(name)
        if connector is None:  # a secret it needs has no value here (an admin shell without it)
            sources.append(SourcePlan(name, error=config.missing_for(name) or "not built"))
            continue
        sink = PreviewSink(store, name, config.connectors[name])
        try:
            asyncio.run(call(connector.poll, sink))
        except Exception as exc:
            sources.append(SourcePlan(name, error=one_line(exc)))
            continue
        sources.append(_count(name, sink))
    limit, reserve = _limit(config, store)
    queued = _queued(store)
    live = sum(s.writes_live for s in sources) + queued["live"]
    backfill = sum(s.writes_backfill for s in sources) + queued["backfill"]
    live_seconds = live / limit.rate()
    backfill_rate = (limit.count - reserve) / limit.window if backfill else limit.rate()
    return {
        "limit": {"count": limit.count, "window": limit.window, "source": limit.source, "live_reserve": reserve},
        "sources": [{**asdict(s), "writes": s.writes} for s in sources],
        "already_queued": queued,
        "writes": {"live": live, "backfill": backfill, "total": live + backfill},
        "seconds": {"live": round(live_seconds), "total": round(live_seconds + backfill / backfill_rate)},
    }


def _limit(config: Config, store: Store | None) -> tuple[Limit, int]:
    pacing = config.omi.pacing()
    configured = pacing and Limit(*pacing, "configured")
    if store is None:
        limit = configured or Limit(25, 3600.0, "Omi's usual limit")
        wanted = max(1, limit.count // 5) if config.omi.live_reserve is None else config.omi.live_reserve
        return limit, max(0, min(wanted, limit.count - 1))  # as the dispatcher's budget keeps it
    budget = Budget(store, "write", configured, reserve=config.omi.live_reserve, now=time.time())
    limit = budget.in_force()
    if limit.source == "default":
        limit = Limit(limit.count, limit.window, "Omi's usual limit")
    return limit, budget.reserve(limit)


def _queued(store: Store | None) -> dict[str, int]:
    if store is None:
        return {"live": 0, "backfill": 0}
    rows = store.rows("SELECT priority <= ? AS live, count(*) AS n FROM outbox WHERE state IN ('pending', 'inflight')"
                      " GROUP BY 1", [PRIORITY_LIVE])
    found = {bool(r["live"]): r["n"] for r in rows}
    return {"live": found.get(True, 0), "backfill": found.get(False, 0)}


def _duration(seconds: float) -> str:
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes and not days)
    return " ".join(parts)


def render(found: dict) -> str:
    """The plan as text, one block per connector, then the total."""
    limit = found["limit"]
    per = f"{limit['count']} per {limit['window'] / 3600:g} h" if limit["window"] >= 3600 else (
        f"{limit['count']} per {limit['window']:g} s")
    lines = [f"Writes go out at {per} ({limit['source']}); nothing was sent or stored to make this plan.", ""]
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
    lines += ["", f"total: {writes['total']:,} write(s): live {writes['live']:,} in {_duration(seconds['live'])}, "
                  f"everything in {_duration(seconds['total'])} (backfill leaves {limit['live_reserve']} "
                  "write(s) of each window to live items)"]
    return "\n".join(lines)


def main(config: Config, store: Store | None, connectors: dict[str, Any], *, as_json: bool,
         redact: Callable[[str], str]) -> None:
    found = plan(config, store, connectors)
    print(redact(json.dumps(found, indent=2) if as_json else render(found)))
    sys.stdout.flush()
