"""Slack message text: mrkdwn to plain text, which messages count, how a group reads."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from bridge.groups import Group, Item
from bridge.transcript import shorten
from connectors.slack.mrkdwn import mentioned_users, plain_text
from connectors.slack.render import message_item, record_problem, render_group

USERS = {"U1": "Alice", "U2": "Bob"}
CHANNELS = {"C9": "ops"}


def plain(text: str) -> str:
    return plain_text(text, lambda u: USERS.get(u, u), lambda c: CHANNELS.get(c, c))


@pytest.mark.parametrize(
    ("mrkdwn", "expected"),
    [
        ("hi <@U1>, see <#C9|ops-old> and <#C9>", "hi @Alice, see #ops and #ops"),  # today's names
        ("<@U2|bobby> said so, <@U7|gone> too, <#C8|old-name>", "@Bob said so, @gone too, #old-name"),
        ("<!here> <!channel> <!subteam^S1|@devs> <!subteam^S2>", "@here @channel @devs @group"),
        ("due <!date^1392734382^{date_short}|Feb 18, 2014>", "due Feb 18, 2014"),
        ("<https://example.com|the docs> or <https://x.org> <mailto:a@b.c|a@b.c>",
         "the docs (https://example.com) or https://x.org a@b.c"),
        ("*bold* _it_ ~gone~ snake_case_name 2*3*4", "bold it gone snake_case_name 2*3*4"),
        ("1 &lt; 2 &amp;&amp; 3 &gt; 2, &amp;lt; stays", "1 < 2 && 3 > 2, &lt; stays"),
        ("```if a &lt; b: *x*```", "```if a < b: *x*```"),
        # Slack's auto-linker works inside code too; code shows what Slack shows, the label
        ("```<http://logger.info|logger.info>(\"retry %s\", <http://job.id|job.id>)```",
         '```logger.info("retry %s", job.id)```'),
        ("```aws s3 cp <s3://bucket/key> .\ncall <tel:5551234|555-1234>```",
         "```aws s3 cp s3://bucket/key .\ncall 555-1234```"),
        ("set `<http://settings.py|settings.py>` and `_private_var_`, *done*",
         "set `settings.py` and `_private_var_`, done"),
        ("mail <mailto:ops@example.com|ops@example.com>, ask in <#C9|ops>", "mail ops@example.com, ask in #ops"),
        # a word Slack made into a link prints once; a real label keeps its address
        ("use <http://requests.post|requests.post> from <https://www.python.org/|www.python.org>",
         "use requests.post from www.python.org"),
        ("call <tel:+15551234|+1 555-1234> or see <https://example.com/x|the runbook>",
         "call +1 555-1234 or see the runbook (https://example.com/x)"),
        # an address keeps its underscores and stars; a doubled marker is a name, not emphasis
        ("*see <https://github.com/o/r/blob/main/pkg/__init__.py|the init>* and <https://ex.com/a/_private_/b>",
         "see the init (https://github.com/o/r/blob/main/pkg/__init__.py) and https://ex.com/a/_private_/b"),
        ("edit __init__.py and **kwargs", "edit __init__.py and **kwargs"),
        # an unclosed ``` is text: the inline code after it is still code
        ("unclosed ``` fence <https://a.b|lab> `x = <http://job.id|job.id>`",
         "unclosed ``` fence lab (https://a.b) `x = job.id`"),
    ],
)
def test_mrkdwn_to_plain_text(mrkdwn: str, expected: str) -> None:
    assert plain(mrkdwn) == expected


def test_mentions_are_found_for_name_lookup() -> None:
    assert mentioned_users("<@U1> and <@W2|x> but not <#C1>") == {"U1", "W2"}


def item(msg: dict, *, bots: bool = False, joins: bool = False, bot_users: frozenset | set = frozenset()):
    return message_item("C1", msg, include_bots=bots, include_joins=joins, bot_users=bot_users)


def test_which_messages_count() -> None:
    plain_msg = {"type": "message", "user": "U1", "text": "hi", "ts": "1700000000.000100"}
    assert item(plain_msg).key == "C1:1700000000.000100"
    assert item({**plain_msg, "subtype": "channel_join"}) is None
    assert item({**plain_msg, "subtype": "channel_join"}, joins=True) is not None
    assert item({**plain_msg, "user": "UB1", "bot_id": "B1"}, bot_users={"UB1"}) is None  # an app's own user
    assert item({"type": "message", "bot_id": "B1", "text": "hi", "ts": "1700000000.000200"}) is None
    assert item({**plain_msg, "bot_id": "B1"}) is not None  # an app posting for a person: theirs
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
        Group(1, "C1", "C1:r", t, t + 120, items), place="#general", user_name=lambda u: USERS[u],
        channel_name=lambda c: c, tz=UTC, roots={root.key: root},
    )
    lines = text.text.split("\n")
    assert lines[0] == "#general thread on Slack, Mon 23 Nov 2026"
    assert lines[1].startswith("In reply to Bob (08:14): xxx") and lines[1].endswith("…") and len(lines[1]) < 330
    assert lines[2:] == ["Alice (09:14): deploy done, cc @Bob", "Bob (09:16): [file: log.txt]"]
    assert text.started_at.timestamp() == t and text.finished_at.timestamp() == t + 120
    assert text.source_key == "group:C1:a"


def test_a_shortened_quote_never_leaves_code_open() -> None:
    code = "look: ```" + "\n".join(f"line_{n} = compute({n})" for n in range(40)) + "```"
    short = shorten(code, 120)
    assert short.count("```") == 2 and short.endswith("…\n```") and len(short) < 130
    inline = "the value " + "`" + "x" * 200 + "`"
    assert shorten(inline, 100).endswith("…`")
    assert shorten("plain words " * 40, 100).endswith("…") and shorten("short", 100) == "short"
    one_line = shorten("```a\nb```" + " word" * 50, 20, inline=True)
    assert "\n" not in one_line and one_line.count("```") == 2


def test_a_thread_root_quoted_above_late_replies_keeps_its_code_closed() -> None:
    t = datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp()
    code = "\n".join(f"step_{n}()" for n in range(100))
    root = Item("C1:r", "C1", t, f"why does this fail?\n```{code}```", "U1")
    group = Group(1, "C1", "C1:r", t + 7200, t + 7200, [Item("C1:a", "C1", t + 7200, "step_42 is wrong", "U2", "C1:r")])
    text = render_group(group, place="#dev", user_name=lambda u: USERS[u], channel_name=lambda c: c, tz=UTC,
                        roots={root.key: root}).text
    quoted = text.split("\nBob (11:00)")[0]
    assert quoted.count("```") == 2, quoted
    assert text.endswith("Bob (11:00): step_42 is wrong")


def test_a_reply_inside_a_burst_says_whom_it_answers() -> None:
    t = datetime(2026, 11, 23, 10, 30, tzinfo=UTC).timestamp()
    earlier = Item("C1:old", "C1", t - 86400, "is the *nightly* build broken again? " + "details " * 30, "U1")
    items = [
        Item("C1:q", "C1", t, "deploy is stuck", "U1"),
        Item("C1:x", "C1", t + 60, "lunch anyone?", "U3"),
        Item("C1:y", "C1", t + 120, "me!", "U2"),
        Item("C1:a", "C1", t + 540, "logs?", "U3", "C1:q"),
        Item("C1:b", "C1", t + 600, "yes, since Tuesday", "U2", "C1:old"),
        Item("C1:c", "C1", t + 660, "fixed", "U2", "C1:gone"),
        Item("C1:d", "C1", t + 700, "thanks", "U3", "C1:gone"),
    ]
    users = {**USERS, "U3": "Sam"}
    text = render_group(Group(1, "C1", None, t, t + 700, items), place="#dev", user_name=lambda u: users[u],
                        channel_name=lambda c: c, tz=UTC, roots={earlier.key: earlier}).text
    lines = text.split("\n")[1:]
    assert lines[0] == "Alice (10:30): deploy is stuck"
    assert lines[3] == "Sam (10:39, replying to Alice 10:30): logs?"
    assert lines[4].startswith(
        "Bob (10:40, replying to Alice Sun 22 Nov 2026, 10:30: “is the nightly build broken again?")
    assert lines[4].endswith("…”): yes, since Tuesday") and len(lines[4]) < 160
    assert lines[5] == "Bob (10:41, in a thread): fixed"  # its first message is no longer known
    assert lines[6] == "Sam (10:41): thanks"  # right after its thread's last line: plain


def test_mentions_show_the_current_name_also_with_an_old_handle() -> None:
    assert plain("<@U1|alice.old> and <@U2|bobby>: ping") == "@Alice and @Bob: ping"
    assert mentioned_users("<@U1|alice.old>") == {"U1"}  # looked up, so the live name is known


def words(msg: dict, **options) -> str:
    found = item({"type": "message", "ts": "1700000000.000100", **msg}, **options)
    assert found is not None, msg
    return plain(found.text)


def rich(*elements: dict) -> list[dict]:
    return [{"type": "rich_text", "block_id": "b1", "elements": list(elements)}]


def section(*elements: dict) -> dict:
    return {"type": "rich_text_section", "elements": list(elements)}


def test_words_that_live_only_in_blocks_are_read() -> None:
    # a huddle's thread: Slackbot's "A huddle started" in blocks, text empty; the people in it from "room"
    huddle = {"user": "USLACKBOT", "subtype": "huddle_thread", "text": "",
              "room": {"id": "R1", "created_by": "U1", "participant_history": ["U1", "U2"], "has_ended": True},
              "blocks": rich(section({"type": "text", "text": "A huddle started"}))}
    root = item({"type": "message", "ts": "1700000000.000100", **huddle})
    assert root.author == "U1" and plain(root.text) == "A huddle started [huddle with @Alice, @Bob]"
    no_subtype = {k: v for k, v in huddle.items() if k != "subtype"}  # older history: only "room" says so
    assert words(no_subtype).startswith("A huddle started")
    # a reply in it with its words only in rich text: sections, a list, code with an auto-link, a quote
    reply = {"user": "U2", "text": "", "thread_ts": "1700000000.000100", "parent_user_id": "USLACKBOT",
             "blocks": rich(
                 section({"type": "text", "text": "notes from "}, {"type": "user", "user_id": "U1"},
                         {"type": "text", "text": " in "}, {"type": "channel", "channel_id": "C9"},
                         {"type": "text", "text": ": 1 < 2 & "},
                         {"type": "link", "url": "https://x.org/a", "text": "docs"},
                         {"type": "text", "text": "\n"}),
                 {"type": "rich_text_list", "style": "ordered", "indent": 0, "elements": [
                     section({"type": "text", "text": "fix "},
                             {"type": "text", "text": "retry_count", "style": {"code": True}}),
                     section({"type": "text", "text": "ship it "}, {"type": "emoji", "name": "rocket"})]},
                 {"type": "rich_text_preformatted", "elements": [
                     {"type": "link", "url": "http://logger.info", "text": "logger.info"},
                     {"type": "text", "text": "(x)"}]},
                 {"type": "rich_text_quote", "elements": [{"type": "text", "text": "it works\non my machine"}]},
                 section({"type": "broadcast", "range": "here"}, {"type": "text", "text": " due "},
                         {"type": "date", "timestamp": 1700000000, "fallback": "Nov 14, 2023"}))}
    assert words(reply) == (
        "notes from @Alice in #ops: 1 < 2 & docs (https://x.org/a)\n"
        "1. fix `retry_count`\n2. ship it :rocket:\n"
        "```logger.info(x)```\n"
        "> it works\n> on my machine\n"
        "@here due Nov 14, 2023")


def test_a_poll_a_person_posted_through_an_app_is_theirs() -> None:
    poll = {"user": "U1", "bot_id": "BPOLLY", "app_id": "A1", "text": "This content can't be displayed.",
            "bot_profile": {"id": "BPOLLY", "name": "Polly", "user_id": "UPOLLYBOT"},
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "*Where do we hold the retro?*"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": ":one: Room 4 `2`"},
                 "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Vote"}}},
                {"type": "section", "text": {"type": "plain_text", "text": ":two: Online <3"}},
                {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Vote"}}]},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "Created by <@U1> with Polly"}]}]}
    found = item({"type": "message", "ts": "1700000000.000100", **poll})
    assert found.author == "U1"
    assert plain(found.text) == ("Where do we hold the retro?\n:one: Room 4 `2`\n:two: Online <3\n"
                                 "Created by @Alice with Polly")
    # the app's own user posting: a bot, left out unless bots are wanted
    assert item({"type": "message", "ts": "1700000000.000100", **poll, "user": "UPOLLYBOT"}) is None
    # a legacy Simple Poll: a bot message whose question is an attachment's title
    simple = {"subtype": "bot_message", "bot_id": "B2", "username": "Simple Poll", "text": "",
              "attachments": [{"title": "How well did it go?", "fields": [{"title": "", "value": ":one: Great\n\n"},
                                                                           {"title": "", "value": ":two: Meh"}]},
                              {"fallback": "Open Slack to cast your vote in this Simple Poll", "actions": []}]}
    assert words(simple, bots=True) == "How well did it go?\n:one: Great\n:two: Meh"


def test_a_forwarded_message_is_quoted_with_who_said_it_and_where() -> None:
    forward = {"user": "U2", "text": "", "attachments": [{
        "is_share": True, "is_msg_unfurl": True, "author_id": "U1", "author_subname": "alice",
        "channel_id": "C9", "channel_name": "ops", "ts": "1699990000.000100",
        "text": "rollback done, see <https://x.org/r|the report>\n```kubectl rollout undo```",
        "fallback": "[Nov 14th, 2023] alice: rollback done", "footer": "Posted in #ops",
        "files": [{"name": "timeline.png"}]}]}
    assert words(forward) == ("> forwarded message from @Alice in #ops:\n> rollback done, see the report "
                              "(https://x.org/r)\n> ```kubectl rollout undo```\n> [file: timeline.png]")
    # a pasted link to a message: the words come from message_blocks; the comment stays first
    linked = {"user": "U1", "text": "see <https://team.slack.com/archives/C9/p1699990000000100>", "attachments": [{
        "is_msg_unfurl": True, "author_name": "Bob", "channel_id": "C9",
        "message_blocks": [{"team": "T1", "channel": "C9", "ts": "1699990000.000100", "message": {
            "blocks": rich(section({"type": "text", "text": "the pinned plan"}))}}]}]}
    assert words(linked).endswith("\n> linked message from Bob in #ops:\n> the pinned plan")
    # an ordinary link preview next to words is not repeated
    preview = {"user": "U1", "text": "<https://x.org|x.org> is down",
               "attachments": [{"title": "x.org", "text": "Example site", "original_url": "https://x.org"}]}
    assert words(preview) == "x.org is down"


def test_a_canvas_comment_thread_starts_with_the_canvas_section() -> None:
    comment_root = {"user": "USLACKBOT", "subtype": "document_comment_root", "text": "",
                    "thread_ts": "1700000000.000100", "document_comment": {"thread_id": "temp:C:1"},
                    "blocks": rich(section({"type": "link", "url": "https://x.org/faq", "text": "FAQ"}))}
    found = item({"type": "message", "ts": "1700000000.000100", **comment_root})
    assert found.data["name"] == "Canvas section" and plain(found.text) == "FAQ (https://x.org/faq)"


@pytest.mark.parametrize(("record", "problem"), [
    ({"type": "message", "user": "U1", "text": "hi", "ts": ""}, "no usable ts ('')"),
    ({"type": "message", "user": "U1", "text": "hi"}, "no usable ts (None)"),
    ({"type": "message", "user": "U1", "text": "hi", "ts": "soon"}, "no usable ts ('soon')"),
    ({"type": "message", "user": "U1", "text": ["hi"], "ts": "1700000000.1"}, "text is not a string"),
    ({"type": "message", "user": "U1", "text": "hi", "ts": "1700000000.1", "thread_ts": "x"},
     "no usable thread_ts ('x')"),
    ("a string", "not a message object"),
])
def test_a_record_that_cannot_be_read_says_why(record, problem) -> None:
    assert record_problem(record) == problem
    assert record_problem({"type": "message", "user": "U1", "text": "hi", "ts": "1700000000.000100"}) is None


def test_an_edit_that_names_its_message_only_in_previous_message_is_applied() -> None:
    from bridge.groups import Assembler, GroupPolicy
    from bridge.store import Store
    from connectors.slack.connector import SlackConfig, SlackConnector

    connector = SlackConnector("team", SlackConfig(type="slack", bot_token="xoxb-1", app_token="xapp-1"))
    assembler = Assembler(Store(), "team", GroupPolicy(600, 7200))
    said = {"type": "message", "channel": "C111", "channel_type": "channel", "user": "U222",
            "text": "original message", "ts": "1665102338.901939"}
    assert connector.take_message(assembler, said, "Ev000")
    # the shape of bolt-python's own fixture (tests/scenario_tests/test_message_changed.py)
    edit = {"type": "message", "subtype": "message_changed", "channel": "C111", "channel_type": "channel",
            "hidden": True, "ts": "1665102362.013600", "event_ts": "1665102362.013600",
            "message": {"type": "message", "text": "updated message", "user": "U111",
                        "edited": {"user": "U111", "ts": "1665102362.000000"},
                        "blocks": rich(section({"type": "text", "text": "updated message"}))},
            "previous_message": {"type": "message", "text": "original message", "user": "U222",
                                 "ts": "1665102338.901939"}}
    assert connector.take_message(assembler, edit, "Ev111")
    [group] = assembler.due(now=math.inf)
    assert [i.text for i in group.items] == ["updated message"]


def test_in_a_day_a_thread_begun_earlier_is_quoted_once() -> None:
    t = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp()
    root = Item("C1:r", "C1", t - 86400, "can we drop ```legacy_mode = True``` before the release?", "U1")
    items = [
        Item("C1:a", "C1", t, "I think so", "U2", "C1:r"),
        Item("C1:b", "C1", t + 600, "standup in 5", "U1"),
        Item("C1:c", "C1", t + 3600, "done, dropped it", "U2", "C1:r"),
    ]
    text = render_group(Group(1, "C1", None, t, t + 3600, items), place="#dev", user_name=lambda u: USERS[u],
                        channel_name=lambda c: c, tz=UTC, roots={root.key: root}).text
    lines = text.split("\n")[1:]
    assert lines[0] == ("Bob (09:00, replying to Alice Mon 23 Nov 2026, 09:00: “can we drop ```legacy_mode = True``` "
                        "before the release?”): I think so")
    assert lines[2] == "Bob (10:00, replying to Alice Mon 23 Nov 2026, 09:00): done, dropped it"
    assert text.count("legacy_mode") == 1


def test_blocks_or_attachments_in_an_unknown_shape_never_lose_the_message() -> None:
    odd = {"user": "U1", "text": "the words", "attachments": [
        {"is_share": True, "channel_id": None, "text": ["not", "a string"]}, {"fields": [{"value": 7}]}],
           "files": [{"name": 42}], "room": {"created_by": ["U1"], "participant_history": "U2"}}
    found = item({"type": "message", "ts": "1700000000.000100", **odd})
    assert found.text.startswith("the words") and found.data["files"] == ["42"] and found.author == "U1"
    blocks_only = {"user": "U1", "text": "", "blocks": [{"type": "rich_text", "elements": [
        {"type": "rich_text_list", "offset": "x", "elements": [{"type": "rich_text_section", "elements": []}]}]}]}
    assert item({"type": "message", "ts": "1700000000.000200", **blocks_only}) is None  # nothing readable: not content
