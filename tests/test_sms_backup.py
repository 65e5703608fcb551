"""SMS Backup & Restore's XML (tests/data/chats/sms): threads by the other person or the group,
sent as me, MMS parts named, emoji written as UTF-16 halves read, drafts left out, a file cut short
read up to its break, a longer backup sending only what is new; `preview` and `plan` through the CLI."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bridge.errors import SourceError
from bridge.store import Store
from connectors.chats.sms import SmsBackupConfig, SmsBackupConnector, SurrogatesJoined
from tests.chat_cli import preview_and_plan, run

BACKUP = Path(__file__).parent / "data" / "chats" / "sms" / "sms-20250316103000.xml"
ANNA = ["SMS chat with Anna Schmidt, Sat 15 Mar 2025",
        "Anna Schmidt (09:41): Brunch tomorrow? 🥂",
        "Alex (me, 09:43): Yes! I'll book the café", "for 11:00",
        # +49 151… and 0151…: one person, one chat; the draft at 09:50 was never sent
        "Anna Schmidt (09:44): Perfect 😊 see you"]


def sms(path: Path = BACKUP) -> SmsBackupConnector:
    return SmsBackupConnector("sms", SmsBackupConfig(type="sms-backup", path=path, me="Alex", timezone="Europe/Berlin"))


def test_threads_read_line_by_line_with_groups_media_and_emoji_halves_joined():
    store = Store(":memory:")
    sent = run(sms(), store)
    assert [s["text"].split("\n") for s in sent] == [
        ["SMS group with Anna Schmidt, Ben Müller, Sat 15 Mar 2025",
         "Ben Müller (18:00): Look what Mum baked 🎂 [photo]",  # the slide layout is no line; the picture is named
         "Alex (me, 18:02): Save me a piece!"],
        ["SMS group with Anna Schmidt, Ben Müller, Sun 16 Mar 2025",
         "Anna Schmidt (08:30): [voice message] [contact]"],  # the sender from the addr of type 137
        ANNA,
        ["SMS chat with DHL, Sat 15 Mar 2025",
         "DHL (11:00): Ihr Paket 00340434 kommt heute zwischen 12:00 und 14:00."],
    ]
    assert {s["text_source_spec"] for s in sent} == {"sms"}
    assert [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")] == [
        ("sms-20250316103000.xml sms record 5", "no readable date ('null')")]


@pytest.mark.parametrize("chunk", [3, 7, 16, 64])
def test_utf16_halves_are_joined_wherever_a_chunk_ends(monkeypatch, chunk):
    text = b'<a b="x &#55357;&#56842;&#10;&#55358;&#56642; &#55357; &#233;"/>' * 5
    monkeypatch.setattr("connectors.chats.sms.CHUNK", chunk)
    stream, out = SurrogatesJoined(io.BytesIO(text)), b""
    while piece := stream.read(1):  # read(1) asks for at least 64: the reader's own chunk then
        out += piece
    out += stream.read(1)
    assert out == b'<a b="x &#128522;&#10;&#129346; &#65533; &#233;"/>' * 5


def test_a_backup_cut_short_brings_what_came_before_the_break_and_names_the_line(tmp_path):
    text = BACKUP.read_text()
    cut = tmp_path / "sms-cut.xml"
    cut.write_text(text[:text.index('  <sms protocol="0" address="DHL"') + 60])  # the upload stopped mid-message
    store = Store(":memory:")
    sent = run(sms(cut), store)
    assert [s["text"].split("\n") for s in sent] == [ANNA]
    skipped = {r["ref"]: r["reason"] for r in store.rows("SELECT ref, reason FROM skipped")}
    assert skipped["sms-cut.xml line 10"] == (
        "the XML breaks off here (it ends here: cut short): the 5 message(s) before it were read")


def test_files_that_are_not_message_backups_are_skipped_with_their_reason(tmp_path):
    (tmp_path / "calls-20250316103000.xml").write_text(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<calls count=\"1\">\n"
        '  <call number="+4915112345678" duration="95" date="1742028060000" type="1" presentation="1" '
        'readable_date="15 Mar 2025 09:41:00" contact_name="Anna Schmidt" />\n</calls>\n')
    (tmp_path / "notes.xml").write_text("this is not XML at all")
    (tmp_path / "sms-20250316103000.xml").write_bytes(BACKUP.read_bytes())
    store = Store(":memory:")
    assert len(run(sms(tmp_path), store)) == 4
    assert {r["ref"]: r["reason"] for r in store.rows("SELECT ref, reason FROM skipped")} == {
        "calls-20250316103000.xml": "not an SMS Backup & Restore file of messages (a call log backup)",
        "notes.xml": "not readable XML (syntax error: line 1, column 0)",
        "sms-20250316103000.xml sms record 5": "no readable date ('null')"}
    with pytest.raises(SourceError, match=r"no readable SMS export: notes\.xml: not readable XML"):
        sms(tmp_path / "notes.xml").check()


def test_a_later_backup_sends_only_what_is_new_and_a_day_it_adds_to_as_continued(tmp_path):
    store = Store(":memory:")
    (tmp_path / "sms-1.xml").write_bytes(BACKUP.read_bytes())
    first = run(sms(tmp_path), store)
    later = BACKUP.read_text().replace("</smses>", (
        '  <sms protocol="0" address="+49 151 12345678" date="1742029200000" type="1" subject="null" '
        'body="Table for 2 is booked" toa="null" sc_toa="null" service_center="null" read="1" status="-1" '
        'locked="0" date_sent="0" sub_id="1" readable_date="15 Mar 2025 10:00:00" contact_name="Anna S." />\n'
        '  <sms protocol="0" address="+4915112345678" date="1742204400000" type="2" subject="null" '
        'body="Thanks for today" toa="null" sc_toa="null" service_center="null" read="1" status="-1" '
        'locked="0" date_sent="0" sub_id="1" readable_date="17 Mar 2025 10:40:00" contact_name="Anna S." />\n'
        "</smses>"))
    (tmp_path / "sms-2.xml").write_text(later)  # the next week's backup beside the first
    sent = run(sms(tmp_path), store)
    assert [s["text"].split("\n") for s in sent[len(first):]] == [
        ["SMS chat with Anna S., Sat 15 Mar 2025 (continued)", "Anna S. (10:00): Table for 2 is booked"],
        ["SMS chat with Anna S., Mon 17 Mar 2025", "Alex (me, 10:40): Thanks for today"]]
    assert len(run(sms(tmp_path), store)) == len(sent)


def test_preview_and_plan_read_an_sms_backup_through_the_cli(tmp_path, fake_omi):
    table = f'[connectors.texts]\ntype = "sms-backup"\npath = "{BACKUP}"\nme = "Alex"\ntimezone = "Europe/Berlin"\n'
    records, [texts] = preview_and_plan(tmp_path, fake_omi.url, table)
    assert [r["request"]["text"].split("\n") for r in records if "request" in r][2] == ANNA
    assert (texts["items"], texts["conversations"]) == (8, 4)  # 7 messages and the record without a date
    assert fake_omi.conversations == []
