"""The Matrix connector against a real Synapse on loopback (tests/synapse.py), through the real
daemon: rooms grouped into conversations, edits and redactions, a gap after downtime filled,
kill -9 with a group open, a refused token; bridged and encrypted rooms."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import bridge_env, run_cli, start_daemon, wait_until, write_config
from tests.synapse import Synapse, synapse_python
from tests.test_service import free_port

pytestmark = pytest.mark.slow

PYTHON = synapse_python()
if PYTHON is None:
    if os.environ.get("CI"):
        raise RuntimeError("Synapse is required under CI (.ci/run installs it into .synapse-venv)")
    pytest.skip("Synapse is not installed (python -m venv .synapse-venv && .synapse-venv/bin/pip install "
                "matrix-synapse)", allow_module_level=True)


@pytest.fixture(scope="module")
def synapse():
    root = Path(tempfile.mkdtemp(prefix="omi-bridge-synapse-"))
    server = Synapse(root, PYTHON)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def people(synapse, request):
    """A fresh pair for each test: the bridge's user (Alex) and someone who writes (Bob)."""
    n = request.node.name[-40:].replace("[", "").replace("]", "").lower()
    alex = f"alex{abs(hash(n)) % 10**8}"
    bob = f"bob{abs(hash(n)) % 10**8}"
    tokens = {"alex": synapse.register(alex, "alex-password-1"), "bob": synapse.register(bob, "bob-password-1")}
    ids = {"alex": f"@{alex}:localhost", "bob": f"@{bob}:localhost"}
    synapse.display_name(tokens["alex"], ids["alex"], "Alex")
    synapse.display_name(tokens["bob"], ids["bob"], "Bob")
    return tokens, ids


def room(synapse, people, name: str, state: list[dict] = ()) -> str:
    tokens, ids = people
    room_id = synapse.create_room(tokens["bob"], name, invite=[ids["alex"]], state=state)
    synapse.join(tokens["alex"], room_id)
    return room_id


def matrix_table(synapse, people, **options) -> str:
    tokens, ids = people
    settings = {"homeserver": synapse.url, "user_id": ids["alex"], "access_token": tokens["alex"],
                "quiet_period": 2, "sync_timeout": 1, "timezone": "UTC", **options}
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    return f'[connectors.chat]\ntype = "matrix"\n{lines}\n'


def synced(state: Path) -> bool:
    try:
        with sqlite3.connect(state) as conn:
            row = conn.execute("SELECT value FROM cursors WHERE connector = 'chat'").fetchone()
    except sqlite3.OperationalError:
        return False
    return row is not None and "next_batch" in (row[0] or "")


def items(state: Path) -> int:
    with sqlite3.connect(state) as conn:
        return conn.execute("SELECT count(*) FROM items WHERE connector = 'chat' AND NOT deleted").fetchone()[0]


def lines_of(fake) -> list[list[str]]:
    return [c["body"]["text"].split("\n") for c in fake.conversations]


def stop(daemon) -> None:
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(20) == 0


def start_synced(tmp_path: Path, synapse, people, fake_omi, **options) -> tuple[Path, Path, subprocess.Popen]:
    """The daemon on a new config, once it has synced: (config, its log, the process)."""
    config = write_config(tmp_path, fake_omi.url, connectors=matrix_table(synapse, people, **options))
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: synced(tmp_path / "state.db"), 30), log.read_text()[-3000:]
    except BaseException:
        stop(daemon)
        raise
    return config, log, daemon


def said(fake) -> list[str]:
    """Every line said, without who said it and when."""
    return [line.split(": ", 1)[1] for lines in lines_of(fake) for line in lines[1:]]


