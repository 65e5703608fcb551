"""Google Chat from Google Takeout (tests/data/chats/google-chat): DMs and spaces, the person known
from user_info.json, English dates with a narrow no-break space, attached and Drive files, meetings,
quoted replies and reactions named, deleted messages left out; `preview` and `plan` through the CLI."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.store import Store
from connectors.chats.google_chat import GoogleChatConfig, GoogleChatConnector, takeout_time
from tests.chat_cli import preview_and_plan, run

DATA = Path(__file__).parent / "data" / "chats" / "google-chat"
DM = "Takeout/Google Chat/Groups/DM 8p3M0qAAAAE/messages.json"


def google(path: Path = DATA) -> GoogleChatConnector:
    return GoogleChatConnector("gchat", GoogleChatConfig(type="google-chat", path=path, timezone="Europe/Berlin"))


def test_dms_and_spaces_read_line_by_line_with_me_files_meetings_replies_and_reactions():
    store = Store(":memory:")
    sent = run(google(), store)
    assert [s["text"].split("\n") for s in sent] == [
        ["Google Chat chat with Anna Schmidt, Sat 15 Mar 2025",
         "Anna Schmidt (09:41): Brunch tomorrow? 🥂 (❤️ from me)",
         "Alex Kim (me, 09:43): Yes — here's the menu [file: Speisekarte März.pdf]",  # me: user_info.json
         "Anna Schmidt (09:44): [file: Trip budget]"],  # a Drive file; the deleted message is left out
        ["Google Chat chat with Anna Schmidt, Sun 16 Mar 2025",
         "Anna Schmidt (08:00, replying to Alex Kim: “Yes — here's the menu”): thanks for yesterday!"],
        ["Google Chat space “Trip planning”, Sat 15 Mar 2025",
         "Ben Müller (18:00): @Anna Schmidt @Alex Kim train or car?",
         "Alex Kim (me, 18:05): train, I'll send a Meet link [video meeting] (👍 from Anna Schmidt, Ben Müller)"],
    ]
    assert {s["text_source_spec"] for s in sent} == {"google_chat"}
    assert [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")] == [
        (f"{DM} message record 5", "no readable created_date ('sometime on Saturday')")]


@pytest.mark.parametrize(("words", "expected"), [
    ("Saturday, March 15, 2025 at 9:41:07\u202fPM UTC", datetime(2025, 3, 15, 21, 41, 7, tzinfo=UTC)),
    ("Saturday, March 15, 2025 at 12:05:00 AM UTC", datetime(2025, 3, 15, 0, 5, tzinfo=UTC)),
    ("Saturday, 15 March 2025 at 21:41:07 UTC", datetime(2025, 3, 15, 21, 41, 7, tzinfo=UTC)),
    ("Saturday, March 15, 2025 at 9:41:07 PM GMT+01:00", datetime(2025, 3, 15, 20, 41, 7, tzinfo=UTC)),
])
def test_takeout_dates_in_their_shapes(words, expected):
    assert takeout_time(words, lambda naive: pytest.fail("a zone was given")) == expected.timestamp()


def test_a_broken_messages_json_is_skipped_and_a_later_takeout_sends_only_what_is_new(tmp_path):
    shutil.copytree(DATA, tmp_path / "takeout")
    space = tmp_path / "takeout" / "Takeout/Google Chat/Groups/Space AAAA5kTq1wE/messages.json"
    whole = space.read_text()
    space.write_text(whole[: len(whole) // 2])  # the download stopped halfway
    store = Store(":memory:")
    first = run(google(tmp_path / "takeout"), store)
    assert len(first) == 2
    assert {r["ref"]: r["reason"] for r in store.rows("SELECT ref, reason FROM skipped")}[
        "Takeout/Google Chat/Groups/Space AAAA5kTq1wE/messages.json"].startswith("not readable JSON")
    export = json.loads(whole)
    export["messages"].append({"creator": {"name": "Anna Schmidt", "email": "anna@example.org"},
                               "created_date": "Monday, March 17, 2025 at 6:30:00\u202fAM UTC",
                               "text": "booked the train", "message_id": "AAAA5kTq1wE/t9/t9"})
    space.write_text(json.dumps(export))  # the next Takeout, whole and a little longer
    sent = run(google(tmp_path / "takeout"), store)
    assert [s["text"].split("\n")[0] for s in sent[len(first):]] == [
        "Google Chat space “Trip planning”, Sat 15 Mar 2025", "Google Chat space “Trip planning”, Mon 17 Mar 2025"]
    assert len(run(google(tmp_path / "takeout"), store)) == len(sent)


def test_preview_and_plan_read_a_takeout_through_the_cli(tmp_path, fake_omi):
    table = f'[connectors.gchat]\ntype = "google-chat"\npath = "{DATA}"\ntimezone = "Europe/Berlin"\n'
    records, [gchat] = preview_and_plan(tmp_path, fake_omi.url, table)
    assert len([r for r in records if "request" in r]) == 3
    assert (gchat["items"], gchat["conversations"]) == (7, 3)  # 6 messages and the one without a date
    assert fake_omi.conversations == []
