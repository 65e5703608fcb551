"""Mail threads as conversations (group = "thread"): how a mail's thread is found, how a thread
reads, and that an archive's thread of a day costs one write, imported once."""

from __future__ import annotations

import json
import mailbox
from datetime import UTC, datetime, timedelta

from bridge.connector import CLOSE_BATCH, Sink
from bridge.groups import Assembler, GroupPolicy
from bridge.store import Store
from connectors.mail.archive import MboxConfig, MboxConnector
from connectors.mail.text import email_to_piece
from connectors.mail.threads import Into, normal_subject, place, take

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def mail(mid: str, at: datetime, *, sender: str = "Alice <alice@example.com>", to: str = "bob@example.org",
         subject: str = "Budget for Q3", refs: list[str] = (), reply_to: str | None = None,
         body: str = "Can we keep travel under 5k?", quoted: str = "") -> bytes:
    headers = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Message-ID: <{mid}>",
               f"Date: {at.strftime('%a, %d %b %Y %H:%M:%S +0000')}"]
    if refs:
        headers.append("References: " + " ".join(f"<{r}>" for r in refs))
    if reply_to:
        headers.append(f"In-Reply-To: <{reply_to}>")
    text = body + (f"\n\nOn Mon, Alice wrote:\n> {quoted}\n" if quoted else "\n")
    return ("\n".join([*headers, "Content-Type: text/plain; charset=utf-8", "", text])).encode()


def scopes(*raws: bytes, gmail: list[str | None] | None = None) -> list[str]:
    assembler = Assembler(Store(), "mail", GroupPolicy(600, 86400))
    pieces = [email_to_piece(raw, gmail_thread=(gmail or [None] * len(raws))[n]) for n, raw in enumerate(raws)]
    return [item.scope for item in place(assembler, pieces)]


def test_normal_subject_drops_reply_and_forward_prefixes_in_many_languages() -> None:
    for subject in ("Re: Budget", "RE: AW: Budget", "Fwd: Re[2]: budget", "SV: budget", "[team] Re:  Budget",
                    "Antw: Budget", "Réf : Budget", "Re\uff1aBudget"):
        assert normal_subject(subject) == "budget", subject
    assert normal_subject("Regarding the budget") == "regarding the budget"


def test_a_reply_finds_its_thread_by_references_in_reply_to_gmail_id_or_subject() -> None:
    root = mail("a@x", T)
    by_references = mail("b@x", T + timedelta(hours=1), subject="Re: Budget for Q3", refs=["a@x"])
    by_in_reply_to = mail("c@x", T + timedelta(hours=2), subject="Re: Budget for Q3", reply_to="b@x")
    # a reply whose client dropped every reference: the same subject among the same people
    bare_reply = mail("d@x", T + timedelta(hours=3), sender="Bob <bob@example.org>", to="alice@example.com",
                      subject="RE: Budget for Q3")
    # the same subject without a reply prefix is a new mail, not this thread
    new_mail = mail("e@x", T + timedelta(days=7))
    # other people, same words: another thread
    stranger = mail("f@x", T + timedelta(hours=4), sender="Carol <carol@example.net>", subject="Re: Budget for Q3")
    assert scopes(root, by_references, by_in_reply_to, bare_reply, new_mail, stranger) == [
        "mid:a@x", "mid:a@x", "mid:a@x", "mid:a@x", "mid:e@x", "mid:f@x"]
    # a reply that comes first (its thread's first mail was never seen) still names the thread
    assert scopes(by_references) == ["mid:a@x"]
    # Gmail's thread id wins where the server gives it
    assert scopes(root, new_mail, gmail=["777", "777"]) == ["gm:777", "gm:777"]


def write_mbox(path, raws: list[bytes]) -> None:
    box = mailbox.mbox(path)
    for raw in raws:
        box.add(raw)
    box.flush()
    box.close()


def texts(store: Store) -> list[str]:
    return [json.loads(r["body"])["text"] for r in store.rows("SELECT body FROM outbox ORDER BY id")]


