"""mbox, Maildir and .eml imports through the shared mail-to-text, with resumable cursors."""

from __future__ import annotations

import mailbox
import shutil
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest

from bridge.connector import Sink
from bridge.store import Store
from connectors.mail.archive import (
    EmlConfig,
    EmlConnector,
    MaildirConfig,
    MaildirConnector,
    MboxConfig,
    MboxConnector,
)
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
    from bridge.errors import SourceError
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
