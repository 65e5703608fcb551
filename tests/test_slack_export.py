"""A Slack export in the shapes real 2025 exports have, through ``run --once`` to the fake Omi:
nothing a person said is dropped, and a record that cannot be read is skipped with its reason
while the rest of the export comes in."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pytest

from bridge.connector import Sink, file_sha256
from bridge.errors import SourceError
from bridge.store import Store
from connectors.slack.export import SlackExportConfig, SlackExportConnector
from tests.conftest import run_cli, write_config
from tests.zip_data import damage

T = 1_793_000_000  # 2026-10-26 09:33 UTC
DAY = time.strftime("%Y-%m-%d", time.gmtime(T))
USERS = [
    {"id": "U1ALICE", "name": "alice", "profile": {"display_name": "Alice"}},
    {"id": "U2BOB", "name": "bob", "profile": {"real_name": "Bob Builder"}},
    {"id": "UPOLLY", "name": "polly", "is_bot": True, "profile": {"real_name": "Polly"}},
    {"id": "USLACKBOT", "name": "slackbot", "profile": {"real_name": "Slackbot"}},
]
CANVAS = "FC:F05JM5XK9SL:Notizen für Q3"  # a canvas' comment thread, named as Slack names it


def ts(seconds: float) -> str:
    return f"{T + seconds:.6f}"


def rich(text: str) -> list[dict]:
    return [{"type": "rich_text", "block_id": "x", "elements": [
        {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}]


class _SlackName(zipfile.ZipInfo):
    """A zip entry named the way Slack writes them: UTF-8 bytes without the UTF-8 flag."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("utf-8"), self.flag_bits


def write_export(path: Path, compression: int = zipfile.ZIP_STORED) -> None:
    general = [
        # a forward with no words of its own
        {"type": "message", "user": "U2BOB", "text": "", "ts": ts(0), "attachments": [{
            "is_share": True, "is_msg_unfurl": True, "author_id": "U1ALICE", "channel_id": "C0OPS0001",
            "text": "the rollback is done", "fallback": "[Oct 26th] alice: the rollback is done"}]},
        # a poll Alice posted through Polly: her user, Polly's bot_id, the question in blocks
        {"type": "message", "user": "U1ALICE", "bot_id": "BPOLLY", "text": "This content can't be displayed.",
         "ts": ts(60), "bot_profile": {"id": "BPOLLY", "name": "Polly"},
         "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Retro on Friday?*"}}]},
        # Polly's own message: an app's, left out
        {"type": "message", "user": "UPOLLY", "bot_id": "BPOLLY", "text": "Poll closed", "ts": ts(90)},
        # a record with an empty ts: skipped with its reason, the rest still comes in
        {"type": "message", "user": "U2BOB", "text": "lost in time", "ts": ""},
        # a huddle: Slackbot's root with "room", its replies' words only in blocks
        {"type": "message", "subtype": "huddle_thread", "user": "USLACKBOT", "text": "", "ts": ts(120),
         "thread_ts": ts(120), "room": {"created_by": "U2BOB", "participant_history": ["U2BOB", "U1ALICE"]},
         "blocks": rich("A huddle started")},
        {"type": "message", "user": "U1ALICE", "text": "", "ts": ts(180), "thread_ts": ts(120),
         "parent_user_id": "USLACKBOT", "blocks": rich("notes: ship on Monday")},
    ]
    canvas = [
        {"type": "message", "subtype": "document_comment_root", "user": "USLACKBOT", "text": "", "ts": ts(300),
         "thread_ts": ts(300), "document_comment": {"thread_id": "temp:C:1"}, "blocks": rich("Budget plan")},
        {"type": "message", "user": "U2BOB", "text": "the numbers look right", "ts": ts(360), "thread_ts": ts(300),
         "parent_user_id": "USLACKBOT"},
    ]
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("users.json", json.dumps(USERS))
        archive.writestr("channels.json", json.dumps([{"id": "C0GENERAL", "name": "general"},
                                                      {"id": "C0OPS0001", "name": "ops"}]))
        archive.writestr("file_conversations.json", json.dumps([{
            "id": "C05JM5XK9SL", "name": CANVAS, "creator": "USLACKBOT", "members": ["U1ALICE", "U2BOB"]}]))
        archive.writestr("dms.json", json.dumps([{"id": "D0DIRECT1", "members": ["U1ALICE", "U2BOB"]}]))
        archive.writestr(f"general/{DAY}.json", json.dumps(general))
        archive.writestr("general/canvas_in_the_conversation.json", json.dumps({"title": "not messages"}))
        archive.writestr(_SlackName(f"{CANVAS}/{DAY}.json"), json.dumps(canvas), compression)
        archive.writestr(f"D0DIRECT1/{DAY}.json", json.dumps([
            {"type": "message", "user": "U1ALICE", "text": "got a minute?", "ts": ts(400)}]))


