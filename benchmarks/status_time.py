"""How long ``omi-bridge status`` takes on a state of a long-running install: 100,000 outbox rows.

    python -m benchmarks.status_time [--rows 100000] [--runs 15] [--tree OTHER_CHECKOUT ...]

Builds the state with the real Store (``Store.submit``: three connectors, rows spread over 60
days, most of them sent, some dead, pending and skipped), then times ``omi-bridge status``
(text) and ``status --json`` over fresh processes, beside a bare ``python -c pass``; prints min
and median wall time, and CPU time (the steadier figure on a shared machine). Target: at most
0.15 s. Each ``--tree`` (a checkout of another commit) runs on the same state file, alternating
with this one, so before and after come from one run (an older checkout opens the state this one
built if its schema is not newer than the older one knows).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.trees import add_tree_option, trees  # noqa: E402
from bridge.assemble import QueuedRequest  # noqa: E402
from bridge.models import PRIORITY_BACKFILL, PRIORITY_LIVE, CreateConversationRequest, Skip  # noqa: E402
from bridge.store import Store  # noqa: E402

CONFIG = """\
[omi]
api_key = "omi_dev_benchmark_key_0000000000"
[state]
path = "state.db"
[connectors.mail]
type = "spool"
path = "spool-mail"
[connectors.chat]
type = "spool"
path = "spool-chat"
[connectors.drop]
type = "spool"
path = "spool-drop"
"""
CONNECTORS = ("mail", "chat", "drop")
SKIP_REASONS = ("newsletter (List-Unsubscribe)", "automated sender: noreply", "empty after cleaning",
                "too large: 40 MB", "duplicate of an earlier message")


def build_state(path: Path, rows: int) -> None:
    """``rows`` outbox rows over 60 days: 97% sent, 1% dead, 2% pending; a fifth as many skipped."""
    store = Store(path)
    start = datetime.now(UTC) - timedelta(days=60)
    step = timedelta(days=60) / rows
    batch = 2000
    for first in range(0, rows, batch):
        per: dict[str, list[QueuedRequest]] = {name: [] for name in CONNECTORS}
        skips: dict[str, list[Skip]] = {name: [] for name in CONNECTORS}
        for n in range(first, min(rows, first + batch)):
            connector = CONNECTORS[n % len(CONNECTORS)]
            at = start + step * n
            text = f"Message {n}: the budget for the launch moved to Friday, see the notes attached. " * 4
            per[connector].append(QueuedRequest(
                f"key-{n}", CreateConversationRequest(text=text, started_at=at, finished_at=at),
                PRIORITY_LIVE if n % 7 == 0 else PRIORITY_BACKFILL, label=f"mail 'Subject {n}'"))
            if n % 5 == 0:
                skips[connector].append(Skip(f"skipped-{n}", SKIP_REASONS[n % len(SKIP_REASONS)], f"ref {n}"))
        for name in CONNECTORS:
            store.submit(name, per[name], cursor={"n": first}, skips=skips[name])
    now = time.time()
    with store.transaction() as conn:  # what delivery leaves behind: sent over the 60 days, some dead
        conn.execute("UPDATE outbox SET created_at = ? + (id - ?) * ?",
                     (now - 60 * 86400, 1, 60 * 86400 / rows))
        conn.execute("UPDATE skipped SET created_at = ? + id * ?", (now - 60 * 86400, 60 * 86400 / (rows / 5)))
        conn.execute("UPDATE outbox SET state = 'sent', sent_at = created_at + 30, omi_id = 'omi-' || id,"
                     " attempts = 1 WHERE id <= ?", (int(rows * 0.97),))
        conn.execute("UPDATE outbox SET state = 'dead', attempts = 8, last_error = 'HTTP 422: text too long'"
                     " WHERE id > ? AND id % 2 = 0 AND id <= ?", (int(rows * 0.97), int(rows * 0.99)))
    for name in CONNECTORS:
        store.source_ok(name)
    store.close()


def _timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run: on a shared machine the CPU time is the
    steadier figure, the wall time the one a person waits."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    add_tree_option(parser)
    args = parser.parse_args()
    checkouts = trees(args)
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        config.write_text(CONFIG)
        started = time.perf_counter()
        build_state(Path(folder) / "state.db", args.rows)
        print(f"state of {args.rows:,} outbox rows built in {time.perf_counter() - started:.0f} s")
        commands = {"python -c pass": (ROOT, [sys.executable, "-c", "pass"])}
        for tree in checkouts:
            for extra in ([], ["--json"]):
                label = f"{tree.name}: status {' '.join(extra)}".rstrip()
                commands[label] = (tree, [sys.executable, "-m", "bridge", "-c", str(config), "status", *extra])
        times: dict[str, list[tuple[float, float]]] = {label: [] for label in commands}
        for _ in range(args.runs):  # alternating: a noisy moment hits every command alike
            for label, (cwd, command) in commands.items():
                times[label].append(_timed(command, cwd))
        for label, spent in times.items():
            wall, cpu = [w for w, _ in spent], [c for _, c in spent]
            print(f"{label:36} wall min {min(wall):.3f} s  median {statistics.median(wall):.3f} s   "
                  f"cpu min {min(cpu):.3f} s  median {statistics.median(cpu):.3f} s")


if __name__ == "__main__":
    main()
