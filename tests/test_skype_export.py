"""Skype's messages.json (tests/data/chats/skype): its markup read as words (emoticons, links,
bold, quotes as replies, files and photos named, calls with their length), reactions, edited
messages as they ended, deleted ones, joins and the call log left out; `preview` and `plan`."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.store import Store
from connectors.chats.skype import SkypeConfig, SkypeConnector, skype_text
from tests.chat_cli import preview_and_plan, run

EXPORT = Path(__file__).parent / "data" / "chats" / "skype" / "messages.json"


def skype(path: Path = EXPORT) -> SkypeConnector:
    return SkypeConnector("skype", SkypeConfig(type="skype", path=path, me="Alex Kim", timezone="Europe/Berlin"))


def test_conversations_read_line_by_line_from_skype_markup():
    store = Store(":memory:")
    sent = run(skype(), store)
    assert [s["text"].split("\n") for s in sent] == [
        ["Skype chat with Anna Schmidt, Sat 15 Mar 2025",
         "Anna Schmidt (09:41): Brunch tomorrow? (drink) (❤️ from me)",
         "Alex Kim (me, 09:43): Yes! I'll book Café Nord: cafe.example (https://cafe.example/nord) & tell Ben",
         "Anna Schmidt (09:56): [photo]",  # the deleted message at 09:48 is left out
         "Alex Kim (me, 10:13): [file: Speisekarte März.pdf]",
         "Anna Schmidt (18:00): [call, 13 min]"],  # the call's start is no line; its end gives the length
        ["Skype chat with Anna Schmidt, Sun 16 Mar 2025",
         "Alex Kim (me, 09:00, replying to Anna Schmidt Sat 15 Mar 2025, 09:41: “Brunch tomorrow? (drink)”): "
         "so good, again next week?"],
        ["Skype group “Berlin crew”, Sat 15 Mar 2025",
         "Ben Müller (18:00): Thursday drinks? :)",
         "Alex Kim (me, 18:05): count me in"],  # Ben adding Alex is no line; the call log is no chat
    ]
    assert {s["text_source_spec"] for s in sent} == {"skype"}
    assert [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")] == [
        ("messages.json conversation 8:live:anna.schmidt message record 9", "no readable originalarrivaltime")]


def test_skype_markup_is_words_never_raw_tags():
    assert skype_text('<ss type="laugh">:D</ss> <i>so</i> <s>not</s> &lt;3') == (":D so not <3", None)
    assert skype_text('<partlist type="missed" alt=""><part identity="live:anna"><name>Anna</name></part>'
                      "</partlist>", "Event/Call") == ("[missed call]", None)
    assert skype_text('<URIObject type="Video.1/Message.1" uri="x"><OriginalName v="clip.mp4"/></URIObject>')[0] == (
        "[video]")


def test_a_cut_export_is_skipped_and_a_later_one_sends_only_what_is_new(tmp_path):
    whole = json.loads(EXPORT.read_text())
    (tmp_path / "messages.json").write_text(EXPORT.read_text()[:2000])
    store = Store(":memory:")
    assert run(skype(tmp_path / "messages.json"), store) == []
    [skipped] = store.rows("SELECT reason FROM skipped")
    assert skipped["reason"].startswith("not readable JSON")
    first = run(skype(EXPORT), store)
    whole["conversations"][1]["MessageList"].insert(0, {
        "id": "1742058400000", "originalarrivaltime": "2025-03-15T17:06:40.000Z", "messagetype": "RichText",
        "content": "see you there", "from": "8:live:anna.schmidt", "displayName": "Anna Schmidt"})
    (tmp_path / "later.json").write_text(json.dumps(whole))
    sent = run(skype(tmp_path / "later.json"), store)
    assert [s["text"].split("\n") for s in sent[len(first):]] == [
        ["Skype group “Berlin crew”, Sat 15 Mar 2025 (continued)", "Anna Schmidt (18:06): see you there"]]


def test_preview_and_plan_read_skype_through_the_cli(tmp_path, fake_omi):
    table = f'[connectors.skype]\ntype = "skype"\npath = "{EXPORT}"\nme = "Alex Kim"\ntimezone = "Europe/Berlin"\n'
    records, [sk] = preview_and_plan(tmp_path, fake_omi.url, table)
    assert len([r for r in records if "request" in r]) == 3
    assert (sk["items"], sk["conversations"]) == (9, 3)  # 8 messages and the one without a time
    assert fake_omi.conversations == []
