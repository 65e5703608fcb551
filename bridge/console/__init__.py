"""The web console: what reached Omi, what waits, what was left out and why, in a browser.

Served by the daemon on its HTTP listener (bridge/http.py); ``omi-bridge console`` prints the
link that signs a browser in (bridge/console/auth.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.console.auth import console_link

if TYPE_CHECKING:
    from bridge.console.pages import Console

__all__ = ["Console", "console_link"]


def __getattr__(name: str) -> Any:
    """``Console`` (and with it Jinja2) is imported when first asked for: importing
    bridge.console.auth, which the daemon does at start, must not load the pages."""
    if name == "Console":
        from bridge.console.pages import Console

        return Console
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
