"""How much memory the running daemon holds while idle: spool only, and one IMAP account.

    python -m benchmarks.idle_rss [--settle 5] [--runs 3] [--imports] [--python VENV/bin/python]
                                  [--tree OTHER_CHECKOUT ...]

Starts ``omi-bridge run`` as a child process against the fake Omi of the tests (real HTTP),
once with only a spool folder configured and once with one IMAP account on a private Dovecot
(tests/dovecot.py, a few mails, IDLE on), waits until the daemon says it is running and then
``--settle`` seconds more, and reads VmRSS from /proc/PID/status. Prints the median of
``--runs`` starts of each. Targets: spool only <= 40 MB, one IMAP account <= 50 MB.
``--imports`` also prints the top-level packages each daemon imported, costliest first (from
``python -X importtime``): the place to look when the figure grows. Each ``--tree`` (a checkout
of another commit, e.g. ``git worktree add /tmp/before main``) is measured too, alternating with
this one, so a change is compared before and after in one run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.trees import add_tree_option, trees  # noqa: E402
from tests.dovecot import Dovecot  # noqa: E402
from tests.fake_omi import FakeOmi  # noqa: E402

KEY = "omi_dev_benchmark_key_0000000000"
RUNNING = "omi-bridge running"
SPOOL = """\
[connectors.drop]
type = "spool"
path = "spool"
"""
IMAP = """\
[connectors.mail]
type = "imap"
host = "127.0.0.1"
port = {port}
security = "none"
username = "bench"
password = "bench-pw"
"""


def config_text(omi_url: str, connectors: str) -> str:
    return (f'[omi]\napi_key = "{KEY}"\nbase_url = "{omi_url}"\n[state]\npath = "state.db"\n'
            f'[http]\nlisten = "127.0.0.1:0"\n{connectors}')


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def idle_daemon(python: str, tree: Path, folder: Path, settle: float, importtime: bool) -> tuple[float, str]:
    """One fresh daemon of ``tree`` run by ``python`` in ``folder`` (its config.toml written): its
    RSS once idle, and its ``-X importtime`` output when asked."""
    (folder / "spool").mkdir(exist_ok=True)
    (folder / "state.db").unlink(missing_ok=True)
    command = [python, *(["-X", "importtime"] if importtime else []), "-m", "bridge",
               "-c", str(folder / "config.toml"), "run"]
    log = folder / "daemon.log"
    with log.open("w") as out:
        child = subprocess.Popen(command, cwd=tree, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while RUNNING not in log.read_text():
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the daemon did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.05)
            time.sleep(settle)
            rss = rss_mb(child.pid)
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(30)
    return rss, log.read_text()


def top_imports(importtime: str, count: int = 15) -> str:
    """The top-level packages by the time their imports took, self time summed."""
    spent: dict[str, int] = defaultdict(int)
    for match in re.finditer(r"^import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)$", importtime, re.M):
        spent[match.group(2).split(".")[0]] += int(match.group(1))
    ranked = sorted(spent.items(), key=lambda item: -item[1])[:count]
    return ", ".join(f"{name} {us / 1000:.0f}ms" for name, us in ranked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=5.0, help="seconds idle before reading RSS")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--imports", action="store_true", help="also list what each daemon imported")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter that runs the daemons, e.g. a venv's with omi-bridge's dependencies only:"
                             " packages installed beside them count too (httpcore imports trio, httpx its CLI's"
                             " click and rich, when they are there)")
    add_tree_option(parser)
    args = parser.parse_args()
    checkouts = trees(args)
    root = Path(tempfile.mkdtemp(prefix="omi-bridge-idle-"))
    server = Dovecot(root / "dovecot")
    server.add_user("bench", "bench-pw")
    for n in range(5):
        server.deliver_file("bench", f"From: a@example.net\r\nSubject: mail {n}\r\n\r\nhello {n}\r\n".encode(), n)
    server.start()
    try:
        with FakeOmi(keys={KEY: ["conversations:read", "conversations:write"]}) as omi:
            cases = {"spool only": SPOOL, "one IMAP account": IMAP.format(port=server.port)}
            for label, connectors in cases.items():
                folder = root / label.replace(" ", "-")
                folder.mkdir()
                (folder / "config.toml").write_text(config_text(omi.url, connectors))
                rss: dict[Path, list[float]] = {tree: [] for tree in checkouts}
                for _ in range(args.runs):  # alternating, so a noisy moment hits every tree alike
                    for tree in checkouts:
                        rss[tree].append(idle_daemon(args.python, tree, folder, args.settle, False)[0])
                for tree in checkouts:
                    print(f"{label:17} {tree.name:14} VmRSS median {statistics.median(rss[tree]):5.1f} MB  "
                          f"(runs {', '.join(f'{x:.1f}' for x in rss[tree])})")
                    if args.imports:
                        print(f"{'':32} imports: {top_imports(idle_daemon(args.python, tree, folder, 0, True)[1])}")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