def test_two_rooms_become_conversations_with_edits_redactions_replies_and_bridged_names(
        tmp_path, synapse, people, fake_omi):
    tokens, ids = people
    family = room(synapse, people, "Family")
    club = room(synapse, people, "Book club", state=[{  # a room a mautrix bridge made
        "type": "m.bridge", "state_key": "whatsapp-club",
        "content": {"bridgebot": "@whatsappbot:localhost", "protocol": {"id": "whatsapp", "displayname": "WhatsApp"}}}])
    secret = room(synapse, people, "Diary", state=[{
        "type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
    config = write_config(tmp_path, fake_omi.url, connectors=matrix_table(synapse, people))
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: synced(tmp_path / "state.db"), 30), log.read_text()[-3000:]
        hello = synapse.send(tokens["bob"], family, "Lunch on Sunday?")
        synapse.send(tokens["alex"], family, {"msgtype": "m.text", "body": f"> <{ids['bob']}> Lunch on Sunday?\n\nYes!",
                                              "m.relates_to": {"m.in_reply_to": {"event_id": hello}}})
        typo = synapse.send(tokens["bob"], family, "I'll bring the cake at 1")
        synapse.send(tokens["bob"], family, {"msgtype": "m.text", "body": "* I'll bring the cake at 2",
                                             "m.new_content": {"msgtype": "m.text", "body": "I'll bring the cake at 2"},
                                             "m.relates_to": {"rel_type": "m.replace", "event_id": typo}})
        oops = synapse.send(tokens["bob"], family, "wrong chat, sorry")
        synapse.redact(tokens["bob"], family, oops)
        synapse.send(tokens["bob"], family, {"msgtype": "m.emote", "body": "waves"})
        synapse.send(tokens["bob"], family, {"msgtype": "m.text", "body": "(in a thread) 1pm is fine too",
                                             "m.relates_to": {"rel_type": "m.thread", "event_id": hello,
                                                              "is_falling_back": True,
                                                              "m.in_reply_to": {"event_id": hello}}})
        synapse.send(tokens["bob"], club, "Chapter 3 by Friday")
        synapse.send(tokens["bob"], club, {"msgtype": "m.image", "body": "cover.jpg", "url": "mxc://localhost/x"})
        synapse.send(tokens["bob"], secret, {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEn...",
                                             "sender_key": "x", "session_id": "y", "device_id": "D"},
                     kind="m.room.encrypted")
        assert wait_until(lambda: len(fake_omi.conversations) == 2, 30), log.read_text()[-3000:]
        time.sleep(3)  # and no more: not the encrypted room, not a message twice
        assert len(fake_omi.conversations) == 2
    finally:
        stop(daemon)
    texts = {lines[0].split(",")[0]: lines for lines in lines_of(fake_omi)}
    family_lines = texts["Matrix room “Family”"]
    assert [line.split(": ", 1)[1] for line in family_lines[1:]] == [
        "Lunch on Sunday?", "Yes!", "I'll bring the cake at 2", "* waves", "(in a thread) 1pm is fine too"]
    assert family_lines[1].startswith("Bob (") and family_lines[2].startswith("Alex (me, ")
    assert ", replying to Bob " in family_lines[2] and ", replying to Bob " in family_lines[5]
    club_lines = texts["WhatsApp room “Book club” (through Matrix)"]
    assert [line.split(": ", 1)[1] for line in club_lines[1:]] == ["Chapter 3 by Friday", "[photo]"]
    specs = {c["body"]["text"].split(",")[0]: c["body"]["text_source_spec"] for c in fake_omi.conversations}
    assert specs == {"Matrix room “Family”": "matrix", "WhatsApp room “Book club” (through Matrix)": "whatsapp"}
    status = run_cli("status", "-c", str(config))
    assert "end-to-end encrypted: omi-bridge cannot read this room" in status.stdout
    assert not any("wrong chat" in line for lines in lines_of(fake_omi) for line in lines)


def test_messages_sent_while_the_daemon_was_down_arrive_once_the_gap_filled(tmp_path, synapse, people, fake_omi):
    tokens, _ = people
    family = room(synapse, people, "Family")
    config = write_config(tmp_path, fake_omi.url, connectors=matrix_table(synapse, people))
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: synced(tmp_path / "state.db"), 30), log.read_text()[-3000:]
        synapse.send(tokens["bob"], family, "before the stop")
        assert wait_until(lambda: items(tmp_path / "state.db") == 1, 15)
    finally:
        stop(daemon)
    for n in range(30):  # more than a sync's timeline holds: it comes back "limited"
        synapse.send(tokens["bob"], family, f"while down {n}")
    # any member can send any JSON: a relation that is not an object stops nothing
    synapse.send(tokens["bob"], family, {"msgtype": "m.text", "body": "odd shape", "m.relates_to": "not an object"})
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: sum(len(lines) - 1 for lines in lines_of(fake_omi)) == 32, 40), \
            log.read_text()[-3000:]
        time.sleep(3)
    finally:
        stop(daemon)
    said = [line.split(": ", 1)[1] for lines in lines_of(fake_omi) for line in lines[1:]]
    assert sorted(said) == sorted(["before the stop", "odd shape", *(f"while down {n}" for n in range(30))])
    assert "read back to fill a gap" in log.read_text()


