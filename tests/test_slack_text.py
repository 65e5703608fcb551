"""Slack message text: mrkdwn to plain text, which messages count, how a group reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.groups import Group, Item
from connectors.slack.mrkdwn import mentioned_users, plain_text
from connectors.slack.render import message_item, render_group

USERS = {"U1": "Alice", "U2": "Bob"}
CHANNELS = {"C9": "ops"}


def plain(text: str) -> str:
    return plain_text(text, lambda u: USERS.get(u, u), lambda c: CHANNELS.get(c, c))


@pytest.mark.parametrize(
    ("mrkdwn", "expected"),
    [
        ("hi <@U1>, see <#C9|ops-old> and <#C9>", "hi @Alice, see #ops-old and #ops"),
        ("<@U2|bobby> said so", "@bobby said so"),
        ("<!here> <!channel> <!subteam^S1|@devs> <!subteam^S2>", "@here @channel @devs @group"),
        ("due <!date^1392734382^{date_short}|Feb 18, 2014>", "due Feb 18, 2014"),
        ("<https://example.com|the docs> or <https://x.org> <mailto:a@b.c|a@b.c>",
         "the docs (https://example.com) or https://x.org a@b.c"),
        ("*bold* _it_ ~gone~ snake_case_name 2*3*4", "bold it gone snake_case_name 2*3*4"),
        ("1 &lt; 2 &amp;&amp; 3 &gt; 2, &amp;lt; stays", "1 < 2 && 3 > 2, &lt; stays"),
        ("```if a &lt; b: *x*```", "```if a < b: *x*```"),
    ],
)
def test_mrkdwn_to_plain_text(mrkdwn: str, expected: str) -> None:
    assert plain(mrkdwn) == expected


def test_mentions_are_found_for_name_lookup() -> None:
    assert mentioned_users("<@U1> and <@W2|x> but not <#C1>") == {"U1", "W2"}


def item(msg: dict, **options: bool):
    return message_item("C1", msg, include_bots=options.get("bots", False), include_joins=options.get("joins", False))


def test_which_messages_count() -> None:
    plain_msg = {"type": "message", "user": "U1", "text": "hi", "ts": "1700000000.000100"}
    assert item(plain_msg).key == "C1:1700000000.000100"
    assert item({**plain_msg, "subtype": "channel_join"}) is None
    assert item({**plain_msg, "subtype": "channel_join"}, joins=True) is not None
    assert item({**plain_msg, "bot_id": "B1"}) is None  # modern bots: bot_id, no subtype
    assert item({**plain_msg, "subtype": "bot_message", "username": "CI"}, bots=True).data["name"] == "CI"
    assert item({**plain_msg, "subtype": "channel_topic"}) is None
    assert item({**plain_msg, "subtype": "something_new"}) is None
    assert item({**plain_msg, "text": "  "}) is None
    shared = item({**plain_msg, "subtype": "file_share", "text": "", "files": [{"name": "plan.pdf"}]})
    assert shared.data["files"] == ["plan.pdf"]
    reply = item({**plain_msg, "ts": "1700000001.000000", "thread_ts": "1700000000.000100"})
    assert reply.thread == "C1:1700000000.000100"
    assert item({**plain_msg, "thread_ts": plain_msg["ts"]}).thread is None  # a thread's first message


def test_a_group_reads_as_lines_in_time_order() -> None:
    t = datetime(2026, 11, 23, 9, 14, tzinfo=UTC).timestamp()
    items = [
        Item("C1:a", "C1", t, "deploy done, cc <@U2>", "U1"),
        Item("C1:b", "C1", t + 120, "", "U2", "C1:r", {"files": ["log.txt"]}),
    ]
    root = Item("C1:r", "C1", t - 3600, "x" * 500, "U2")
    text = render_group(
        Group(1, "C1", "C1:r", t, t + 120, items), channel="general", user_name=lambda u: USERS[u],
        channel_name=lambda c: c, tz=UTC, root=root,
    )
    lines = text.text.split("\n")
    assert lines[0] == "#general thread on Slack, Mon 23 Nov 2026"
    assert lines[1].startswith("In reply to Bob (08:14): xxx") and lines[1].endswith("…") and len(lines[1]) < 330
    assert lines[2:] == ["Alice (09:14): deploy done, cc @Bob", "Bob (09:16): [file: log.txt]"]
    assert text.started_at.timestamp() == t and text.finished_at.timestamp() == t + 120
    assert text.source_key == "group:C1:a"
