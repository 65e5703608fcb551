"""The Slack connector end to end: the real daemon and slack-bolt app against a local fake Slack
(Web API + Socket Mode websocket) and the fake Omi, or signed Events API requests posted to the
daemon's own HTTP listener."""

from __future__ import annotations

import itertools
import json
import signal
import socket
import sqlite3
import subprocess
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import listen_on, run_cli, start_daemon, wait_until, write_config
from tests.fake_omi import FakeOmi
from tests.fake_slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack

GENERAL, RANDOM = "C0GENERAL1", "C0RANDOM22"
ALICE, BOB, CAROL = "U1ALICE", "U2BOB", "U3CAROL"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slack_config(folder: Path, omi: FakeOmi, slack: FakeSlack, *, mode: str = "socket", listen: str | None = None,
                 **options: object) -> Path:
    settings = {"quiet_period": 3, "max_span": 600, "poll_interval": 0.3, "timezone": "UTC",
                "liveness_timeout": 4, "channels": ["#general", RANDOM], **options}
    lines = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    tokens = f'app_token = "{APP_TOKEN}"\n' if mode == "socket" else f'signing_secret = "{SIGNING_SECRET}"\n'
    connectors = (
        f'[connectors.team]\ntype = "slack"\nmode = "{mode}"\nbot_token = "{BOT_TOKEN}"\n{tokens}'
        f'api_url = "{slack.api_url}"\n{lines}'
    )
    config = write_config(folder, omi.url, connectors=connectors)
    if listen:
        listen_on(config, listen)
    return config


