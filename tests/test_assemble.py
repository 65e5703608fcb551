from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from bridge.assemble import split_stream, split_text, to_requests
from bridge.models import MAX_TEXT, PRIORITY_BACKFILL, PRIORITY_LIVE, PRIORITY_LIVE_REST, Conversation
from bridge.store import Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("size", [10, MAX_TEXT - 64, 250_000, 300_000])
def test_split_keeps_every_character(size):
    rng = random.Random(size)
    words = ["alpha", "beta\n", "gamma", "delta\n\n", "épsilon", "ζ"]
    text = ""
    while len(text) < size:
        text += rng.choice(words) + " "
    text = text[:size]
    chunks = split_text(text)
    assert "".join(chunks) == text
    assert all(len(c) <= MAX_TEXT - 64 for c in chunks)


@pytest.mark.parametrize("seed", range(4))
def test_a_text_split_as_its_pieces_arrive_gives_the_same_chunks_as_split_whole(seed):
    rng = random.Random(seed)
    words = ["alpha", "beta\n", "gamma", "delta\n\n", "épsilon", "ζ", "x" * rng.choice([10, 5000, 120_000])]
    text = ""
    while len(text) < 450_000:
        text += rng.choice(words) + rng.choice([" ", "", "\n"])
    cuts = sorted(rng.sample(range(1, len(text)), 40))  # pieces of every size, some longer than a chunk
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    assert list(split_stream(pieces)) == split_text(text)


def test_split_without_any_boundary_cuts_hard():
    text = "x" * 250_000
    chunks = split_text(text)
    assert "".join(chunks) == text and len(chunks) == 3


def test_300k_text_becomes_labelled_parts_within_the_api_limit():
    text = ("A line of a very long report.\n" * 10_000)[:300_000]
    conv = Conversation(source_key="big", text=text, started_at=T0)
    parts = to_requests(conv, text_source_spec="file", language="en")
    assert len(parts) == 4
    assert [p.source_key for p in parts] == [f"big#part{n}of4" for n in range(1, 5)]
    rebuilt = ""
    for n, part in enumerate(parts, start=1):
        label = f"[part {n} of 4]\n\n"
        assert part.request.text.startswith(label)
        assert len(part.request.text) <= MAX_TEXT
        rebuilt += part.request.text.removeprefix(label)
    assert rebuilt == text


def test_defaults_come_from_the_connector_unless_the_item_says_otherwise():
    conv = Conversation(source_key="k", text="hi", started_at=T0)
    (part,) = to_requests(conv, text_source_spec="email", language="de")
    body = part.request.body()
    assert body["text_source"] == "message"
    assert body["text_source_spec"] == "email" and body["language"] == "de"
    conv = Conversation(source_key="k", text="hi", started_at=T0, language="fr", text_source_spec="notes")
    (part,) = to_requests(conv, text_source_spec="email", language="de")
    assert part.request.language == "fr" and part.request.text_source_spec == "notes"


def test_finished_at_never_before_started_at():
    conv = Conversation(source_key="k", text="hi", started_at=T0,
                        finished_at=datetime(2026, 10, 1, tzinfo=UTC))
    (part,) = to_requests(conv, text_source_spec="x", language="en")
    assert part.request.finished_at == T0


def test_a_long_live_item_sends_its_first_part_live_and_the_rest_behind_other_live_items():
    big = Conversation(source_key="big.txt", text="word " * 45_000, started_at=T0, label="file big.txt")
    parts = to_requests(big, text_source_spec="file", language="en")
    assert [p.priority for p in parts] == [PRIORITY_LIVE, PRIORITY_LIVE_REST, PRIORITY_LIVE_REST]
    assert [p.label for p in parts] == [f"file big.txt (part {n} of 3)" for n in (1, 2, 3)]
    store = Store()
    store.submit("drop", parts)
    note = Conversation(source_key="note.txt", text="a note dropped later", started_at=T0, label="file note.txt")
    store.submit("drop", to_requests(note, text_source_spec="file", language="en"))
    # the writes kept for live items go to the first part and the later note, not to the parts
    live = store.claim_due(T0.timestamp() + 10**10, 10, priority_at_most=PRIORITY_LIVE)
    assert [r.label for r in live] == ["file big.txt (part 1 of 3)", "file note.txt"]
    # the rest come before any backfill, with the writes backfill may use
    history = Conversation(source_key="old", text="old mail", started_at=T0, priority=PRIORITY_BACKFILL)
    store.submit("mail", to_requests(history, text_source_spec="email", language="en"))
    rest = store.claim_due(T0.timestamp() + 10**10, 10, priority_above=PRIORITY_LIVE)
    assert [r.label for r in rest] == ["file big.txt (part 2 of 3)", "file big.txt (part 3 of 3)", "old mail"]


def test_a_backfill_items_parts_all_stay_backfill():
    old = Conversation(source_key="k", text="word " * 60_000, started_at=T0, priority=PRIORITY_BACKFILL)
    assert {p.priority for p in to_requests(old, text_source_spec="email", language="en")} == {PRIORITY_BACKFILL}
