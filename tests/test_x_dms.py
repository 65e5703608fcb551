"""X's archive direct messages (tests/data/chats/x): the JavaScript assignment around JSON, ids
named from account.js and the archive's mentions (else "user <id>"), t.co links expanded, media
named, reactions, group names from renames, the app's events left out; `preview` and `plan`."""

from __future__ import annotations

import shutil
from pathlib import Path

from bridge.store import Store
from connectors.chats.x_dms import XDmsConfig, XDmsConnector
from tests.chat_cli import preview_and_plan, run

ARCHIVE = Path(__file__).parent / "data" / "chats" / "x"


def x(path: Path = ARCHIVE) -> XDmsConnector:
    return XDmsConnector("x", XDmsConfig(type="x-dms", path=path, timezone="Europe/Berlin"))


def test_conversations_read_line_by_line_with_names_links_media_and_reactions():
    store = Store(":memory:")
    sent = run(x(), store)
    assert [s["text"].split("\n") for s in sent] == [
        ["X group “Berlin crew”, Sat 15 Mar 2025",  # its name from the rename; the join is no line
         "Ben Müller (18:00): Thursday drinks?",
         "Alex Kim (me, 18:05): count me in [video]"],
        ["X chat with Anna Schmidt, Sat 15 Mar 2025",  # named from a tweet that mentions her
         "Anna Schmidt (09:41): Brunch tomorrow? 🥂",
         "Alex Kim (me, 09:43): Yes! menu: https://cafe.example/menu & booked (❤️ from Anna Schmidt)",
         "Anna Schmidt (09:44): the view from here [photo]"],  # the picture's own t.co link is the picture
        ["X chat with Anna Schmidt, Sun 16 Mar 2025", "Alex Kim (me, 08:00): see you there"],
        ["X chat with user 9990001, Sat 15 Mar 2025", "user 9990001 (13:00): hey, we met at the conference"],
    ]
    assert {s["text_source_spec"] for s in sent} == {"x_dms"}
    assert [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")] == [
        ("data/direct-messages.js conversation 1234567-7654321 message record 5", "no id or no readable createdAt")]


def test_a_cut_file_is_skipped_with_its_reason_and_a_later_archive_sends_only_what_is_new(tmp_path):
    shutil.copytree(ARCHIVE, tmp_path / "archive")
    data = tmp_path / "archive" / "data"
    group = (data / "direct-messages-group.js").read_text()
    (data / "direct-messages-group.js").write_text(group[:300])
    store = Store(":memory:")
    first = run(x(tmp_path / "archive"), store)
    assert len(first) == 3
    reasons = {r["ref"]: r["reason"] for r in store.rows("SELECT ref, reason FROM skipped")}
    assert reasons["data/direct-messages-group.js"].startswith("not readable JSON after the assignment")
    text = (data / "direct-messages.js").read_text()
    later = text.replace('"messages": [\n', '"messages": [\n{"messageCreate": {"recipientId": "7654321", '
                         '"text": "on my way", "senderId": "1234567", "id": "1900900000000000005", '
                         '"createdAt": "2025-03-16T07:30:00.000Z"}},\n', 1)
    (data / "direct-messages.js").write_text(later)
    sent = run(x(tmp_path / "archive"), store)
    assert [s["text"].split("\n") for s in sent[len(first):]] == [
        ["X chat with Anna Schmidt, Sun 16 Mar 2025 (continued)", "Alex Kim (me, 08:30): on my way"]]


def test_preview_and_plan_read_x_dms_through_the_cli(tmp_path, fake_omi):
    table = f'[connectors.x]\ntype = "x-dms"\npath = "{ARCHIVE}"\ntimezone = "Europe/Berlin"\n'
    records, [xs] = preview_and_plan(tmp_path, fake_omi.url, table)
    assert len([r for r in records if "request" in r]) == 4
    assert (xs["items"], xs["conversations"]) == (8, 4)  # 7 messages and the one without a time
    assert fake_omi.conversations == []
