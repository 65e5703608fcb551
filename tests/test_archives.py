"""mbox, Maildir and .eml imports through the shared mail-to-text, with resumable cursors."""

from __future__ import annotations

import mailbox
import shutil
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest

from bridge.connector import Sink
from bridge.errors import SourceError
from bridge.store import Store
from connectors.mail.archive import (
    EmlConfig,
    EmlConnector,
    MaildirConfig,
    MaildirConnector,
    MboxConfig,
    MboxConnector,
)
from tests.conftest import run_cli, write_config
from tests.data.mail.make_corpus import EXPECTED

CORPUS = Path(__file__).parent / "data" / "mail"


def _mail(n: int, body: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "carol@example.net"
    msg["To"] = "me@example.com"
    msg["Subject"] = f"archived {n}"
    msg["Date"] = "Sun, 01 Mar 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<arch-{n}@example.net>"
    msg.set_content(body or f"From the archive, number {n}.\nFrom here on it is plain text.\n")
    return bytes(msg)


def _texts(store: Store) -> list[str]:
    import json
    return [json.loads(r["body"])["text"] for r in store.rows("SELECT body FROM outbox ORDER BY id")]


def _run(connector, store: Store) -> None:
    connector.poll(Sink(store, connector.name, connector.config, lambda: None))


def test_mbox_import_resumes_and_picks_up_appended_mail(tmp_path):
    path = tmp_path / "takeout.mbox"
    box = mailbox.mbox(path)
    for n in range(5):
        box.add(_mail(n))
    box.flush()
    store = Store(":memory:")
    connector = MboxConnector("takeout", MboxConfig(type="mbox", path=path))
    _run(connector, store)
    texts = _texts(store)
    assert len(texts) == 5
    assert "From the archive, number 0.\nFrom here on it is plain text." in texts[0]  # "From " lines intact
    assert all(r["priority"] == 10 for r in store.rows("SELECT priority FROM outbox"))  # backfill

    box.add(_mail(5))
    box.flush()
    _run(connector, store)
    assert len(_texts(store)) == 6
    assert store.cursor("takeout")["count"] == 6

    # the same export again under a new file (a re-download): read from the top, nothing sent twice
    path.unlink()
    box = mailbox.mbox(path)
    for n in (7, *range(6)):
        box.add(_mail(n))
    box.flush()
    _run(connector, store)
    assert len(_texts(store)) == 7


def test_maildir_import_reads_new_and_cur(tmp_path):
    box = mailbox.Maildir(tmp_path / "Maildir")
    for n in range(3):
        key = box.add(_mail(n))
        if n == 0:
            message = box.get_message(key)
            message.set_subdir("cur")
            message.add_flag("S")
            box[key] = message
    store = Store(":memory:")
    connector = MaildirConnector("md", MaildirConfig(type="maildir", path=tmp_path / "Maildir"))
    _run(connector, store)
    assert len(_texts(store)) == 3
    box.add(_mail(9))
    _run(connector, store)
    assert len(_texts(store)) == 4


def test_eml_folder_imports_the_awkward_corpus(tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(CORPUS, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    store = Store(":memory:")
    # one conversation per mail, so each mail's text can be checked (threads: test_mail_threads.py)
    connector = EmlConnector("eml", EmlConfig(type="eml", path=folder, reply_languages=["en", "de"], group="message"))
    _run(connector, store)
    sent = [n for n, e in EXPECTED.items() if e[0] == "sent"]
    skipped = [n for n, e in EXPECTED.items() if e[0] == "skipped"]
    reasons = {r["ref"]: r["reason"] for r in store.rows("SELECT ref, reason FROM skipped")}
    for name in skipped:
        assert reasons[f"eml folder message {name}"].startswith(EXPECTED[name][1])
    texts = _texts(store)
    for name in sent:
        assert any(EXPECTED[name][1][0] in t for t in texts), name
    _run(connector, store)  # a second pass finds nothing new
    assert len(_texts(store)) == len(texts)


def test_missing_archive_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="is not a file"):
        MboxConnector("x", MboxConfig(type="mbox", path=tmp_path / "nope.mbox")).check()
    with pytest.raises(SourceError, match="not a Maildir"):
        MaildirConnector("x", MaildirConfig(type="maildir", path=tmp_path)).check()


def test_progress_bar_counts_messages(tmp_path, capsys, monkeypatch):
    path = tmp_path / "big.mbox"
    box = mailbox.mbox(path)
    for n in range(60):
        box.add(_mail(n))
    box.flush()
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    store = Store(":memory:")
    _run(MboxConnector("big", MboxConfig(type="mbox", path=path)), store)
    assert "60/60" in capsys.readouterr().err
    assert Counter(r["state"] for r in store.rows("SELECT state FROM outbox")) == {"pending": 60}


PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 4  # a JPEG's start: NUL bytes, not text
NOTES = b"Shopping list\nmilk, bread\nFrom the market: apples\n"  # text, and a "From " line further down


@pytest.mark.parametrize(("content", "reason"), [
    (NOTES, "not an mbox: its first line is not a “From ” line"),
    (PHOTO, "not an mbox: binary data, not a MIME message"),
], ids=["notes", "binary"])
def test_a_file_that_is_not_an_mbox_fails_check_and_run_skips_it_with_the_reason(tmp_path, content, reason):
    path = tmp_path / "takeout.mbox"
    path.write_bytes(content)
    connector = MboxConnector("takeout", MboxConfig(type="mbox", path=path))
    with pytest.raises(SourceError) as failed:
        connector.check()
    assert str(failed.value) == f"{path}: {reason}"
    store = Store(":memory:")
    _run(connector, store)
    _run(connector, store)  # once, not every poll
    assert _texts(store) == []
    assert [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")] == [
        ("takeout.mbox", reason)]


def test_empty_archives_and_mbox_files_as_clients_write_them_pass_check(tmp_path):
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")  # a mailbox with no mail yet
    assert MboxConnector("x", MboxConfig(type="mbox", path=empty)).check().endswith(": 0 message(s) in the mbox")
    mail = _mail(1, "Archived mail.\n").replace(b"\n", b"\r\n")
    shapes = {  # the envelope lines real clients write: Thunderbird (mboxo), Google Takeout, mutt (mboxrd)
        "thunderbird": b"From - Sun Mar 01 10:00:00 2026\r\nX-Mozilla-Status: 0001\r\n" + mail,
        "takeout": b"From 1826385729163548261@xxx Sun Mar 01 10:00:00 +0000 2026\r\nX-GM-THRID: 1826385729163548261\r\n"
                   + mail,
        "mutt": b"From carol@example.net Sun Mar  1 10:00:00 2026\n" + _mail(2, "Quoted:\n>From here on\n"),
    }
    for name, content in shapes.items():
        (tmp_path / name).write_bytes(b"\n" + content if name == "mutt" else content)  # a blank line first: fine
        checked = MboxConnector("x", MboxConfig(type="mbox", path=tmp_path / name)).check()
        assert checked.endswith(": 1 message(s) in the mbox"), name
    mailbox.Maildir(tmp_path / "Maildir")
    assert MaildirConnector("x", MaildirConfig(type="maildir", path=tmp_path / "Maildir")).check().endswith(
        ": 0 message(s) in the maildir")


def test_a_maildir_names_its_files_that_are_not_mail_and_run_skips_them_while_the_mail_comes_in(tmp_path):
    box = mailbox.Maildir(tmp_path / "Maildir")
    box.add(_mail(1))
    (tmp_path / "Maildir" / "cur" / "1772359200.M1P2.host:2,S").write_bytes(PHOTO)
    (tmp_path / "Maildir" / "cur" / "1772359201.M2P2.host:2,S").write_bytes(NOTES)
    connector = MaildirConnector("md", MaildirConfig(type="maildir", path=tmp_path / "Maildir"))
    assert connector.check() == (
        f"{tmp_path / 'Maildir'}: 1 message(s) in the maildir; not mail: "
        "1772359200.M1P2.host (binary data, not a MIME message), "
        "1772359201.M2P2.host (no mail headers at its start: not a mail message)")
    store = Store(":memory:")
    _run(connector, store)
    assert len(_texts(store)) == 1 and "archived 1" in _texts(store)[0]
    assert sorted((r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")) == [
        ("maildir message 1772359200.M1P2.host", "binary data, not a MIME message"),
        ("maildir message 1772359201.M2P2.host", "no mail headers at its start: not a mail message")]


def test_a_folder_whose_only_file_is_not_mail_fails_check(tmp_path):
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "notes.eml").write_bytes(NOTES)
    with pytest.raises(SourceError, match=r"export: no mail in the eml folder: notes\.eml: no mail headers"):
        EmlConnector("x", EmlConfig(type="eml", path=tmp_path / "export")).check()


def test_check_through_the_cli_fails_a_source_that_is_not_mail_and_names_the_strays_of_another(tmp_path, fake_omi):
    (tmp_path / "notes.mbox").write_bytes(NOTES)
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "hello.eml").write_bytes(_mail(1))
    (tmp_path / "export" / "scan.eml").write_bytes(PHOTO)
    connectors = ('[connectors.old]\ntype = "mbox"\npath = "notes.mbox"\n\n'
                  '[connectors.saved]\ntype = "eml"\npath = "export"\n')
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    result = run_cli("check", "-c", str(config))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"old: FAILED: {tmp_path / 'notes.mbox'}: not an mbox: its first line is not a “From ” line" in lines
    assert (f"saved: ok ({tmp_path / 'export'}: 1 message(s) in the eml folder; "
            "not mail: scan.eml (binary data, not a MIME message))") in lines
