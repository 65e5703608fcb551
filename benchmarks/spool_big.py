"""Memory to split and queue a large text file dropped in the spool, and whether a re-drop re-sends.

    python -m benchmarks.spool_big [--sizes 10,50] [--tree OTHER_CHECKOUT ...]

For each size (MB) writes a text file of paragraphs, drops it in a spool folder and polls the
spool connector once into a fresh state file, in a child process; prints the child's peak RSS,
the parts queued and the seconds taken, beside the peak of a child that polls an empty spool
(what the imports alone take). Then drops the same file again and polls with the same state: the
parts queued by the re-drop must be 0. Target: a peak that does not grow with the file (at 50 MB
no more than at 10 MB). Each ``--tree`` (a checkout of another commit) runs the same files.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.trees import add_tree_option, trees

WORDS = ["meeting", "budget", "project", "report", "friday", "review", "draft", "numbers", "client", "launch",
         "schedule", "team", "invoice", "travel", "design", "feedback", "deadline", "lunch", "question", "update",
         "agenda", "notes"]

# run in the checkout measured (cwd), with only what every version of the spool has
CHILD = """
import resource, sys, time
from pathlib import Path
from bridge.connector import Sink
from bridge.store import Store
from connectors.spool import SpoolConfig, SpoolConnector
folder = Path(sys.argv[1])
config = SpoolConfig(type="spool", path=str(folder / "spool"), settle_seconds=0, max_bytes=1 << 30)
store = Store(folder / "state.db")
before = store.counts()["pending"]
started = time.perf_counter()
SpoolConnector("drop", config).poll(Sink(store, "drop", config, lambda: None))
elapsed = time.perf_counter() - started
print(store.counts()["pending"] - before, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def write_text(path: Path, megabytes: int) -> None:
    """Paragraphs of a few lines, as notes or a transcript export are written."""
    rng = random.Random(megabytes)
    paragraphs = ["\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16)))
                            for _ in range(rng.randint(1, 6))) for _ in range(500)]
    with path.open("w") as out:
        written = 0
        while written < megabytes * 1024 * 1024:
            written += out.write(rng.choice(paragraphs) + "\n\n")


def poll(tree: Path, folder: Path) -> tuple[int, float, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder)], cwd=tree, check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50", help="file sizes in MB, comma-separated")
    add_tree_option(parser)
    args = parser.parse_args()
    checkouts = trees(args)
    root = Path(tempfile.mkdtemp(prefix="omi-bridge-spool-"))
    try:
        for tree in checkouts:
            empty = root / f"{tree.name}-empty"
            (empty / "spool").mkdir(parents=True)
            print(f"{tree.name:16} empty spool       peak RSS {poll(tree, empty)[2]:6.1f} MB")
        for size in (int(s) for s in args.sizes.split(",")):
            source = root / f"notes-{size}mb.txt"
            write_text(source, size)
            for tree in checkouts:
                folder = root / f"{tree.name}-{size}"
                (folder / "spool").mkdir(parents=True)
                shutil.copy(source, folder / "spool" / source.name)
                parts, seconds, peak = poll(tree, folder)
                shutil.copy(source, folder / "spool" / f"again-{source.name}")
                again = poll(tree, folder)[0]
                print(f"{tree.name:16} {size:4} MB file   peak RSS {peak:6.1f} MB  {parts} parts queued in "
                      f"{seconds:.1f} s; the same file dropped again queued {again}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
