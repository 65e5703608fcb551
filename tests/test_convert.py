"""The process pool that converts big IMAP chunks gives exactly what inline conversion gives."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bridge.models import Skip
from connectors.mail import convert as convert_module
from connectors.mail.convert import Converter
from connectors.mail.text import MailJob, convert_all

CORPUS = Path(__file__).parent / "data" / "mail"


def test_pool_and_inline_conversion_agree(monkeypatch):
    when = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # mail without a Date header takes this, not "now"
    jobs = [MailJob(p.read_bytes(), when, p.name, True, ("en", "de")) for p in sorted(CORPUS.glob("*.eml"))] * 3
    inline = convert_all(jobs)
    monkeypatch.setattr(convert_module, "POOL_THRESHOLD", 1)
    with Converter(len(jobs)) as converter:
        assert converter._pool is not None or converter._workers == 1
        pooled = converter.start(jobs).result()
    assert [type(x) for x in pooled] == [type(x) for x in inline]
    assert [x.text if not isinstance(x, Skip) else x.reason for x in pooled] == \
        [x.text if not isinstance(x, Skip) else x.reason for x in inline]
    assert [x.source_key for x in pooled] == [x.source_key for x in inline]


def test_small_polls_do_not_start_a_pool():
    with Converter(5) as converter:
        assert converter._pool is None
