"""Conversations -> outbox requests: defaults from the connector, and the size limit.

Omi takes at most 100,000 characters per conversation. A longer text is cut into labelled parts
("[part 2 of 3]"), each its own conversation, cut at a paragraph, line or word boundary where one
is near the limit. Nothing is dropped: the parts, labels removed, join back to the whole text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bridge.models import MAX_TEXT, PRIORITY_LIVE_REST, Conversation, CreateConversationRequest

__all__ = ["QueuedRequest", "describe", "part_key", "part_requests", "split_stream", "split_text", "to_requests"]

_LABEL_ROOM = 64  # "[part 12 of 34]\n\n" with room to spare
_BOUNDARIES = ("\n\n", "\n", " ")


def split_text(text: str, limit: int = MAX_TEXT - _LABEL_ROOM) -> list[str]:
    """Cut ``text`` into chunks of at most ``limit`` characters whose concatenation is ``text``."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = 0
        for boundary in _BOUNDARIES:
            # only a boundary in the last tenth of the window: otherwise parts get needlessly small
            at = rest.rfind(boundary, limit - limit // 10, limit)
            if at > 0:
                cut = at + len(boundary)
                break
        if cut == 0:
            cut = limit
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    return chunks


def split_stream(pieces: Iterable[str]) -> Iterator[str]:
    """``split_text`` of the text ``pieces`` make, chunk by chunk as the pieces arrive: the same
    chunks, with only one chunk and one piece in memory (a 50 MB file read in pieces). A cut
    depends on the first ``limit`` characters only, so a window of MAX_TEXT finds the same one."""
    buffer = ""
    for piece in pieces:
        buffer += piece
        while len(chunks := split_text(buffer[:MAX_TEXT])) > 1:
            yield chunks[0]
            buffer = buffer[len(chunks[0]):]
    yield buffer


@dataclass(frozen=True)
class QueuedRequest:
    source_key: str
    request: CreateConversationRequest
    priority: int
    label: str = ""


def to_requests(conv: Conversation, *, text_source_spec: str, language: str) -> list[QueuedRequest]:
    """The requests a conversation becomes: one, or one per labelled part of a long text."""
    chunks = [c for c in split_text(conv.text) if c.strip()]
    return list(part_requests(conv, chunks, len(chunks), text_source_spec=text_source_spec, language=language))


def part_key(source_key: str, n: int, total: int) -> str:
    """The outbox key of part ``n`` of ``total`` of a conversation (its own key when it is whole)."""
    return source_key if total == 1 else f"{source_key}#part{n}of{total}"


def part_requests(conv: Conversation, chunks: Iterable[str], total: int, *, text_source_spec: str,
                  language: str) -> Iterator[QueuedRequest]:
    """The request of each of the ``total`` non-blank ``chunks`` of ``conv``'s text, as they come
    (``to_requests``; a file read in pieces passes its chunks as it splits them)."""
    fields = {
        "text_source": conv.text_source,
        "text_source_spec": conv.text_source_spec or text_source_spec,
        "language": conv.language or language,
        "started_at": conv.started_at,
        "finished_at": max(conv.finished_at or conv.started_at, conv.started_at),
        "geolocation": conv.geolocation,
    }
    label = describe(conv)
    if total == 1:
        for chunk in chunks:
            yield QueuedRequest(conv.source_key, CreateConversationRequest(text=chunk, **fields), conv.priority, label)
        return
    # a live item's first part goes as live; the rest follow behind other live items, outside
    # the writes kept for them (a 50 MB file's 500 parts must not take them for a day)
    rest = max(conv.priority, PRIORITY_LIVE_REST)
    for n, chunk in enumerate(chunks, start=1):
        yield QueuedRequest(
            part_key(conv.source_key, n, total),
            CreateConversationRequest(text=f"[part {n} of {total}]\n\n{chunk}", **fields),
            conv.priority if n == 1 else rest,
            f"{label} (part {n} of {total})",
        )


LABEL_MAX = 100


def describe(conv: Conversation) -> str:
    """What a person calls this conversation: its label, else its text's first line, cut short."""
    label = conv.label or next((line.strip() for line in conv.text.splitlines() if line.strip()), conv.source_key)
    return label if len(label) <= LABEL_MAX else label[:LABEL_MAX - 1].rstrip() + "…"
