"""Delivery benchmark: how much of Omi's write quota a backlog uses, how many 429s it meets, and
how long a live item waits behind it.

    python -m benchmarks.delivery [--rows 60] [--limit 5] [--window 20] [--live 3]

Runs the real dispatcher (real HTTP, a state file on disk) against the fake Omi of the tests,
whose limiter is Omi's: a fixed window per key, opened by the first request, rejected calls
counted, a 429 stating ``X-RateLimit-Limit`` and ``Retry-After``. A backfill of ``--rows`` rows
is queued and ``--live`` live items arrive while it drains. Two runs, one after the other:

- ``learned``: the bridge as it is (learns the limit from the first 429, paces to it, keeps
  ``live_reserve`` writes of each window for live items);
- ``unlearned``: the same dispatcher told nothing by 429s and keeping no reserve, which is how
  the bridge behaved before it learned limits (one 429 per window, live items queue behind).

For each: 429s met, writes created / writes the limiter allowed in the time taken (quota use),
and each live item's wait from queueing to Omi's answer.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.assemble import QueuedRequest  # noqa: E402
from bridge.config import OmiConfig  # noqa: E402
from bridge.dispatcher import Dispatcher  # noqa: E402
from bridge.models import PRIORITY_BACKFILL, PRIORITY_LIVE, CreateConversationRequest  # noqa: E402
from bridge.omi import OmiClient  # noqa: E402
from bridge.store import Store  # noqa: E402
from tests.fake_omi import FakeOmi  # noqa: E402

KEY = "bench-key"


async def one_run(rows: int, limit: int, window: float, live: int, learn: bool) -> dict:
    with FakeOmi(keys={KEY: ["conversations:read", "conversations:write"]}) as omi, \
            tempfile.TemporaryDirectory() as folder:
        omi.quota = (limit, window)
        omi.latency = 0.05
        store = Store(Path(folder) / "state.db")
        start = datetime.now(UTC) - timedelta(days=30)
        store.submit("archive", [
            QueuedRequest(f"old-{i}", CreateConversationRequest(text=f"old mail {i}", started_at=start
                                                                + timedelta(hours=i)), PRIORITY_BACKFILL)
            for i in range(rows)
        ])
        config = OmiConfig(api_key=KEY, base_url=omi.url, reconcile_delay=1, retry_initial=0.5,
                           live_reserve=None if learn else 0)
        client = OmiClient(omi.url, KEY, 30, max_connections=config.max_in_flight + 1)
        dispatcher = Dispatcher(store, client, config)
        if not learn:
            dispatcher.writes.learn = lambda *args: None  # type: ignore[method-assign]
        began = time.time()
        run = asyncio.create_task(dispatcher.run(until_idle=window * 3))
        queued: dict[str, float] = {}
        for n in range(live):
            await asyncio.sleep(window * 1.3)
            queued[f"live-{n}"] = time.time()
            store.submit("mail", [QueuedRequest(f"live-{n}", CreateConversationRequest(
                text=f"live mail {n}", started_at=datetime.now(UTC)), PRIORITY_LIVE)])
            dispatcher.wake()
        await run
        await client.aclose()
        sent = {r["source_key"]: r["sent_at"] for r in store.rows(
            "SELECT source_key, sent_at FROM outbox WHERE connector = 'mail'")}
        posts = [at for at, method, _ in omi.arrivals if method == "POST"]
        elapsed = posts[-1] - began
        allowed = limit * (int(elapsed // window) + 1)
        return {
            "429s": sum(1 for _, status in omi.posts() if status == 429),
            "created": len(omi.texts()),
            "allowed": allowed,
            "elapsed": elapsed,
            "live_waits": [sent[key] - at for key, at in queued.items()],
            "violations": len(omi.violations),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=60)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--live", type=int, default=3)
    args = parser.parse_args()
    print(f"backfill of {args.rows} rows, {args.live} live items arriving meanwhile, "
          f"Omi's limit {args.limit} writes per {args.window:g}s")
    for name, learn in (("learned", True), ("unlearned", False)):
        result = asyncio.run(one_run(args.rows, args.limit, args.window, args.live, learn))
        waits = result["live_waits"]
        print(f"{name:>10}: {result['429s']} x 429, {result['created']} created of {result['allowed']} allowed"
              f" in {result['elapsed']:.0f}s (quota use {result['created'] / result['allowed']:.0%}),"
              f" live items waited {statistics.median(waits):.1f}s median, {max(waits):.1f}s at most;"
              f" requests inside a Retry-After: {result['violations']}")


if __name__ == "__main__":
    main()