def test_kill_9_with_a_conversation_gathering_loses_nothing(tmp_path, synapse, people, fake_omi):
    tokens, _ = people
    family = room(synapse, people, "Family")
    config = write_config(tmp_path, fake_omi.url, connectors=matrix_table(synapse, people, quiet_period=60))
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: synced(tmp_path / "state.db"), 30), log.read_text()[-3000:]
        for n in range(3):
            synapse.send(tokens["bob"], family, f"gathering {n}")
        assert wait_until(lambda: items(tmp_path / "state.db") == 3, 15)
    finally:
        daemon.kill()  # kill -9 while the room's conversation is open
        daemon.wait(10)
    assert fake_omi.conversations == []
    config.write_text(config.read_text().replace("quiet_period = 60", "quiet_period = 2"))
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: len(fake_omi.conversations) == 1, 30), log.read_text()[-3000:]
        time.sleep(3)
    finally:
        stop(daemon)
    [lines] = lines_of(fake_omi)
    assert [line.split(": ", 1)[1] for line in lines[1:]] == ["gathering 0", "gathering 1", "gathering 2"]
    # closed by the restart's first poll, before its first sync: names as they were when taken
    assert lines[0].startswith("Matrix room “Family”") and all(line.startswith("Bob (") for line in lines[1:])


def test_a_refused_access_token_is_one_clear_failing_line_and_check_says_it(tmp_path, synapse, people, fake_omi):
    config = write_config(tmp_path, fake_omi.url, connectors=matrix_table(
        synapse, people, access_token="syt_not_a_real_token_123") + (
        '[connectors.drop]\ntype = "spool"\npath = "spool"\npoll_interval = 0.5\nsettle_seconds = 0\n'))
    check = run_cli("check", "-c", str(config))
    assert "chat: FAILED: " in check.stdout and "refused the access token (M_UNKNOWN_TOKEN" in check.stdout
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: "refused the access token" in run_cli("status", "-c", str(config)).stdout, 30)
        (tmp_path / "spool").mkdir(exist_ok=True)
        (tmp_path / "spool" / "n.txt").write_text("the other sources go on")
        assert wait_until(lambda: len(fake_omi.conversations) == 1, 20)
        time.sleep(4)  # retries with backoff: still one line
    finally:
        stop(daemon)
    text = log.read_text()
    assert text.count("chat: source failing") == 1
    assert "syt_not_a_real_token_123" not in text + check.stdout


