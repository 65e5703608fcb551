"""LINE's saved chat text (tests/data/chats/line): the header and day lines in English and
Japanese, tab-separated messages, quoted messages on several lines, 12-hour and 午後 times, media,
stickers and calls named, unsent messages and nameless lines left out; `preview` and `plan`."""

from __future__ import annotations

import shutil
from pathlib import Path

from bridge.store import Store
from connectors.chats.line import LineConfig, LineConnector
from tests.chat_cli import preview_and_plan, run

DATA = Path(__file__).parent / "data" / "chats" / "line"
ANNA = "[LINE] Chat with Anna Schmidt.txt"


def line(path: Path = DATA) -> LineConnector:
    return LineConnector("line", LineConfig(type="line", path=path, me="Alex", timezone="Asia/Tokyo"))


def test_chats_read_line_by_line_in_english_and_japanese():
    store = Store(":memory:")
    sent = run(line(), store)
    assert [s["text"].split("\n") for s in sent] == [
        ["LINE chat with Anna Schmidt, Sat 15 Mar 2025",
         "Anna Schmidt (09:41): Brunch tomorrow? 🥂",
         "Alex (me, 09:43): Yes! I'll book Café Nord", 'for 11:00, "the usual" table',  # quoted, on two lines
         "Anna Schmidt (09:44): [photo]",
         "Anna Schmidt (09:45): [sticker]",  # the unsent message and the invitation are no lines
         "Anna Schmidt (20:00): [call, 13 min]",
         "Alex (me, 20:30): [missed call]"],
        ["LINE chat with Anna Schmidt, Sun 16 Mar 2025", "Anna Schmidt (08:00): thanks for yesterday!"],
        ["LINE group “家族”, Sat 15 Mar 2025",
         "お母さん (18:00): 日曜日のお昼、どう\uff1f",  # 午後6:00
         "Alex (me, 18:02): [photo]",
         "Alex (me, 18:05): [call, 65 min]"],
    ]
    assert sent[0]["started_at"] == "2025-03-15T00:41:00.000000+00:00"  # the phone's time, in Tokyo
    assert {s["text_source_spec"] for s in sent} == {"line"}
    assert [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")] == [
        (f"{ANNA} line 14", "no readable time (25:61)")]


def test_other_text_is_skipped_and_a_longer_history_sends_only_what_is_new(tmp_path):
    shutil.copy(DATA / ANNA, tmp_path)
    (tmp_path / "notes.txt").write_text("Things to pack:\n- passport\n")
    store = Store(":memory:")
    first = run(line(tmp_path), store)
    with (tmp_path / ANNA).open("a", encoding="utf-8", newline="") as chat:
        chat.write("08:30\tAlex\ton my way\r\n")
    sent = run(line(tmp_path), store)
    assert [s["text"].split("\n") for s in sent[len(first):]] == [
        ["LINE chat with Anna Schmidt, Sun 16 Mar 2025 (continued)", "Alex (me, 08:30): on my way"]]
    assert {r["ref"]: r["reason"] for r in store.rows("SELECT ref, reason FROM skipped")}["notes.txt"] == (
        "not a LINE chat history (no “[LINE] Chat history” line at its top)")


def test_preview_and_plan_read_line_through_the_cli(tmp_path, fake_omi):
    table = f'[connectors.line]\ntype = "line"\npath = "{DATA}"\nme = "Alex"\ntimezone = "Asia/Tokyo"\n'
    records, [ln] = preview_and_plan(tmp_path, fake_omi.url, table)
    assert len([r for r in records if "request" in r]) == 3
    assert (ln["items"], ln["conversations"]) == (11, 3)  # 10 messages and the one at 25:61
    assert fake_omi.conversations == []
