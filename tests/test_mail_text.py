"""The awkward-mail corpus: every message is delivered with clean text or skipped with a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.assemble import to_requests
from bridge.errors import SkipItem
from connectors.mail.text import decode_header, email_to_conversation
from tests.data.mail.make_corpus import EXPECTED

CORPUS = Path(__file__).parent / "data" / "mail"
INTERNALDATE = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _convert(name: str):
    raw = (CORPUS / name).read_bytes()
    return email_to_conversation(raw, internaldate=INTERNALDATE, reply_languages=("en", "de"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_message_is_delivered_or_skipped_with_a_reason(name):
    expected = EXPECTED[name]
    if expected[0] == "skipped":
        with pytest.raises(SkipItem) as info:
            _convert(name)
        assert info.value.reason.startswith(expected[1])
        return
    if expected[0] == "any":
        try:
            conversation = _convert(name)
        except SkipItem as exc:
            assert exc.reason
        else:
            assert conversation.text.strip()
        return
    conversation = _convert(name)
    _, present, absent = expected
    for fragment in present:
        assert fragment in conversation.text, (fragment, conversation.text[:500])
    for fragment in absent:
        assert fragment not in conversation.text


def test_every_corpus_file_has_an_expectation():
    assert {p.name for p in CORPUS.glob("*.eml")} == set(EXPECTED)


def test_times_come_from_the_date_header_else_internaldate():
    assert _convert("plain_utf8.eml").started_at == datetime(2026, 11, 2, 8, 15, tzinfo=UTC)
    assert _convert("bad_date.eml").started_at == INTERNALDATE
    assert _convert("missing_headers.eml").started_at == INTERNALDATE


def test_keys_are_message_ids_else_a_hash_of_the_raw_message():
    assert _convert("plain_utf8.eml").source_key == "mid:plain-1@example.com"
    key = _convert("missing_headers.eml").source_key
    assert key.startswith("sha256:") and len(key) == 7 + 64


def test_huge_body_is_split_into_parts_with_nothing_dropped():
    conversation = _convert("huge_body.eml")
    assert len(conversation.text) > 250_000
    parts = to_requests(conversation, text_source_spec="email", language="en")
    assert len(parts) == 3 and all(len(p.request.text) <= 100_000 for p in parts)
    assert "Paragraph 0:" in parts[0].request.text and "Paragraph 5999:" in parts[-1].request.text


def test_automated_mail_is_delivered_when_asked():
    raw = (CORPUS / "auto_reply.eml").read_bytes()
    assert "I am away" in email_to_conversation(raw, skip_automated=False).text


@pytest.mark.parametrize(("raw", "text"), [
    ("=?utf-8?q?caf=C3=A9?= time", "café time"),
    ("=?x-unknown?q?abc?=", "abc"),
    ("=?utf-8?b?!!!broken?=", None),  # any text, as long as nothing raises
    ("=?utf-8?q?unterminated", "=?utf-8?q?unterminated"),
    ("plain\n\tfolded  header", "plain folded header"),
])
def test_headers_decode_without_crashing(raw, text):
    decoded = decode_header(raw)
    assert isinstance(decoded, str) and (text is None or decoded == text)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fast_mime_path_agrees_with_the_stdlib(name):
    """The Rust MIME tree is the fast path; the stdlib is the fallback. Where the fast one
    parses at all, both must give the same body and attachments."""
    from connectors.mail.text import _body, _body_fast, parse

    raw = (CORPUS / name).read_bytes()
    try:
        fast = _body_fast(raw)
    except Exception:
        return  # e.g. broken base64: the stdlib takes it (covered by the corpus test)
    slow = _body(parse(raw))
    assert (fast[0].strip(), fast[1]) == (slow[0].strip(), slow[1])


@pytest.mark.parametrize(("text", "charset"), [
    ("明日の会議は十時からです。", "iso-2022-jp"),
    ("Schöne Grüße aus Köln", "utf-7"),
    ("明天下午三点开会", "hz-gb-2312"),
    ("회의는 내일입니다", "iso-2022-kr"),
])
def test_seven_bit_encodings_are_decoded_not_taken_as_utf8(text, charset):
    from bridge.text import decode_declared

    data = text.encode(charset)
    assert data.isascii()  # which is why strict UTF-8 took them before
    assert decode_declared(data, charset) == text
    if charset == "iso-2022-jp":  # its escapes are recognised undeclared too (raw headers)
        assert decode_declared(data, None) == text


@pytest.mark.parametrize(("raw", "subject", "sender"), [
    ("Subject: Überweisung für März\nFrom: Jürgen Müller <jm@example.de>\n\n".encode(),  # RFC 6532
     "Überweisung für März", "Jürgen Müller <jm@example.de>"),
    ("Subject: Überweisung für März\nFrom: Jürgen Müller <jm@example.de>\n\n".encode("latin-1"),
     "Überweisung für März", "Jürgen Müller <jm@example.de>"),
    ("Subject: 会議の件について\n\n".encode("shift_jis"), "会議の件について", ""),  # detected
    # two characters are too few to detect: the body's charset says what the mailer wrote in
    ("Subject: 予定\nFrom: 山田 <y@example.jp>\nContent-Type: text/plain; charset=shift_jis\n\n".encode("shift_jis"),
     "予定", "山田 <y@example.jp>"),
    ("Subject: 会議の件について\n\n".encode("iso-2022-jp"), "会議の件について", ""),
    ("Subject: Grüße =?utf-8?q?caf=C3=A9?= ok\n\n".encode(), "Grüße café ok", ""),
])
def test_raw_8bit_and_iso2022_headers_decode_like_bodies(raw, subject, sender):
    from connectors.mail.text import parse_headers

    headers = parse_headers(raw)
    hint = headers.get_param("charset")
    assert decode_header(headers.get("Subject"), hint) == subject
    assert decode_header(headers.get("From"), hint) == sender


def test_enriched_and_richtext_bodies_are_text():
    from connectors.mail.text import _enriched_to_text

    enriched = "<bold>Now</bold> is the time for\nall good men\n\n<italic>to come</italic> 1<<2 <param>x</param>"
    assert _enriched_to_text(enriched, richtext=False) == "Now is the time for all good men\nto come 1<2 "
    assert _enriched_to_text("<bold>Keys</bold><nl>and <lt>passports>\n", richtext=True) == "Keys\nand <passports> "


@pytest.mark.parametrize(("raw", "reason"), [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "an Outlook .msg (OLE) file"),
    (b"PK\x03\x04" + b"\x00" * 100, "a ZIP archive"),
    (b"\x7fELF" + bytes(range(256)), "binary data"),
])
def test_binary_files_are_skipped_with_what_they_are(raw, reason):
    with pytest.raises(SkipItem) as info:
        email_to_conversation(raw)
    assert info.value.reason.startswith(reason)


def test_subject_only_mail_is_delivered_and_nothing_at_all_is_skipped():
    conversation = email_to_conversation(b"Subject: Call me about the lease\nMessage-ID: <s@x>\n\n\n")
    assert conversation.text.startswith("Subject: Call me about the lease")
    with pytest.raises(SkipItem, match="no text"):
        email_to_conversation(b"Message-ID: <e@x>\nContent-Type: text/plain\n\n  \n")


def test_an_invitation_is_rendered_in_the_readers_zone_once_per_event():
    from zoneinfo import ZoneInfo

    from connectors.mail.invitation import render_calendar

    calendar = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
                "UID:plan-1@example.net\r\nSEQUENCE:0\r\nDTSTAMP:20261103T090000Z\r\nDTSTART:20261110T130000Z\r\n"
                "DTEND:20261110T143000Z\r\nSUMMARY:Quarterly planning\r\nLOCATION:Room 4.12\r\n"
                "ORGANIZER;CN=Carol Jones:mailto:carol@example.net\r\n"
                "ATTENDEE;PARTSTAT=NEEDS-ACTION;CN=Bob Miller:mailto:bob@example.org\r\nEND:VEVENT\r\n"
                "END:VCALENDAR\r\n")
    seen: set = set()
    text = render_calendar(calendar.encode(), ZoneInfo("Europe/Berlin"), seen)
    assert text == ("Invitation: Quarterly planning\nWhen: Tue 10 Nov 2026 14:00-15:30 (CET)\nWhere: Room 4.12\n"
                    "Organizer: Carol Jones <carol@example.net>\nAttendees: Bob Miller <bob@example.org>")
    assert render_calendar(calendar.encode(), ZoneInfo("Europe/Berlin"), seen) == ""  # the same event as invite.ics
    cancelled = calendar.replace("METHOD:REQUEST", "METHOD:CANCEL")
    assert render_calendar(cancelled.encode(), ZoneInfo("Asia/Tokyo")).startswith(
        "Cancelled event: Quarterly planning\nWhen: Tue 10 Nov 2026 22:00-23:30 (JST)")
    assert render_calendar(b"BEGIN:VCALENDAR\r\nthis is not a calendar") == ""


def test_a_broken_type_naming_no_text_stays_an_attachment():
    raw = (b"From: Bob <bob@example.org>\nTo: alice@example.com\nSubject: Scan\nMIME-Version: 1.0\n"
           b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nThe scan.\n'
           b'--b\nContent-Type: application; name="scan.pdf"\nContent-Transfer-Encoding: base64\n\n'
           b"JVBERi0xLjQKAAEC\n--b--\n")
    text = email_to_conversation(raw).text
    assert text.endswith("The scan.\n\nAttachments: scan.pdf (application/octet-stream)")


def test_only_a_header_line_with_fields_below_it_is_a_fold():
    from connectors.mail.text import unfolded

    body_without_blank_line = b"From: Bob <bob@example.org>\nSubject: Lunch\nSee you at noon.\nBob\n"
    assert unfolded(body_without_blank_line) == body_without_blank_line
    folded = b"Subject: A long\nsubject\nFrom: Bob <bob@example.org>\n\nBody\nline: two\n"
    assert unfolded(folded) == b"Subject: A long\n subject\nFrom: Bob <bob@example.org>\n\nBody\nline: two\n"
