"""Every error omi-bridge raises on purpose, and what the caller does with it.

    BridgeError
    ├── ConfigError        bad config: every problem listed, exit code 2, nothing started
    ├── StateBusy          the state file cannot be taken (another daemon runs on it, no folder)
    ├── StateUnwritable    the state file refused a write (disk full, I/O error): nothing of that
    │                      transaction was kept; the store's health says so, and recovers by itself
    ├── SourceError        a source cannot be read right now (network, server down): retry later
    │   └── SourceAuthError   the source refused our credentials: retry, but say so clearly
    └── SkipItem           one item cannot be turned into a conversation: record it as skipped
        └── DamagedMember  a member of an export's zip is damaged: skip it, read the rest (bridge/zips.py)

Errors talking to Omi are not exceptions the rest of the code sees: the dispatcher turns every
answer into a row state (sent, pending with a next attempt, dead).
"""

from __future__ import annotations

__all__ = ["BridgeError", "ConfigError", "SkipItem", "SourceAuthError", "SourceError", "StateBusy", "StateUnwritable",
           "one_line"]


class BridgeError(Exception):
    pass


class ConfigError(BridgeError):
    """The config cannot be used. ``problems`` holds one line per problem, each naming its key."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            return f"{self.source}: {self.problems[0]}"
        lines = [f"{self.source}: {len(self.problems)} problems"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class StateBusy(BridgeError):
    """The state file cannot be used by this process; said in one line, exit code 1."""


class StateUnwritable(BridgeError):
    """A write to the state file failed for want of space or an I/O error (see bridge/health.py
    ``StateHealth``): retry once it takes writes again; never count it against a source or a row."""


class SourceError(BridgeError):
    """A source is unreachable or misbehaving; the poll is tried again on its next turn."""


class SourceAuthError(SourceError):
    """The source refused the credentials (wrong password, revoked token)."""


class SkipItem(BridgeError):
    """One item cannot be delivered; ``reason`` is what status shows."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def one_line(exc: BaseException) -> str:
    """An exception in one line: ours by their message, others with their type."""
    text = " ".join(str(exc).split())
    if isinstance(exc, BridgeError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
