"""Progress bars for long reads, one on the screen at a time.

Sources are read side by side (each poll in its own thread), and two tqdm bars drawn from two
threads write over each other's lines: tqdm pads a redrawn line to its own last length, not to
what another bar left there, so a stale half of a bar stays on the screen. Only the first bar
opened is drawn; one opened while it runs counts in silence. Log lines go through tqdm's write
(bridge/logs.py), which clears and redraws the bar around them.

A bar given ``source`` also tells the console what that source is doing (bridge/activity.py),
drawn or not: under systemd there is no terminal, and the console is where the progress shows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from tqdm import tqdm

from bridge import activity

__all__ = ["Bar"]

_lock = threading.Lock()
_drawn: set[int] = set()  # the bar on the screen (its id), when there is one


class Bar(tqdm):
    """tqdm, drawn only while no other Bar is: pass what tqdm takes, and ``source``: the
    source whose activity it is, and ``doing``: what the console says it does (else ``desc``)."""

    def __init__(self, *args: Any, source: str | None = None, doing: str | None = None, **kwargs: Any) -> None:
        self._source = source
        if source is not None:
            total = kwargs.get("total")
            if total is None and args and hasattr(args[0], "__len__"):
                total = len(args[0])
            what = doing or str(kwargs.get("desc") or "").removeprefix(f"{source}: ") or "reading"
            activity.report(source, self._key, what, 0, total)
        key = id(self)
        with _lock:
            if not kwargs.get("disable") and not _drawn:
                _drawn.add(key)
            else:
                kwargs["disable"] = True
        super().__init__(*args, **kwargs)

    @property
    def _key(self) -> str:
        return f"bar {id(self)}"

    def update(self, n: float | None = 1) -> bool | None:
        if self._source is not None:
            activity.advanced(self._source, self._key, int(n or 0))
        return super().update(n)

    def __iter__(self) -> Iterator[Any]:
        if self._source is None:
            yield from super().__iter__()
            return
        for item in super().__iter__():  # tqdm counts an iteration without calling update
            activity.advanced(self._source, self._key)
            yield item

    def close(self) -> None:
        try:
            super().close()
        finally:
            if getattr(self, "_source", None) is not None:
                activity.clear(self._source, self._key)
            with _lock:
                _drawn.discard(id(self))
