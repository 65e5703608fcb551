"""Omi's state and the state file's, as the bridge sees them, kept like a source's: failing since
when, and why.

Omi: the dispatcher reports every answer (or the lack of one); a change of state is logged once, a
WARNING (an ERROR for a refused key) when sending starts failing and an INFO when it recovers, and
the state is stored so ``status``, ``/healthz``, ``STATUS=`` and ``/metrics`` can say why rows wait.

The state file: the store reports every write that fails for want of space or an I/O error
(``StateHealth``). That cannot be stored where the failing writes go, so the daemon keeps it in
memory for ``/healthz``, ``/metrics`` and ``STATUS=`` and notes it in its lock file, which
``status`` reads (bridge/lock.py ``StateLock``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from bridge.store import Store

__all__ = ["OmiHealth", "StateHealth", "key_problem", "omi_state"]

log = logging.getLogger(__name__)

META = "omi_state"


def key_problem(response: httpx.Response) -> str | None:
    """What ``GET /v1/dev/key`` says is wrong with the key for this bridge, or None."""
    if response.status_code == 401:
        return "the API key is missing, wrong or revoked (401): Omi refused it"
    if response.status_code == 403:
        return "Omi refused the API key (403): it lacks the conversations:write scope"
    if response.status_code == 404:
        return None  # a server that cannot report the key's scopes
    if response.status_code != 200:
        return f"{response.status_code} from /v1/dev/key: {' '.join(response.text.split())[:200]}"
    try:
        scopes = response.json().get("scopes") or []
    except (ValueError, AttributeError):
        return None
    if "conversations:write" not in scopes:
        return (f"the key lacks conversations:write (it has: {', '.join(scopes) or 'none'}), so it cannot"
                " create conversations: make a key with that scope in the Omi app (Settings -> Developer)")
    return None


def omi_state(store: Store) -> dict[str, Any]:
    """{"state": "ok" | "failing" | "unknown", "since": ts | None, "error": str | None}."""
    raw = store.get_meta(META)
    return json.loads(raw) if raw else {"state": "unknown", "since": None, "error": None}


class OmiHealth:
    def __init__(self, store: Store, clock: Any = time.time) -> None:
        self.store = store
        self.clock = clock
        self._state = omi_state(store)

    @property
    def failing(self) -> bool:
        return self._state["state"] == "failing"

    def failing_for(self, now: float) -> float:
        """Seconds Omi has been failing (0 when it is not)."""
        return now - (self._state["since"] or now) if self.failing else 0.0

    @property
    def error(self) -> str | None:
        return self._state["error"]

    def failed(self, reason: str, *, level: int = logging.WARNING) -> None:
        """Sending failed for ``reason``: say so once, when it starts."""
        if not self.failing:
            log.log(level, "cannot deliver to Omi: %s", reason)
            self._save({"state": "failing", "since": self.clock(), "error": reason})
        elif reason != self._state["error"]:
            self._save({**self._state, "error": reason})

    def answered(self) -> None:
        """Omi answered as a working server does."""
        if self.failing:
            since = self._state["since"] or self.clock()
            log.info("Omi answers again after %s: sending resumed", timedelta(seconds=round(self.clock() - since)))
        if self._state["state"] != "ok":
            self._save({"state": "ok", "since": self.clock(), "error": None})

    def _save(self, state: dict[str, Any]) -> None:
        self._state = state
        self.store.set_meta(META, json.dumps(state))


class StateHealth:
    """Whether the state file takes writes. ``failed`` is said once, as an ERROR, when writes start
    failing; ``ok`` ends it and tells the listeners, which settle what could not be recorded and
    say the one INFO line (bridge/daemon.py). Called from any thread, under the store's lock."""

    def __init__(self, path: str, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self.since: float | None = None
        self.error: str | None = None
        self._listeners: list[Callable[[StateHealth, float | None], None]] = []
        self._lock = threading.Lock()

    @property
    def failing(self) -> bool:
        return self.since is not None

    def listen(self, listener: Callable[[StateHealth, float | None], None]) -> None:
        """``listener(health, failing_since)`` on every change: since is None when it starts
        failing, the time it started when it recovers."""
        self._listeners.append(listener)

    def failed(self, error: str) -> None:
        with self._lock:
            started = self.since is None
            if started:
                self.since = self.clock()
            self.error = error
        if started:
            log.error("state: cannot write %s: %s; nothing is claimed or sent until it can be (free space"
                      " there: the bridge goes on by itself)", self.path, error)
            self._tell(None)

    def ok(self) -> None:
        with self._lock:
            since, self.since, self.error = self.since, None, None
        if since is not None:
            self._tell(since)

    def as_dict(self) -> dict[str, Any]:
        return {"state": "failing" if self.failing else "ok", "since": self.since, "error": self.error}

    def _tell(self, since: float | None) -> None:
        for listener in self._listeners:
            listener(self, since)
