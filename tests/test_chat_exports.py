"""Telegram Desktop and DiscordChatExporter exports (tests/data/chats), and what every chat export
shares: one conversation per chat per day, only new messages on a re-import, broken records and
files skipped with their reason, `preview` and `plan` through the CLI."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from bridge.connector import Sink
from bridge.errors import SourceError
from bridge.store import Store
from connectors.chats.discord import DiscordConfig, DiscordConnector
from connectors.chats.telegram import TelegramConfig, TelegramConnector
from connectors.chats.whatsapp import WhatsAppConfig, WhatsAppConnector
from tests.conftest import run_cli, write_config
from tests.zip_data import damage

DATA = Path(__file__).parent / "data" / "chats"
TELEGRAM = DATA / "telegram_result.json"
DISCORD = DATA / "discord_Friends - general [897000000000000001].json"


def run(connector, store: Store) -> list[dict]:
    connector.poll(Sink(store, connector.name, connector.config, lambda: None))
    return [json.loads(r["body"]) for r in store.rows("SELECT body FROM outbox ORDER BY id")]


def telegram(path: Path = TELEGRAM) -> TelegramConnector:
    return TelegramConnector("tg", TelegramConfig(type="telegram-export", path=path, timezone="Europe/Berlin"))


def test_telegram_chats_become_days_with_entities_replies_media_and_me_from_the_export(tmp_path):
    store = Store(":memory:")
    sent = run(telegram(), store)
    assert [s["text"].split("\n") for s in sent] == [
        ["Telegram chat with Anna Schmidt, Sat 15 Mar 2025",
         "Anna Schmidt (09:41): Morning! Did you book the tickets?",
         # me: the export's personal_information names the user; entities are words, code keeps its marks
         "Alex Kim (me, 09:43, replying to Anna Schmidt 09:41): Yes, here: https://trains.example/booking/42"
         " — seats `A12` and `A13`",
         "Anna Schmidt (10:02): [photo] the hotel (https://hotel.example/rooms), look!",
         "Alex Kim (me, 10:03): [voice message]",
         "Anna Schmidt (10:04): [sticker 👍]"],  # the phone call (a service message) is left out
        ["Telegram chat with Anna Schmidt, Sun 16 Mar 2025",
         "Anna Schmidt (08:00, replying to Alex Kim Sat 15 Mar 2025, 09:43: “Yes, here: "
         "https://trains.example/booking/42 — seats `A12` and `A13`”): @alexkim thanks!! #trip"],
        ["Telegram group “Family”, Sat 15 Mar 2025",
         "Mum (18:01): [poll: Sunday lunch? (12:00, 13:00)]",
         "Alex Kim (me, 18:02): [forwarded from Rail News] Strike on Monday: ", "```", "S1 S2 S3", "```"],
    ]
    assert {s["text_source_spec"] for s in sent} == {"telegram"}
    assert sent[0]["started_at"] == "2025-03-15T08:41:07.000000+00:00"  # date_unixtime: the instant
    skipped = store.rows("SELECT ref, reason FROM skipped")
    assert [(r["ref"], r["reason"]) for r in skipped] == [
        ("telegram_result.json chat “Anna Schmidt” message record 7", "no readable date (message id 507)")]


def test_telegram_messages_sharing_an_id_are_kept_apart_and_a_zero_timestamp_is_skipped(tmp_path):
    """A group turned supergroup is exported with the old group's messages, whose ids start again."""
    chat = {"name": "Climbing", "type": "private_supergroup", "id": 3002, "messages": [
        {"id": 1, "type": "message", "date": "2024-06-01T18:00:00", "date_unixtime": "1717257600",
         "from": "Mia", "from_id": "user7", "text": "first climb on Saturday?"},
        {"id": 2, "type": "message", "date": "1970-01-01T01:00:00", "date_unixtime": "0",
         "from": "Mia", "from_id": "user7", "text": "a message with no real date"},
        {"id": 1, "type": "message", "date": "2025-03-15T09:00:00", "date_unixtime": "1742025600",
         "from": "Jon", "from_id": "user8", "text": "welcome to the new group"},
        {"id": 1, "type": "message", "date": "2025-03-15T09:00:00", "date_unixtime": "1742025600",
         "from": "Jon", "from_id": "user8", "text": "welcome to the new group"},  # the same one, twice
    ]}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(chat))
    store = Store(":memory:")
    sent = run(telegram(path), store)
    assert [s["text"].split("\n") for s in sent] == [
        ["Telegram group “Climbing”, Sat 01 Jun 2024", "Mia (18:00): first climb on Saturday?"],
        ["Telegram group “Climbing”, Sat 15 Mar 2025", "Jon (09:00): welcome to the new group"]]
    assert [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")] == [
        ("result.json chat “Climbing” message record 2",
         "impossible date 01 January 1970, before Telegram began (message id 2)")]
    assert len(run(telegram(path), store)) == 2  # and once only