def stop(daemon: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    daemon.send_signal(sig)
    return daemon.wait(30)


def conversation_lines(omi: FakeOmi) -> list[list[str]]:
    """Each conversation's message lines (the header line dropped), in arrival order."""
    return [text.split("\n")[1:] for text in omi.texts()]


def said(lines: list[list[str]]) -> list[str]:
    """Just the words of every line of every conversation, without 'Name (HH:MM): '."""
    return [line.split("): ", 1)[1] for conv in lines for line in conv
            if "): " in line and not line.startswith("In reply to ")]


def assert_clean_log(log: Path) -> None:
    text = log.read_text()
    for secret in (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET):
        assert secret not in text
    assert "Traceback" not in text


def connected(slack: FakeSlack, count: int = 1) -> bool:
    # connected, and the first reconcile (users.conversations/history calls) has had its turn
    return wait_until(lambda: slack.connections >= count, 20) and wait_until(
        lambda: any(m == "conversations.list" for _, m, _, _ in slack.calls), 10)


def test_a_thread_with_a_retried_event_and_an_edit_is_one_conversation(tmp_path, fake_omi, fake_slack) -> None:
    config = slack_config(tmp_path, fake_omi, fake_slack)
    log = tmp_path / "log"
    daemon = start_daemon(config, log)
    try:
        assert connected(fake_slack)
        root, _ = fake_slack.say(GENERAL, ALICE, "Release at 3? cc <@U2BOB> *today*")
        fake_slack.say(GENERAL, BOB, "fine by me", thread_ts=root)
        ts3, event3 = fake_slack.say(GENERAL, CAROL, "I'll write the notse", thread_ts=root)
        assert fake_slack.deliver(fake_slack.payloads[event3], retry_attempt=1)  # Slack resends it
        fake_slack.say(GENERAL, BOB, "need <#C0RANDOM22> too? &lt;3", thread_ts=root)
        fake_slack.edit(GENERAL, ts3, "I'll write the notes")
        fake_slack.say(GENERAL, ALICE, "done, see <https://example.com/notes|the notes>", thread_ts=root)
        assert len(fake_slack.acked) == 7  # every event acknowledged, the retry and the edit included
        assert wait_until(lambda: len(fake_omi.texts()) == 1, 20)
        time.sleep(1)
    finally:
        assert stop(daemon) == 0
    [text] = fake_omi.texts()
    lines = text.split("\n")
    assert lines[0].startswith("#general on Slack, ")
    hhmm = time.strftime("%H:%M", time.gmtime(float(root)))
    assert [line.replace(hhmm, "HH:MM") for line in lines[1:]] == [
        "Alice (HH:MM): Release at 3? cc @Bob Builder today",
        "Bob Builder (HH:MM): fine by me",
        "carol.c (HH:MM): I'll write the notes",
        "Bob Builder (HH:MM): need #random too? <3",
        "Alice (HH:MM): done, see the notes (https://example.com/notes)",
    ]
    assert fake_omi.violations == []
    [conversation] = fake_omi.conversations
    body = conversation["body"]
    assert body["text_source"] == "message" and body["text_source_spec"] == "slack"
    assert conversation["started_at"].timestamp() == pytest.approx(float(root), abs=1e-3)
    assert_clean_log(log)


def test_a_group_closes_at_its_own_deadline_not_at_the_next_poll(tmp_path, fake_omi, fake_slack) -> None:
    # quiet_period 2 s, poll_interval 60 s: waiting for the poll would send it up to a minute late
    config = slack_config(tmp_path, fake_omi, fake_slack, quiet_period=2, poll_interval=60)
    daemon = start_daemon(config, tmp_path / "log")
    try:
        assert connected(fake_slack)
        time.sleep(1)  # the first poll (at start) is over: only the deadline can close the group
        first, _ = fake_slack.say(GENERAL, ALICE, "is the build green?")
        time.sleep(1)
        last, _ = fake_slack.say(GENERAL, BOB, "yes, since 10:02")
        deadline = float(last) + 2
        assert wait_until(lambda: len(fake_omi.texts()) == 1, 10)
        arrived = next(at for at, method, path, _ in fake_omi.requests
                       if method == "POST" and path.endswith("/conversations"))
        assert arrived - deadline < 3, f"arrived {arrived - deadline:.1f}s after its deadline"
    finally:
        assert stop(daemon) == 0
    assert said(conversation_lines(fake_omi)) == ["is the build green?", "yes, since 10:02"]
    assert float(first) < deadline


def test_channels_group_apart_and_unwanted_messages_stay_out(tmp_path, fake_omi, fake_slack) -> None:
    config = slack_config(tmp_path, fake_omi, fake_slack)
    log = tmp_path / "log"
    daemon = start_daemon(config, log)
    try:
        assert connected(fake_slack)
        fake_slack.say(GENERAL, ALICE, "in general")
        fake_slack.say(RANDOM, BOB, "in random")
        fake_slack.say("C0SECRET33", CAROL, "not a configured channel")
        fake_slack.say(GENERAL, CAROL, "", subtype="channel_join")
        fake_slack.say(GENERAL, "", "build passed", subtype="bot_message", bot_id="B9", username="CI")
        gone, _ = fake_slack.say(GENERAL, BOB, "oops, wrong channel")
        fake_slack.deliver(fake_slack.event_payload({
            "type": "message", "subtype": "message_deleted", "channel": GENERAL, "channel_type": "channel",
            "deleted_ts": gone, "ts": fake_slack.next_ts(), "hidden": True}, "EvDelete1"))
        assert wait_until(lambda: len(fake_omi.texts()) == 2, 20)
        time.sleep(1)
    finally:
        assert stop(daemon) == 0
    assert sorted(said(conversation_lines(fake_omi))) == ["in general", "in random"]


def test_http_mode_verifies_signatures_and_dedupes_retries(tmp_path, fake_omi, fake_slack) -> None:
    port = free_port()
    config = slack_config(tmp_path, fake_omi, fake_slack, mode="http", listen=f"127.0.0.1:{port}")
    log = tmp_path / "log"
    daemon = start_daemon(config, log)
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        assert wait_until(lambda: _listening(port), 20)
        ts, event_id = fake_slack.say(GENERAL, ALICE, "over http", deliver=False)
        payload = fake_slack.event_payload({"type": "message", "channel": GENERAL, "channel_type": "channel",
                                            "user": ALICE, "text": "over http", "ts": ts, "event_ts": ts}, event_id)

        body, headers = fake_slack.signed_request(payload, secret="not-the-secret")
        # 404 until the connector's route exists, 503 while it resolves its channels, then 401
        assert wait_until(lambda: httpx.post(url, content=body, headers=headers).status_code == 401, 20)
        body, headers = fake_slack.signed_request(payload, age=600)  # replayed after 10 minutes
        assert httpx.post(url, content=body, headers=headers).status_code == 401
        body, headers = fake_slack.signed_request(payload)
        assert httpx.post(url, content=body, headers={**headers, "X-Slack-Signature": "v0=" + "0" * 64}
                          ).status_code == 401
        time.sleep(4)  # past the quiet period: a forged event would have been sent by now
        assert fake_omi.texts() == []

        assert httpx.post(url, content=body, headers=headers).status_code == 200
        body, headers = fake_slack.signed_request(payload, retry_num=1)
        assert httpx.post(url, content=body, headers=headers).status_code == 200
        challenge, headers = fake_slack.signed_request({"type": "url_verification", "challenge": "abc123",
                                                        "token": "x"})
        answer = httpx.post(url, content=challenge, headers=headers)
        assert answer.status_code == 200 and "abc123" in answer.text
        assert wait_until(lambda: len(fake_omi.texts()) == 1, 20)
        time.sleep(4)
    finally:
        assert stop(daemon) == 0
    assert said(conversation_lines(fake_omi)) == ["over http"]
    assert_clean_log(log)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_a_crash_with_an_open_group_loses_nothing_and_sends_it_once(tmp_path, fake_omi, fake_slack) -> None:
    config = slack_config(tmp_path, fake_omi, fake_slack, quiet_period=12)  # longer than a restart
    log = tmp_path / "log"
    daemon = start_daemon(config, log)
    try:
        assert connected(fake_slack)
        root, _ = fake_slack.say(GENERAL, ALICE, "one")
        fake_slack.say(GENERAL, BOB, "two", thread_ts=root)
        fake_slack.say(GENERAL, CAROL, "three")
        assert len(fake_slack.acked) == 3
    finally:
        stop(daemon, signal.SIGKILL)  # acknowledged, not yet sent: it must be in the store
    daemon = start_daemon(config, log)
    try:
        assert connected(fake_slack, 2)
        fake_slack.say(GENERAL, BOB, "four", thread_ts=root)
        fake_slack.say(GENERAL, ALICE, "five")
        assert wait_until(lambda: len(fake_omi.texts()) == 1, 30)
        time.sleep(2)
    finally:
        assert stop(daemon) == 0
    assert said(conversation_lines(fake_omi)) == ["one", "two", "three", "four", "five"]


def test_messages_said_while_the_daemon_was_down_come_from_history(tmp_path, fake_omi, fake_slack) -> None:
    fake_slack.say(GENERAL, ALICE, "before the bridge ever ran", deliver=False)
    config = slack_config(tmp_path, fake_omi, fake_slack, quiet_period=2)
    log = tmp_path / "log"
    daemon = start_daemon(config, log)
    try:
        assert connected(fake_slack)
        root, _ = fake_slack.say(GENERAL, ALICE, "live before the outage")
        assert wait_until(lambda: len(fake_omi.texts()) == 1, 20)
    finally:
        assert stop(daemon) == 0
    # while it is down: a new burst in #general, a reply to the thread seen before, and a 429 waiting
    for n in range(5):
        fake_slack.say(GENERAL, [BOB, CAROL][n % 2], f"missed {n}", deliver=False)
    fake_slack.say(GENERAL, CAROL, "missed reply", thread_ts=root, deliver=False)
    fake_slack.say(RANDOM, BOB, "missed in random", deliver=False)
    fake_slack.rate_limits["conversations.history"] = [2]
    daemon = start_daemon(config, log)
    try:
        assert connected(fake_slack, 2)
        assert wait_until(lambda: len(said(conversation_lines(fake_omi))) >= 7, 40)
        time.sleep(3)
    finally:
        assert stop(daemon) == 0
    words = said(conversation_lines(fake_omi))
    assert sorted(words) == sorted(["live before the outage", *(f"missed {n}" for n in range(5)),
                                    "missed in random"])
    # the reply to a thread already sent waits in the thread's follow-up of the day, sent at midnight
    with sqlite3.connect(tmp_path / "state.db") as conn:
        [(at, state, ends_at)] = conn.execute("SELECT i.at, g.state, g.ends_at FROM items i JOIN groups g"
                                              " ON g.id = i.group_id WHERE i.text = 'missed reply'")
    day = datetime.fromtimestamp(at, UTC).date()
    midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    assert state == "open" and ends_at == midnight.timestamp()
    history = fake_slack.calls_of("conversations.history")
    limited = [t for t, _, status in history if status == 429]
    assert len(limited) == 1
    after = [t for t, _, status in history if t > limited[0]]
    assert after and after[0] - limited[0] >= 1.9  # Retry-After: 2 was waited out
    assert fake_omi.violations == []


def test_history_pacing_is_configurable_down_to_a_few_requests_a_minute(tmp_path, fake_omi, fake_slack) -> None:
    config = slack_config(tmp_path, fake_omi, fake_slack, channels=["#general"], history_page_size=2,
                          history_requests_per_minute=20)
    log = tmp_path / "log"
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0  # first sight: from now on
    for n in range(5):
        fake_slack.say(GENERAL, ALICE, f"page item {n}", deliver=False)
    result = run_cli("run", "--once", "-c", str(config))
    assert result.returncode == 0, result.stderr
    history = [t for t, params, _ in fake_slack.calls_of("conversations.history")]
    assert len(history) == 3  # 5 messages, 2 per page
    # 20/minute = one per 3 s (times are taken at the answers, so allow for latency differences)
    assert all(b - a >= 2.5 for a, b in itertools.pairwise(history))
    assert wait_until(lambda: len(fake_omi.texts()) == 1, 5)
    assert said(conversation_lines(fake_omi)) == [f"page item {n}" for n in range(5)]
    del log


def test_a_socket_that_goes_deaf_is_replaced_and_the_gap_read_from_history(tmp_path, fake_omi, fake_slack) -> None:
    config = slack_config(tmp_path, fake_omi, fake_slack, liveness_timeout=3, quiet_period=2)
    log = tmp_path / "log"
    daemon = start_daemon(config, log)
    try:
        assert connected(fake_slack)
        fake_slack.freeze()  # the socket stays open; no pong, no event
        fake_slack.say(GENERAL, ALICE, "said into the void", deliver=False)
        assert wait_until(lambda: fake_slack.connections >= 2, 20)
        fake_slack.say(GENERAL, BOB, "after the reconnect")
        assert wait_until(lambda: len(said(conversation_lines(fake_omi))) == 2, 20)
        time.sleep(1)
    finally:
        assert stop(daemon) == 0
    assert sorted(said(conversation_lines(fake_omi))) == ["after the reconnect", "said into the void"]


EXPORT_T = 1_793_000_000  # 2026-10-26


def write_export(path: Path) -> None:
    day = "2026-11-02"
    t = EXPORT_T
    general = [
        {"type": "message", "user": ALICE, "text": "standup?", "ts": f"{t}.000100"},
        {"type": "message", "user": BOB, "text": "on my way", "ts": f"{t + 60}.000200",
         "thread_ts": f"{t}.000100"},
        {"type": "message", "subtype": "channel_join", "user": CAROL, "text": "<@U3CAROL> has joined",
         "ts": f"{t + 90}.000000"},
        {"type": "message", "user": CAROL, "text": "lunch later, <@U1ALICE>?", "ts": f"{t + 7200}.000300"},
    ]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("users.json", json.dumps([
            {"id": ALICE, "name": "alice", "profile": {"display_name": "Alice"}},
            {"id": BOB, "name": "bob", "profile": {"real_name": "Bob Builder"}},
            {"id": CAROL, "name": "carol", "profile": {}},
        ]))
        archive.writestr("channels.json", json.dumps([{"id": GENERAL, "name": "general"},
                                                      {"id": RANDOM, "name": "random"}]))
        archive.writestr(f"general/{day}.json", json.dumps(general))
        archive.writestr(f"random/{day}.json", "{not json")


@pytest.mark.parametrize("group", ["day", "burst"])
def test_a_slack_export_is_imported_through_the_same_assembler_once(tmp_path, fake_omi, group) -> None:
    write_export(tmp_path / "export.zip")
    option = "" if group == "day" else 'group = "burst"\n'
    connectors = ('[connectors.archive]\ntype = "slack-export"\npath = "export.zip"\n'
                  f'timezone = "UTC"\nquiet_period = 600\n{option}')
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    result = run_cli("run", "--once", "-c", str(config))
    assert result.returncode == 0, result.stderr
    def hhmm(seconds: int) -> str:
        return time.strftime("%H:%M", time.gmtime(EXPORT_T + seconds))

    lines = [f"Alice ({hhmm(0)}): standup?", f"Bob Builder ({hhmm(60)}): on my way",
             f"carol ({hhmm(7200)}): lunch later, @Alice?"]
    if group == "day":  # the default: the channel's day is one conversation
        assert conversation_lines(fake_omi) == [lines]
    else:  # as live delivery: two hours later is a conversation of its own
        assert sorted(conversation_lines(fake_omi)) == [lines[:2], lines[2:]]
    status = run_cli("status", "-c", str(config), "--json")
    assert "random/2026-11-02.json" in status.stdout  # the broken day file is recorded as skipped
    sent = len(fake_omi.texts())
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    (tmp_path / "export.zip").write_bytes((tmp_path / "export.zip").read_bytes() + b"\0")  # a "newer" export
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert len(fake_omi.texts()) == sent  # imported twice and again as a new file: nothing sent twice


def test_config_problems_are_one_line_each(tmp_path, fake_omi, fake_slack) -> None:
    config = slack_config(tmp_path, fake_omi, fake_slack, mode="http")  # http mode, no [http] listen
    result = run_cli("check", "-c", str(config))
    assert result.returncode == 2
    assert 'connectors.team.mode: "http" needs the daemon\'s listener: set [http] listen' in result.stderr
    text = config.read_text().replace('mode = "http"', 'mode = "socket"')
    config.write_text(text)
    result = run_cli("check", "-c", str(config))
    assert result.returncode == 2 and "socket mode needs app_token" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_reaches_slack_and_names_a_refused_token(tmp_path, fake_omi, fake_slack) -> None:
    config = slack_config(tmp_path, fake_omi, fake_slack)
    result = run_cli("check", "-c", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Test Team as @omibot (socket mode), 2 channel(s)" in result.stdout
    config.write_text(config.read_text().replace(BOT_TOKEN, "xoxb-revoked"))
    result = run_cli("check", "-c", str(config))
    assert result.returncode == 1
    assert "Slack refused the token: invalid_auth" in result.stdout + result.stderr
    assert "xoxb-revoked" not in result.stdout + result.stderr


def test_names_follow_user_change_and_channel_rename(tmp_path, fake_omi, fake_slack) -> None:
    config = slack_config(tmp_path, fake_omi, fake_slack, quiet_period=4)
    log = tmp_path / "log"
    daemon = start_daemon(config, log)
    try:
        assert connected(fake_slack)
        fake_slack.say(RANDOM, BOB, "first")
        status = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)
        assert [c["waiting"] for c in status["connectors"]] == [1]  # held in an open group, not lost
        assert wait_until(lambda: len(fake_omi.texts()) == 1, 20)
        fake_slack.deliver(fake_slack.event_payload({"type": "user_change", "user": {
            "id": BOB, "name": "bob", "profile": {"display_name": "Robert"}}}, "EvUser1"))
        fake_slack.deliver(fake_slack.event_payload({"type": "channel_rename", "channel": {
            "id": RANDOM, "name": "random-talk", "created": 1}}, "EvRename1"))
        assert fake_slack.deliver(fake_slack.event_payload({"type": "reaction_added", "user": ALICE,
                                                            "reaction": "tada"}, "EvReaction1"))
        fake_slack.say(RANDOM, BOB, "second")
        assert wait_until(lambda: len(fake_omi.texts()) == 2, 20)
        # someone joins #general (configured by name): its messages must still count
        assert fake_slack.deliver(fake_slack.event_payload({"type": "member_joined_channel", "user": CAROL,
                                                            "channel": GENERAL, "channel_type": "C"}, "EvJoin1"))
        fake_slack.say(GENERAL, CAROL, "third, after a join")
        assert wait_until(lambda: len(fake_omi.texts()) == 3, 20)
    finally:
        assert stop(daemon) == 0
    first, second, third = fake_omi.texts()
    assert first.startswith("#random on Slack") and "\nBob Builder (" in first
    assert second.startswith("#random-talk on Slack") and "\nRobert (" in second
    assert third.startswith("#general on Slack") and "third, after a join" in third
    assert len(fake_slack.acked) == 7  # events the bridge does not use are acknowledged too


def test_a_refused_app_token_fails_this_source_only_and_says_so_once(tmp_path, fake_omi, fake_slack) -> None:
    config = slack_config(tmp_path, fake_omi, fake_slack)
    text = config.read_text().replace(APP_TOKEN, "xapp-revoked")
    spool = '\n[connectors.drop]\ntype = "spool"\npath = "spool"\npoll_interval = 0.5\nsettle_seconds = 0\n'
    config.write_text(text + spool)
    log = tmp_path / "log"
    daemon = start_daemon(config, log)
    try:
        (tmp_path / "spool").mkdir()
        (tmp_path / "spool" / "n.txt").write_text("the spool goes on")
        assert wait_until(lambda: fake_omi.texts() == ["the spool goes on"], 20)
        time.sleep(4)  # several polls and serve retries
        status = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)
    finally:
        assert stop(daemon) == 0
    team = next(c for c in status["connectors"] if c["name"] == "team")
    assert team["state"] == "failing" and "invalid_auth" in team["last_error"]
    lines = log.read_text().splitlines()
    failing = [line for line in lines if "team: source failing" in line]
    assert len(failing) == 1 and "Slack refused the token: invalid_auth" in failing[0]
    assert not [line for line in lines if "team: source recovered" in line]  # no flapping
    assert "xapp-revoked" not in log.read_text()
