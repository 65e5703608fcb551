"""The console's forms for the live chat sources, without a browser: what a person types for
Slack and Matrix becomes a table the loader takes, the tokens in owner-only files the table names,
and a Matrix source is sent on to the Sign in page (its password is asked there, never kept)."""

from __future__ import annotations

import os
import subprocess
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from bridge import tomledit
from bridge.config import load_config
from bridge.console.editing import SourceEditor
from bridge.store import Store
from tests.conftest import wait_until, write_config


def _editor(tmp_path) -> tuple[SourceEditor, object]:
    os.environ.setdefault("OMI_API_KEY", "test-key")
    path = write_config(tmp_path, "http://127.0.0.1:9")
    # no daemon: the editor's "reload" is reading the file again, which the config callable does
    return SourceEditor(lambda: load_config(path), Store(tmp_path / "state.db"), reload=lambda: None), path


def test_a_slack_form_becomes_a_table_with_its_tokens_in_files(tmp_path) -> None:
    editor, path = _editor(tmp_path)
    before = path.read_text()
    form = {"kind": "slack", "name": "team", "mode": "socket", "bot_token": "xoxb-typed-1", "channels": "general",
            "group": "burst", "do": "save", "digest": tomledit.read(path).digest}
    refused = editor.add(form)  # socket mode without the app token: the loader's words, nothing written
    assert isinstance(refused, dict) and refused["general"] == [
        'socket mode needs app_token (an "xapp-" token with connections:write)']
    assert path.read_text() == before
    where = editor.add({**form, "app_token": "xapp-typed-2"})
    assert where.startswith("/sources?said=team%20added")
    folder = tmp_path / "state-secrets"
    assert path.read_text() == before + (
        f'\n[connectors.team]\ntype = "slack"\nmode = "socket"\nbot_token_file = "{folder / "team.bot_token"}"\n'
        f'app_token_file = "{folder / "team.app_token"}"\nchannels = ["general"]\ngroup = "burst"\n')
    loaded = load_config(path).connectors["team"]
    assert (loaded.bot_token.get_secret_value(), loaded.app_token.get_secret_value()) == ("xoxb-typed-1",
                                                                                          "xapp-typed-2")


def test_a_matrix_form_writes_no_token_and_sends_the_person_to_sign_in(tmp_path) -> None:
    editor, path = _editor(tmp_path)
    where = editor.add({"kind": "matrix", "name": "family", "homeserver": "https://matrix.example.org",
                        "user_id": "@me:example.org", "rooms": "#family:example.org", "group": "burst",
                        "do": "save", "digest": tomledit.read(path).digest})
    assert where == "/signin?name=family"
    assert path.read_text().endswith('\n[connectors.family]\ntype = "matrix"\nhomeserver = "https://matrix.example.org"'
                                     '\nuser_id = "@me:example.org"\nrooms = ["#family:example.org"]\n'
                                     'group = "burst"\n')
    assert load_config(path).connectors["family"].access_token is None


MAILBOX = '''
[connectors.box]   # the old server
type = "imap"
host = "mail.example.org"
username = "ann"
password = "old-plain"   # to move to a file one day
poll_interval = 120      # my own pace
'''


def test_a_change_rewrites_the_forms_keys_and_a_typed_secret_only(tmp_path) -> None:
    os.environ.setdefault("OMI_API_KEY", "test-key")
    path = write_config(tmp_path, "http://127.0.0.1:9", connectors=MAILBOX)
    editor = SourceEditor(lambda: load_config(path), Store(tmp_path / "state.db"), reload=lambda: None)
    before = path.read_text()
    form = {"name": "box", "host": "mail.example.org", "username": "ann", "security": "ssl", "group": "auto",
            "backfill": "all", "do": "save", "digest": tomledit.read(path).digest}
    shown = editor.change_form(SimpleNamespace(query={"name": "box"}))  # what the page reads of a request
    assert shown["form"] == {"name": "box", "host": "mail.example.org", "username": "ann"}
    assert shown["kept"] == ["password"] and "old-plain" not in repr(shown)
    path.write_text(before + "# an edit meanwhile\n")
    refused = editor.change(form)  # the file changed since the form read it: nothing written
    assert "was changed by someone else" in refused["changed"] and path.read_text() == before + "# an edit meanwhile\n"
    path.write_text(before)
    # saved as it was shown: the secret kept, and the selects left at their defaults write nothing
    assert editor.change(form).startswith("/sources?said=box%20changed")
    assert path.read_text() == before
    form["group"] = "thread"
    assert editor.change({**form, "digest": tomledit.read(path).digest}).startswith("/sources?said=box%20changed")
    kept = path.read_text()
    assert kept == before.replace('my own pace\n', 'my own pace\ngroup = "thread"\n')
    where = editor.change({**form, "host": "imap.example.net", "password": "new-typed",
                           "digest": tomledit.read(path).digest})
    assert where.startswith("/sources?said=box%20changed")
    secret = tmp_path / "state-secrets" / "box.password"
    assert path.read_text() == kept.replace('host = "mail.example.org"', 'host = "imap.example.net"').replace(
        'password = "old-plain"   # to move to a file one day\n', "").replace(
        'group = "thread"\n', f'group = "thread"\npassword_file = "{secret}"\n')
    assert secret.read_text() == "new-typed"
    assert load_config(path).connectors["box"].password.get_secret_value() == "new-typed"