def test_discord_channel_days_with_nicknames_resolved_mentions_replies_and_no_bots_or_joins(tmp_path):
    store = Store(":memory:")
    config = DiscordConfig(type="discord-export", path=DISCORD, timezone="Europe/Berlin", me=["alexk"])
    sent = run(DiscordConnector("dc", config), store)
    assert [s["text"].split("\n") for s in sent] == [
        ["Discord #general on Friends, Sat 15 Mar 2025",
         "Anna (09:41): anyone up for board games on Friday? @Alex",
         "Alex (me, 09:45, replying to Anna 09:41): yes! @Omar too? :lemon_blush: [file: catan.jpg]",
         "Omar (10:00): [sticker: party]"],
        ["Discord #general on Friends, Sun 16 Mar 2025",
         "Anna (19:00, replying to an earlier message): see you at 7 in #board-games"],
    ]
    assert {s["text_source_spec"] for s in sent} == {"discord"}
    [skip] = store.rows("SELECT ref, reason FROM skipped")
    assert skip["ref"].endswith("message record 5") and skip["reason"] == "no id or no readable timestamp"


def test_a_newer_telegram_export_sends_only_new_messages_and_a_gaining_day_once_more(tmp_path):
    path = tmp_path / "result.json"
    shutil.copy(TELEGRAM, path)
    store = Store(":memory:")
    first = run(telegram(path), store)
    export = json.loads(path.read_text())
    anna = export["chats"]["list"][0]["messages"]
    anna[1]["text"] = "Yes (edited later, already sent)"  # an old message edited since: not sent again
    anna.append({"id": 509, "type": "message", "date": "2025-03-16T09:30:00", "date_unixtime": "1742113800",
                 "from": "Anna Schmidt", "from_id": "user2001", "text": "train at 10 then"})
    anna.append({"id": 510, "type": "message", "date": "2025-03-17T07:00:00", "date_unixtime": "1742191200",
                 "from": "Alex Kim", "from_id": "user1000", "text": "on my way"})
    path.write_text(json.dumps(export))
    sent = run(telegram(path), store)
    new = [s["text"].split("\n") for s in sent[len(first):]]
    assert new == [["Telegram chat with Anna Schmidt, Sun 16 Mar 2025 (continued)",
                    "Anna Schmidt (09:30): train at 10 then"],
                   ["Telegram chat with Anna Schmidt, Mon 17 Mar 2025", "Alex Kim (me, 07:00): on my way"]]
    assert len(run(telegram(path), store)) == len(sent)  # and once only


def test_one_broken_file_is_skipped_with_its_reason_and_the_others_come_in(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(DISCORD, folder / "general.json")
    (folder / "random.json").write_text('{"guild": {"name": "Friends"}, "messages": [')  # cut short
    (folder / "notes.json").write_text('{"hello": "not an export"}')
    store = Store(":memory:")
    config = DiscordConfig(type="discord-export", path=folder, timezone="UTC")
    sent = run(DiscordConnector("dc", config), store)
    assert len(sent) == 2
    reasons = {r["ref"]: r["reason"] for r in store.rows("SELECT ref, reason FROM skipped")}
    assert reasons["random.json"].startswith("not readable JSON")
    assert reasons["notes.json"] == "not a DiscordChatExporter JSON export (no messages list)"
    assert len(run(DiscordConnector("dc", config), store)) == 2  # files already read are not read again


def test_preview_and_plan_show_a_chat_export_without_sending(tmp_path, fake_omi):
    folder = tmp_path / "whatsapp"
    folder.mkdir()
    (folder / "WhatsApp Chat with Anna.txt").write_text(
        "15/03/2025, 10:00 - Anna: hi\n15/03/2025, 10:01 - Alex: hey\n16/03/2025, 09:00 - Anna: morning\n")
    table = f'[connectors.family]\ntype = "whatsapp"\npath = "{folder}"\nme = "Alex"\ntimezone = "UTC"\n'
    config = write_config(tmp_path, fake_omi.url, connectors=table)
    preview = run_cli("preview", "-c", str(config))
    assert preview.returncode == 0, preview.stderr
    records = [json.loads(line) for line in preview.stdout.splitlines()]
    assert [r["request"]["text"].split("\n")[0] for r in records] == [
        "WhatsApp chat with Anna, Sat 15 Mar 2025", "WhatsApp chat with Anna, Sun 16 Mar 2025"]
    plan = run_cli("plan", "-c", str(config), "--json")
    assert plan.returncode == 0, plan.stderr
    [family] = json.loads(plan.stdout)["sources"]
    assert (family["connector"], family["items"], family["conversations"], family["writes_backfill"]) == (
        "family", 3, 2, 2)
    assert fake_omi.conversations == []
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert len(fake_omi.conversations) == 2


def test_a_channel_exported_in_parts_comes_in_whole_whatever_order_the_parts_are_read_in(tmp_path):
    """DiscordChatExporter's --partition: "general [part 2].json" sorts before "general.json"."""
    export = json.loads(DISCORD.read_text())
    later = dict(export, messages=export["messages"][5:])  # the 16 March message
    export["messages"] = export["messages"][:5]
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "Friends - general [897000000000000001].json").write_text(json.dumps(export))
    (folder / "Friends - general [897000000000000001] [part 2].json").write_text(json.dumps(later))
    store = Store(":memory:")
    config = DiscordConfig(type="discord-export", path=folder, timezone="Europe/Berlin", me=["alexk"])
    sent = run(DiscordConnector("dc", config), store)
    # what was said, whoever the part names them as (a part knows only its own authors' nicknames)
    said = sorted(line.split("): ", 1)[1] for s in sent for line in s["text"].split("\n")[1:])
    whole = sorted(line.split("): ", 1)[1] for s in run(DiscordConnector("dc", DiscordConfig(
        type="discord-export", path=DISCORD, timezone="Europe/Berlin", me=["alexk"])), Store(":memory:"))
        for line in s["text"].split("\n")[1:])
    assert said == whole and len(said) == 4


PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 4  # a JPEG's start


def test_files_that_are_not_exports_are_named_by_check_and_skipped_by_run_while_the_chats_come_in(tmp_path):
    folder = tmp_path / "whatsapp"
    folder.mkdir()
    (folder / "WhatsApp Chat with Anna.txt").write_text("15/03/2025, 10:00 - Anna: hi\n")
    (folder / "notes.txt").write_text("Things to pack:\n- passport\n- charger\n")  # no message line
    (folder / "WhatsApp Chat with Ben.txt").write_bytes(PHOTO)  # a photo under a chat's name
    config = WhatsAppConfig(type="whatsapp", path=folder, timezone="UTC")
    connector = WhatsAppConnector("chats", config)
    assert connector.check() == (
        f"{folder}: 1 export file(s); not read: WhatsApp Chat with Ben.txt (binary data, not a WhatsApp export), "
        "notes.txt (no line starts with a date in a form I know; first line: 'Things to pack:'; set date_order "
        "or tell us the phone's language)")
    store = Store(":memory:")
    assert [s["text"] for s in run(connector, store)] == ["WhatsApp chat with Anna, Sat 15 Mar 2025\nAnna (10:00): hi"]
    assert sorted((r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")) == [
        ("WhatsApp Chat with Ben.txt", "binary data, not a WhatsApp export"),
        ("notes.txt", "no line starts with a date in a form I know; first line: 'Things to pack:'; "
                      "set date_order or tell us the phone's language")]


def test_a_source_whose_only_file_is_not_an_export_fails_check(tmp_path):
    (tmp_path / "notes.txt").write_text("Things to pack:\n- passport\n")
    with pytest.raises(SourceError, match=r"no readable WhatsApp export: notes\.txt: no line starts with a date"):
        WhatsAppConnector("w", WhatsAppConfig(type="whatsapp", path=tmp_path / "notes.txt")).check()
    (tmp_path / "result.json").write_text('{"about": "not an export"}')
    with pytest.raises(SourceError, match=r"result\.json: not a Telegram export \(no messages and no chats list\)"):
        telegram(tmp_path / "result.json").check()
    (tmp_path / "discord").mkdir()
    (tmp_path / "discord" / "general.json").write_bytes(PHOTO)
    with pytest.raises(SourceError, match=r"no readable Discord export: general\.json: binary data"):
        DiscordConnector("d", DiscordConfig(type="discord-export", path=tmp_path / "discord")).check()
    (tmp_path / "empty").mkdir()  # a folder waiting for its first export is fine
    assert DiscordConnector("d", DiscordConfig(type="discord-export", path=tmp_path / "empty")).check().endswith(
        ": 0 export file(s)")


def test_check_names_a_chat_damaged_in_its_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "WhatsApp Chat - Book club.zip", "w") as archive:
        archive.writestr("_chat.txt", "[15/03/2025, 19:00:00] Nora: Chapter 3 by Friday\n")
    damage(tmp_path / "WhatsApp Chat - Book club.zip", "_chat.txt")
    with pytest.raises(SourceError, match=r"Book club\.zip/_chat\.txt: damaged in the zip \(CRC check failed\)"):
        WhatsAppConnector("w", WhatsAppConfig(type="whatsapp", path=tmp_path)).check()