def test_login_by_password_keeps_a_token_in_the_state_directory_not_the_password(tmp_path, synapse, people, fake_omi):
    _, ids = people
    config = write_config(tmp_path, fake_omi.url, connectors=matrix_table(synapse, people).replace(
        f'access_token = "{people[0]["alex"]}"\n', ""))
    assert "no access token" in run_cli("check", "-c", str(config)).stdout
    done = subprocess.run([sys.executable, "-m", "bridge", "login", "chat", "-c", str(config)], env=bridge_env(),
                          input="alex-password-1\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"chat: signed in ({ids['alex']} on {synapse.url}" in done.stdout
    stored = json.loads((tmp_path / "state-tokens" / "chat.json").read_text())
    assert stored["access_token"] and "alex-password-1" not in json.dumps(stored) + done.stdout + done.stderr
    assert stored["access_token"] not in done.stdout + done.stderr
    assert run_cli("check", "-c", str(config)).stdout.count("chat: ok") == 1


def test_a_reply_to_an_emote_loses_its_fallback_and_image_captions_arrive(tmp_path, synapse, people, fake_omi):
    """The shapes Element and the mautrix bridges send: a reply quoting an emote ("> * <@bob> ..."),
    and spec v1.10 media whose body is a caption because filename is set and differs."""
    tokens, ids = people
    family = room(synapse, people, "Family")
    _, log, daemon = start_synced(tmp_path, synapse, people, fake_omi)
    try:
        waves = synapse.send(tokens["bob"], family, {"msgtype": "m.emote", "body": "waves at everyone"})
        synapse.send(tokens["alex"], family, {
            "msgtype": "m.text", "body": f"> * <{ids['bob']}> waves at everyone\n\nhi Bob!",
            "format": "org.matrix.custom.html",
            "formatted_body": f"<mx-reply><blockquote><a href=\"https://matrix.to/#/{family}/{waves}\">In reply to</a>"
                              f" * <a href=\"https://matrix.to/#/{ids['bob']}\">{ids['bob']}</a><br>waves at "
                              "everyone</blockquote></mx-reply>hi Bob!",
            "m.relates_to": {"m.in_reply_to": {"event_id": waves}}})
        synapse.send(tokens["bob"], family, {"msgtype": "m.image", "body": "The cake, finally!",
                                             "filename": "IMG_20250315_094107.jpg", "url": "mxc://localhost/a",
                                             "info": {"mimetype": "image/jpeg", "w": 800, "h": 600}})
        synapse.send(tokens["bob"], family, {"msgtype": "m.file", "body": "the recipe, as promised",
                                             "filename": "cake.pdf", "url": "mxc://localhost/b"})
        synapse.send(tokens["bob"], family, {"msgtype": "m.image", "body": "IMG_0002.jpg",
                                             "filename": "IMG_0002.jpg", "url": "mxc://localhost/c"})
        assert wait_until(lambda: len(fake_omi.conversations) == 1, 30), log.read_text()[-3000:]
    finally:
        stop(daemon)
    assert len(fake_omi.conversations) == 1 and said(fake_omi) == [
        "* waves at everyone", "hi Bob!", "[photo] The cake, finally!", "[file: cake.pdf] the recipe, as promised",
        "[photo]"]


def test_an_edit_by_someone_else_in_the_same_sync_as_the_original_is_not_applied(tmp_path, synapse, people, fake_omi):
    tokens, _ = people
    family = room(synapse, people, "Family")
    config, log, daemon = start_synced(tmp_path, synapse, people, fake_omi)
    stop(daemon)
    # while the bridge is away: its next sync brings the originals and their edits together
    cake = synapse.send(tokens["bob"], family, "I'll bring the cake at 1")
    synapse.send(tokens["bob"], family, {"msgtype": "m.text", "body": "* I'll bring the cake at 2",
                                         "m.new_content": {"msgtype": "m.text", "body": "I'll bring the cake at 2"},
                                         "m.relates_to": {"rel_type": "m.replace", "event_id": cake}})
    plan = synapse.send(tokens["bob"], family, "Let's meet at the station")
    synapse.send(tokens["alex"], family, {"msgtype": "m.text", "body": "* Bob is not coming",
                                          "m.new_content": {"msgtype": "m.text", "body": "Bob is not coming"},
                                          "m.relates_to": {"rel_type": "m.replace", "event_id": plan}})
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: len(fake_omi.conversations) == 1, 30), log.read_text()[-3000:]
    finally:
        stop(daemon)
    assert said(fake_omi) == ["I'll bring the cake at 2", "Let's meet at the station"]


def test_a_room_joined_while_the_daemon_was_down_is_read_back_to_the_join(tmp_path, synapse, people, fake_omi):
    tokens, ids = people
    config, log, daemon = start_synced(tmp_path, synapse, people, fake_omi)
    stop(daemon)
    trip = synapse.create_room(tokens["bob"], "Trip")
    synapse.send(tokens["bob"], trip, "before Alex came")  # the room's past: not Alex's to send
    synapse.call(tokens["bob"], "POST", f"/rooms/{quote(trip)}/invite", {"user_id": ids["alex"]})
    synapse.join(tokens["alex"], trip)
    for n in range(30):  # more than a sync's timeline holds
        synapse.send(tokens["bob"], trip, f"plan {n}")
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: len(said(fake_omi)) >= 30, 40), log.read_text()[-3000:]
        time.sleep(3)
    finally:
        stop(daemon)
    assert said(fake_omi) == [f"plan {n}" for n in range(30)]


