"""Mail -> conversations for a whole fetched chunk, across CPU cores when the chunk is big.

Turning mail into clean text (MIME parsing, reply and signature cutting) costs about a
millisecond and a half per message in Python, eight times what fetching it from a local IMAP
server costs. A backfill therefore converts in a pool of worker processes while the next chunk
is being fetched; a handful of new messages is converted inline, where a pool's start-up would
cost more than it saves.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bridge.models import Conversation, Skip
from connectors.mail.text import MailJob, convert_all

__all__ = ["Converter"]

log = logging.getLogger(__name__)

POOL_THRESHOLD = 400  # messages in one poll before a pool pays for its start-up


class Converter:
    def __init__(self, expected: int) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._workers = max(1, min(os.cpu_count() or 1, 8))
        if expected >= POOL_THRESHOLD and self._workers > 1:
            # spawn, not fork: the daemon has threads, and forking a threaded process is unsafe
            self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"))

    def __enter__(self) -> Converter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def start(self, jobs: list[MailJob]) -> Pending:
        """Begin converting; the result is read with ``Pending.result()``."""
        if self._pool is None or len(jobs) < self._workers * 4:
            return Pending(jobs, [], convert_all(jobs))
        size = -(-len(jobs) // self._workers)
        futures = [self._pool.submit(convert_all, jobs[i : i + size]) for i in range(0, len(jobs), size)]
        return Pending(jobs, futures, None)


class Pending:
    def __init__(self, jobs: list[MailJob], futures: list[Future], done: list[Conversation | Skip] | None) -> None:
        self._jobs = jobs
        self._futures = futures
        self._done = done

    def result(self) -> list[Conversation | Skip]:
        if self._done is None:
            try:
                self._done = [item for future in self._futures for item in future.result()]
            except BrokenProcessPool:  # a worker died (out of memory?): do this chunk here
                log.warning("mail conversion worker died; converting %d message(s) inline", len(self._jobs))
                self._done = convert_all(self._jobs)
        return self._done
