# ruff: noqa: RUF001  (a transcript quotes what people typed, curly quotes and dashes as they are)
"""Messenger and Instagram "Download your information" JSON (tests/data/chats/messenger, instagram):
mojibake mended, a chat's parts read as one, media, calls, shares and reactions named, the app's
own lines left out, broken parts skipped with their place, and a newer download sending only what
is new; `preview` and `plan` through the CLI."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from bridge.store import Store
from connectors.chats.meta import InstagramConfig, InstagramConnector, MessengerConfig, MessengerConnector, mended
from tests.chat_cli import preview_and_plan, run
from tests.zip_data import damage

DATA = Path(__file__).parent / "data" / "chats"
MESSENGER = DATA / "messenger"
ANNA = "your_facebook_activity/messages/inbox/annaschmidt_10158123456789"


def messenger(path: Path = MESSENGER) -> MessengerConnector:
    return MessengerConnector("fb", MessengerConfig(type="messenger", path=path, me=["Alex Kim"],
                                                    timezone="Europe/Berlin"))


def test_mended_reads_meta_latin1_escaped_utf8_and_leaves_real_text_alone():
    assert mended("I\u00e2\u0080\u0099ll caf\u00c3\u00a9 \u00f0\u009f\u0098\u008a") == "I’ll café 😊"
    assert mended("plain ascii") == "plain ascii"
    assert mended("already “fine” ü") == "already “fine” ü"  # a code point above 255: not Meta's
    assert mended("Stra\u00dfe") == "Stra\u00dfe"  # Latin-1 that is no UTF-8: as it is


def test_messenger_chats_read_line_by_line_across_parts_with_media_calls_shares_and_reactions():
    store = Store(":memory:")
    sent = run(messenger(), store)
    assert [s["text"].split("\n") for s in sent] == [
        ["Messenger chat with Anna Schmidt, Sat 15 Mar 2025",  # the day began in message_2.json
         "Anna Schmidt (09:41): Brunch tomorrow? 🥂",
         "Alex Kim (me, 09:43): Yes — I’ll book the café for two [file: Speisekarte_März.pdf] (❤ from Anna Schmidt)",
         "Alex Kim (me, 10:15): [voice message]",
         "Anna Schmidt (12:01): [2 photos]",
         "Alex Kim (me, 12:02): [link: https://trains.example/booking/42 “Berlin → München, 08:00”]",
         "Anna Schmidt (12:03): [sticker]",
         "Anna Schmidt (20:05): [missed call]",
         "Anna Schmidt (21:30): [call, 13 min]"],  # the unsent message at 22:10 is left out
        ["Messenger chat with Anna Schmidt, Sun 16 Mar 2025",
         "Anna Schmidt (08:00): Danke für gestern! 😊"],
        # the rename and the join are the app's own lines
        ["Messenger group “Familie ❤️”, Sat 15 Mar 2025",
         "Ben Müller (18:00): Sunday lunch at Mum’s – who’s in?",
         "Mum (18:02): [video] [GIF]",
         "Ben Müller (18:05): 👍 (😂 from Mum, ❤ from me)"],
    ]
    assert {s["text_source_spec"] for s in sent} == {"messenger"}
    assert sent[0]["started_at"] == "2025-03-15T08:41:00.000000+00:00"
    assert [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")] == [
        (f"{ANNA}/message_1.json message_2.json message record 4", "no readable timestamp_ms")]


def test_instagram_in_the_older_messages_inbox_layout_with_shares_and_no_like_lines():
    config = InstagramConfig(type="instagram", path=DATA / "instagram", me=["alex.kim"], timezone="Europe/Berlin")
    sent = run(InstagramConnector("ig", config), Store(":memory:"))
    assert [s["text"].split("\n") for s in sent] == [
        ["Instagram chat with Omar J, Sat 15 Mar 2025",
         "Omar J (16:00): na, alles gut?",
         "Omar J (16:02): [link: https://www.instagram.com/reel/C4xYz12AbCd/ “Café cats 🐱”] (😂 from me)",
         "alex.kim (me, 16:03): haha that’s you 🤣"]]  # "Liked a message" is not a line
    assert sent[0]["text_source_spec"] == "instagram"


def test_a_broken_part_is_skipped_with_its_place_and_the_chat_s_other_parts_come_in(tmp_path):
    shutil.copytree(MESSENGER, tmp_path / "fb")
    chat = tmp_path / "fb" / ANNA
    (chat / "message_2.json").write_text((chat / "message_2.json").read_text()[:900])  # download cut short
    (tmp_path / "fb" / "your_facebook_activity/messages/inbox/x_1").mkdir()
    (tmp_path / "fb" / "your_facebook_activity/messages/inbox/x_1/message_1.json").write_text('{"likes": []}')
    store = Store(":memory:")
    sent = run(messenger(tmp_path / "fb"), store)
    assert [s["text"].split("\n")[:2] for s in sent][:2] == [
        ["Messenger chat with Anna Schmidt, Sat 15 Mar 2025", "Anna Schmidt (12:01): [2 photos]"],
        ["Messenger chat with Anna Schmidt, Sun 16 Mar 2025", "Anna Schmidt (08:00): Danke für gestern! 😊"]]
    reasons = sorted((r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped"))
    assert [ref for ref, _ in reasons] == [f"{ANNA}/message_1.json chat part message_2.json",
                                           "your_facebook_activity/messages/inbox/x_1/message_1.json"]
    assert reasons[0][1].startswith("not readable JSON")
    assert reasons[1][1] == "not a Messenger or Instagram chat (no messages list)"


def test_a_newer_download_sends_only_what_is_new_and_an_older_one_after_it_nothing(tmp_path):
    shutil.copytree(MESSENGER, tmp_path / "fb")
    first = tmp_path / "fb" / ANNA / "message_1.json"
    export = json.loads(first.read_text())
    newest = export["messages"].pop(0)  # the first download ended before Sunday's message
    first.write_text(json.dumps(export))
    store = Store(":memory:")
    before = len(run(messenger(tmp_path / "fb"), store))
    later = tmp_path / "later"  # the next download, into a folder of its own
    shutil.copytree(MESSENGER, later)
    export["messages"][:0] = [newest, {"sender_name": "Alex Kim", "timestamp_ms": newest["timestamp_ms"] + 60_000,
                                       "content": "Gern! Bis bald \u00f0\u009f\u0091\u008b"}]
    (later / ANNA / "message_1.json").write_text(json.dumps(export))
    shutil.rmtree(tmp_path / "fb")
    (tmp_path / "fb").mkdir()
    shutil.move(later, tmp_path / "fb" / "later")
    sent = run(messenger(tmp_path / "fb"), store)
    assert [s["text"].split("\n") for s in sent[before:]] == [
        ["Messenger chat with Anna Schmidt, Sun 16 Mar 2025",
         "Anna Schmidt (08:00): Danke für gestern! 😊",
         "Alex Kim (me, 08:01): Gern! Bis bald 👋"]]
    assert len(run(messenger(tmp_path / "fb"), store)) == len(sent)


def test_preview_and_plan_read_messenger_and_instagram_through_the_cli(tmp_path, fake_omi):
    tables = (f'[connectors.fb]\ntype = "messenger"\npath = "{MESSENGER}"\nme = "Alex Kim"\n'
              'timezone = "Europe/Berlin"\n'
              f'[connectors.ig]\ntype = "instagram"\npath = "{DATA / "instagram"}"\ntimezone = "Europe/Berlin"\n')
    records, sources = preview_and_plan(tmp_path, fake_omi.url, tables)
    heads = sorted(r["request"]["text"].split("\n")[0] for r in records if "request" in r)
    # the record without its time is named in the preview too, with its place and reason
    assert [r.get("reason") for r in records if "request" not in r] == ["no readable timestamp_ms"]
    assert heads == ["Instagram chat with Omar J, Sat 15 Mar 2025",
                     "Messenger chat with Anna Schmidt, Sat 15 Mar 2025",
                     "Messenger chat with Anna Schmidt, Sun 16 Mar 2025",
                     "Messenger group “Familie ❤️”, Sat 15 Mar 2025"]
    counts = {s["connector"]: (s["items"], s["conversations"]) for s in sources}
    assert counts == {"fb": (13, 3), "ig": (3, 1)}
    assert fake_omi.conversations == []


def test_the_downloaded_zip_is_read_as_it_came_and_a_damaged_member_is_named_with_it(tmp_path):
    download = tmp_path / "facebook-alexkim-2025-03-16-Xy3kP9Qa.zip"
    with zipfile.ZipFile(download, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(MESSENGER.rglob("*.json")):
            archive.write(file, file.relative_to(MESSENGER).as_posix())
        archive.writestr("your_facebook_activity/profile_information/profile_information.json", '{"profile": {}}')
    whole = [s["text"] for s in run(messenger(), Store(":memory:"))]
    assert [s["text"] for s in run(messenger(download), Store(":memory:"))] == whole
    damage(download, f"{ANNA}/message_2.json")
    store = Store(":memory:")
    sent = run(messenger(download), store)
    assert [s["text"].split("\n")[:2] for s in sent][:2] == [
        ["Messenger chat with Anna Schmidt, Sat 15 Mar 2025", "Anna Schmidt (12:01): [2 photos]"],
        ["Messenger chat with Anna Schmidt, Sun 16 Mar 2025", "Anna Schmidt (08:00): Danke für gestern! 😊"]]
    assert len(sent) == 3  # the family group too
    assert [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")] == [
        (f"{download.name}/{ANNA}/message_2.json", "damaged in the zip (its compressed data is corrupt)")]
