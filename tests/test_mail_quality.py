"""The text-quality corpus: what people wrote is kept, quotes and history are gone, whatever the
client, the language or the charset (see tests/data/mail/quality/make_quality.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.errors import SkipItem
from connectors.mail.text import _body, _body_fast, email_to_conversation, email_to_piece, not_mail_reason, parse

CORPUS = Path(__file__).parent / "data" / "mail" / "quality"
CASES = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_quality_corpus_message(case):
    raw = (CORPUS / f"{case['name']}.eml").read_bytes()
    if case["skip"]:
        with pytest.raises(SkipItem) as info:
            email_to_conversation(raw)
        assert info.value.reason.startswith(case["skip"])
        return
    # the connector's defaults (reply_languages ["en"]) unless the case names its languages
    text = email_to_conversation(raw, reply_languages=case.get("languages") or ("en",)).text
    lost = [fragment for fragment in case["keep"] if fragment not in text]
    leaked = [fragment for fragment in case["gone"] if fragment in text]
    assert (lost, leaked) == ([], []), text


def test_every_quality_file_has_an_expectation_and_the_corpus_is_big_enough():
    assert {p.stem for p in CORPUS.glob("*.eml")} == {case["name"] for case in CASES}
    assert len(CASES) >= 60
    assert len({case["category"] for case in CASES}) >= 10


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_fast_mime_path_agrees_with_the_stdlib_on_the_quality_corpus(case):
    raw = (CORPUS / f"{case['name']}.eml").read_bytes()
    try:
        fast = _body_fast(raw)
    except Exception:
        return  # the stdlib takes what the fast parser refuses
    slow = _body(parse(raw))
    assert (fast[0].strip(), fast[1], fast[2]) == (slow[0].strip(), slow[1], slow[2])


def _every_test_mail():
    """Every mail the tests hold: the quality corpus, the awkward-mail corpus, a generated year."""
    from tests.mail_data import make_year

    for path in sorted(CORPUS.glob("*.eml")) + sorted(CORPUS.parent.glob("*.eml")):
        yield path.name, path.read_bytes()
    year = make_year(300)
    for n, raw in enumerate(year.inbox + year.sent):
        yield f"year#{n}", raw


ALL_LANGUAGES = ("en", "de", "cs", "da", "es", "fr", "it", "ja", "ko", "nl", "pl", "sv", "zh")


@pytest.mark.parametrize("languages", [("en",), ALL_LANGUAGES], ids=["en", "all-languages"])
def test_no_mail_that_had_text_delivers_an_empty_body(languages):
    # whatever the cut (quotes, history, signature), a leak is better than a loss
    empty = []
    for name, raw in _every_test_mail():
        if not_mail_reason(raw):  # an Outlook .msg, a binary: no mail, no text
            continue
        try:
            text, _, _ = _body_fast(raw)
        except Exception:
            text, _, _ = _body(parse(raw))
        if not text.strip():
            continue
        try:
            piece = email_to_piece(raw, skip_automated=False, reply_languages=languages)
        except SkipItem as exc:
            empty.append(f"{name}: skipped ({exc.reason})")
            continue
        if not piece.body.strip():
            empty.append(name)
    assert empty == []