def test_an_archive_thread_of_a_day_is_one_conversation_that_reads_like_the_exchange(tmp_path) -> None:
    thread = [
        mail("a@x", T, body="Can we keep travel under 5k?"),
        mail("b@x", T + timedelta(hours=2), sender="Bob <bob@example.org>", to="alice@example.com",
             subject="Re: Budget for Q3", refs=["a@x"], body="Yes, if we skip the offsite.",
             quoted="Can we keep travel under 5k?"),
        mail("n@x", T + timedelta(hours=3), subject="Lunch", body="Lunch at noon?"),
        mail("c@x", T + timedelta(hours=5), subject="Re: Budget for Q3", refs=["a@x", "b@x"],
             body="Fine, no offsite then.", quoted="Yes, if we skip the offsite."),
        mail("d@x", T + timedelta(days=1, hours=1), sender="Bob <bob@example.org>", to="alice@example.com",
             subject="Re: Budget for Q3", refs=["a@x", "b@x", "c@x"], body="Booked the cheaper hotel."),
    ]
    path = tmp_path / "takeout.mbox"
    write_mbox(path, thread)
    store = Store(tmp_path / "state.db")
    connector = MboxConnector("takeout", MboxConfig(type="mbox", path=path))
    connector.poll(Sink(store, "takeout", connector.config, lambda: None))
    found = texts(store)
    assert len(found) == 3  # the thread's first day, its second day, the lunch mail
    day_one = next(t for t in found if t.startswith("Email thread: Budget for Q3 (3 messages)"))
    assert day_one == "\n".join([
        "Email thread: Budget for Q3 (3 messages)", "",
        "From: Alice <alice@example.com>", "To: bob@example.org", "Date: Mon, 02 Mar 2026 09:00:00 +0000", "",
        "Can we keep travel under 5k?", "",
        "From: Bob <bob@example.org>", "To: alice@example.com", "Date: Mon, 02 Mar 2026 11:00:00 +0000", "",
        "Yes, if we skip the offsite.", "",
        "From: Alice <alice@example.com>", "To: bob@example.org", "Date: Mon, 02 Mar 2026 14:00:00 +0000", "",
        "Fine, no offsite then.",
    ])
    assert any(t.startswith("Subject: Re: Budget for Q3\n\nFrom: Bob") and t.endswith("Booked the cheaper hotel.")
               for t in found)
    # each is named as a person knows it, in the line that says it was delivered and in status
    assert sorted(r["label"] for r in store.rows("SELECT label FROM outbox")) == [
        "email thread “Budget for Q3” (3 messages)", "email “Lunch”", "email “Re: Budget for Q3”"]
    # the archive read again, and read as a new file: nothing twice
    connector.poll(Sink(store, "takeout", connector.config, lambda: None))
    write_mbox(path, [mail("z@x", T + timedelta(days=3), subject="New", body="something new")])
    connector.poll(Sink(store, "takeout", connector.config, lambda: None))
    assert len(texts(store)) == 4
    # every message is in exactly one conversation
    assert sum(t.count("\nFrom: ") for t in texts(store)) == 6


def test_an_archive_of_many_threads_closes_them_a_batch_to_a_commit_each_once(tmp_path) -> None:
    # a backfill's thousands of thread-days: a commit (a wait for the disk) each made the default
    # grouping twice as slow as one conversation per mail
    count = CLOSE_BATCH * 2 + 7
    path = tmp_path / "big.mbox"
    write_mbox(path, [mail(f"m{n}@x", T + timedelta(minutes=n), subject=f"topic {n}", body=f"note {n}")
                      for n in range(count)])
    store = Store(tmp_path / "state.db")
    commits = []
    store.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    connector = MboxConnector("takeout", MboxConfig(type="mbox", path=path))
    connector.poll(Sink(store, "takeout", connector.config, lambda: None))
    found = texts(store)
    assert sorted(int(t.rsplit(" ", 1)[1]) for t in found) == list(range(count))  # each once
    assert store.rows("SELECT count(*) AS n FROM groups WHERE state != 'closed'")[0]["n"] == 0
    assert len(commits) < 20


def test_a_chunk_of_thread_mail_its_links_other_mails_and_cursor_are_one_commit(tmp_path) -> None:
    # a crash can leave none of it half written, and the disk is waited for once a chunk
    store = Store(tmp_path / "state.db")
    sink = Sink(store, "mail", MboxConfig(type="mbox", path=tmp_path / "none.mbox"), lambda: None)
    assembler = sink.assembler(GroupPolicy(600, 86400))
    old, new = T, datetime.now(UTC)
    pieces = [email_to_piece(mail("a@x", old)), email_to_piece(mail("b@x", old, refs=["a@x"])),
              email_to_piece(mail("c@x", new, subject="Today"))]
    commits = []
    store.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    take(pieces, Into(assembler, by_day=True), sink, {"at": 3})
    assert commits == ["COMMIT"]
    assert store.cursor("mail") == {"at": 3}
    assert store.rows("SELECT count(*) AS n FROM links")[0]["n"] > 0
    assert [g.scope for g in assembler.due(now=new.timestamp())] == ["mid:a@x"]  # both mails: one thread
    assert texts(store) == [pieces[2].conversation().text]  # today's mail, of a day not over: its own