def test_a_change_to_a_file_the_console_cannot_write_gives_the_whole_table_to_paste(tmp_path) -> None:
    os.environ.setdefault("OMI_API_KEY", "test-key")
    path = write_config(tmp_path, "http://127.0.0.1:9", connectors=MAILBOX)
    editor = SourceEditor(lambda: load_config(path), Store(tmp_path / "state.db"), reload=lambda: None)
    before = path.read_text()
    subprocess.run(["chattr", "+i", str(path)], check=True)  # as root: permissions alone would not stop it
    try:
        page = editor.change({"name": "box", "host": "imap.example.net", "username": "ann", "password": "new-typed",
                              "security": "ssl", "group": "auto", "backfill": "all", "do": "save",
                              "digest": tomledit.read(path).digest})
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert page["template"] == "paste.html" and "cannot be written by this user" in page["why"]
    secret = tmp_path / "state-secrets" / "box.password"
    assert page["table"] == ('[connectors.box]\ntype = "imap"\nhost = "imap.example.net"\nusername = "ann"\n'
                             f'poll_interval = 120\npassword_file = "{secret}"\n')
    assert path.read_text() == before and "new-typed" not in repr(page)


def _mbox(folder, mails: int) -> None:
    """An mbox of ``mails`` mails, two of each thread, as a mail client writes one."""
    lines = []
    for n in range(mails):
        thread = n // 2
        lines += [f"From sender{thread}@example.org Mon Mar  2 10:0{n % 10}:00 2026",
                  f"From: Sender {thread} <sender{thread}@example.org>", "To: me@example.org",
                  f"Subject: {'Re: ' if n % 2 else ''}Plans {thread}", f"Message-ID: <m{n}@example.org>",
                  *([f"In-Reply-To: <m{n - 1}@example.org>"] if n % 2 else []),
                  f"Date: Mon, 2 Mar 2026 10:0{n % 10}:00 +0000", "", f"Mail number {n} about plans {thread}.", ""]
    (folder / "mail.mbox").write_text("\n".join(lines))


def test_the_test_shows_its_plan_first_and_prices_the_choices_after(tmp_path) -> None:
    from bridge.console.sources import Pricing, source_plan, validate

    editor, path = _editor(tmp_path)
    _mbox(tmp_path, 6)
    form = {"kind": "mbox", "name": "old", "path": str(tmp_path / "mail.mbox"), "backfill": "all", "group": "thread",
            "do": "test", "digest": tomledit.read(path).digest}
    tried = editor.add(form)["tried"]
    assert tried["good"] and tried["plan"]["sources"][0]["conversations"] == 3  # the test's own plan, at once
    priced = editor._pricings[tried["pricing_id"]]
    assert wait_until(lambda: priced.done, 30)
    rows = {(r["option"], r["value"]): r for r in priced.rows}
    assert rows[("group", "thread")]["chosen"] and rows[("group", "message")]["conversations"] == 6
    config = load_config(path)
    table = {"type": "mbox", "path": str(tmp_path / "mail.mbox"), "group": "message"}
    alone = source_plan(config, editor.store, "old", validate(config, "old", table)[2])["sources"][0]
    assert rows[("group", "message")]["writes"] == alone["writes"]  # plan's own count, not a copy of it
    page = editor.choices_page(SimpleNamespace(query={"id": tried["pricing_id"]}))
    assert page["template"] == "choices.html" and page["pricing"] is priced
    assert editor.choices_page(SimpleNamespace(query={"id": "gone"}))["status"] == 404

    # before its read, each other value waits in its row; a newer test of the source stops it
    waiting = Pricing(config, editor.store, "old", {**table, "group": "thread"}, tried["plan"])
    assert not waiting.done and [r["value"] for r in waiting.rows if r["pending"]] == ["direct", "replied", "message"]
    editor._pricings["w"] = waiting
    editor.add(form)
    assert waiting.stopped.is_set()
    waiting.run()
    assert waiting.done and "tested again" in next(r for r in waiting.rows if r["value"] == "message")["error"]


