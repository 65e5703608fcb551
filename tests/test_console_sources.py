"""Adding, pausing and resuming a source from the console, in a real browser against the real
daemon, Dovecot and the fake Omi: the config file edited keeping every other byte, the daemon
reloading it, a file changed behind the console's back refused, and a file the console may not
write answered with the table to paste."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import dovecot as dv
from tests.conftest import API_KEY, run_cli, serving, wait_until, write_config
from tests.fake_omi import FakeOmi
from tests.test_console import browser, screenshot  # noqa: F401  (the module's browser fixture)
from tests.test_service import free_port

pytestmark = pytest.mark.slow

if not dv.available():
    pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)", allow_module_level=True)

PASSWORD = "console-typed-pw-4417"
# a config as a person keeps it: comments above and beside keys, blank lines, a table of their own
COMMENTS = """
# Notes dropped by my phone's sync app.
[connectors.drop]   # the phone writes here
type = "spool"
path = "spool"          # relative to this file
poll_interval = 0.5
settle_seconds = 0
# (more sources below, added from the console)
"""


def mail(n: int, subject: str, days_ago: int = 0) -> bytes:
    when = (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (f"From: Carol <carol@example.net>\r\nTo: alice@example.com\r\nSubject: {subject}\r\nDate: {when}\r\n"
            f"Message-ID: <console{n}@example.net>\r\nContent-Type: text/plain\r\n\r\nBody of message {n}.\r\n"
            ).encode()


class Setup:
    def __init__(self, folder: Path, omi: FakeOmi, server: dv.Dovecot) -> None:
        self.folder, self.omi, self.server = folder, omi, server
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (folder / "spool").mkdir()
        self.config = write_config(folder, omi.url, connectors=COMMENTS, listen=f"127.0.0.1:{self.port}")
        self.log = folder / "daemon.log"
        self.before_add = ""

    def sent_with(self, text: str) -> int:
        return sum(text in t for t in self.omi.texts())


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[Setup]:
    server = dv.Dovecot(Path(tempfile.mkdtemp(prefix="omi-bridge-dovecot-")))
    server.add_user("alice", PASSWORD)
    server.start()
    server.append("alice", mail(1, "Flight moved to Friday", days_ago=2))
    try:
        with FakeOmi(keys={API_KEY: ["conversations:read", "conversations:write"]}) as omi:
            running = Setup(tmp_path_factory.mktemp("console-sources"), omi, server)
            with serving(running.config, running.log):
                yield running
    finally:
        server.stop()


@pytest.fixture
def page(browser, setup):  # noqa: F811
    link = run_cli("console", "-c", str(setup.config)).stdout.split()[-1]
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    tab.goto(link)
    yield tab
    context.close()


def test_adding_an_imap_source_tests_it_writes_its_table_and_its_mail_reaches_omi(setup, page) -> None:
    before = setup.before_add = setup.config.read_text()
    page.goto(setup.url + "/sources")
    page.get_by_role("link", name="Other IMAP").click()
    page.get_by_label("Source name").fill("home-mail")
    page.get_by_label("Port").fill(str(setup.server.port))
    page.get_by_label("Security").select_option("none")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    page.get_by_label("Bring mail since").fill(since)
    page.get_by_role("button", name="Test").click()
    # refused field by field, with the loader's own words, and nothing written
    expect_text(page, "#e-host", "required")
    assert setup.config.read_text() == before
    page.get_by_label("Server").fill("127.0.0.1")
    page.get_by_role("button", name="Test").click()
    said = page.locator("#tried").inner_text()
    assert "check: reached: alice@127.0.0.1, 1 folder(s), IDLE" in said, said
    assert re.search(r"plan: 1 item\(s\) read, 1 conversation\(s\), 1 write\(s\)", said), said
    # each since / backfill / group value priced beside the others, as plan counts it: the page
    # is shown after the test's own plan, and the table fills in by itself as the values are read
    page.locator("#choices-live[data-done]").wait_for(timeout=60000)
    rows = [" ".join(r.split()) for r in page.locator("#choices tbody tr").all_inner_texts()]
    assert f"since {since} (in the form) 1 1" in " | ".join(rows), rows
    assert "since none: only what arrives from now on 0 0 less than a minute" in rows, rows
    assert [r for r in rows if r.startswith("group message 1 1")], rows
    screenshot(page, "add-source")
    assert PASSWORD not in page.content()  # the test kept it for the save, the page does not hold it
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="home-mail added").wait_for(timeout=30000)
    secret = setup.folder / "state-secrets" / "home-mail.password"
    assert setup.config.read_text() == before + (
        f'\n[connectors.home-mail]\ntype = "imap"\nhost = "127.0.0.1"\nport = {setup.server.port}\n'
        f'security = "none"\nusername = "alice"\npassword_file = "{secret}"\nsince = {since}\nbackfill = "all"\n'
        'group = "auto"\n')
    assert secret.read_text() == PASSWORD and secret.stat().st_mode & 0o777 == 0o600
    assert PASSWORD not in page.content()
    assert wait_until(lambda: setup.sent_with("Body of message 1.") == 1, 30), setup.log.read_text()
    setup.server.append("alice", mail(2, "Dinner on Saturday"))
    assert wait_until(lambda: setup.sent_with("Body of message 2.") == 1, 30), setup.log.read_text()


def test_changing_a_source_rewrites_only_its_form_keys_and_sends_nothing_twice(setup, page) -> None:
    assert wait_until(lambda: setup.sent_with("Body of message 2.") == 1, 30)  # the source added above
    # the person touched the table in an editor: a comment beside since, one above the user name
    edited = re.sub(r"(?m)^(since = .*)$", r"\1   # how far back", setup.config.read_text())
    edited = edited.replace('username = "alice"', '# my login\nusername = "alice"')
    setup.config.write_text(edited)
    secret = setup.folder / "state-secrets" / "home-mail.password"
    setup.server.append("alice", mail(6, "Kept in a folder of its own", days_ago=1), folder="Notes")
    page.goto(setup.url + "/sources")
    screenshot(page, "sources")
    page.get_by_role("link", name="Change home-mail").click()
    # the form as the table has it; the password kept, never shown
    assert page.get_by_label("Server").input_value() == "127.0.0.1"
    assert page.get_by_label("User name").input_value() == "alice"
    assert page.get_by_label("Password").input_value() == ""
    assert "a secret is kept" in page.get_by_label("Password").get_attribute("placeholder")
    assert PASSWORD not in page.content()
    expect_text(page, "form.source", "Changing it: a folder added is read like a new source")
    expect_text(page, "form.source", "Changing it: counts only for a folder read for the first time")
    page.get_by_label("Folders").fill("INBOX, Notes")
    page.get_by_label("Grouping").select_option("message")
    page.get_by_role("button", name="Test").click()
    said = page.locator("#tried").inner_text()
    assert "check: reached: alice@127.0.0.1, 2 folder(s)" in said, said
    page.locator("#choices-live[data-done]").wait_for(timeout=60000)
    choices = page.locator("#choices").inner_text()
    for shown in ("since", "none: only what arrives from now on", "backfill", "replied", "message (in the form)"):
        assert shown in choices, choices
    screenshot(page, "change-source")
    assert setup.config.read_text() == edited  # a test writes nothing
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="home-mail changed").wait_for(timeout=30000)
    # only the keys the form changed; the comments, the secret's file and the rest of the file as they were
    assert setup.config.read_text() == edited.replace(
        'group = "auto"\n', 'group = "message"\nfolders = ["INBOX", "Notes"]\n')
    assert secret.read_text() == PASSWORD
    assert wait_until(lambda: setup.sent_with("Body of message 6.") == 1, 30), setup.log.read_text()
    assert (setup.sent_with("Body of message 1."), setup.sent_with("Body of message 2.")) == (1, 1)


def test_pausing_stops_reading_and_resuming_sends_what_came_once(setup, page) -> None:
    assert wait_until(lambda: setup.sent_with("Body of message 2.") == 1, 30)  # the source added above
    page.goto(setup.url + "/sources")
    page.get_by_role("button", name="Pause home-mail").click()
    page.get_by_role("status").filter(has_text="home-mail paused.").wait_for(timeout=30000)
    assert "paused = true" in setup.config.read_text()
    page.goto(setup.url + "/")  # the Overview says so on the source's row
    expect_text(page, "tr:has(a:text-is('home-mail'))", "paused: nothing is read")
    page.goto(setup.url + "/sources")
    setup.server.append("alice", mail(3, "Keys under the mat"))
    setup.server.append("alice", mail(4, "Marker after the paused one"))
    # while paused nothing reads it: a poll would have come within a second (IDLE) or two
    assert not wait_until(lambda: setup.sent_with("Body of message 3.") > 0, 4)
    page.get_by_role("button", name="Resume home-mail").click()
    page.get_by_role("status").filter(has_text="home-mail resumed.").wait_for(timeout=30000)
    assert "paused" not in setup.config.read_text()
    assert wait_until(lambda: setup.sent_with("Body of message 4.") == 1, 30), setup.log.read_text()
    assert setup.sent_with("Body of message 3.") == 1
    page.get_by_role("button", name="Remove home-mail").click()
    page.get_by_role("status").filter(has_text="home-mail removed").wait_for(timeout=30000)
    assert setup.config.read_text() == setup.before_add  # the file as it was before the add, byte for byte
    setup.server.append("alice", mail(5, "After the source was removed"))
    assert not wait_until(lambda: setup.sent_with("Body of message 5.") > 0, 3)
    assert setup.sent_with("Body of message 3.") == 1  # nothing sent again, nothing taken back


def test_a_file_changed_behind_the_console_refuses_the_save(setup, page) -> None:
    page.goto(setup.url + "/sources/add?kind=spool")
    page.get_by_label("Source name").fill("scans")
    page.get_by_label("Folder or file").fill(str(setup.folder / "spool"))
    edited = setup.config.read_text() + "# an edit made in an editor meanwhile\n"
    setup.config.write_text(edited)
    page.get_by_role("button", name="Save").click()
    expect_text(page, "[role=alert]", "was changed by someone else since this form was opened")
    assert setup.config.read_text() == edited  # the editor's change is not lost, nothing written
    page.get_by_role("button", name="Save").click()  # the file read again: now it saves
    page.get_by_role("status").filter(has_text="scans added").wait_for(timeout=30000)
    assert setup.config.read_text().startswith(edited)


def test_a_config_file_the_console_cannot_write_gets_the_table_to_paste(setup, page) -> None:
    before = setup.config.read_text()
    subprocess.run(["chattr", "+i", str(setup.config)], check=True)  # as root: permissions alone would not stop it
    try:
        page.goto(setup.url + "/sources/add?kind=eml")
        page.get_by_label("Source name").fill("letters")
        page.get_by_label("Folder or file").fill("/srv/letters")
        page.get_by_role("button", name="Save").click()
        expect_text(page, "[role=alert]", "cannot be written by this user")
        assert page.locator("#paste").inner_text() == ('[connectors.letters]\ntype = "eml"\npath = "/srv/letters"\n'
                                                     'backfill = "all"\ngroup = "thread"\n')
        screenshot(page, "paste-table")
    finally:
        subprocess.run(["chattr", "-i", str(setup.config)], check=True)
    assert setup.config.read_text() == before


def expect_text(page, selector: str, text: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator(selector).first).to_contain_text(text, timeout=15000)
