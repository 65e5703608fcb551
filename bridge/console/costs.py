"""What a source would cost, for its page: ``plan`` for that one source (bridge/plan.py, the
same count ``omi-bridge plan`` prints), run when the person asks, in a thread of its own (it
reads the whole source: minutes for a large mailbox), and kept until they ask again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.config import Config
    from bridge.store import Store

__all__ = ["Costs", "Counted"]


@dataclass
class Counted:
    state: str = "counting"  # counting | counted | failed
    started: float = field(default_factory=time.time)
    plan: dict[str, Any] | None = None  # plan's whole answer
    problem: str = ""

    @property
    def source(self) -> dict[str, Any] | None:
        """The source's own line of the plan."""
        return self.plan["sources"][0] if self.plan and self.plan["sources"] else None


class Costs:
    def __init__(self, config: Callable[[], Config], store: Store) -> None:
        self._config = config
        self._store = store
        self._counted: dict[str, Counted] = {}
        self._lock = threading.Lock()

    def of(self, name: str) -> Counted | None:
        return self._counted.get(name)

    def start(self, name: str) -> None:
        """Count ``name`` again, unless a count is under way."""
        with self._lock:
            current = self._counted.get(name)
            if current is not None and current.state == "counting":
                return
            counted = self._counted[name] = Counted()
        threading.Thread(target=self._count, args=(name, counted), name=f"plan {name}", daemon=True).start()

    def _count(self, name: str, counted: Counted) -> None:
        from bridge.config import secrets_of
        from bridge.errors import one_line
        from bridge.logs import Redactor
        from bridge.plan import plan
        from bridge.registry import build_connector

        config = self._config()
        try:
            found = plan(config, self._store, {name: build_connector(config, name)}, only=[name])
            error = found["sources"][0]["error"]
            counted.plan, counted.state = found, "failed" if error else "counted"
            counted.problem = Redactor(secrets_of(config))(error or "")
        except Exception as exc:
            counted.problem, counted.state = Redactor(secrets_of(config))(one_line(exc)), "failed"