def test_an_archive_backfill_of_replied_threads_uses_the_archives_own_mail_from_me(tmp_path) -> None:
    path = tmp_path / "all.mbox"
    write_mbox(path, [
        mail("a@x", T, sender="Carol <carol@example.net>", to="alice@example.com"),
        mail("b@x", T + timedelta(hours=1), refs=["a@x"], subject="Re: Budget for Q3", body="Sounds right."),
        mail("n@x", T, sender="News <news@example.net>", to="alice@example.com", subject="Weekly digest",
             body="Ten links"),
    ])
    store = Store()
    connector = MboxConnector("takeout", MboxConfig(type="mbox", path=path, backfill="replied",
                                                    me=["Alice@Example.com"]))
    connector.poll(Sink(store, "takeout", connector.config, lambda: None))
    [thread] = texts(store)
    assert thread.startswith("Email thread: Budget for Q3 (2 messages)") and "Sounds right." in thread
    assert [r["reason"] for r in store.rows("SELECT reason FROM skipped")] == [
        'backfill = "replied": a thread you did not write in']
    # the archive grows: a new answer in that thread counts, though my mail was read before
    write_mbox(path, [mail("c@x", T + timedelta(days=2), sender="Carol <carol@example.net>", refs=["a@x", "b@x"],
                           subject="Re: Budget for Q3", body="Approved.")])
    connector.poll(Sink(store, "takeout", connector.config, lambda: None))
    assert "Approved." in texts(store)[-1]


def test_a_selective_backfill_without_my_address_is_a_config_error() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match='backfill = "direct" needs me'):
        MboxConfig(type="mbox", path="x.mbox", backfill="direct")


def test_a_takeout_mbox_leaves_out_what_gmail_keeps_in_spam_and_trash(tmp_path) -> None:
    def labelled(mid: str, labels: str) -> bytes:
        return mail(mid, T, subject=f"about {mid}").replace(b"Content-Type", f"X-Gmail-Labels: {labels}\n"
                                                           "Content-Type".encode())

    path = tmp_path / "All mail Including Spam and Trash.mbox"
    write_mbox(path, [labelled("in@x", "Inbox,Important,Opened"), labelled("spam@x", "Spam,Unread"),
                      labelled("bin@x", "Opened,Trash"), labelled("starred@x", "Inbox,Starred,Category Updates")])
    store = Store()
    connector = MboxConnector("takeout", MboxConfig(type="mbox", path=path))
    connector.poll(Sink(store, "takeout", connector.config, lambda: None))
    assert sorted(t.split("\n")[0] for t in texts(store)) == ["Subject: about in@x", "Subject: about starred@x"]
    assert sorted(r["reason"] for r in store.rows("SELECT reason FROM skipped")) == [
        "in Gmail's Spam", "in Gmail's Trash"]


class _Gmail:
    """Answers FETCH as Gmail does: X-GM-MSGID, X-GM-THRID and X-GM-LABELS beside the body."""

    def __init__(self, messages: dict[int, tuple[bytes, int, tuple[bytes, ...]]]) -> None:
        self.messages = messages

    def fetch(self, uids, fields):
        if fields == ["RFC822.SIZE"]:
            return {u: {b"RFC822.SIZE": len(self.messages[u][0])} for u in uids}
        assert {"X-GM-MSGID", "X-GM-THRID", "X-GM-LABELS"} <= set(fields)
        return {u: {b"BODY[]": raw, b"INTERNALDATE": T, b"X-GM-MSGID": gmid, b"X-GM-THRID": 555,
                    b"X-GM-LABELS": labels} for u, (raw, gmid, labels) in self.messages.items() if u in uids}


def test_gmail_labels_are_one_mail_and_spam_or_trash_is_left_out() -> None:
    from bridge.models import PRIORITY_LIVE
    from connectors.mail.imap import ImapConfig, ImapConnector
    from connectors.mail.threads import Into

    no_id = mail("x@x", T).replace(b"Message-ID: <x@x>\n", b"")  # Gmail knows it apart by X-GM-MSGID
    connector = ImapConnector("gmail", ImapConfig(type="imap", host="imap.gmail.com", username="me@gmail.com",
                                                  password="app-password", group="message"))
    connector._gmail = True
    store = Store()
    sink = Sink(store, "gmail", connector.config, lambda: None)
    cursor = {"started": 0, "folders": {}}
    for folder, messages in [("INBOX", {1: (no_id, 1001, (b"\\Inbox",))}),
                             ("Work", {7: (no_id, 1001, (b"\\Inbox", b"Work")),
                                       8: (mail("s@x", T, subject="You won"), 1002, (b"\\Spam",)),
                                       9: (mail("t@x", T, subject="old"), 1003, (b"Work", b"\\Trash"))})]:
        connector._deliver(_Gmail(messages), folder, sorted(messages), {"uidvalidity": 1, "uid": 0}, cursor, sink,
                           PRIORITY_LIVE, Into(None, by_day=False, live_threads=False), None)
    assert [r["source_key"] for r in store.rows("SELECT source_key FROM outbox")] == ["gmid:1001"]
    assert sorted(r["reason"] for r in store.rows("SELECT reason FROM skipped")) == [
        "in Gmail's Spam", "in Gmail's Trash"]
