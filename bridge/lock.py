"""One daemon per state file, and its note on that file for ``status``."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any

from bridge.errors import StateBusy

__all__ = ["StateLock"]

NOTE_SIZE = 1024  # bytes of the lock file that carry the running daemon's note on its state file


class StateLock:
    """One process per state file: a second ``run`` on the same database refuses to start.

    The lock file also carries the daemon's note on whether its state file takes writes, for
    ``status``: written in place over bytes taken at start, so it needs no space on a full disk."""

    def __init__(self, state_path: Path) -> None:
        self.path = Path(f"{state_path}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        if not self.path.parent.is_dir():  # a typo in [state] path must not create folders
            raise StateBusy(f"the state folder {self.path.parent} does not exist (check [state] path)")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:  # not ours to write (owner, mode, a read-only disk): say so in a line
            raise StateBusy(f"cannot write in the state folder {self.path.parent}: {exc.strerror or exc}"
                            f" (the lock {self.path.name}; check [state] path and who owns the folder)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateBusy(f"another omi-bridge is running on {self.path.with_suffix('')}") from None
        self._fd = fd
        self.note({"state": "ok"})

    def note(self, health: dict[str, Any]) -> None:
        """Keep ``health`` (StateHealth.as_dict) where ``status`` finds it."""
        if self._fd is None:
            return
        text = json.dumps(health)
        if len(text) > NOTE_SIZE:
            text = json.dumps({**health, "error": (health.get("error") or "")[:NOTE_SIZE // 2]})
        with contextlib.suppress(OSError):  # the note is a courtesy; the lock is what matters
            os.pwrite(self._fd, text.encode().ljust(NOTE_SIZE), 0)

    def read_note(self) -> dict[str, Any] | None:
        """The running daemon's note on its state file, or None when no daemon runs on it."""
        if not self.held_elsewhere():
            return None
        try:
            return json.loads(self.path.read_bytes()[:NOTE_SIZE] or b"null")
        except (OSError, ValueError):
            return None

    def held_elsewhere(self) -> bool:
        """True if a running daemon holds the state file (for status: rows in flight are real)."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
