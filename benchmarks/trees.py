"""``--tree OTHER_CHECKOUT``: a benchmark measures other checkouts beside this one (e.g. made with
``git worktree add /tmp/before main``), alternating, so before and after come from one run."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def add_tree_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tree", type=Path, action="append", default=[],
                        help="another checkout to measure alongside this one (repeatable)")


def trees(args: argparse.Namespace) -> list[Path]:
    """This checkout, then each ``--tree``, each with its bytecode compiled as an installed package
    has it: under PYTHONDONTWRITEBYTECODE (set where these benchmarks were written) every start
    of the bridge would otherwise compile its modules again, in time and in memory."""
    checkouts = [ROOT, *(tree.resolve() for tree in args.tree)]
    for tree in checkouts:
        subprocess.run([sys.executable, "-m", "compileall", "-q", "bridge", "connectors"], cwd=tree,
                       stdout=subprocess.DEVNULL, check=True)
    return checkouts
