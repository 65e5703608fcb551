"""IMAP backfill benchmark: whole processes on one mailbox, alternating, in one run.

    python -m benchmarks.imap_backfill [--sizes 1000,10000] [--runs 3] [--only raw,mbsync,message,auto]
                                       [--before /path/to/another/checkout]

For each size it seeds a private Dovecot (tests/dovecot.py) with that many realistic messages,
then ``--runs`` times, one after the other in turn, starts a fresh process for each of:

- ``raw``: imapclient's chunked ``UID FETCH BODY.PEEK[]`` of the folder, no parsing;
- ``mbsync``: Debian's ``isync`` pulling the folder into an empty Maildir (no parsing either);
- ``message``: the IMAP connector's backfill (``since``) into a fresh state, ``group = "message"``;
- ``auto``: the same with the default ``group = "auto"`` (threads through the assembler).

With ``--before``, ``message`` and ``auto`` also run on another checkout's code (a worktree of
the commit before a change), alternating with the rest, so before and after share one run.

Each process is timed from its start to its exit (imports included). It reports the medians in
seconds and mails/s, each rate's ratio to ``raw`` and to ``message``, and two peaks of memory:
the largest single process (its VmHWM: the connector or one of its conversion workers) and the
process tree's summed RSS, both sampled every 50 ms from /proc. Targets (issue 29): ``auto``
at most 10% slower than ``message``; ``auto`` at least 0.25 of ``raw`` and faster than
``mbsync``; peak RSS at most 80 MB, flat from 10,000 to 50,000 mails.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
# --before: a child runs another checkout's bridge and connectors (this file's children, that code)
CODE = os.environ.get("OMI_BRIDGE_BENCH_CODE") or str(ROOT)
sys.path.insert(0, CODE)

KINDS = ("raw", "mbsync", "message", "auto")
WORDS = ["meeting", "budget", "project", "report", "friday", "review", "draft", "numbers", "client", "launch",
         "schedule", "team", "invoice", "travel", "design", "feedback", "deadline", "lunch", "question", "update",
         "agenda", "notes"]


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


# -- the children ----------------------------------------------------------------------------

def raw_child(port: int, chunk: int = 200) -> None:
    from imapclient import IMAPClient

    client = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=60)
    client.login("bench", "bench-pw")
    client.select_folder("INBOX", readonly=True)
    uids = sorted(client.search(["ALL"]))
    count = 0
    for i in range(0, len(uids), chunk):
        count += len(client.fetch(uids[i:i + chunk], ["BODY.PEEK[]", "INTERNALDATE"]))
    client.logout()
    print(count)


def bridge_child(port: int, state: str, group: str) -> None:
    from bridge.connector import Sink
    from bridge.store import Store
    from connectors.mail.imap import ImapConfig, ImapConnector

    config = ImapConfig(type="imap", host="127.0.0.1", port=port, security="none", username="bench",
                        password="bench-pw", since=date(2026, 1, 1), idle=False, group=group)
    store = Store(state)
    ImapConnector("bench", config).poll(Sink(store, "bench", config, lambda: None))
    # every mail is a row of its own, a skip, or an item of a thread (whose rows are the threads')
    [row] = store.rows("SELECT (SELECT count(*) FROM outbox WHERE source_key NOT LIKE 'thread:%')"
                       " + (SELECT count(*) FROM skipped) + (SELECT count(*) FROM items) AS n")
    print(row["n"])


MBSYNC_RC = """IMAPAccount bench
Host 127.0.0.1
Port {port}
User bench
Pass bench-pw
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX

Channel bench
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
"""


# -- measuring a whole process ---------------------------------------------------------------

def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return pids


def _memory(pid: int) -> tuple[int, int]:
    """A process's resident set now and its high-water mark, in kB (0, 0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if line.startswith(("VmRSS", "VmHWM")))
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (OSError, KeyError, ValueError):
        return 0, 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], **kwargs: object) -> tuple[float, str, float, float, float]:
    """Run ``command`` to its end: (seconds, stdout, largest process MB, tree MB, CPU seconds of
    the tree: what a busy machine's noise does not change)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        cpu = _cpu()
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, **kwargs)  # type: ignore[call-overload]
        peaks = {"tree": 0, "process": 0}
        done = threading.Event()

        def sample() -> None:
            # wait4's maxrss would do for the largest process, but a child started by fork and
            # exec keeps the forking Python's high-water mark: the process's own VmHWM does not
            while not done.wait(0.05):
                now = [_memory(p) for p in _tree(child.pid)]
                peaks["tree"] = max(peaks["tree"], sum(rss for rss, _ in now))
                peaks["process"] = max(peaks["process"], *(hwm for _, hwm in now))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = child.wait()
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"{command[:4]} failed ({code}): {err.read().decode()[-2000:]}")
        out.seek(0)
        return elapsed, out.read().decode(), peaks["process"] / 1024, peaks["tree"] / 1024, _cpu() - cpu


class Run(NamedTuple):
    seconds: float
    mails: int
    peak_mb: float  # the largest process
    tree_mb: float  # the process tree, summed
    cpu: float  # seconds of CPU, the tree's


def run_one(kind: str, port: int, root: Path, attempt: int, before: str | None) -> Run:
    """One fresh process of ``kind`` ("auto", or "auto@before" for ``before``'s code)."""
    me = [sys.executable, str(ROOT / "benchmarks" / "imap_backfill.py"), "--child"]
    kind, _, other = kind.partition("@")
    code = {"cwd": before, "env": {**os.environ, "OMI_BRIDGE_BENCH_CODE": before}} if other else {"cwd": ROOT}
    if kind == "mbsync":
        maildir = root / f"maildir-{attempt}"
        maildir.mkdir()
        rc = root / f"mbsyncrc-{attempt}"
        rc.write_text(MBSYNC_RC.format(port=port, maildir=maildir))
        elapsed, _, peak, tree, cpu = timed(["mbsync", "-q", "-c", str(rc), "-a"])
        mails = len(os.listdir(maildir / "INBOX" / "cur")) + len(os.listdir(maildir / "INBOX" / "new"))
        shutil.rmtree(maildir)
        return Run(elapsed, mails, peak, tree, cpu)
    if kind == "raw":
        elapsed, out, peak, tree, cpu = timed([*me, "raw", str(port)], **code)
    else:
        state = root / f"bench-{kind}-{other}-{attempt}.db"
        elapsed, out, peak, tree, cpu = timed([*me, "bridge", str(port), str(state), kind], **code)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{state}{suffix}").unlink(missing_ok=True)
    return Run(elapsed, int(out.split()[-1]), peak, tree, cpu)


def measure(size: int, runs: int, kinds: list[str], before: str | None
            ) -> dict[str, list[Run]]:
    from tests.dovecot import Dovecot

    root = Path(tempfile.mkdtemp(prefix="omi-bridge-bench-"))  # the children's states and Maildirs
    served = Path(tempfile.mkdtemp(prefix="omi-bridge-dovecot-"))  # Dovecot's workers must reach it
    server = Dovecot(served)
    server.add_user("bench", "bench-pw")
    rng = random.Random(size)
    previous = ""
    for n in range(size):
        raw, previous = message(n, rng, previous)
        server.deliver_file("bench", raw, n)
    server.start()
    results: dict[str, list[Run]] = {kind: [] for kind in kinds}
    try:
        run_one("raw", server.port, root, -1, None)  # the first pass builds Dovecot's index
        for attempt in range(runs):  # the machine is noisy: alternate, and take medians
            for kind in kinds:
                results[kind].append(run_one(kind, server.port, root, attempt, before))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(served, ignore_errors=True)
    return results


def report(size: int, results: dict[str, list[Run]]) -> None:
    seconds = {kind: statistics.median(r.seconds for r in runs) for kind, runs in results.items()}
    rates = {kind: statistics.median(r.mails / r.seconds for r in runs) for kind, runs in results.items()}
    cpu = {kind: statistics.median(r.cpu for r in runs) for kind, runs in results.items()}
    print(f"\n{size:,} mails (medians; /message: seconds against message's, and CPU seconds against its)")
    print(f"{'':>14} {'seconds':>8} {'mails/s':>8} {'/raw':>6} {'/message':>9} {'CPU s':>7} {'/message':>9}"
          f" {'peak MB':>8} {'tree MB':>8}  runs (s)")
    for kind, runs in results.items():
        vs_raw = f"{rates[kind] / rates['raw']:.2f}" if "raw" in rates else "-"
        vs_message = f"{seconds[kind] / seconds['message']:.2f}" if "message" in seconds else "-"
        cpu_vs = f"{cpu[kind] / cpu['message']:.2f}" if "message" in cpu else "-"
        print(f"{kind:>14} {seconds[kind]:>8.2f} {rates[kind]:>8.0f} {vs_raw:>6} {vs_message:>9} {cpu[kind]:>7.2f}"
              f" {cpu_vs:>9} {max(r.peak_mb for r in runs):>8.1f} {max(r.tree_mb for r in runs):>8.1f}  "
              f"{', '.join(f'{r.seconds:.2f}' for r in runs)} ({runs[0].mails} mails)")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        if sys.argv[2] == "raw":
            raw_child(int(sys.argv[3]))
        else:
            bridge_child(int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="mailbox sizes to measure, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="processes of each kind per size")
    parser.add_argument("--only", default=",".join(KINDS), help="which of raw,mbsync,message,auto")
    parser.add_argument("--before", help="another checkout: its message and auto run alongside")
    args = parser.parse_args()
    kinds = [k for k in KINDS if k in args.only.split(",")]
    if args.before:
        kinds += [f"{k}@before" for k in ("message", "auto") if k in kinds]
    if "mbsync" in kinds and shutil.which("mbsync") is None:
        sys.exit("mbsync is not installed (apt-get install isync), or leave it out with --only")
    for size in (int(s) for s in args.sizes.split(",")):
        report(size, measure(size, args.runs, kinds, args.before))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
