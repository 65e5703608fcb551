"""The web console: what reached Omi, what waits, what was left out and why, in a browser.

Served by the daemon on its HTTP listener (bridge/http.py); ``omi-bridge console`` prints the
link that signs a browser in (bridge/console/auth.py)."""

from __future__ import annotations

from bridge.console.auth import console_link
from bridge.console.pages import Console

__all__ = ["Console", "console_link"]
