"""Slack at scale: an export import, and live events with a large state, must cost per message.

    python -m benchmarks.slack_scale [--sizes 10000 100000] [--events 1000]

For each size, in a fresh process (so peak memory is its own): a generated export with
realistic threads (tests/slack_data.py) is imported by the real ``slack-export`` connector into a
state file on disk, as ``run`` does; then, with those items in state, ``--events`` live message
events (new lines, replies to new and to old threads, edits) go through the live connector's
``take_message``. Reported: import seconds and microseconds per message, conversations made,
peak memory, and milliseconds per live event (mean and 95th percentile). Linear means the
per-message cost stays flat from the small size to the large one.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.connector import Sink  # noqa: E402
from bridge.store import Store  # noqa: E402
from connectors.slack.connector import SlackConfig, SlackConnector  # noqa: E402
from connectors.slack.export import SlackExportConfig, SlackExportConnector  # noqa: E402
from tests.slack_data import CHANNELS, USERS, make_export  # noqa: E402


def one_size(messages: int, events: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        zip_path = Path(folder) / "export.zip"
        count = make_export(zip_path, messages)
        store = Store(Path(folder) / "state.db")
        config = SlackExportConfig(type="slack-export", path=zip_path, timezone="UTC")
        sink = Sink(store, "team", config, lambda: None)
        started = time.perf_counter()
        SlackExportConnector("team", config).poll(sink)
        took = time.perf_counter() - started
        conversations = store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        items = store.conn.execute("SELECT count(*) FROM items").fetchone()[0]

        live = SlackConnector("team", SlackConfig(type="slack", bot_token="xoxb-x", app_token="xapp-x",
                                                  timezone="UTC"))
        assembler = live._assembler_for(sink)
        rng = random.Random(7)
        roots = [r[0] for r in store.conn.execute(
            "SELECT item_key FROM items WHERE thread IS NULL ORDER BY random() LIMIT 2000")]
        now = time.time()
        recent: list[tuple[str, str]] = []
        times = []
        for n in range(events):
            channel = rng.choice(CHANNELS)[0]
            ts = f"{now + n * 0.5:.6f}"
            event = {"type": "message", "channel": channel, "channel_type": "channel", "user": rng.choice(USERS)[0],
                     "text": f"live line {n}", "ts": ts}
            roll = rng.random()
            if roll < 0.2 and roots:  # a late reply to an old thread
                old_channel, old_ts = rng.choice(roots).split(":", 1)
                event.update(channel=old_channel, thread_ts=old_ts)
            elif roll < 0.4 and recent:  # a reply to something said just now
                event.update(channel=recent[-1][0], thread_ts=recent[-1][1])
            elif roll < 0.45 and recent:  # an edit
                edited_channel, edited_ts = rng.choice(recent)
                event = {"type": "message", "subtype": "message_changed", "channel": edited_channel,
                         "channel_type": "channel", "ts": ts,
                         "message": {"type": "message", "user": USERS[0][0], "text": "edited", "ts": edited_ts}}
            recent.append((event["channel"], ts))
            started = time.perf_counter()
            live.take_message(assembler, event, f"Ev{n:08d}")
            times.append(time.perf_counter() - started)
        store.close()
    times.sort()
    return {
        "messages": count, "items": items, "conversations": conversations, "import_s": round(took, 2),
        "us_per_message": round(took / count * 1e6), "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF)
                                                                     .ru_maxrss / 1024),
        "event_ms_mean": round(sum(times) / len(times) * 1000, 3),
        "event_ms_p95": round(times[int(len(times) * 0.95)] * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.events)))
        return
    results = []
    for size in args.sizes:
        done = subprocess.run([sys.executable, "-m", "benchmarks.slack_scale", "--one", str(size),
                               "--events", str(args.events)], cwd=ROOT, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout))
        print(json.dumps(results[-1]), flush=True)
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(f"per-message cost, {large['messages']} vs {small['messages']} messages: "
              f"x{large['us_per_message'] / small['us_per_message']:.2f} (1.0 = linear)")


if __name__ == "__main__":
    main()
