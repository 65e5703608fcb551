"""How fast the web console's pages answer over a large state, and what they weigh.

    python -m benchmarks.console [--sent 100000] [--skipped 10000] [--sources 50] [--runs 7]

A state file is filled with ``--sent`` conversations already delivered (a month of them, texts of
a few hundred to a few thousand characters, made sent through the outbox's own trigger so the
search index is built as it is in use), ``--skipped`` skipped items over a dozen reasons, 200
waiting and 30 dead rows, spread over ``--sources`` configured sources. The console is served by
the daemon's own listener in this process and every page is fetched ``--runs`` times over
loopback, signed in: printed are the median and the slowest answer (server time plus a loopback
round trip) and the page's weight. The target is 100 ms and 200 KB a page. Then the query plan of
each list the pages read, to show that none scans a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bridge.config import load_config  # noqa: E402
from bridge.console import Console  # noqa: E402
from bridge.console.auth import COOKIE, Guard  # noqa: E402
from bridge.console.queries import fts_query  # noqa: E402
from bridge.http import Listener  # noqa: E402
from bridge.store import Store  # noqa: E402

WORDS = ["lunch", "meeting", "invoice", "garden", "bicycle", "dentist", "holiday", "report", "budget", "school",
         "train", "concert", "doctor", "recipe", "birthday", "plumber", "insurance", "weekend", "project", "deadline"]
REASONS = ["automated: List-Id header", "automated: List-Unsubscribe header", "automated: Precedence: bulk",
           "not a file the spool takes (.txt, .md or .json): .png", "empty: nothing but quoted text",
           "automated: sender noreply@shop.example", "file too large (2000000 bytes; max_bytes is 1000000)",
           "cannot parse the message: ValueError: bad header", "a call: no text", "a sticker: no text",
           "automated: delivery report (bounce)", "automated: Auto-Submitted: auto-replied"]
TARGET_MS, TARGET_KB = 100, 200


def fill(folder: Path, sent: int, skipped: int, sources: int) -> Path:
    names = [f"source-{n:02d}" for n in range(sources)]
    config = folder / "config.toml"
    config.write_text('[omi]\napi_key = "k"\n\n[http]\nlisten = "127.0.0.1:0"\n\n[state]\npath = "state.db"\n\n'
                      + "".join(f'[connectors.{n}]\ntype = "spool"\npath = "spool-{n}"\n\n' for n in names))
    store = Store(folder / "state.db")
    rng = random.Random(7)
    now = time.time()
    with store.transaction() as conn:
        rows = []
        for i in range(sent + 230):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 600)))
            at = now - 30 * 86400 * (1 - i / (sent + 230))
            body = json.dumps({"text": text, "started_at": "2026-11-01T10:00:00+00:00",
                               "finished_at": "2026-11-01T10:05:00+00:00", "text_source": "other_text"})
            rows.append((names[i % sources], f"key-{i}", body, at, at, f"note {i}"))
        conn.executemany("INSERT INTO outbox (connector, source_key, priority, body, created_at, next_attempt_at,"
                         " label) VALUES (?, ?, 10, ?, ?, ?, ?)", rows)
        # made sent the way the dispatcher does it, so the FTS trigger indexes them
        conn.execute("UPDATE outbox SET state = 'sent', sent_at = created_at + 30, omi_id = 'omi-' || id"
                     " WHERE id <= ?", (sent,))
        conn.execute("UPDATE outbox SET state = 'dead', last_error = '422: text rejected' WHERE id > ? AND id <= ?",
                     (sent, sent + 30))
        conn.executemany("INSERT INTO skipped (connector, source_key, reason, ref, created_at) VALUES (?, ?, ?, ?, ?)",
                         [(names[i % sources], f"skip-{i}", REASONS[i % len(REASONS)], f"item {i}",
                           now - i * 60) for i in range(skipped)])
        conn.executemany("INSERT INTO sources (connector, last_success) VALUES (?, ?)", [(n, now) for n in names])
    store.close()
    return config


def serve(config_path: Path) -> tuple[str, Store, asyncio.AbstractEventLoop]:
    config = load_config(config_path, need_secrets=False)
    store = Store(config.state_path)
    loop = asyncio.new_event_loop()
    listener = Listener("127.0.0.1:0")
    Console(lambda: config, store, lambda: None).install(listener)
    threading.Thread(target=loop.run_forever, daemon=True).start()
    asyncio.run_coroutine_threadsafe(listener.start(), loop).result(10)
    return f"http://127.0.0.1:{listener.port}", store, loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sent", type=int, default=100_000)
    parser.add_argument("--skipped", type=int, default=10_000)
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        config = fill(Path(folder), args.sent, args.skipped, args.sources)
        print(f"state: {args.sent:,} sent, {args.skipped:,} skipped, {args.sources} sources, 200 waiting, 30 dead"
              f" (filled in {time.perf_counter() - started:.0f} s, {(Path(folder) / 'state.db').stat().st_size >> 20}"
              " MiB)")
        url, store, _ = serve(config)
        cookies = {COOKIE: Guard(Path(folder) / "state.db").session}
        middle = store.rows("SELECT id, sent_at FROM outbox WHERE id = ?", [args.sent // 2])[0]
        deep = f"{middle['sent_at']!r}_{middle['id']}"  # a page halfway down, as Older links carry it
        pages = ["/", "/activity", "/activity?source=source-07", "/activity?q=dentist+invoice",
                 "/activity?source=source-07&q=plumber", f"/activity?before={deep}",
                 f"/activity?source=source-07&before={deep}", f"/activity?q=dentist+invoice&before={middle['id']}",
                 f"/activity?source=source-07&q=plumber&before={middle['id']}", f"/conversation?id={args.sent // 2}",
                 "/skipped", "/skipped?source=source-07&reason=automated%3A+List-Id+header", "/problems",
                 "/source?name=source-07"]
        print(f"\n{'page':<62} {'median ms':>9} {'max ms':>7} {'KB':>6}")
        worst_ms = worst_kb = 0.0
        with httpx.Client(cookies=cookies, timeout=30) as client:
            for page in pages:
                times = []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    answer = client.get(url + page)
                    times.append((time.perf_counter() - t) * 1000)
                    assert answer.status_code == 200, (page, answer.status_code)
                kb = len(answer.content) / 1024
                worst_ms, worst_kb = max(worst_ms, statistics.median(times)), max(worst_kb, kb)
                print(f"{page:<62} {statistics.median(times):>9.1f} {max(times):>7.1f} {kb:>6.1f}")
        verdict = "within" if worst_ms <= TARGET_MS and worst_kb <= TARGET_KB else "OVER"
        print(f"\nslowest median {worst_ms:.1f} ms, heaviest {worst_kb:.1f} KB: {verdict} the targets"
              f" ({TARGET_MS} ms, {TARGET_KB} KB)")
        print("\nquery plans:")
        for what, sql, params in [
            ("activity", "SELECT id FROM outbox o WHERE sent_at IS NOT NULL ORDER BY sent_at DESC, id DESC LIMIT 51",
             []),
            ("activity, a page on", "SELECT id FROM outbox o WHERE sent_at IS NOT NULL AND (o.sent_at, o.id) < (?, ?)"
             " ORDER BY sent_at DESC, id DESC LIMIT 51", [time.time(), 1000]),
            ("activity by source", "SELECT id FROM outbox o WHERE o.sent_at IS NOT NULL AND o.connector = ?"
             " AND (o.sent_at, o.id) < (?, ?) ORDER BY o.sent_at DESC, o.id DESC LIMIT 51",
             ["source-07", time.time(), 1000]),
            ("search, a page on", "SELECT o.id FROM sent_text f JOIN outbox o ON o.id = f.rowid WHERE sent_text MATCH ?"
             " AND f.rowid < ? ORDER BY f.rowid DESC LIMIT 51", [fts_query("dentist invoice"), 1000]),
            ("delivered per hour", "SELECT CAST((sent_at - ?) / 3600 AS INTEGER) AS h, count(*) FROM outbox"
             " WHERE sent_at >= ? GROUP BY h", [0, time.time() - 7 * 86400]),
            ("skip totals", "SELECT connector, reason, count(*) FROM skipped GROUP BY connector, reason", []),
            ("skipped by reason", "SELECT id FROM skipped WHERE connector = ? AND reason IN (?) ORDER BY id DESC"
             " LIMIT 50", ["source-07", REASONS[0]]),
            ("dead rows", "SELECT id FROM outbox WHERE state = 'dead' ORDER BY id DESC LIMIT 200", []),
        ]:
            plan = "; ".join(r["detail"] for r in store.rows("EXPLAIN QUERY PLAN " + sql, params))
            print(f"  {what:<20} {plan}")


if __name__ == "__main__":
    main()
