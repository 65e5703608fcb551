"""How long ``omi-bridge --help`` and ``omi-bridge status`` take to start and answer.

    python -m benchmarks.cli_start [--runs 15]

Prints min and median wall time of each command over fresh processes, beside a bare
``python -c pass`` (the interpreter's own start, which no change here can remove). The target is
under 0.25 s for both; on a noisy machine compare medians from the same run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """\
[omi]
api_key = "omi_dev_benchmark_key_0000000000"
[state]
path = "state.db"
[connectors.drop]
type = "spool"
path = "spool"
"""


def _times(command: list[str], runs: int, cwd: Path) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        config.write_text(CONFIG)
        # a state file with rows in it, as status meets it on a running install
        subprocess.run([sys.executable, "-m", "bridge", "-c", str(config), "status"], cwd=repo,
                       capture_output=True, check=False)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "omi-bridge --help": [sys.executable, "-m", "bridge", "--help"],
            "omi-bridge status": [sys.executable, "-m", "bridge", "-c", str(config), "status"],
        }
        for label, command in commands.items():
            times = _times(command, args.runs, repo)
            print(f"{label:20} min {min(times):.3f} s  median {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()