def test_gmail_signed_in_with_google_keeps_its_client_secret_in_a_file_and_goes_to_sign_in(tmp_path) -> None:
    from bridge.console.kinds import kind_of

    editor, path = _editor(tmp_path)
    before = path.read_text()
    form = {"kind": "gmail-signin", "name": "gmail", "username": "me@gmail.com", "oauth2_client_id": "123.apps",
            "backfill": "all", "group": "auto", "do": "save", "digest": tomledit.read(path).digest}
    refused = editor.add(form)  # Google's token endpoint wants the client's secret: the loader's words
    assert isinstance(refused, dict) and any("oauth2_client_secret is required for Google" in p
                                             for p in refused["general"]), refused
    assert path.read_text() == before
    assert editor.add({**form, "oauth2_client_secret": "GOCSPX-typed"}) == "/signin?name=gmail"
    secret = tmp_path / "state-secrets" / "gmail.oauth2_client_secret"
    assert path.read_text() == before + (
        '\n[connectors.gmail]\ntype = "imap"\nprovider = "gmail"\nusername = "me@gmail.com"\n'
        f'oauth2_client_id = "123.apps"\noauth2_client_secret_file = "{secret}"\nbackfill = "all"\ngroup = "auto"\n')
    loaded = load_config(path).connectors["gmail"]
    assert (loaded.oauth2_flow, loaded.auth, loaded.host) == ("browser", "xoauth2", "imap.gmail.com")
    assert loaded.oauth2_client_secret.get_secret_value() == "GOCSPX-typed"
    assert kind_of(tomledit.table(path.read_text(), "gmail")).id == "gmail-signin"  # Change gives this form again


def said_by(where: str) -> str:
    """What a redirect to the Sources page tells the person."""
    return parse_qs(urlsplit(where).query)["said"][0]


def test_a_removed_source_is_forgotten_only_when_asked_and_understood(tmp_path) -> None:
    from datetime import UTC, datetime

    from bridge.assemble import QueuedRequest
    from bridge.models import PRIORITY_LIVE, CreateConversationRequest

    editor, path = _editor(tmp_path)
    for name in ("drop", "old"):  # drop is in the config file; old was removed from it
        editor.store.submit(name, [QueuedRequest(f"{name}-1", CreateConversationRequest(
            text=f"from {name}", started_at=datetime.now(UTC)), PRIORITY_LIVE)])
    assert editor.listing(SimpleNamespace(query={}))["kept"] == {"old": 0}  # only the removed one is offered
    assert "still in the config file" in said_by(editor.forget({"name": "drop", "understood": "yes"}))
    assert "tick the box" in said_by(editor.forget({"name": "old"}))
    assert editor.store.is_known("old", "old-1")
    said = said_by(editor.forget({"name": "old", "understood": "yes"}))
    assert said.startswith("old forgotten (") and "sent again if it came back" in said, said
    assert not editor.store.is_known("old", "old-1") and editor.store.is_known("drop", "drop-1")
    assert editor.listing(SimpleNamespace(query={}))["kept"] == {}
    [row] = editor.store.rows("SELECT id FROM outbox WHERE connector = 'drop'")
    editor.store.conn.execute("UPDATE outbox SET state = 'inflight' WHERE id = ?", (row["id"],))
    path.write_text(path.read_text().replace("[connectors.drop]", "[connectors.other]"))
    # a row of it out to Omi: its answer must be recorded first
    assert "being sent right now" in said_by(editor.forget({"name": "drop", "understood": "yes"}))
    assert editor.store.is_known("drop", "drop-1")
