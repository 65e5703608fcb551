"""IDLE latency benchmark: how long new mail takes from the IMAP APPEND to the fake Omi.

    python -m benchmarks.imap_idle [--mails 20] [--group auto] [--code /path/to/a/checkout ...]

Starts a private Dovecot (tests/dovecot.py), the fake Omi of the tests (tests/fake_omi.py) and
the real daemon (``omi-bridge run``) with one IMAP account that idles (``poll_interval`` ten
minutes away, so every mail is brought by IDLE's push). Then, one at a time, with a pause
between them, it APPENDs ``--mails`` mails over a connection of its own and times each from the
APPEND's OK to: the IDLE push (``push``: Dovecot's EXISTS, seen on an IDLE connection of the
benchmark's own, as the daemon's sees it), its outbox row (``queued``, the row's ``created_at``:
one machine, one clock) and the fake Omi reading the request (``omi``); and ``ours``, from the
push to Omi: what the bridge itself takes. Prints the median, the 90th percentile and the
slowest of each. Dovecot holds every IDLE notification back 500 ms (NOTIFY_DELAY_MSECS in its
mailbox-watch.c, not configurable): ``push`` is that, whatever the client does. Target (issue
29): median ``omi`` at most 0.3 s. Each ``--code`` is another checkout (a worktree of the commit before a change) whose
daemon is measured after this one's, so before and after share one run.

``group = "thread"`` gathers the live mails of a thread for ``quiet_period`` on purpose: its
latency is that period, and is not what this measures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dovecot import Dovecot  # noqa: E402
from tests.fake_omi import FakeOmi  # noqa: E402

KEY = "bench-key"
PAUSE = 0.7  # seconds between mails: each one's latency is its own, not a queue's


def mail(n: int) -> bytes:
    when = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (f"From: Carol <carol@example.net>\r\nTo: alice@example.com\r\nSubject: latency {n}\r\n"
            f"Date: {when}\r\nMessage-ID: <latency-{n}-{time.time_ns()}@example.net>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nHello, this is mail number {n}.\r\n").encode()


def config(folder: Path, omi_url: str, port: int, group: str) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f'[omi]\napi_key = "${{OMI_API_KEY}}"\nbase_url = "{omi_url}"\n\n[http]\nlisten = ""\n\n'
        f'[state]\npath = "state.db"\n\n[connectors.mail]\ntype = "imap"\nhost = "127.0.0.1"\nport = {port}\n'
        f'security = "none"\nusername = "alice"\npassword = "alice-pw"\npoll_interval = 600\nidle = true\n'
        f'group = {json.dumps(group)}\n')
    return path


def queued_at(state: Path, n: int) -> float | None:
    with sqlite3.connect(state) as db:
        row = db.execute("SELECT created_at FROM outbox WHERE body LIKE ?", (f"%mail number {n}.%",)).fetchone()
    return row[0] if row else None


def wait(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return False


def one_run(code: Path, mails: int, group: str) -> dict[str, list[float]]:
    """Latencies (push, queued, omi, ours) of ``mails`` mails through ``code``'s daemon."""
    served = Path(tempfile.mkdtemp(prefix="omi-bridge-dovecot-"))
    work = Path(tempfile.mkdtemp(prefix="omi-bridge-idle-"))
    server = Dovecot(served)
    server.add_user("alice", "alice-pw")
    server.start()
    with FakeOmi(keys={KEY: ["conversations:read", "conversations:write"]}) as omi:
        env = {**os.environ, "OMI_API_KEY": KEY, "PYTHONPATH": str(code)}
        daemon = subprocess.Popen([sys.executable, "-m", "bridge", "run", "-c", str(config(work, omi.url,
                                   server.port, group))], cwd=code, env=env, stdout=subprocess.DEVNULL,
                                  stderr=(work / "daemon.log").open("wb"))
        appender = server.client("alice")
        watcher = server.client("alice")
        watcher.select_folder("INBOX", readonly=True)
        watcher.idle()
        times: dict[str, list[float]] = {"push": [], "queued": [], "omi": [], "ours": []}
        try:
            state = work / "state.db"
            if not wait(lambda: state.exists() and _cursor(state), 30):
                raise RuntimeError("the daemon did not start: " + (work / "daemon.log").read_text()[-2000:])
            time.sleep(1.5)  # IDLE is up
            for n in range(mails):
                appender.append("INBOX", mail(n))
                appended = time.time()
                while not any(len(r) > 1 and r[1] == b"EXISTS" for r in watcher.idle_check(timeout=10)):
                    pass
                pushed = time.time()
                if not wait(lambda n=n: len(_posts(omi)) > n, 30):
                    raise RuntimeError(f"mail {n} never reached Omi: " + (work / "daemon.log").read_text()[-2000:])
                times["push"].append(pushed - appended)
                times["queued"].append((queued_at(state, n) or math.nan) - appended)
                times["omi"].append(_posts(omi)[n] - appended)
                times["ours"].append(_posts(omi)[n] - pushed)
                time.sleep(PAUSE)
        finally:
            appender.logout()
            watcher.idle_done()
            watcher.logout()
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
            server.stop()
            shutil.rmtree(served, ignore_errors=True)
            shutil.rmtree(work, ignore_errors=True)
    return times


def _cursor(state: Path) -> bool:
    try:
        with sqlite3.connect(state) as db:
            return db.execute("SELECT count(*) FROM cursors").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def _posts(omi: FakeOmi) -> list[float]:
    with omi.lock:
        return [t for t, method, _ in omi.arrivals if method == "POST"]


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    return (f"median {statistics.median(ordered):.3f}  p90 {ordered[int(0.9 * (len(ordered) - 1))]:.3f}"
            f"  max {ordered[-1]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=20)
    parser.add_argument("--group", default="auto", choices=["auto", "message", "thread"])
    parser.add_argument("--code", action="append", default=[], help="another checkout to measure too")
    args = parser.parse_args()
    for code in [ROOT, *map(Path, args.code)]:
        times = one_run(code, args.mails, args.group)
        print(f"{code}: group = {args.group!r}, {args.mails} mails, seconds after the APPEND (ours: after the push)")
        for what, values in times.items():
            print(f"    {what:<7} {summary(values)}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
