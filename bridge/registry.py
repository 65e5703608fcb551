"""Connector types, found through the entry point group ``omi_bridge.connectors``.

The built-in connectors register there too (see pyproject.toml), so a third-party package that
declares ``[project.entry-points."omi_bridge.connectors"] mytype = "pkg.module:MyConnector"``
is found exactly like them.
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.config import Config
    from bridge.connector import Connector

__all__ = ["GROUP", "build_connector", "build_connectors", "connector_types", "load_connector_type"]

GROUP = "omi_bridge.connectors"


@functools.cache
def _registered() -> dict[str, EntryPoint]:
    """Connector type -> its entry point (the first found), from one look at the installed
    distributions per process: each look reads every distribution's metadata, and loading a
    config asked for it once per connector table."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return found


def connector_types() -> list[str]:
    """Names of every installed connector type, without importing them."""
    return sorted(_registered())


def load_connector_type(name: str) -> type[Connector]:
    """The connector class registered as ``name``; KeyError if there is none."""
    return _registered()[name].load()


def build_connectors(config: Config) -> dict[str, Connector]:
    return {name: build_connector(config, name) for name in config.connectors}


def build_connector(config: Config, name: str) -> Connector:
    """The connector ``config`` names; one that signs in (omi-bridge login) keeps its tokens by the state."""
    from bridge.tokens import TokenFile, tokens_dir

    cfg = config.connectors[name]
    connector = load_connector_type(cfg.type)(name, cfg)
    if hasattr(connector, "tokens"):
        connector.tokens = TokenFile(tokens_dir(config.state_path) / f"{name}.json")
    return connector