def test_a_homeserver_outage_is_one_failing_line_then_one_recovered_line_and_nothing_lost(
        tmp_path, synapse, people, fake_omi):
    """Last in the module: it stops and starts the module's Synapse."""
    tokens, _ = people
    family = room(synapse, people, "Family")
    config = write_config(tmp_path, fake_omi.url, connectors=matrix_table(synapse, people, poll_interval=1))
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: synced(tmp_path / "state.db"), 30), log.read_text()[-3000:]
        synapse.stop()
        assert wait_until(lambda: "chat: source failing" in log.read_text(), 30), log.read_text()[-3000:]
        time.sleep(3)  # retries meanwhile, with backoff: no more lines
        synapse.start()
        synapse.send(tokens["bob"], family, "back again")
        assert wait_until(lambda: len(fake_omi.conversations) == 1, 60), log.read_text()[-3000:]
        assert wait_until(lambda: "chat: source recovered" in log.read_text(), 30)
    finally:
        stop(daemon)
    text = log.read_text()
    assert text.count("chat: source failing") == 1 and text.count("chat: source recovered") == 1
    assert lines_of(fake_omi)[0][1].endswith(": back again")


def test_the_console_signs_a_source_in_by_password_and_keeps_only_the_token(tmp_path, synapse, people, fake_omi):
    """The Sign in page's password form, in a real browser: the token kept where login keeps it,
    the password nowhere (not the token file, the page, the log), the source syncing again."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the console's browser test needs Playwright")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    tokens, ids = people
    chat = room(synapse, people, "Signing in")
    port = free_port()
    config = write_config(tmp_path, fake_omi.url, listen=f"127.0.0.1:{port}", connectors=matrix_table(
        synapse, people).replace(f'access_token = "{tokens["alex"]}"\n', ""))
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: "no access token" in run_cli("status", "-c", str(config)).stdout, 30)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(run_cli("console", "-c", str(config)).stdout.split()[-1])
            page.goto(f"http://127.0.0.1:{port}/signin")
            page.get_by_label(f"Password for {ids['alex']}").fill("alex-password-1")
            page.get_by_role("button", name="Log chat in").click()
            sync_api.expect(page.get_by_role("status")).to_contain_text(
                f"chat: signed in ({ids['alex']} on {synapse.url}", timeout=30000)
            html = page.content()
            browser.close()
        stored = json.loads((tmp_path / "state-tokens" / "chat.json").read_text())
        assert stored["user_id"] == ids["alex"] and stored["access_token"] not in html
        assert wait_until(lambda: synced(tmp_path / "state.db"), 30), log.read_text()[-3000:]  # no restart
        synapse.send(tokens["bob"], chat, "Lunch at noon on Friday?")
        assert wait_until(lambda: "Lunch at noon on Friday?" in " ".join(said(fake_omi)), 30)
    finally:
        stop(daemon)
    everything = html + log.read_text() + "".join(p.read_text() for p in (tmp_path / "state-tokens").iterdir()
                                                  if p.suffix == ".json")
    assert "alex-password-1" not in everything
