"""Progress bars for long reads, one on the screen at a time.

Sources are read side by side (each poll in its own thread), and two tqdm bars drawn from two
threads write over each other's lines: tqdm pads a redrawn line to its own last length, not to
what another bar left there, so a stale half of a bar stays on the screen. Only the first bar
opened is drawn; one opened while it runs counts in silence. Log lines go through tqdm's write
(bridge/logs.py), which clears and redraws the bar around them.
"""

from __future__ import annotations

import threading
from typing import Any

from tqdm import tqdm

__all__ = ["Bar"]

_lock = threading.Lock()
_drawn: set[int] = set()  # the bar on the screen (its id), when there is one


class Bar(tqdm):
    """tqdm, drawn only while no other Bar is: pass what tqdm takes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        key = id(self)
        with _lock:
            if not kwargs.get("disable") and not _drawn:
                _drawn.add(key)
            else:
                kwargs["disable"] = True
        super().__init__(*args, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            with _lock:
                _drawn.discard(id(self))
