"""What the chat export tests share: ``run`` a connector once into a store, and the connector
types of this worktree's pyproject.toml, visible to ``python -m bridge`` before the package is
installed again (a CLI test of a new chat export type runs with ``registered_env``)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from bridge.connector import Sink
from bridge.store import Store
from tests.conftest import bridge_env, run_cli, write_config

ROOT = Path(__file__).resolve().parent.parent


def registered_env(folder: Path) -> dict[str, str]:
    """``bridge_env`` with a distribution in ``folder`` declaring pyproject.toml's connector entry
    points (the same names and classes as the installed ones: a type found twice is one type)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    points = project["project"]["entry-points"]["omi_bridge.connectors"]
    info = folder / "site" / "omi_bridge_worktree-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: omi-bridge-worktree\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "[omi_bridge.connectors]\n" + "".join(f"{name} = {target}\n" for name, target in points.items()))
    env = bridge_env()
    env["PYTHONPATH"] = f"{ROOT}:{info.parent}" + (f":{env['PYTHONPATH']}" if env.get("PYTHONPATH") else "")
    return env


def run(connector, store: Store) -> list[dict]:
    """One poll of ``connector``; every conversation in the outbox so far, as sent to Omi."""
    connector.poll(Sink(store, connector.name, connector.config, lambda: None))
    return [json.loads(r["body"]) for r in store.rows("SELECT body FROM outbox ORDER BY id")]


def preview_and_plan(folder: Path, omi_url: str, table: str) -> tuple[list[dict], list[dict]]:
    """``preview`` and ``plan --json`` of a config whose connectors are ``table``, through the CLI:
    the preview's records (each conversation's ``request``, each skip's ``reason``) and the
    plan's sources."""
    config = write_config(folder, omi_url, connectors=table)
    env = registered_env(folder)
    preview = run_cli("preview", "-c", str(config), env=env)
    assert preview.returncode == 0, preview.stderr
    plan = run_cli("plan", "-c", str(config), "--json", env=env)
    assert plan.returncode == 0, plan.stderr
    return [json.loads(line) for line in preview.stdout.splitlines()], json.loads(plan.stdout)["sources"]
