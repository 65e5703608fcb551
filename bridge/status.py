"""What ``omi-bridge status`` shows: outbox counts, the backlog and what it will take at Omi's limit,
each connector's health, the last dead rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bridge.config import Config, OmiConfig
from bridge.health import omi_state
from bridge.limits import Budget, Limit, format_window
from bridge.models import PRIORITY_LIVE
from bridge.store import Store

__all__ = ["backlog", "backlog_line", "collect", "failing_sources", "format_duration", "local_midnight", "render", "summary"]


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


def backlog(config: OmiConfig, store: Store, now: float) -> dict[str, Any]:
    """Rows waiting by priority, the write limit in force and where it came from, and when the
    backlog will be delivered at that limit."""
    pacing = config.pacing()
    writes = Budget(store, "write", pacing and Limit(*pacing, "configured"), reserve=config.live_reserve, now=now)
    limit = writes.in_force()
    pending = store.pending_by_priority()
    live = sum(n for priority, n in pending.items() if priority <= PRIORITY_LIVE)
    backfill = sum(n for priority, n in pending.items() if priority > PRIORITY_LIVE)
    reserve = writes.reserve(limit) if limit.source != "default" else 0
    windows = max((live + backfill) / limit.count, backfill / (limit.count - reserve))
    pause = store.pause_until()
    # writes spent in the current window push the start back
    start = max(pause, writes.next_free(now, live=backfill == 0) if limit.source != "default" else now)
    seconds = windows * limit.window + max(0.0, start - now) if live + backfill else 0.0
    reads_until = float(store.get_meta("read_budget_until") or 0)
    to_check = store.rows("SELECT count(*) AS n FROM outbox WHERE state = 'pending' AND unknown_since IS NOT NULL")
    return {
        "live": live,
        "backfill": backfill,
        "limit": {"count": limit.count, "window_seconds": limit.window, "source": limit.source,
                  "learned_at": _when(limit.since), "live_reserve": reserve},
        "eta_seconds": round(seconds),
        "eta": _when(now + seconds) if live + backfill else None,
        "to_check": to_check[0]["n"],
        "read_budget_until": _when(reads_until) if reads_until > now and to_check[0]["n"] else None,
    }


def backlog_line(info: dict[str, Any]) -> str:
    """One line: what waits, at what limit, delivered when."""
    limit = info["limit"]
    source = {"configured": "configured", "learned": "learned from Omi",
              "default": "Omi's documented default; it states the real one on its first 429"}[limit["source"]]
    rate = f"limit {limit['count']} writes per {format_window(limit['window_seconds'])} ({source})"
    if not info["live"] and not info["backfill"]:
        return f"backlog: nothing waiting; {rate}"
    line = (f"backlog: {info['live']} live, {info['backfill']} backfill; {rate}; "
            f"delivered in about {format_duration(info['eta_seconds'])} at that rate")
    if info["read_budget_until"]:
        line += f"; {info['to_check']} to check with Omi first, waiting for read budget until {info['read_budget_until']}"
    return line


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return "a minute" if seconds > 30 else "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" if hours >= 10 or not minutes else f"{hours} h {minutes} min"
    return f"{seconds / 86400:.1f} days"



def state_health(store: Store) -> dict[str, Any]:
    """Whether the running daemon can write its state file: it cannot store that in the file it
    cannot write, so it notes it in its lock file (bridge/lock.py)."""
    from pathlib import Path

    from bridge.lock import StateLock

    note = StateLock(Path(store.path)).read_note() or {}
    if note.get("state") != "failing":
        return {"state": "ok", "since": None, "error": None}
    return {"state": "failing", "since": _when(note.get("since")), "error": note.get("error")}


def collect(config: Config, store: Store) -> dict[str, Any]:
    midnight = local_midnight()
    health = {r["connector"]: r for r in store.rows("SELECT * FROM sources")}
    today = {
        r["connector"]: r["n"]
        for r in store.rows("SELECT connector, count(*) AS n FROM outbox WHERE created_at >= ? GROUP BY connector",
                            [midnight.timestamp()])
    }
    skipped = {
        r["connector"]: r["n"] for r in store.rows("SELECT connector, count(*) AS n FROM skipped GROUP BY connector")
    }
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
            "last_success": _when(row.get("last_success")),
            "failing_since": _when(row.get("failing_since")),
            "last_error": row.get("last_error"),
            "items_today": today.get(name, 0),
            "skipped": skipped.get(name, 0),
            "waiting": waiting.get(name, 0),
        })
    dead = store.rows(
        "SELECT id, connector, source_key, label, attempts, last_error FROM outbox WHERE state = 'dead'"
        " ORDER BY id DESC LIMIT 10"
    )
    last_skipped = store.rows(
        "SELECT connector, source_key, reason, ref, created_at FROM skipped ORDER BY id DESC LIMIT 10"
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
        "skipped": [{**s, "created_at": _when(s["created_at"])} for s in last_skipped],
    }


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [[str("-" if v is None else v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*headers), *(fmt.format(*r) for r in cells)]


def render(info: dict[str, Any]) -> str:
    o = info["outbox"]
    state = info["state"]
    lines = [
        f"state: {info['state_file']}" + (f" CANNOT BE WRITTEN since {state['since']}: {state['error']};"
                                          " nothing is sent until it can (free space there)"
                                          if state["state"] == "failing" else ""),
        f"outbox: {o['pending']} pending, {o['inflight']} in flight, {o['sent']} sent"
        f" ({info['sent_today']} today), {o['dead']} dead",
    ]
    omi = info["omi"]
    lines.append(f"omi: {omi['state']}" + (f" since {omi['since']}: {omi['error']}" if omi["state"] == "failing" else ""))
    lines.append(backlog_line(info["backlog"]))
    if info["rate_limited_until"]:
        lines.append(f"rate limited by Omi until {info['rate_limited_until']}")
    lines += ["", *_table(
        ["connector", "type", "state", "last success", "items today", "in open groups", "skipped", "failing since",
         "error"],
        [[c["name"], c["type"], c["state"], c["last_success"], c["items_today"], c["waiting"], c["skipped"],
          c["failing_since"], c["last_error"]] for c in info["connectors"]],
    )]
    if info["dead"]:
        lines += ["", "dead rows (omi-bridge retry ID... to send again):"]
        lines += _table(["id", "connector", "source", "reason"],
                        [[d["id"], d["connector"], d["label"] or d["source_key"], d["last_error"]] for d in info["dead"]])
    if info["skipped"]:
        lines += ["", "last skipped items:"]
        lines += _table(["connector", "item", "reason"],
                        [[s["connector"], s["ref"] or s["source_key"], s["reason"]] for s in info["skipped"]])
    return "\n".join(lines)
