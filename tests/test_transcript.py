"""The one chat transcript every chat source renders through, and the rule that keeps it one:
no connector imports another connector."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

from bridge.groups import Group, Item
from bridge.models import PRIORITY_BACKFILL
from bridge.transcript import render

CONNECTORS = Path(__file__).resolve().parent.parent / "connectors"
T = datetime(2025, 3, 16, 8, 0, tzinfo=UTC).timestamp()


def day(*items: Item) -> Group:
    return Group(1, "chat:1", None, items[0].at, items[-1].at, list(items))


def test_a_quoted_reply_cut_inside_code_keeps_the_code_closed() -> None:
    # a WhatsApp/Telegram reply to yesterday's message that pasted a long command
    answered = {"key": "m1", "name": "Alex", "at": T - 86400,
                "text": "try this: `" + "kubectl get pods --all-namespaces -o wide " * 4 + "`"}
    text = render(day(Item("m2", "chat:1", T, "worked, thanks", "Anna", data={"reply": answered})),
                  heading="Telegram chat with Alex", tz=UTC, priority=PRIORITY_BACKFILL).text
    line = text.split("\n")[1]
    quote = line.split("“", 1)[1].split("”", 1)[0]
    assert quote.startswith("try this: `kubectl") and quote.endswith("…`"), line
    assert line.endswith("): worked, thanks")


def test_a_message_answered_twice_is_quoted_once_and_named_with_its_year() -> None:
    answered = {"key": "m0", "name": "Alex", "at": datetime(2024, 12, 31, 23, 0, tzinfo=UTC).timestamp(),
                "text": "happy new year everyone"}
    items = [Item("m1", "chat:1", T, "and to you!", "Anna", data={"reply": answered}),
             Item("m2", "chat:1", T + 60, "same!", "Omar", data={"reply": answered, "me": True})]
    lines = render(day(*items), heading="WhatsApp group “Family”", tz=UTC, priority=PRIORITY_BACKFILL,
                   continued=True).text.split("\n")
    assert lines == [
        "WhatsApp group “Family”, Sun 16 Mar 2025 (continued)",
        "Anna (08:00, replying to Alex Tue 31 Dec 2024, 23:00: “happy new year everyone”): and to you!",
        "Omar (me, 08:01, replying to Alex Tue 31 Dec 2024, 23:00): same!",
    ]


def test_files_and_a_nameless_author_read_plainly() -> None:
    items = [Item("m1", "chat:1", T, "", "", data={"files": ["plan.pdf", "photo.jpg"]}),
             Item("m2", "chat:1", T + 5, "see above", "Anna", data={"files": ["notes.txt"]})]
    lines = render(day(*items), heading="Discord #general on Friends", tz=UTC, priority=PRIORITY_BACKFILL).text
    assert lines.split("\n")[1:] == ["someone (08:00): [file: plan.pdf, photo.jpg]",
                                     "Anna (08:00): see above [file: notes.txt]"]


def imported_connectors(source: str, package: tuple[str, ...]) -> set[str]:
    """The connectors (``connectors.X``) a module of ``package`` imports, absolutely or relatively."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names = [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name.split(".")[1] for name in names if name.startswith("connectors.")}
    return found


def test_no_connector_imports_another_connector() -> None:
    modules = sorted(CONNECTORS.rglob("*.py"))
    assert len(modules) > 20
    crossing = {}
    for path in modules:
        parts = path.relative_to(CONNECTORS.parent).with_suffix("").parts  # ("connectors", "slack", "export")
        others = imported_connectors(path.read_text(encoding="utf-8"), parts[:-1]) - {parts[1]}
        if others:
            crossing["/".join(parts) + ".py"] = sorted(others)
    assert crossing == {}, "shared pieces belong in bridge/, not in another connector"


def test_the_import_check_sees_every_form_of_import() -> None:
    slack = ("connectors", "slack")
    assert imported_connectors("from connectors.chats.export import Chat", slack) == {"chats"}
    assert imported_connectors("import connectors.matrix.connector as m", slack) == {"matrix"}
    assert imported_connectors("from connectors import mail", slack) == {"mail"}
    assert imported_connectors("from ..matrix import connector", slack) == {"matrix"}
    assert imported_connectors("from .render import shorten\nfrom . import blocks", slack) == {"slack"}
    assert imported_connectors("from bridge.transcript import render\nimport re", slack) == set()
