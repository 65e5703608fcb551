"""IMAP backfill benchmark: messages per second into the outbox vs the raw fetch rate, and peak RSS.

    python -m benchmarks.imap_backfill [--messages 10000] [--sizes 1000,10000]

For each size it seeds a private Dovecot (tests/dovecot.py) with that many realistic messages,
then three times: measures the raw chunked ``UID FETCH BODY.PEEK[]`` rate of the same server with
imapclient, and runs the IMAP connector's backfill (``since``) into a fresh SQLite outbox in a
child process. It reports the medians, their ratio, and the children's peak RSS (the largest
single process: the connector or one of its conversion workers). Targets: ratio >= 0.3, and
peak RSS under 150 MB that does not grow with the mailbox size.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dovecot import Dovecot  # noqa: E402

RUNS = 3
WORDS = ("meeting budget project report friday review draft numbers client launch schedule team "
         "invoice travel design feedback deadline lunch question update agenda notes").split()


def message(n: int, rng: random.Random, previous: str = "") -> tuple[bytes, str]:
    """A personal mail of a few paragraphs and an HTML alternative; most are replies that
    quote the mail before them, as mail clients do, so threads carry their history."""
    msg = EmailMessage()
    msg["From"] = f"Person {n % 97} <person{n % 97}@example.net>"
    msg["To"] = "me@example.com"
    msg["Subject"] = " ".join(rng.choice(WORDS) for _ in range(5))
    msg["Date"] = f"Mon, {1 + n % 28:02d} Sep 2026 {n % 24:02d}:{n % 60:02d}:00 +0000"
    msg["Message-ID"] = f"<bench-{n}@example.net>"
    paragraphs = ["\n".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(4))
                  for _ in range(rng.randint(2, 8))]
    text = "\n\n".join(paragraphs) + "\n\nBest,\nPerson\n"
    if previous and rng.random() < 0.6:
        quoted = "\n".join("> " + line for line in previous[:6000].splitlines())
        text += f"\nOn Sun, 1 Sep 2026 at 10:00, Person {(n - 1) % 97} wrote:\n{quoted}\n"
    msg.set_content(text)
    msg.add_alternative("<html><body>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</body></html>",
                        subtype="html")
    return bytes(msg), text


def raw_rate(server: Dovecot, chunk: int = 200) -> tuple[float, int]:
    client = server.client("bench")
    client.select_folder("INBOX", readonly=True)
    started = time.perf_counter()
    uids = sorted(client.search(["ALL"]))
    count = 0
    for i in range(0, len(uids), chunk):
        count += len(client.fetch(uids[i:i + chunk], ["BODY.PEEK[]", "INTERNALDATE"]))
    elapsed = time.perf_counter() - started
    client.logout()
    return count / elapsed, count


def child(port: int, state: str) -> None:
    """Runs in its own process so its peak RSS is the connector's alone."""
    from bridge.connector import Sink
    from bridge.store import Store
    from connectors.mail.imap import ImapConfig, ImapConnector

    config = ImapConfig(type="imap", host="127.0.0.1", port=port, security="none", username="bench",
                        password="bench-pw", since=date(2026, 1, 1), idle=False)
    store = Store(state)
    started = time.perf_counter()
    ImapConnector("bench", config).poll(Sink(store, "bench", config, lambda: None))
    elapsed = time.perf_counter() - started
    queued = store.counts()["pending"]
    skipped = store.rows("SELECT count(*) AS n FROM skipped")[0]["n"]
    print(f"{queued} {skipped} {elapsed}")


def measure(size: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="omi-bridge-bench-"))
    server = Dovecot(root)
    server.add_user("bench", "bench-pw")
    rng = random.Random(size)
    total_bytes = 0
    previous = ""
    for n in range(size):
        raw, previous = message(n, rng, previous)
        total_bytes += len(raw)
        server.deliver_file("bench", raw, n)
    server.start()
    raws, bridges = [], []
    try:
        raw_rate(server)  # the first pass also builds Dovecot's index
        # the machine is noisy: alternate raw and bridge passes, three of each, and take medians
        for attempt in range(RUNS):
            raws.append(raw_rate(server)[0])
            state = str(root / f"bench-{attempt}.db")
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.imap_backfill", "--child", str(server.port), state],
                cwd=ROOT, check=True, capture_output=True, text=True,
            ).stdout.split()
            queued, skipped, elapsed = int(out[0]), int(out[1]), float(out[2])
            bridges.append((queued + skipped) / elapsed)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    raw_per_s, bridge_per_s = statistics.median(raws), statistics.median(bridges)
    return {
        "messages": size, "avg_kb": total_bytes / size / 1024, "raw_per_s": raw_per_s, "raws": raws,
        "bridge_per_s": bridge_per_s, "bridges": bridges, "queued": queued, "skipped": skipped,
        "ratio": bridge_per_s / raw_per_s, "peak_rss_mb": peak_kb / 1024,
    }


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="mailbox sizes to measure, comma-separated")
    args = parser.parse_args()
    print(f"{'messages':>8} {'avg KB':>7} {'raw msg/s':>10} {'bridge msg/s':>13} {'ratio':>6} {'peak RSS MB':>12}")
    for size in (int(s) for s in args.sizes.split(",")):
        r = measure(size)
        print(f"{r['messages']:>8} {r['avg_kb']:>7.1f} {r['raw_per_s']:>10.0f} {r['bridge_per_s']:>13.0f} "
              f"{r['ratio']:>6.2f} {r['peak_rss_mb']:>12.1f}   ({r['queued']} queued, {r['skipped']} skipped; "
              f"raw runs {', '.join(f'{x:.0f}' for x in r['raws'])}; "
              f"bridge runs {', '.join(f'{x:.0f}' for x in r['bridges'])})")


if __name__ == "__main__":
    main()
