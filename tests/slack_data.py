"""Generated Slack workspace exports in the shape Slack writes them, for tests and benchmarks.

A real export (Workspace settings > Import/Export > Export) is a zip: ``users.json``,
``channels.json`` and one folder per channel holding a JSON list of messages per UTC day. A
thread's first message carries ``reply_count``, ``reply_users``, ``latest_reply`` and
``replies``; each reply sits in the day file of the day it was said, with ``thread_ts`` and
``parent_user_id``; messages carry ``user_profile`` and ``blocks`` beside ``text``.

The traffic is a technical team's: a few busy channels and many quiet ones, bursts of short
lines, threads from one reply to a few hundred (a heavy tail), replies spread over hours and
into later days, code blocks with the links Slack's auto-linker puts in them, mentions, links.
"""

from __future__ import annotations

import json
import random
import zipfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["CHANNELS", "USERS", "make_export"]

USERS = [(f"U{n:07d}A", f"user{n}", f"Person {n}") for n in range(60)]
CHANNELS = [(f"C{n:07d}X", name) for n, name in enumerate(
    ["general", "dev", "ops", "incidents", "backend", "frontend", "data", "random", "releases", "support",
     *(f"team-{n}" for n in range(20))])]
_ACTIVITY = [1 / rank for rank in range(1, len(CHANNELS) + 1)]  # a few busy channels, many quiet ones
_WORDS = (
    "deploy", "build", "logs", "error", "retry", "cache", "query", "index", "shard", "queue",
    "worker", "timeout", "config", "branch", "merge", "review", "test", "flaky", "latency", "memory",
    "cpu", "disk", "node", "pod", "cluster", "migration", "schema", "rollback", "alert",
)
_CODE = [
    "```logger.info(\"retrying %s\", <http://job.id|job.id>)\nclient = <http://requests.post|requests.post>(url)```",
    "```aws s3 cp <s3://bucket/key> .\ncall <tel:5551234|555-1234>```",
    "`<http://settings.py|settings.py>` has the flag",
    "```SELECT * FROM jobs WHERE state = 'failed' AND id &gt; 10;```",
]


def _text(rng: random.Random) -> str:
    roll = rng.random()
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 18)))
    if roll < 0.08:
        return f"{words}\n{rng.choice(_CODE)}"
    if roll < 0.15:
        return f"<@{rng.choice(USERS)[0]}> {words}"
    if roll < 0.2:
        return f"{words} <https://example.com/{rng.randint(1, 999)}|the dashboard>"
    return words


def _message(rng: random.Random, ts: float, **extra: Any) -> dict[str, Any]:
    user, name, real = rng.choice(USERS)
    text = _text(rng)
    return {
        "type": "message", "user": user, "text": text, "ts": f"{ts:.6f}",
        "user_profile": {"name": name, "real_name": real, "display_name": name},
        "blocks": [{"type": "rich_text", "block_id": "b", "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}],
        **extra,
    }


def make_export(path: Path, messages: int, *, seed: int = 1, start: float = 1_735_689_600.0) -> int:
    """Write an export of about ``messages`` messages to ``path``; returns the exact count."""
    rng = random.Random(seed)
    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    span = max(30, messages // 300) * 86400  # a busy workspace: ~300 messages a day
    count = 0
    used: set[str] = set()

    def stamp(at: float) -> float:
        while f"{at:.6f}" in used:
            at += 0.000001
        used.add(f"{at:.6f}")
        return at

    while count < messages:
        channel = rng.choices(CHANNELS, _ACTIVITY)[0][1]
        at = stamp(start + rng.uniform(0, span))
        if rng.random() < 0.35:  # a thread: most short, a few very long
            replies = min(int(rng.paretovariate(1.2)), 300, messages - count - 1)
            root = _message(rng, at)
            thread = []
            t = at
            for _ in range(replies):
                t = stamp(t + rng.expovariate(1 / (1800 if rng.random() < 0.9 else 40000)))
                thread.append(_message(rng, t, thread_ts=root["ts"], parent_user_id=root["user"]))
            if thread:
                root.update(thread_ts=root["ts"], reply_count=len(thread), latest_reply=thread[-1]["ts"],
                            reply_users=sorted({m["user"] for m in thread}),
                            replies=[{"user": m["user"], "ts": m["ts"]} for m in thread])
            by_channel[channel] += [root, *thread]
            count += 1 + len(thread)
        else:  # a burst of lines
            t = at
            for _ in range(min(rng.randint(1, 8), messages - count)):
                by_channel[channel].append(_message(rng, t))
                t = stamp(t + rng.uniform(5, 300))
                count += 1
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("users.json", json.dumps([
            {"id": user, "name": name, "real_name": real, "profile": {"display_name": name, "real_name": real}}
            for user, name, real in USERS]))
        archive.writestr("channels.json", json.dumps([{"id": cid, "name": name} for cid, name in CHANNELS]))
        for channel, found in by_channel.items():
            days: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for message in sorted(found, key=lambda m: float(m["ts"])):
                days[datetime.fromtimestamp(float(message["ts"]), UTC).strftime("%Y-%m-%d")].append(message)
            for day, day_messages in days.items():
                archive.writestr(f"{channel}/{day}.json", json.dumps(day_messages, indent=4))
    return count
