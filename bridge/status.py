"""What ``omi-bridge status`` shows: outbox counts, the backlog and what it will take at Omi's limit,
each connector's health, the last dead rows."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.config import Config, OmiConfig
from bridge.connector import reason_kind
from bridge.health import omi_state
from bridge.limits import Budget, Limit, format_window
from bridge.models import PRIORITY_LIVE
from bridge.store import Store

__all__ = [
    "KEY_REFUSED", "Estimate", "backlog", "backlog_line", "collect", "estimate", "failing_sources", "format_duration",
    "limit_text", "local_midnight", "render", "skip_totals", "summary",
]


def _when(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def local_midnight() -> datetime:
    """The start of today, local time: what "today" means in status and STATUS=."""
    return datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)


def failing_sources(store: Store, connectors: Iterable[str]) -> list[str]:
    """The configured connectors whose source is failing, by name."""
    names = set(connectors)
    return [r["connector"] for r in store.rows(
        "SELECT connector FROM sources WHERE failing_since IS NOT NULL ORDER BY connector") if r["connector"] in names]


def summary(store: Store, connectors: Iterable[str]) -> str:
    """One line for systemctl status: pending / sent today / dead / failing connectors."""
    counts = store.counts()
    failing = failing_sources(store, connectors)
    line = (f"{counts['pending'] + counts['inflight']} pending, {store.sent_since(local_midnight())} sent today, "
            f"{counts['dead']} dead")
    line += f", failing: {', '.join(failing)}" if failing else ", all sources ok"
    omi = omi_state(store)
    return line + (f"; Omi failing: {omi['error']}" if omi["state"] == "failing" else "")


KEY_REFUSED = "not while Omi refuses the key"


@dataclass(frozen=True)
class Estimate:
    """When writes waiting now will have reached Omi: what ``status``, ``/healthz``, ``run --once``
    and ``plan`` all say, from this one computation."""

    limit: Limit
    reserve: int  # writes of each window backfill leaves to live items
    live_seconds: float  # until the live writes are out
    seconds: float  # until every write is out
    blocked: str | None  # why nothing goes out at all (Omi refuses the key), else None


def estimate(config: OmiConfig, store: Store | None, live: int, backfill: int, now: float) -> Estimate:
    """The write limit in force and when ``live`` + ``backfill`` writes will be delivered at it.

    Live writes go first, a whole window's worth at a time; backfill takes at most the limit
    less the live reserve of each window (bridge/dispatcher.py keeps to the same budget). Writes
    spent in the current window and a pause Omi asked for push the start back. Until Omi states
    its limit, its documented 25 an hour is assumed, with the reserve that will apply then.
    """
    pacing = config.pacing()
    budget = Budget(store or Store(), "write", pacing and Limit(*pacing, "configured"), reserve=config.live_reserve,
                    now=now)
    limit = budget.in_force()
    reserve = budget.reserve(limit)
    start = now
    if store is not None and live + backfill:
        start = max(now, store.pause_until(), budget.next_free(now, live=backfill == 0))
    count = limit.count
    full, rest = divmod(live, count)
    if not backfill:
        windows = live / count
    elif not rest:
        windows = full + backfill / (count - reserve)
    else:  # the window the last live writes open takes backfill too, as far as the reserve allows
        shared = min(count - reserve, count - rest)
        if backfill <= shared:
            windows = full + (rest + backfill) / count
        else:
            windows = full + 1 + (backfill - shared) / (count - reserve)
    delay = start - now
    omi = omi_state(store) if store is not None else {"state": "unknown", "error": None}
    refused = omi["state"] == "failing" and "refused the API key" in (omi["error"] or "")
    return Estimate(limit, reserve, delay + live / count * limit.window if live else 0.0,
                    delay + windows * limit.window if live + backfill else 0.0, KEY_REFUSED if refused else None)


def backlog(config: OmiConfig, store: Store, now: float) -> dict[str, Any]:
    """Rows waiting by priority, the write limit in force and where it came from, and when the
    backlog will be delivered at that limit."""
    pending = store.pending_by_priority()
    live = sum(n for priority, n in pending.items() if priority <= PRIORITY_LIVE)
    backfill = sum(n for priority, n in pending.items() if priority > PRIORITY_LIVE)
    found = estimate(config, store, live, backfill, now)
    limit = found.limit
    reads_until = float(store.get_meta("read_budget_until") or 0)
    to_check = store.rows("SELECT count(*) AS n FROM outbox WHERE state = 'pending' AND unknown_since IS NOT NULL")
    delivered = found.blocked is None and live + backfill
    return {
        "live": live,
        "backfill": backfill,
        "limit": {"count": limit.count, "window_seconds": limit.window, "source": limit.source,
                  "learned_at": _when(limit.since), "live_reserve": found.reserve},
        "eta_seconds": None if found.blocked else round(found.seconds),
        "eta": _when(now + found.seconds) if delivered else None,
        "blocked": found.blocked,
        "to_check": to_check[0]["n"],
        "read_budget_until": _when(reads_until) if reads_until > now and to_check[0]["n"] else None,
    }


LIMIT_SOURCES = {"configured": "configured", "learned": "learned from Omi",
                 "default": "Omi's documented default; it states the real one on its first 429"}


def limit_text(count: int, window: float, source: str) -> str:
    """"25 writes per hour (learned from Omi)": the limit in force, said the same everywhere."""
    return f"{count} writes per {format_window(window)} ({LIMIT_SOURCES[source]})"


def backlog_line(info: dict[str, Any]) -> str:
    """One line: what waits, at what limit, delivered when."""
    limit = info["limit"]
    rate = "limit " + limit_text(limit["count"], limit["window_seconds"], limit["source"])
    if not info["live"] and not info["backfill"]:
        return f"backlog: nothing waiting; {rate}"
    when = info["blocked"] or f"in about {format_duration(info['eta_seconds'])} at that rate"
    line = f"backlog: {info['live']} live, {info['backfill']} backfill; {rate}; delivered {when}"
    if info["read_budget_until"]:
        line += (f"; {info['to_check']} to check with Omi first, waiting for read budget until "
                 f"{info['read_budget_until']}")
    return line


def format_duration(seconds: float) -> str:
    """"less than a minute", "25 min", "5 h 30 min", "5 days 16 h": for every estimate shown."""
    if seconds < 90:
        return "a minute" if seconds > 30 else "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" if hours >= 10 or not minutes else f"{hours} h {minutes} min"
    days, hours = divmod(round(seconds / 3600), 24)
    return f"{days} days" + (f" {hours} h" if hours else "")


def skip_totals(store: Store, since: float) -> list[dict[str, Any]]:
    """Skipped items per connector and kind of reason (``reason_kind``): all time and since
    ``since``, the most first."""
    totals: dict[tuple[str, str], list[int]] = {}
    for row in store.rows("SELECT connector, reason, count(*) AS n, sum(created_at >= ?) AS today FROM skipped"
                          " GROUP BY connector, reason", [since]):
        counts = totals.setdefault((row["connector"], reason_kind(row["reason"])), [0, 0])
        counts[0] += row["n"]
        counts[1] += row["today"]
    ordered = sorted(totals.items(), key=lambda t: (t[0][0], -t[1][0], t[0][1]))  # by connector, the most first
    return [{"connector": connector, "reason": reason, "total": total, "today": today}
            for (connector, reason), (total, today) in ordered]


def state_health(store: Store) -> dict[str, Any]:
    """Whether the running daemon can write its state file: it cannot store that in the file it
    cannot write, so it notes it in its lock file (bridge/lock.py)."""
    from pathlib import Path

    from bridge.lock import StateLock

    note = StateLock(Path(store.path)).read_note() or {}
    if note.get("state") != "failing":
        return {"state": "ok", "since": None, "error": None}
    return {"state": "failing", "since": _when(note.get("since")), "error": note.get("error")}


def _marks(values: list[Any]) -> str:
    return ", ".join("?" * len(values))


def collect(config: Config, store: Store) -> dict[str, Any]:
    midnight = local_midnight()
    health = {r["connector"]: r for r in store.rows("SELECT * FROM sources")}
    names = list(config.connectors)
    today = {  # by the index on (connector, created_at): today's rows are read, not the whole outbox
        r["connector"]: r["n"]
        for r in store.rows(f"SELECT connector, count(*) AS n FROM outbox WHERE connector IN ({_marks(names)})"
                            " AND created_at >= ? GROUP BY connector", [*names, midnight.timestamp()])
    }
    skips = skip_totals(store, midnight.timestamp())
    # chat messages held in open groups: taken in, not yet a conversation (see bridge/groups.py)
    waiting = {
        r["connector"]: r["n"]
        for r in store.rows("SELECT i.connector, count(*) AS n FROM items i JOIN groups g ON g.id = i.group_id"
                            " WHERE g.state != 'closed' AND NOT i.deleted GROUP BY i.connector")
    }
    connectors = []
    for name, cfg in config.connectors.items():
        row = health.get(name, {})
        state = "failing" if row.get("failing_since") else ("ok" if row.get("last_success") else "not polled yet")
        connectors.append({
            "name": name,
            "type": cfg.type,
            "state": state,
            "paused": cfg.paused,  # nothing is read while paused; state is its health as last seen
            "last_success": _when(row.get("last_success")),
            "failing_since": _when(row.get("failing_since")),
            "last_error": row.get("last_error"),
            "items_today": today.get(name, 0),
            "skipped": sum(s["total"] for s in skips if s["connector"] == name),
            "skipped_today": sum(s["today"] for s in skips if s["connector"] == name),
            "waiting": waiting.get(name, 0),
        })
    dead = store.rows(
        "SELECT id, connector, source_key, label, attempts, last_error FROM outbox WHERE state = 'dead'"
        " ORDER BY id DESC LIMIT 10"
    )
    last_skipped = store.rows(
        "SELECT connector, source_key, reason, ref, created_at FROM skipped ORDER BY id DESC LIMIT 10"
    )
    delivered = store.rows(
        "SELECT id, connector, label, source_key, omi_id, sent_at FROM outbox WHERE sent_at IS NOT NULL"
        " ORDER BY sent_at DESC LIMIT 5"
    )
    pause = store.pause_until()
    now = datetime.now().timestamp()
    return {
        "state_file": store.path,
        "state": state_health(store),
        "outbox": store.counts(),
        "sent_today": store.sent_since(midnight),
        "rate_limited_until": _when(pause) if pause > now else None,
        "omi": {**(omi := omi_state(store)), "since": _when(omi["since"])},
        "backlog": backlog(config.omi, store, now),
        "connectors": connectors,
        "dead": dead,
        "skip_totals": skips,  # by connector and kind of reason, all time and today
        "skipped": [{**s, "created_at": _when(s["created_at"])} for s in last_skipped],  # the last ten
        "delivered": [{**d, "sent_at": _when(d["sent_at"])} for d in delivered],  # the last five
    }


# -- the text a person reads: 100 columns at most; ``status --json`` has every field whole -------------

WIDTH = 100
ERROR_LINES = 3  # a long error shows this many lines, then says where it is whole


def _short(when: str | None) -> str | None:
    """An ISO time as "13:05:09" today, "12-01 13:05" before."""
    if when is None:
        return None
    at = datetime.fromisoformat(when)
    return f"{at:%H:%M:%S}" if at.date() == datetime.now().astimezone().date() else f"{at:%m-%d %H:%M}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers: list[str], rows: list[list[Any]], shrink: list[tuple[int, int]] = ()) -> list[str]:
    """Columns as wide as their cells; while wider than WIDTH, the ``shrink`` columns (index,
    narrowest) give up room in that order, their cells cut with "…"."""
    cells = [[" ".join(str("-" if v is None else v).split()) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    for column, narrowest in shrink:
        excess = sum(widths) + 2 * (len(widths) - 1) - WIDTH
        if excess > 0:
            widths[column] = max(narrowest, widths[column] - excess)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*(_cut(c, w) for c, w in zip(r, widths, strict=True))).rstrip() for r in [headers, *cells]]


def _wrap(text: str, indent: str = "    ", first: str = "", most: int | None = None) -> list[str]:
    """``text`` in lines of WIDTH at most: the first after ``first``, the rest after ``indent``;
    past ``most`` lines, the last one says that --json has it whole."""
    lines = textwrap.wrap(" ".join(text.split()), WIDTH, initial_indent=first, subsequent_indent=indent,
                          break_on_hyphens=False) or [first.rstrip()]
    if most is not None and len(lines) > most:
        lines = [*lines[: most - 1], _cut(lines[most - 1], WIDTH - 27) + " (whole in status --json)"]
    return lines


def render(info: dict[str, Any]) -> str:
    o = info["outbox"]
    state = info["state"]
    lines = [
        *_wrap(f"state: {info['state_file']}" + (f" CANNOT BE WRITTEN since {state['since']}: {state['error']};"
                                                  " nothing is sent until it can (free space there)"
                                                  if state["state"] == "failing" else "")),
        f"outbox: {o['pending']} pending, {o['inflight']} in flight, {o['sent']} sent"
        f" ({info['sent_today']} today), {o['dead']} dead",
    ]
    omi = info["omi"]
    if omi["state"] == "failing":
        since = f" since {_short(omi['since'])}" if omi["since"] else ""
        lines += [f"omi: failing{since}:", *_wrap(omi["error"] or "", first="    ", most=ERROR_LINES)]
    else:
        lines.append(f"omi: {omi['state']}")
    lines += _wrap(backlog_line(info["backlog"]))
    if info["rate_limited_until"]:
        lines.append(f"rate limited by Omi until {_short(info['rate_limited_until'])}")
    lines += ["", *_table(
        ["connector", "type", "state", "last success", "today", "grouping", "skipped"],
        [[c["name"], c["type"], "paused" if c["paused"] else c["state"], _short(c["last_success"]), c["items_today"],
          c["waiting"], f"{c['skipped']:,}"] for c in info["connectors"]],
        shrink=[(0, 12), (1, 8)],
    )]
    for c in info["connectors"]:
        if c["last_error"]:
            since = f" (failing since {_short(c['failing_since'])})" if c["failing_since"] else ""
            lines += [f"{c['name']}{since}:", *_wrap(c["last_error"], first="    ", most=ERROR_LINES)]
    if info["dead"]:
        lines += ["", "dead rows (omi-bridge retry ID... to send again):"]
        lines += _table(["id", "connector", "source", "reason"],
                        [[d["id"], d["connector"], d["label"] or d["source_key"], d["last_error"]]
                         for d in info["dead"]],
                        shrink=[(2, 16), (3, 40), (1, 12), (3, 24)])
    if info["skip_totals"]:
        lines += ["", "skipped, by reason:"]
        lines += _table(["connector", "reason", "all time", "today"],
                        [[s["connector"], s["reason"], f"{s['total']:,}", f"{s['today']:,}"]
                         for s in info["skip_totals"]],
                        shrink=[(1, 24), (0, 12)])
    if info["delivered"]:
        lines += ["", "last delivered:"]
        lines += _table(["sent", "connector", "conversation", "omi id"],
                        [[d["sent_at"][5:16].replace("T", " "), d["connector"], d["label"] or d["source_key"],
                          d["omi_id"]] for d in info["delivered"]],
                        shrink=[(2, 24), (3, 12), (1, 12)])
    if info["skipped"]:
        lines += ["", "last skipped items:"]
        lines += _table(["connector", "item", "reason"],
                        [[s["connector"], s["ref"] or s["source_key"], s["reason"]] for s in info["skipped"]],
                        shrink=[(1, 20), (0, 12), (2, 24)])
    return "\n".join(lines)
