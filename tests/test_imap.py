"""The IMAP connector against a real Dovecot on loopback, through the real CLI and daemon."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import sqlite3
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import dovecot as dv
from tests.conftest import run_cli, start_daemon, wait_until, write_config
from tests.data.mail.make_corpus import EXPECTED

pytestmark = pytest.mark.slow
CORPUS = Path(__file__).parent / "data" / "mail"

if not dv.available():
    if os.environ.get("CI"):
        raise RuntimeError("Dovecot (Debian package dovecot-imapd) is required under CI")
    pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)", allow_module_level=True)


@pytest.fixture
def server():
    # not under pytest's tmp dirs: they are private to root, and Dovecot's workers are not root
    root = Path(tempfile.mkdtemp(prefix="omi-bridge-dovecot-"))
    server = dv.Dovecot(root)
    server.add_user("alice", "alice-pw-123")
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def mail(n: int, when: datetime, subject: str | None = None, mid: str | None = None) -> bytes:
    return (
        f"From: Carol <carol@example.net>\nTo: alice@example.com\nSubject: {subject or f'message {n}'}\n"
        f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\nMessage-ID: <{mid or f'm{n}@example.net'}>\n"
        f"Content-Type: text/plain; charset=utf-8\n\nBody of message {n}.\n"
    ).encode()


def imap_table(server, name: str = "mail", **options) -> str:
    settings = {"host": "127.0.0.1", "port": server.port, "security": "none", "username": "alice",
                "password": "alice-pw-123", "poll_interval": 300, "idle": False, **options}
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    return f'[connectors.{name}]\ntype = "imap"\n{lines}\n'


def bodies(fake) -> list[str]:
    """Each mail's body: what follows its header block (one conversation per mail, or a thread's)."""
    return [body for t in fake.texts() for body in re.split(r"(?m)^Date: .*\n\n", t)[1:]]


NOW = datetime.now(UTC).replace(microsecond=0)


def test_backfill_since_then_only_new_mail_and_nothing_marked_seen(tmp_path, server, fake_omi):
    server.append("alice", mail(1, NOW - timedelta(days=30)), when=NOW - timedelta(days=30))
    server.append("alice", mail(2, NOW - timedelta(days=2)), when=NOW - timedelta(days=2))
    server.append("alice", mail(3, NOW - timedelta(days=1)), when=NOW - timedelta(days=1))
    since = (NOW - timedelta(days=7)).date().isoformat()
    config = write_config(tmp_path, fake_omi.url, connectors=imap_table(server, since=since))

    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert sorted(bodies(fake_omi)) == ["Body of message 2.", "Body of message 3."]
    body = fake_omi.conversations[0]["body"]
    assert body["text_source"] == "message" and body["text_source_spec"] == "email"
    assert body["started_at"].startswith((NOW - timedelta(days=2)).date().isoformat()) or \
        body["started_at"].startswith((NOW - timedelta(days=1)).date().isoformat())

    server.append("alice", mail(4, NOW), when=NOW)
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert Counter(bodies(fake_omi)) == Counter(f"Body of message {n}." for n in (2, 3, 4))
    assert all(b"\\Seen" not in flags for flags in server.seen_flags("alice").values())


def test_first_start_without_since_sends_only_mail_arriving_afterwards(tmp_path, server, fake_omi):
    server.append("alice", mail(1, NOW - timedelta(hours=1)))
    config = write_config(tmp_path, fake_omi.url, connectors=imap_table(server))
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert fake_omi.texts() == []
    server.append("alice", mail(2, NOW))
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert bodies(fake_omi) == ["Body of message 2."]


def test_same_message_in_two_folders_is_sent_once(tmp_path, server, fake_omi):
    shared = mail(1, NOW, mid="shared@example.net")
    server.append("alice", shared)
    server.append("alice", shared, folder="Archive")
    server.append("alice", mail(2, NOW), folder="Archive")
    since = (NOW - timedelta(days=1)).date().isoformat()
    config = write_config(tmp_path, fake_omi.url,
                          connectors=imap_table(server, folders=["INBOX", "Archive"], since=since))
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert Counter(bodies(fake_omi)) == Counter(["Body of message 1.", "Body of message 2."])


def test_uidvalidity_change_rereads_the_folder_without_sending_twice(tmp_path, server, fake_omi):
    config = write_config(tmp_path, fake_omi.url, connectors=imap_table(server))
    first = run_cli("run", "--once", "-c", str(config), "--log-level", "DEBUG")
    assert first.returncode == 0  # first start: cursor at the top
    server.append("alice", mail(1, NOW))
    server.append("alice", mail(2, NOW))
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert len(fake_omi.texts()) == 2

    server.set_uid_validity("alice", "INBOX", 4242)
    # message 3 arrives in the very second the connector first started (INTERNALDATE has whole
    # seconds; a test run that fast once lost it)
    started = json.loads(sqlite3.connect(tmp_path / "state.db").execute(
        "SELECT value FROM cursors WHERE connector = 'mail'").fetchone()[0])["started"]
    server.append("alice", mail(3, NOW), when=datetime.fromtimestamp(math.floor(started), UTC))
    result = run_cli("run", "--once", "-c", str(config), "--log-level", "DEBUG")
    assert result.returncode == 0
    assert "changed UIDVALIDITY" in result.stderr
    assert Counter(bodies(fake_omi)) == Counter(f"Body of message {n}." for n in (1, 2, 3)), (
        first.stderr + result.stdout + result.stderr)

    server.append("alice", mail(4, NOW))  # and it goes on from the new top
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert len(fake_omi.texts()) == 4


def test_wrong_password_is_one_clear_error_and_other_sources_go_on(tmp_path, server, fake_omi):
    # an iCloud preset (pointed at the loopback server): its refusal names where app passwords are made
    connectors = imap_table(server, name="work", password="not-the-password-987", provider="icloud",
                            folders=["INBOX"]) + (
        '[connectors.drop]\ntype = "spool"\npath = "spool"\nsettle_seconds = 0\n')
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    (tmp_path / "spool").mkdir()
    (tmp_path / "spool" / "n.txt").write_text("the spool still works")
    result = run_cli("run", "--once", "-c", str(config))
    assert result.returncode == 1  # a source failed: a script running --once must know
    assert "source work failed: see omi-bridge status" in result.stderr
    assert fake_omi.texts() == ["the spool still works"]
    errors = [line for line in result.stderr.splitlines() if "work: source failing" in line]
    assert len(errors) == 1 and "refused the login for alice" in errors[0]
    assert "iCloud Mail takes an app password, not your account's: https://account.apple.com" in errors[0]
    status = run_cli("status", "-c", str(config))
    assert "failing" in status.stdout
    check = run_cli("check", "-c", str(config))
    assert check.returncode == 1 and "work: FAILED" in check.stdout and "App-Specific Passwords" in check.stdout
    for output in (result.stdout, result.stderr, status.stdout, check.stdout):
        assert "not-the-password-987" not in output


def test_idle_delivers_new_mail_in_seconds_and_survives_a_server_restart(tmp_path, server, fake_omi):
    config = write_config(tmp_path, fake_omi.url, connectors=imap_table(server, idle=True, poll_interval=600))
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: _cursor_set(tmp_path / "state.db"), 15)
        time.sleep(1.5)  # the IDLE connection is up; the timer poll is ten minutes away
        server.append("alice", mail(1, NOW))
        assert wait_until(lambda: len(fake_omi.texts()) == 1, 10), log.read_text()[-2000:]

        server.restart()
        server.append("alice", mail(2, NOW))
        assert wait_until(lambda: len(fake_omi.texts()) == 2, 20), log.read_text()[-2000:]
        assert daemon.poll() is None
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
    assert Counter(bodies(fake_omi)) == Counter(["Body of message 1.", "Body of message 2."])


def _cursor_set(state: Path) -> bool:
    if not state.exists():
        return False
    try:
        with sqlite3.connect(state) as conn:
            return conn.execute("SELECT count(*) FROM cursors").fetchone()[0] > 0
    except sqlite3.OperationalError:  # the daemon has not created its tables yet
        return False


def test_awkward_corpus_over_imap_each_delivered_or_skipped_with_reason(tmp_path, server, fake_omi):
    for name in sorted(EXPECTED):
        server.append("alice", (CORPUS / name).read_bytes(), when=NOW - timedelta(hours=1))
    since = (NOW - timedelta(days=1)).date().isoformat()
    # small chunks: count-bounded (3 messages) and byte-bounded (the 300 KB mail travels alone);
    # one conversation per mail, so each mail's text can be checked (threads: test_mail_threads.py)
    config = write_config(tmp_path, fake_omi.url, connectors=imap_table(
        server, since=since, reply_languages=["en", "de"], fetch_messages=3, fetch_bytes=4096, group="message"))
    result = run_cli("run", "--once", "-c", str(config), "--log-level", "DEBUG")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    status = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)
    with sqlite3.connect(tmp_path / "state.db") as conn:
        skipped = dict(conn.execute("SELECT ref, reason FROM skipped").fetchall())
    texts = fake_omi.texts()
    for name, expected in EXPECTED.items():
        if expected[0] == "sent":
            assert any(expected[1][0] in t for t in texts), name
        elif expected[0] == "skipped":
            assert any(reason.startswith(expected[1]) for reason in skipped.values()), name
    assert len([t for t in texts if t.startswith("[part ")]) == 3  # the huge body, in parts
    assert status["outbox"]["dead"] == 0 and fake_omi.violations == []


def test_two_mailboxes_side_by_side(tmp_path, server, fake_omi):
    server.add_user("bob", "bob-pw-456")
    since = (NOW - timedelta(days=1)).date().isoformat()
    server.append("alice", mail(1, NOW), when=NOW)
    server.append("bob", mail(2, NOW), when=NOW)
    connectors = imap_table(server, name="alice-mail", since=since) + imap_table(
        server, name="bob-mail", since=since, username="bob", password="bob-pw-456")
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert Counter(bodies(fake_omi)) == Counter(["Body of message 1.", "Body of message 2."])
    with sqlite3.connect(tmp_path / "state.db") as conn:
        assert sorted(r[0] for r in conn.execute("SELECT connector FROM outbox")) == ["alice-mail", "bob-mail"]


def test_thread_mode_joins_a_reply_within_the_quiet_period_and_starts_anew_after(tmp_path, server, fake_omi):
    def reply(n: int, refs: list[int]) -> bytes:
        head = mail(n, datetime.now(UTC), subject="Re: rollout" if refs else "rollout")
        references = " ".join(f"<m{r}@example.net>" for r in refs)
        return head.replace(b"Content-Type", f"References: {references}\nContent-Type".encode()) if refs else head

    # a quiet period with room for a slow run --once on a loaded machine
    config = write_config(tmp_path, fake_omi.url, connectors=imap_table(server, group="thread", quiet_period=6))
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0  # the first start: mail from now on
    server.append("alice", reply(1, []))
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    server.append("alice", reply(2, [1]))  # within the quiet period: the same conversation
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert fake_omi.texts() == []  # the thread is still talking
    time.sleep(6.5)
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    [first] = fake_omi.texts()
    assert first.startswith("Email thread: rollout (2 messages)")
    assert first.count("\nFrom: Carol") == 2 and first.index("message 1.") < first.index("message 2.")
    server.append("alice", reply(3, [1, 2]))  # after the quiet period: a conversation of its own
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    time.sleep(6.5)
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert len(fake_omi.texts()) == 2
    assert fake_omi.texts()[1].startswith("Subject: Re: rollout") and bodies(fake_omi)[-1] == "Body of message 3."


def raw_mail(mid: str, when: datetime, *, sender: str = "Carol <carol@example.net>", to: str = "alice@example.com",
             subject: str = "plans", refs: tuple[str, ...] = (), extra: str = "", body: str = "") -> bytes:
    references = f"References: {' '.join(f'<{r}>' for r in refs)}\nIn-Reply-To: <{refs[-1]}>\n" if refs else ""
    return (f"From: {sender}\nTo: {to}\nSubject: {subject}\nMessage-ID: <{mid}>\n{references}{extra}"
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\nContent-Type: text/plain; charset=utf-8\n\n"
            f"{body or f'Text of {mid}.'}\n").encode()


def test_backfill_replied_keeps_exactly_the_threads_i_wrote_in(tmp_path, server, fake_omi):
    day = NOW - timedelta(days=3)
    inbox = [
        raw_mail("a1@x", day, subject="offsite"),  # I answered this one
        raw_mail("a3@x", day + timedelta(hours=3), subject="Re: offsite", refs=("a1@x", "a2@alice")),  # after me
        raw_mail("b1@x", day + timedelta(hours=1), subject="webinar"),  # never answered
        raw_mail("c1@x", day - timedelta(days=1), subject="budget"),  # a branch of a thread I wrote in
        raw_mail("c2@x", day + timedelta(hours=2), subject="Re: budget", refs=("c1@x",)),
        # a thread I wrote in before `since` that goes on after it
        raw_mail("d2@x", day, subject="Re: lease", refs=("d1@alice",)),
    ]
    for raw in inbox:
        server.append("alice", raw, when=day)
    sent = [
        raw_mail("a2@alice", day + timedelta(hours=2), sender="Alice <alice@example.com>", to="carol@example.net",
                 subject="Re: offsite", refs=("a1@x",)),
        raw_mail("c9@alice", day + timedelta(hours=4), sender="Alice <alice@example.com>", to="carol@example.net",
                 subject="Re: budget", refs=("c1@x",)),
    ]
    for raw in sent:
        server.append("alice", raw, folder="Sent", when=day)
    server.append("alice", raw_mail("d1@alice", NOW - timedelta(days=30), sender="Alice <alice@example.com>",
                                    to="carol@example.net", subject="lease"),
                  folder="Sent", when=NOW - timedelta(days=30))
    since = (NOW - timedelta(days=7)).date().isoformat()
    config = write_config(tmp_path, fake_omi.url, connectors=imap_table(server, since=since, backfill="replied"))
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    said = " ".join(fake_omi.texts())
    for kept in ("a1@x", "a3@x", "c1@x", "c2@x", "d2@x"):
        assert f"Text of {kept}." in said, kept
    assert "b1@x" not in said
    with sqlite3.connect(tmp_path / "state.db") as conn:
        reasons = dict(conn.execute("SELECT source_key, reason FROM skipped").fetchall())
    assert reasons == {"mid:b1@x": 'backfill = "replied": a thread you did not write in'}
    # a thread of a day is one conversation: offsite's two mails of that day are one write
    assert any(t.startswith("Email thread: offsite (2 messages)") for t in fake_omi.texts())


def test_backfill_direct_and_exclusions_leave_out_what_is_not_for_me(tmp_path, server, fake_omi):
    day = NOW - timedelta(days=2)
    mails = {
        "to@x": raw_mail("to@x", day, subject="one"),
        "cc@x": raw_mail("cc@x", day, to="team@example.com", subject="two", extra="Cc: Alice <ALICE@example.com>\n"),
        "list@x": raw_mail("list@x", day, to="all-staff@example.com", subject="three"),
        "news@x": raw_mail("news@x", day, subject="four", extra="List-Id: <weekly.example.net>\n"),
        "shop@x": raw_mail("shop@x", day, sender="Shop <deals@mail.shop.example>", subject="five"),
    }
    for raw in mails.values():
        server.append("alice", raw, when=day)
    since = (NOW - timedelta(days=7)).date().isoformat()
    config = write_config(tmp_path, fake_omi.url, connectors=imap_table(
        server, since=since, backfill="direct", me=["alice@example.com"], exclude_from=["*@*.shop.example"],
        skip_automated=False))
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    said = " ".join(fake_omi.texts())
    assert "Text of to@x." in said and "Text of cc@x." in said
    with sqlite3.connect(tmp_path / "state.db") as conn:
        reasons = dict(conn.execute("SELECT source_key, reason FROM skipped").fetchall())
    assert reasons == {
        "mid:list@x": "backfill = direct: not addressed to me in To or Cc",
        "mid:news@x": "backfill = direct: bulk mail (List-Id header)",
        "mid:shop@x": "excluded: from deals@mail.shop.example (exclude_from '*@*.shop.example')",
    }
    # new mail is not held to the backfill rule: a list mail that arrives now is delivered
    server.append("alice", raw_mail("new@x", NOW, to="all-staff@example.com", subject="six"))
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert "Text of new@x." in " ".join(fake_omi.texts())


def _items(state: Path) -> int:
    try:
        with sqlite3.connect(state) as conn:
            return conn.execute("SELECT count(*) FROM items").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_a_thread_gathering_when_the_daemon_is_killed_is_sent_once_after_the_restart(tmp_path, server, fake_omi):
    config = write_config(tmp_path, fake_omi.url, connectors=imap_table(
        server, idle=True, poll_interval=600, group="thread", quiet_period=4))
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: _cursor_set(tmp_path / "state.db"), 15)
        time.sleep(1.5)  # IDLE is up
        server.append("alice", raw_mail("k1@x", datetime.now(UTC), subject="release"))
        server.append("alice", raw_mail("k2@x", datetime.now(UTC), subject="Re: release", refs=("k1@x",)))
        assert wait_until(lambda: _items(tmp_path / "state.db") == 2, 10), log.read_text()[-2000:]
    finally:
        daemon.kill()  # kill -9 while the thread's group is open
        daemon.wait(10)
    assert fake_omi.texts() == []
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: len(fake_omi.texts()) == 1, 20), log.read_text()[-2000:]
        time.sleep(5)  # and nothing more comes: not the group again, not the mails one by one
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
    [text] = fake_omi.texts()
    assert text.startswith("Email thread: release (2 messages)")
    assert "Text of k1@x." in text and "Text of k2@x." in text


def test_a_backfill_cut_short_goes_on_as_a_backfill_after_the_restart(tmp_path, server):
    from bridge.connector import Sink
    from bridge.store import Store
    from connectors.mail.imap import ImapConfig, ImapConnector

    day = NOW - timedelta(days=2)
    for n in range(6):  # every other one not addressed to me
        server.append("alice", raw_mail(f"r{n}@x", day + timedelta(minutes=n), subject=f"mail {n}",
                                        to="alice@example.com" if n % 2 == 0 else "all@example.com"), when=day)
    config = ImapConfig(type="imap", host="127.0.0.1", port=server.port, security="none", username="alice",
                        password="alice-pw-123", since=(NOW - timedelta(days=7)).date(), backfill="direct",
                        me=["alice@example.com"], group="message", fetch_messages=1)
    store = Store(tmp_path / "state.db")

    class StopsAfterFirstCommit(Sink):
        def submit_many(self, items, cursor=None):
            added = super().submit_many(items, cursor)
            self.close()  # a restart after the first chunk
            return added

    ImapConnector("mail", config).poll(StopsAfterFirstCommit(store, "mail", config, lambda: None))
    assert store.cursor("mail")["folders"]["INBOX"]["reading"] is True
    ImapConnector("mail", config).poll(Sink(store, "mail", config, lambda: None))
    sent = [r["source_key"] for r in store.rows("SELECT source_key FROM outbox ORDER BY id")]
    assert sent == ["mid:r0@x", "mid:r2@x", "mid:r4@x"]  # the rest of the backfill still held to "direct"
    assert {r["priority"] for r in store.rows("SELECT priority FROM outbox")} == {10}  # and behind live mail
    assert "reading" not in store.cursor("mail")["folders"]["INBOX"]
