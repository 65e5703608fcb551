"""imessage-exporter's txt files (tests/data/chats/imessage): blocks of time, sender and words,
tapbacks and stickers named, a thread's indented replies said once with whom they answer, the last
version of an edited message, unsent messages and renames left out; `preview` and `plan`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bridge.errors import SourceError
from bridge.store import Store
from connectors.chats.imessage import IMessageConfig, IMessageConnector
from tests.chat_cli import preview_and_plan, run

DATA = Path(__file__).parent / "data" / "chats" / "imessage"


def imessage(path: Path = DATA) -> IMessageConnector:
    return IMessageConnector("mac", IMessageConfig(type="imessage", path=path, me="Alex", timezone="Europe/Berlin"))


def test_chats_read_line_by_line_with_tapbacks_thread_replies_edits_and_attachments():
    store = Store(":memory:")
    sent = run(imessage(), store)
    assert [s["text"].split("\n") for s in sent] == [
        ["iMessage chat with Anna Schmidt, Sat 15 Mar 2025",
         "Anna Schmidt (09:41): Brunch tomorrow? 🥂 (❤️ from me)",  # read receipts are not words
         "Alex (me, 09:43): Yes! I'll book the café", "", "for two",  # "Sent with Confetti" is not
         "Anna Schmidt (09:44): [photo]", "Look at this place",
         # the thread's replies, shown under it and (the first) again in time order: said once
         "Alex (me, 09:46, replying to Anna Schmidt 09:44): wow, booked!",
         "Anna Schmidt (09:47, replying to Anna Schmidt 09:44): [file: Menu März.pdf]",
         "Anna Schmidt (10:05): see you at 11:30"],  # the edit, not the first version; no unsent, no rename
        ["iMessage chat with Anna Schmidt, Sun 16 Mar 2025",
         "Anna Schmidt (08:00): https://maps.apple.com/?address=Kastanienallee%2012", "Café Nord (‼️ from me, "
         "sticker from me)"],
        ["iMessage group “Ben Müller, Mum”, Sat 15 Mar 2025",
         "Ben Müller (18:00): Sunday lunch at Mum's?",
         "+4930123456 (18:01): [attachment]",  # a number the Mac has no contact for stays a number
         "Alex (me, 18:02): yes 🙌"],
    ]
    assert {s["text_source_spec"] for s in sent} == {"imessage"}
    assert sent[0]["started_at"] == "2025-03-15T08:41:07.000000+00:00"
    assert [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")] == [
        ("Anna Schmidt.txt line 41", "no readable time (Mar 32, 2025  1:00:00 PM)")]


def test_a_longer_export_sends_only_the_new_messages_and_other_files_are_skipped_with_a_reason(tmp_path):
    shutil.copy(DATA / "Anna Schmidt.txt", tmp_path)
    store = Store(":memory:")
    first = run(imessage(tmp_path), store)
    with (tmp_path / "Anna Schmidt.txt").open("a") as chat:
        chat.write("Mar 16, 2025  8:05:00 AM\nMe\non my way\n\nMar 17, 2025  7:00:00 AM\nAnna Schmidt\nthanks!\n\n")
    (tmp_path / "notes.txt").write_text("Packing list:\n- passport\n")
    (tmp_path / "orphaned.txt").write_text("Mar 15, 2025  9:41:07 AM\nSomeone\nlost chat\n\n")
    sent = run(imessage(tmp_path), store)
    assert [s["text"].split("\n") for s in sent[len(first):]] == [
        ["iMessage chat with Anna Schmidt, Sun 16 Mar 2025 (continued)", "Alex (me, 08:05): on my way"],
        ["iMessage chat with Anna Schmidt, Mon 17 Mar 2025", "Anna Schmidt (07:00): thanks!"]]
    assert {r["ref"]: r["reason"] for r in store.rows("SELECT ref, reason FROM skipped")}["notes.txt"] == (
        "no iMessage messages in it (is it an imessage-exporter txt file?)")
    assert len(run(imessage(tmp_path), store)) == len(sent)
    with pytest.raises(SourceError, match=r"no readable iMessage export: notes\.txt"):
        imessage(tmp_path / "notes.txt").check()


def test_preview_and_plan_read_imessage_exports_through_the_cli(tmp_path, fake_omi):
    table = f'[connectors.mac]\ntype = "imessage"\npath = "{DATA}"\nme = "Alex"\ntimezone = "Europe/Berlin"\n'
    records, [mac] = preview_and_plan(tmp_path, fake_omi.url, table)
    assert [r["request"]["text"].split("\n")[0] for r in records if "request" in r] == [
        "iMessage chat with Anna Schmidt, Sat 15 Mar 2025", "iMessage chat with Anna Schmidt, Sun 16 Mar 2025",
        "iMessage group “Ben Müller, Mum”, Sat 15 Mar 2025"]
    assert (mac["items"], mac["conversations"]) == (11, 3)  # 10 messages and the one without a real day
    assert fake_omi.conversations == []
