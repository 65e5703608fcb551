"""Omi's state as the bridge sees it, kept like a source's: failing since when, and why.

The dispatcher reports every answer (or the lack of one); a change of state is logged once, a
WARNING (an ERROR for a refused key) when sending starts failing and an INFO when it recovers, and
the state is stored so ``status``, ``/healthz``, ``STATUS=`` and ``/metrics`` can say why rows wait.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from bridge.store import Store

__all__ = ["OmiHealth", "key_problem", "omi_state"]

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
