"""Mail -> text cost per message, on the IMAP backfill benchmark's mail and the quality corpus.

    python -m benchmarks.mail_convert [--messages 3000] [--runs 5]

Converts the same generated messages (replies quoting their thread, as in
``benchmarks.imap_backfill``), then the text-quality corpus twenty times over, in one process and
prints the median microseconds per message of each.
Run it from two checkouts one after the other to compare: the target is within 15% of before.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUALITY = ROOT / "tests" / "data" / "mail" / "quality"
sys.path.insert(0, str(ROOT))

from benchmarks.imap_backfill import message  # noqa: E402
from connectors.mail.text import MailJob, convert_all  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(7)
    raws, previous = [], ""
    for n in range(args.messages):
        raw, previous = message(n, rng, previous)
        raws.append(raw)
    jobs = [MailJob(raw, None, f"#{n}") for n, raw in enumerate(raws)]
    convert_all(jobs[:50])  # warm caches (compiled patterns)
    print(f"{len(jobs)} messages, {_timed(jobs, args.runs)}")
    # the quality corpus: every shape of mail once (quotes in many languages, invitations, charsets)
    corpus = [MailJob(path.read_bytes(), None, path.name) for path in sorted(QUALITY.glob("*.eml"))]
    convert_all(corpus)
    print(f"quality corpus ({len(corpus)} messages x 20), {_timed(corpus * 20, args.runs)}")


def _timed(jobs: list[MailJob], runs: int) -> str:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        convert_all(jobs)
        times.append((time.perf_counter() - start) / len(jobs) * 1e6)
    return f"{statistics.median(times):.0f} us per message (median of {runs}; min {min(times):.0f})"

if __name__ == "__main__":
    main()
