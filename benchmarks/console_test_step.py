"""What the console's Test step costs a person in waiting: an IMAP source with a backfill, tried
(check and plan: then the page is shown), and its ``since``, ``backfill`` and ``group`` choices
priced side by side after it (the table the page fills in).

    python -m benchmarks.console_test_step [--messages 2000]

Seeds a private Dovecot (tests/dovecot.py) as benchmarks/imap_backfill.py does, then times, three
times each, the step until its page is shown (bridge/console/sources.py ``try_source``) and until
every choice is priced (``Pricing.run``), and reports the medians. There is no target: the
choices read the source once per value, and this says how long that is for a mailbox this size."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.imap_backfill import message  # noqa: E402
from tests.dovecot import Dovecot  # noqa: E402

RUNS = 3


def measure(size: int) -> dict:
    from bridge.config import load_config
    from bridge.console.sources import Pricing, try_source, validate
    from bridge.store import Store

    root = Path(tempfile.mkdtemp(prefix="omi-bridge-bench-"))
    server = Dovecot(root)
    server.add_user("bench", "bench-pw")
    rng, previous = random.Random(size), ""
    for n in range(size):
        raw, previous = message(n, rng, previous)
        server.deliver_file("bench", raw, n)
    server.start()
    try:
        os.environ.setdefault("OMI_API_KEY", "bench-key")
        path = root / "config.toml"
        path.write_text('[omi]\napi_key = "${OMI_API_KEY}"\nbase_url = "http://127.0.0.1:9"\n\n[state]\n'
                        'path = "state.db"\n')
        config = load_config(path)
        store = Store(root / "state.db")
        table = {"type": "imap", "host": "127.0.0.1", "port": server.port, "security": "none", "username": "bench",
                 "password": "bench-pw", "since": date.today() - timedelta(days=7), "group": "auto"}
        validated = validate(config, "bench", table)[2]
        shown, priced = [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            tried = try_source(config, store, "bench", validated)  # the page is shown after this
            shown.append(time.perf_counter() - started)
            pricing = Pricing(config, store, "bench", table, tried["plan"])
            pricing.run()  # the choices' table, filled in after the page
            priced.append(time.perf_counter() - started)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return {"messages": size, "shown_s": statistics.median(shown), "priced_s": statistics.median(priced),
            "plans": 1 + sum(not row["chosen"] for row in pricing.rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    found = measure(parser.parse_args().messages)
    print(f"{found['messages']} messages: the Test's page shown after {found['shown_s']:.1f} s (check and plan); "
          f"every choice priced after {found['priced_s']:.1f} s ({found['plans']} plans)")


if __name__ == "__main__":
    main()
