"""FETCH chunking: bounded by message count and by bytes, in UID order, expunged UIDs dropped."""

from __future__ import annotations

from connectors.mail.imap import ImapConfig, ImapConnector


class RecordingServer:
    """Answers FETCH like imapclient does, from a table of message sizes."""

    def __init__(self, sizes: dict[int, int]) -> None:
        self.sizes = sizes
        self.body_fetches: list[list[int]] = []

    def fetch(self, uids: list[int], items: list[str]) -> dict:
        if items == ["RFC822.SIZE"]:
            return {u: {b"RFC822.SIZE": self.sizes[u]} for u in uids if u in self.sizes}
        self.body_fetches.append(list(uids))
        return {u: {b"BODY[]": b"x" * self.sizes[u]} for u in uids if u in self.sizes}


def _connector(**options) -> ImapConnector:
    config = ImapConfig(type="imap", host="127.0.0.1", security="none", username="u", password="p", **options)
    return ImapConnector("m", config)


def test_chunks_respect_count_and_bytes():
    sizes = {1: 1000, 2: 1000, 3: 1000, 4: 5000, 5: 100, 6: 100, 7: 100, 8: 100}
    server = RecordingServer(sizes)
    uids = [u for batch in _connector(fetch_messages=3, fetch_bytes=2500)._fetch(server, list(sizes))
            for u, _ in batch]
    assert uids == list(sizes)  # every message, in UID order
    assert server.body_fetches == [[1, 2], [3], [4], [5, 6, 7], [8]]


def test_expunged_messages_are_skipped():
    server = RecordingServer({1: 10, 3: 10})
    batches = list(_connector()._fetch(server, [1, 2, 3]))
    assert [[u for u, _ in b] for b in batches] == [[1, 3]]