def test_every_kind_of_message_in_a_real_export_arrives(tmp_path, fake_omi) -> None:
    write_export(tmp_path / "export.zip")
    connectors = '[connectors.archive]\ntype = "slack-export"\npath = "export.zip"\ntimezone = "UTC"\n'
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    result = run_cli("run", "--once", "-c", str(config))
    assert result.returncode == 0, result.stderr
    texts = sorted(fake_omi.texts())
    hhmm = lambda s: time.strftime("%H:%M", time.gmtime(T + s))  # noqa: E731
    assert texts == sorted([
        "\n".join([
            f"#general on Slack, {time.strftime('%a %d %b %Y', time.gmtime(T))}",
            f"Bob Builder ({hhmm(0)}): > forwarded message from @Alice in #ops:\n> the rollback is done",
            f"Alice ({hhmm(60)}): Retro on Friday?",
            f"Bob Builder ({hhmm(120)}): A huddle started [huddle with @Bob Builder, @Alice]",
            f"Alice ({hhmm(180)}): notes: ship on Monday",  # right after its huddle: no need to say
        ]),
        "\n".join([
            f"comments on the canvas “Notizen für Q3” on Slack, {time.strftime('%a %d %b %Y', time.gmtime(T))}",
            f"Canvas section ({hhmm(300)}): Budget plan",
            f"Bob Builder ({hhmm(360)}): the numbers look right",
        ]),
        "\n".join([
            f"direct messages between Alice and Bob Builder on Slack, {time.strftime('%a %d %b %Y', time.gmtime(T))}",
            f"Alice ({hhmm(400)}): got a minute?",
        ]),
    ])
    status = json.loads(run_cli("status", "-c", str(config), "--json").stdout)
    skipped = json.dumps(status)
    assert f"general/{DAY}.json record 4" in skipped and "no usable ts ('')" in skipped
    assert "canvas_in_the_conversation" not in skipped  # not a day file: not read, not an error


def _heads(texts: list[str]) -> list[str]:
    return sorted(t.split(" on Slack, ")[0] for t in texts)


@pytest.mark.parametrize(("compression", "member", "reason"), [
    # a flipped byte in a stored member: only its CRC tells
    (zipfile.ZIP_STORED, f"general/{DAY}.json", "damaged in the zip (CRC check failed)"),
    # a deflated member that cannot be inflated; its name as Slack wrote it (UTF-8, unflagged)
    (zipfile.ZIP_DEFLATED, f"{CANVAS}/{DAY}.json", "damaged in the zip (its compressed data is corrupt)"),
], ids=["stored-crc", "deflated-stream"])
def test_a_day_file_damaged_in_the_zip_is_skipped_by_name_and_the_other_channels_come_in(
        tmp_path, compression, member, reason):
    path = tmp_path / "export.zip"
    write_export(path, compression)
    damage(path, member.encode("utf-8").decode("cp437"))  # the name as zipfile reads it
    store = Store(":memory:")
    config = SlackExportConfig(type="slack-export", path=path, timezone="UTC")
    connector = SlackExportConnector("archive", config)
    assert connector.check().endswith("4 channel(s)")  # the listings are whole
    connector.poll(Sink(store, "archive", config, lambda: None))
    sent = [json.loads(r["body"])["text"] for r in store.rows("SELECT body FROM outbox")]
    every = ["#general", "comments on the canvas “Notizen für Q3”", "direct messages between Alice and Bob Builder"]
    assert _heads(sent) == sorted(h for h in every if h != ("#general" if "general" in member else every[1]))
    skipped = [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")
               if r["ref"] == member]
    assert skipped == [(member, reason)]
    [key] = [r["source_key"] for r in store.rows("SELECT source_key FROM skipped WHERE ref = ?", [member])]
    assert file_sha256(path)[:12] in key  # skipped once for this zip; a newer export's damage is its own
    assert store.cursor("archive") == file_sha256(path)  # read through: not read again at the next poll


def test_a_damaged_channel_listing_leaves_out_its_channels_only(tmp_path):
    path = tmp_path / "export.zip"
    write_export(path, zipfile.ZIP_DEFLATED)
    damage(path, "dms.json")
    store = Store(":memory:")
    config = SlackExportConfig(type="slack-export", path=path, timezone="UTC")
    connector = SlackExportConnector("archive", config)
    assert connector.check().endswith("3 channel(s); dms.json: damaged in the zip (its compressed data is corrupt)")
    connector.poll(Sink(store, "archive", config, lambda: None))
    assert _heads([json.loads(r["body"])["text"] for r in store.rows("SELECT body FROM outbox")]) == [
        "#general", "comments on the canvas “Notizen für Q3”"]
    assert ("dms.json", "damaged in the zip (its compressed data is corrupt)") in [
        (r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")]


def test_a_damaged_users_list_stops_the_import_and_says_why(tmp_path):
    """Every conversation names its people: sent with bare user ids, it could not be mended."""
    path = tmp_path / "export.zip"
    write_export(path)
    damage(path, "users.json")
    config = SlackExportConfig(type="slack-export", path=path, timezone="UTC")
    with pytest.raises(SourceError, match=r"users\.json: damaged in the zip \(CRC check failed\); without it"):
        SlackExportConnector("archive", config).check()


def test_through_run_the_damaged_day_file_is_listed_in_status_and_the_rest_reaches_omi(tmp_path, fake_omi):
    write_export(tmp_path / "export.zip", zipfile.ZIP_DEFLATED)
    damage(tmp_path / "export.zip", f"general/{DAY}.json")
    connectors = '[connectors.archive]\ntype = "slack-export"\npath = "export.zip"\ntimezone = "UTC"\n'
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    result = run_cli("run", "--once", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert _heads(fake_omi.texts()) == ["comments on the canvas “Notizen für Q3”",
                                        "direct messages between Alice and Bob Builder"]
    status = json.loads(run_cli("status", "-c", str(config), "--json").stdout)
    assert {"connector": "archive", "ref": f"general/{DAY}.json",
            "reason": "damaged in the zip (its compressed data is corrupt)"}.items() <= next(
        s for s in status["skipped"] if s["ref"] == f"general/{DAY}.json").items()
