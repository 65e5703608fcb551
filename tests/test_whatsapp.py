"""WhatsApp exports as phones write them, each locale and platform its own shape; every expected
conversation is checked line by line. Invisible characters are written as escapes: U+200E
(left-to-right mark), U+202F (narrow no-break space), U+00A0, U+FEFF (byte order mark)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from bridge.connector import Sink, file_sha256
from bridge.store import Store
from connectors.chats.whatsapp import WhatsAppConfig, WhatsAppConnector
from tests.chat_data import write_ios
from tests.zip_data import damage

LRM, NNBSP, NBSP, BOM = "\u200e", "\u202f", "\u00a0", "\ufeff"

CASES = [
    pytest.param(
        "WhatsApp Chat - Family.txt",
        f"{BOM}[15/03/2025, 09:41:07] Family: {LRM}Messages and calls are end-to-end encrypted. No one outside of "
        "this chat, not even WhatsApp, can read or listen to them.\n"
        f"[15/03/2025, 09:41:07] Anna: {LRM}Anna created group “Family”\n"
        f"[15/03/2025, 09:41:08] Family: {LRM}Anna added you\n"
        "[15/03/2025, 09:41:30] Anna: Morning! Lunch on Sunday?\n"
        "I can bring the cake\n"
        "\n"
        "and candles\n"
        "[15/03/2025, 09:42:10] Alex: Yes, 12:30 works\n"
        f"{LRM}[15/03/2025, 09:43:00] Anna: {LRM}<attached: 00000012-PHOTO-2025-03-15-09-43-00.jpg>\n"
        f"[15/03/2025, 09:43:20] Ben: {LRM}<attached: 00000013-AUDIO-2025-03-15-09-43-20.opus>\n"
        f"[15/03/2025, 09:44:00] Ben: {LRM}This message was deleted.\n"
        f"[15/03/2025, 09:45:00] Ben: see you there {LRM}<This message was edited>\n"
        f"[15/03/2025, 09:46:00] Anna: {LRM}Missed voice call, {LRM}Tap to call back\n",
        "dmy", "group “Family”",
        ["Anna (09:41): Morning! Lunch on Sunday?", "I can bring the cake", "", "and candles",
         "Alex (me, 09:42): Yes, 12:30 works", "Anna (09:43): [photo]", "Ben (09:43): [voice message]",
         "Ben (09:45): see you there", "Anna (09:46): [missed voice call]"],
        id="ios-en-gb-24h"),
    pytest.param(
        "WhatsApp Chat - Sam.txt",
        f"[3/15/25, 9:41:07{NNBSP}PM] Sam: {LRM}Messages and calls are end-to-end encrypted. No one outside of "
        "this chat, not even WhatsApp, can read or listen to them.\n"
        f"[3/15/25, 9:41:07{NNBSP}PM] Sam: did you see the game\n"
        f"[3/15/25, 9:42:00{NNBSP}PM] Alex: {LRM}image omitted\n"
        f"[3/15/25, 11:59:59{NNBSP}PM] Sam: {LRM}GIF omitted\n"
        f"[3/16/25, 12:05:00{NNBSP}AM] Sam: night\n",
        "mdy", "chat with Sam",
        ["Sam (21:41): did you see the game", "Alex (me, 21:42): [photo]", "Sam (23:59): [GIF]"],
        id="ios-en-us-12h"),
    pytest.param(
        "WhatsApp Chat with Anna.txt",
        "15/03/2025, 09:41 - Messages and calls are end-to-end encrypted. No one outside of this chat, not even "
        "WhatsApp, can read or listen to them. Tap to learn more.\n"
        "15/03/2025, 09:41 - Anna: Are you home?\n"
        "15/03/2025, 09:41 - Anna: <Media omitted>\n"
        "15/03/2025, 09:41 - Anna: <Media omitted>\n"
        "15/03/2025, 09:50 - Alex: Back at 6\r\n"
        "15/03/2025, 10:02 - Your security code with Anna changed. Tap to learn more.\n",
        "dmy", "chat with Anna",
        ["Anna (09:41): Are you home?", "Anna (09:41): [media]", "Anna (09:41): [media]",
         "Alex (me, 09:50): Back at 6"],
        id="android-en-gb"),
    pytest.param(
        "WhatsApp Chat with Dad.txt",
        f"3/15/25, 9:41{NNBSP}PM - Dad: IMG-20250315-WA0001.jpg (file attached)\n"
        "the new shed\n"
        f"3/15/25, 9:43{NNBSP}PM - Alex: PTT-20250315-WA0002.opus (file attached)\n"
        f"3/15/25, 9:44{NNBSP}PM - Dad: Budget.pdf (file attached)\n"
        f"3/15/25, 9:45{NNBSP}PM - Dad added Mum\n",
        "mdy", "chat with Dad",
        ["Dad (21:41): [photo]", "the new shed", "Alex (me, 21:43): [voice message]",
         "Dad (21:44): [file: Budget.pdf]"],
        id="android-en-us-12h"),
    pytest.param(
        "WhatsApp Chat mit Oma.txt",
        "15.03.25, 09:41 - Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb dieses Chats "
        "kann sie lesen oder anhören, nicht einmal WhatsApp.\n"
        "15.03.25, 09:41 - Oma: Kommt ihr Sonntag?\n"
        "15.03.25, 09:42 - Oma: <Medien ausgeschlossen>\n"
        "15.03.25, 09:43 - Alex: Diese Nachricht wurde gelöscht\n"
        "15.03.25, 09:44 - Alex: Ja, um zwölf <Diese Nachricht wurde bearbeitet>\n",
        "dmy", "chat with Oma",
        ["Oma (09:41): Kommt ihr Sonntag?", "Oma (09:42): [media]", "Alex (me, 09:44): Ja, um zwölf"],
        id="android-de"),
    pytest.param(
        "WhatsApp Chat - Oma.txt",
        f"[15.03.25, 09:41:07] Oma: {LRM}Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt.\n"
        f"[15.03.25, 09:41:07] Oma: {LRM}<Anhang: 00000003-AUDIO-2025-03-15-09-41-07.opus>\n"
        f"[15.03.25, 09:42:00] Oma: {LRM}Bild weggelassen\n"
        f"[15.03.25, 09:43:00] Alex: {LRM}<Anhang: 00000004-Rezept.pdf>\n",
        "dmy", "chat with Oma",
        ["Oma (09:41): [voice message]", "Oma (09:42): [photo]", "Alex (me, 09:43): [file: Rezept.pdf]"],
        id="ios-de"),
    pytest.param(
        "Chat de WhatsApp con Ana.txt",
        f"15/3/25, 9:41{NBSP}p.{NBSP}m. - Ana: ¿Cenamos mañana?\n"
        f"15/3/25, 9:42{NNBSP}p.{NNBSP}m. - Ana: <Multimedia omitido>\n"
        f"15/3/25, 9:43 p. m. - Alex: Se eliminó este mensaje.\n"
        f"15/3/25, 10:15 a. m. - Alex: temprano\n",
        "dmy", "chat with Ana",
        ["Alex (me, 10:15): temprano", "Ana (21:41): ¿Cenamos mañana?", "Ana (21:42): [media]"],
        id="android-es-p-m"),
    pytest.param(
        "Discussion WhatsApp avec Anne.txt",
        "15/03/2025 à 21:41 - Anne: On se voit demain ?\n"
        "15/03/2025 à 21:42 - Anne: <Médias omis>\n"
        "15/03/2025 à 21:43 - Alex: Ce message a été supprimé\n",
        "dmy", "chat with Anne",
        ["Anne (21:41): On se voit demain ?", "Anne (21:42): [media]"],
        id="android-fr-a"),
    pytest.param(
        "WhatsApp Chat - Anne.txt",
        f"[15/03/2025 21:41:07] Anne: {LRM}\u2039pièce jointe : 00000004-PHOTO-2025-03-15-21-41-07.jpg>\n"
        f"[15/03/2025 21:42:00] Anne: {LRM}vidéo absente\n"
        "[15/03/2025 21:43:00] Alex: Super\n",
        "dmy", "chat with Anne",
        ["Anne (21:41): [photo]", "Anne (21:42): [video]", "Alex (me, 21:43): Super"],
        id="ios-fr-no-comma"),
    pytest.param(
        "Conversa do WhatsApp com Ana.txt",
        "15/03/2025 21:41 - Ana: Oi! Tudo bem?\n"
        "15/03/2025 21:42 - Ana: <Mídia oculta>\n"
        "15/03/2025 21:43 - Ana: Esta mensagem foi apagada\n"
        "15/03/2025 21:44 - Alex: Tudo <Mensagem editada>\n",
        "dmy", "chat with Ana",
        ["Ana (21:41): Oi! Tudo bem?", "Ana (21:42): [media]", "Alex (me, 21:44): Tudo"],
        id="android-pt-br"),
    pytest.param(
        "WhatsApp Chat - Giulia.txt",
        f"[15/03/25, 21:41:07] Giulia: {LRM}<allegato: 00000005-PHOTO-2025-03-15-21-41-07.jpg>\n"
        f"[15/03/25, 21:42:00] Giulia: {LRM}immagine omessa\n"
        f"[15/03/25, 21:43:00] Giulia: {LRM}Questo messaggio è stato eliminato.\n"
        "[15/03/25, 21:44:00] Alex: Bellissima\n",
        "dmy", "chat with Giulia",
        ["Giulia (21:41): [photo]", "Giulia (21:42): [photo]", "Alex (me, 21:44): Bellissima"],
        id="ios-it"),
    pytest.param(
        "WhatsApp Chat with Farid.txt",
        "2025-03-15, 9:41 p.m. - Farid: Landed in Toronto\n"
        "2025-03-16, 8:05 a.m. - Alex: Welcome back\n",
        "ymd", "chat with Farid",
        ["Farid (21:41): Landed in Toronto"],
        id="android-en-ca-year-first"),
    pytest.param(
        "WhatsApp Chat - 小明.txt",
        "[2025/03/15 21:41:07] 小明: 明天见\n"
        f"[2025/03/15 21:42:00] ~{NNBSP}李华: 好的\n",
        "ymd", "group “小明”",
        ["小明 (21:41): 明天见", "李华 (21:42): 好的"],
        id="ios-zh-year-first-unsaved-contact"),
    pytest.param(
        "WhatsApp Chat with Kim.txt",
        "1/2/25, 10:00 - Kim: happy new year (again)\n"
        "1/9/25, 10:00 - Kim: back at work\n"
        "1/12/25, 10:00 - Alex: same\n"
        "2/1/25, 10:00 - Kim: February already\n",
        "mdy", "chat with Kim",  # no field over 12: the order that keeps the dates running forward
        ["Kim (10:00): happy new year (again)"],
        id="ambiguous-dates-decided-by-order"),
]


def import_chat(tmp_path: Path, name: str, content: str, **options) -> tuple[list[dict], Store, WhatsAppConnector]:
    folder = tmp_path / "exports"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(content, encoding="utf-8", newline="")
    store = Store(":memory:")
    config = WhatsAppConfig(type="whatsapp", path=folder, me=["Alex"], timezone="Europe/Berlin", **options)
    connector = WhatsAppConnector("chats", config)
    connector.poll(Sink(store, "chats", config, lambda: None))
    return bodies(store), store, connector


def bodies(store: Store) -> list[dict]:
    return [json.loads(r["body"]) for r in store.rows("SELECT body FROM outbox ORDER BY id")]


@pytest.mark.parametrize(("name", "content", "order", "place", "first_day"), CASES)
def test_each_export_shape_reads_as_the_expected_conversations(tmp_path, name, content, order, place, first_day):
    sent, store, connector = import_chat(tmp_path, name, content)
    assert sent, "no conversation"
    first = sent[0]
    lines = first["text"].split("\n")
    assert lines[0] == f"WhatsApp {place}, {_day(first['started_at'])}"
    assert lines[1:] == first_day
    assert first["text_source"] == "message" and first["text_source_spec"] == "whatsapp"
    assert store.rows("SELECT count(*) AS n FROM skipped")[0]["n"] == 0
    with (tmp_path / "exports" / name).open(encoding="utf-8-sig") as file:
        assert connector._scan(file).order == order


def _day(started_at: str) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return f"{datetime.fromisoformat(started_at).astimezone(ZoneInfo('Europe/Berlin')):%a %d %b %Y}"


def test_a_day_over_midnight_is_two_conversations_in_the_users_time_zone(tmp_path):
    content = ("15/03/2025, 23:58 - Anna: still up?\n"
               "16/03/2025, 00:03 - Alex: yes\n")
    sent, _, _ = import_chat(tmp_path, "WhatsApp Chat with Anna.txt", content)
    assert [s["text"].split("\n")[1:] for s in sent] == [["Anna (23:58): still up?"], ["Alex (me, 00:03): yes"]]
    assert sent[0]["started_at"] == "2025-03-15T22:58:00.000000+00:00"  # 23:58 in Berlin (CET)


def test_the_ios_zip_is_read_and_its_name_names_the_chat(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    with zipfile.ZipFile(folder / "WhatsApp Chat - Book club.zip", "w") as archive:
        archive.writestr("_chat.txt", "[15/03/2025, 19:00:00] Nora: Chapter 3 by Friday\n"
                                      "[15/03/2025, 19:01:00] Omar: ok\n[15/03/2025, 19:02:00] Alex: fine\n")
        archive.writestr("00000001-PHOTO-2025-03-15-19-00-00.jpg", b"\xff\xd8")
    store = Store(":memory:")
    config = WhatsAppConfig(type="whatsapp", path=folder, me="Alex", timezone="UTC")
    WhatsAppConnector("chats", config).poll(Sink(store, "chats", config, lambda: None))
    [sent] = bodies(store)
    assert sent["text"].split("\n") == ["WhatsApp group “Book club”, Sat 15 Mar 2025",
                                        "Nora (19:00): Chapter 3 by Friday", "Omar (19:01): ok",
                                        "Alex (me, 19:02): fine"]


def test_a_line_that_cannot_be_read_is_skipped_with_its_number_and_the_rest_flows(tmp_path):
    content = ("stray text before any message\n"
               "15/03/2025, 10:00 - Anna: one\n"
               "31/02/2025, 10:05 - Anna: a date that does not exist\n"
               "15/03/2025, 10:10 - Anna: two\n")
    sent, store, _ = import_chat(tmp_path, "WhatsApp Chat with Anna.txt", content)
    assert sent[0]["text"].split("\n")[1:] == ["Anna (10:00): one", "Anna (10:10): two"]
    skipped = {r["ref"]: r["reason"] for r in store.rows("SELECT ref, reason FROM skipped")}
    assert skipped["WhatsApp Chat with Anna.txt line 1"] == "text before the first message"
    assert skipped["WhatsApp Chat with Anna.txt line 3"].startswith("unreadable date or time")


def test_identical_messages_of_one_minute_are_each_kept_once(tmp_path):
    content = "".join("15/03/2025, 10:00 - Anna: haha\n" for _ in range(3))
    sent, store, _ = import_chat(tmp_path, "WhatsApp Chat with Anna.txt", content)
    assert sent[0]["text"].split("\n")[1:] == ["Anna (10:00): haha"] * 3
    keys = [r["item_key"] for r in store.rows("SELECT item_key FROM items ORDER BY item_key")]
    assert len(set(keys)) == 3 and [k.rsplit(":", 1)[1] for k in keys] == ["1", "2", "3"]


def test_a_longer_export_of_the_same_chat_sends_only_what_is_new_once(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    export = folder / "WhatsApp Chat - Family.txt"
    write_ios(export, 300)
    store = Store(":memory:")
    config = WhatsAppConfig(type="whatsapp", path=folder, me="Alex", timezone="Europe/Berlin")
    run = lambda: WhatsAppConnector("chats", config).poll(Sink(store, "chats", config, lambda: None))  # noqa: E731
    run()
    first = bodies(store)
    lines_first = sum(len(b["text"].split("\n")) - 1 for b in first)
    run()  # the same file again: nothing
    assert len(bodies(store)) == len(first)

    write_ios(export, 360)  # exported again a few days later: the old lines, then 60 more
    run()
    run()
    after = bodies(store)
    new = after[len(first):]
    assert new, "the new messages were not sent"
    new_lines = [line for b in new for line in b["text"].split("\n")[1:]]
    all_lines = [line for b in after for line in b["text"].split("\n")[1:]]
    # every message of the longer export is in exactly one conversation
    fresh_store = Store(":memory:")
    WhatsAppConnector("chats", config).poll(Sink(fresh_store, "chats", config, lambda: None))
    once = sorted(line for b in bodies(fresh_store) for line in b["text"].split("\n")[1:])
    assert sorted(all_lines) == once and lines_first + len(new_lines) == len(once)
    # the day the first export ended in gained messages: one follow-up, said to be one
    assert new[0]["text"].split("\n")[0] == f"{first[-1]['text'].split(chr(10))[0]} (continued)"
    assert not any(b["text"].split("\n")[0].endswith("(continued)") for b in new[1:])


def test_messages_of_one_minute_keep_the_order_they_were_written_in(tmp_path):
    said = ["first", "second", "third", "fourth", "fifth"]
    content = "".join(f"15/03/2025, 10:00 - {'Anna' if n % 2 else 'Alex'}: {word}\n" for n, word in enumerate(said))
    sent, _, _ = import_chat(tmp_path, "WhatsApp Chat with Anna.txt", content)
    assert [line.split(": ", 1)[1] for line in sent[0]["text"].split("\n")[1:]] == said


def test_twelve_oclock_and_the_lines_after_a_notice(tmp_path):
    content = (f"3/15/25, 12:05{NNBSP}AM - Sam: just after midnight\n"
               f"3/15/25, 12:30{NNBSP}PM - Sam added Kim\n"
               "and some words the notice carried on with\n"
               f"3/15/25, 12:45{NNBSP}PM - Alex: lunch\n")
    sent, store, _ = import_chat(tmp_path, "WhatsApp Chat with Sam.txt", content)
    assert sent[0]["text"].split("\n")[1:] == ["Sam (00:05): just after midnight", "Alex (me, 12:45): lunch"]
    assert store.rows("SELECT count(*) AS n FROM skipped")[0]["n"] == 0


def test_a_date_quoted_inside_a_us_chat_does_not_turn_its_dates_around(tmp_path):
    content = ("25/12/2024, 10:00 - Sam: the ticket said this\n"  # a line pasted from elsewhere, first
               "3/14/25, 9:00 PM - Sam: remember our trip?\n"
               "3/15/25, 9:00 PM - Alex: yes\n"
               "4/1/25, 9:00 PM - Sam: april fools\n"
               "4/2/25, 9:00 PM - Alex: ha\n")
    sent, store, _ = import_chat(tmp_path, "WhatsApp Chat with Sam.txt", content)
    heads = [s["text"].split("\n")[0] for s in sent]
    assert heads == ["WhatsApp chat with Sam, Fri 14 Mar 2025", "WhatsApp chat with Sam, Sat 15 Mar 2025",
                     "WhatsApp chat with Sam, Tue 01 Apr 2025", "WhatsApp chat with Sam, Wed 02 Apr 2025"]
    [skip] = store.rows("SELECT ref FROM skipped")
    assert skip["ref"].endswith("line 1")  # the stray line, read month-first, names no real day


def test_two_exports_of_one_chat_side_by_side_in_either_order_send_every_message_once(tmp_path):
    """WhatsApp caps an export (40,000 messages): an older file holds what a newer lacks. Name
    order reads "(1)" first, here the newer."""
    lines = [f"{day:02d}/03/2025, 10:00 - {'Anna' if day % 2 else 'Alex'}: day {day}\n" for day in range(1, 21)]
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "WhatsApp Chat with Anna (1).txt").write_text("".join(lines[8:]))  # newer: 9..20 March
    (folder / "WhatsApp Chat with Anna.txt").write_text("".join(lines[:12]))  # older: 1..12 March
    store = Store(":memory:")
    config = WhatsAppConfig(type="whatsapp", path=folder, me="Alex", timezone="UTC")
    WhatsAppConnector("chats", config).poll(Sink(store, "chats", config, lambda: None))
    said = sorted(line.rsplit(": ", 1)[1] for b in bodies(store) for line in b["text"].split("\n")[1:])
    assert said == sorted(f"day {day}" for day in range(1, 21))


def test_a_short_chats_date_order_is_kept_for_its_later_exports(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    export = folder / "WhatsApp Chat with Anna.txt"
    export.write_text("01/02/25, 10:00 - Anna: hi\n02/02/25, 10:00 - Anna: again\n")  # cannot tell: day first
    store = Store(":memory:")
    config = WhatsAppConfig(type="whatsapp", path=folder, me="Alex", timezone="UTC")
    run = lambda: WhatsAppConnector("chats", config).poll(Sink(store, "chats", config, lambda: None))  # noqa: E731
    run()
    assert [b["text"].split("\n")[0] for b in bodies(store)] == ["WhatsApp chat with Anna, Sat 01 Feb 2025",
                                                                  "WhatsApp chat with Anna, Sun 02 Feb 2025"]
    # a later export whose new line reads month-first: the chat keeps the order its old lines were
    # read in (else they would come again on other days); the line that does not fit says so
    export.write_text(export.read_text() + "03/02/25, 10:00 - Alex: later\n02/13/25, 10:00 - Anna: odd\n")
    run()
    heads = [b["text"].split("\n")[0] for b in bodies(store)]
    assert heads[2:] == ["WhatsApp chat with Anna, Mon 03 Feb 2025"]
    [skip] = store.rows("SELECT reason FROM skipped")
    assert skip["reason"].startswith("unreadable date or time (month must be in 1..12)")


@pytest.mark.parametrize(("compression", "reason"), [
    (zipfile.ZIP_STORED, "damaged in the zip (CRC check failed)"),  # every line read, the CRC fails at the end
    (zipfile.ZIP_DEFLATED, "damaged in the zip (its compressed data is corrupt)"),
], ids=["stored-crc", "deflated-stream"])
def test_a_chat_damaged_in_its_zip_is_skipped_by_name_and_the_other_exports_come_in(tmp_path, compression, reason):
    folder = tmp_path / "exports"
    folder.mkdir()
    book_club = folder / "WhatsApp Chat - Book club.zip"
    with zipfile.ZipFile(book_club, "w", compression) as archive:
        archive.writestr("_chat.txt", "".join(f"[15/03/2025, 19:{n:02d}:00] Nora: line {n} {os.urandom(100).hex()}\n"
                                              for n in range(50)))
        archive.writestr("00000001-PHOTO-2025-03-15-19-00-00.jpg", b"\xff\xd8")
    damage(book_club, "_chat.txt")
    (folder / "WhatsApp Chat with Anna.txt").write_text("15/03/2025, 10:00 - Anna: still here\n")
    store = Store(":memory:")
    config = WhatsAppConfig(type="whatsapp", path=folder, me="Alex", timezone="UTC")
    WhatsAppConnector("chats", config).poll(Sink(store, "chats", config, lambda: None))
    assert [b["text"].split("\n")[1:] for b in bodies(store)] == [["Anna (10:00): still here"]]  # no line of it
    [skip] = store.rows("SELECT source_key, ref, reason FROM skipped")
    assert (skip["ref"], skip["reason"]) == ("WhatsApp Chat - Book club.zip/_chat.txt", reason)
    assert file_sha256(book_club)[:12] in skip["source_key"]  # once for this zip; a new export is read again
