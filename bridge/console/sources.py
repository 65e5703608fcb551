"""A source's form checked and tried before anything is written: checked by the config loader's
own validation (the same messages ``check`` gives), tried by the connector's ``check`` and by
``plan`` (bridge/plan.py), which also prices the other ``since``, ``backfill`` and ``group``
choices side by side (``Pricing``, after the page is shown), so a person picks one knowingly.
The kinds and their forms are in bridge/console/kinds.py.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import typing
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.config import Config
    from bridge.store import Store

__all__ = ["CHOICES", "NAME", "Pricing", "source_plan", "try_source", "validate"]

NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")  # a bare TOML key, and what logs and pages call the source
CHOICES = ("since", "backfill", "group")  # the options whose cost the test step compares
SINCE_BACK = (30, 365)  # days back the since choices offer beside the person's own


def validate(config: Config, name: str, table: dict[str, Any], *, new: bool = True,
             ) -> tuple[dict[str, str], list[str], Any]:
    """Validate one ``[connectors.NAME]`` table as ``load_config`` does (its own steps, so the
    messages are ``check``'s): problems by option, the rest, and the connector's config or None.
    A ``new`` source may not take a name in use; a changed one keeps its own."""
    from bridge.config import check_connector_table

    by_key: dict[str, str] = {}
    if not NAME.match(name):
        by_key["name"] = "a source's name is letters, digits, - and _ (up to 40)"
    elif new and name in config.connectors:
        by_key["name"] = "a source of that name exists already"
    name = name if "name" not in by_key else "new"  # the table is still checked, under a name TOML takes
    where = f"connectors.{name}"
    validated, problems = check_connector_table(name, table, config.source.resolve().parent)
    rest: list[str] = []
    for problem in problems:
        key, _, message = problem.partition(": ")
        option = key.removeprefix(where + ".").split(".")[0] if key.startswith(where + ".") else ""
        option = option.removesuffix("_file")
        if option and option not in by_key:
            by_key[option] = message
        else:
            rest.append(problem.removeprefix(where + ": ") if key == where else problem)
    return by_key, rest, validated if not problems and "name" not in by_key else None


def try_source(config: Config, store: Store, name: str, validated: Any) -> dict[str, Any]:
    """What ``check`` and ``plan`` say of this one source; nothing sent and nothing stored. The
    other choices' costs take a read each: ``Pricing`` finds them after the page is shown."""
    from bridge.connector import call
    from bridge.errors import one_line
    from bridge.registry import build_connector

    alone = config.model_copy(update={"connectors": {name: validated}})
    try:
        checked, good = asyncio.run(call(build_connector(alone, name).check)), True
    except Exception as exc:
        checked, good = one_line(exc), False
    if not good:
        return {"check": str(checked), "good": False, "plan": None}
    return {"check": str(checked), "good": True, "plan": source_plan(config, store, name, validated)}


def source_plan(config: Config, store: Store, name: str, validated: Any) -> dict[str, Any]:
    """``plan`` of this one source, as ``omi-bridge plan`` would print it for a file holding it."""
    from bridge.plan import plan
    from bridge.registry import build_connector

    alone = config.model_copy(update={"connectors": {name: validated}})
    return plan(alone, store, {name: build_connector(alone, name)})


class Pricing:
    """Each value of ``since``, ``backfill`` and ``group`` beside the others (the rest of the
    table as chosen), with what ``plan`` says it costs: conversations, writes, time to deliver.

    The source is read once for each value (a mailbox of 1,000 mails: 6 s a read here), so the
    values are priced one after another in a thread of their own while the page shows the test's
    own plan; the page's table fills in as they come. A value the loader refuses says why."""

    def __init__(self, config: Config, store: Store, name: str, table: dict[str, Any],
                 chosen: dict[str, Any]) -> None:
        from bridge.config import check_connector_table

        self.name = name
        self.started = time.monotonic()
        self.stopped = threading.Event()  # a newer test of the same source, or the form saved
        folder = config.source.resolve().parent
        model = type(check_connector_table(name, table, folder)[0])
        self.rows: list[dict[str, Any]] = []
        self._todo: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (row, the table to plan)
        for key in (k for k in CHOICES if k in model.model_fields):
            current = table.get(key, model.model_fields[key].default)
            for value in _values(model, key, current):
                row = {"option": key, "value": "none: only what arrives from now on" if value is None else str(value),
                       "chosen": value == current, "pending": value != current}
                if value == current:
                    row.update(_cost(chosen, []))
                else:
                    self._todo.append((row, {k: v for k, v in {**table, key: value}.items() if v is not None}))
                self.rows.append(row)
        self._config, self._store, self._folder = config, store, folder

    @property
    def done(self) -> bool:
        return not any(row["pending"] for row in self.rows)

    def run(self) -> None:
        """Price every value still pending (in the thread that owns this pricing)."""
        for row, variant in self._todo:
            if self.stopped.is_set():
                row.update(pending=False, error="not priced: the form was tested again or saved")
                continue
            row.update(self._plan(variant), pending=False)

    def _plan(self, variant: dict[str, Any]) -> dict[str, Any]:
        from bridge.config import check_connector_table
        from bridge.errors import one_line

        validated, problems = check_connector_table(self.name, variant, self._folder)
        if validated is None:
            return _cost(None, problems)
        try:
            return _cost(source_plan(self._config, self._store, self.name, validated), [])
        except Exception as exc:  # one value's read failing says so in its row; the others go on
            return {"error": one_line(exc)}


def _values(model: Any, key: str, current: Any) -> list[Any]:
    """The values to price: a Literal option's every one (an optional one's too), or for
    ``since`` none, the person's own and a few spans back."""
    if key != "since":
        return _literals(model.model_fields[key].annotation)
    back = [date.today() - timedelta(days=days) for days in SINCE_BACK]
    return sorted({None, current, *back}, key=lambda d: d or date.max)  # the widest first, none last


def _literals(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return [v for arg in typing.get_args(annotation) for v in _literals(arg)]  # Literal[...] | None


def _cost(found: dict[str, Any] | None, problems: list[str]) -> dict[str, Any]:
    """One choice's row: plan's own numbers for this source, or why there are none."""
    if found is None:
        return {"error": "; ".join(p.split(": ", 1)[-1] for p in problems)}
    source = found["sources"][0]
    if source["error"]:
        return {"error": source["error"]}
    return {"error": None, "conversations": source["conversations"], "writes": source["writes"],
            "seconds": found["seconds"]["total"], "blocked": found["blocked"]}
