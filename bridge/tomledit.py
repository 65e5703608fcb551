"""Edits to the config file that keep it the person's: their comments, order and layout stay
byte for byte (tomlkit keeps what it does not touch), and a change made in the file by someone
else meanwhile (an editor open on it) is never overwritten.

A write happens only if the file still holds what was read (compared by its contents' hash, not
its time: an editor may save the same bytes, and a time may not move within a second). A file the
bridge may not write (root's, under /etc, as the service layout has it) is said plainly; the
caller shows the table to paste instead.

Secrets typed into a form are not put in the file: they go to owner-only files in the state
folder (beside the sign-in tokens), which the table names with ``X_file``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table

__all__ = ["ChangedBehind", "ConfigText", "Unwritable", "read", "render_table", "save_secret", "secrets_dir",
           "table", "with_option", "with_options", "with_table", "without_table", "write"]


class ChangedBehind(Exception):
    """The file changed since it was read: nothing was written."""


class Unwritable(Exception):
    """The file cannot be written by this user: nothing was written."""


@dataclass(frozen=True)
class ConfigText:
    path: Path
    text: str

    @property
    def digest(self) -> str:
        return _digest(self.text)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read(path: Path) -> ConfigText:
    return ConfigText(path, path.read_text(encoding="utf-8"))


def _connectors(doc: tomlkit.TOMLDocument) -> Table:
    if "connectors" not in doc:
        doc.add("connectors", tomlkit.table(is_super_table=True))  # only [connectors.NAME] headers are written
    return doc["connectors"]  # type: ignore[return-value]


def _table(values: dict[str, Any]) -> Table:
    table = tomlkit.table()
    for key, value in values.items():
        table.add(key, value)
    return table


def render_table(name: str, values: dict[str, Any]) -> str:
    """``[connectors.NAME]`` and its keys, as the file would hold them (the text to paste)."""
    doc = tomlkit.document()
    _connectors(doc).add(name, _table(values))
    return tomlkit.dumps(doc).lstrip("\n")


def with_table(text: str, name: str, values: dict[str, Any]) -> str:
    """The file with ``[connectors.NAME]`` added at the end, or its keys replaced where it stands
    (its header's comment kept)."""
    doc = tomlkit.parse(text)
    connectors = _connectors(doc)
    if name in connectors:
        table = connectors[name]
        for key in [k for k in table if k not in values]:
            del table[key]
        for key, value in values.items():
            table[key] = value
    else:
        connectors.add(name, _table(values))
    return tomlkit.dumps(doc)


def table(text: str, name: str) -> dict[str, Any] | None:
    """``[connectors.NAME]`` as plain values, or None when the file has no such table."""
    found = tomlkit.parse(text).get("connectors", {}).get(name)
    return found.unwrap() if isinstance(found, Table) else None


def with_option(text: str, name: str, key: str, value: Any) -> str:
    """The file with one key of ``[connectors.NAME]`` set, or taken out when ``value`` is None."""
    return with_options(text, name, {key: value})


def with_options(text: str, name: str, changes: dict[str, Any]) -> str:
    """The file with keys of ``[connectors.NAME]`` set where they stand (their comments kept) or
    added at its end, and taken out where the value is None; its other keys untouched."""
    doc = tomlkit.parse(text)
    found = _connectors(doc)[name]
    for key, value in changes.items():
        if value is None:
            if key in found:
                del found[key]
        elif found.get(key) != value:  # the same value keeps its own spelling (1.0, a literal string)
            found[key] = value
    return tomlkit.dumps(doc)


def without_table(text: str, name: str) -> str:
    doc = tomlkit.parse(text)
    del _connectors(doc)[name]
    out = tomlkit.dumps(doc)
    # the blank line that set a last table apart stays behind it; the file did not end blank before
    return out.rstrip("\n") + "\n" if out.endswith("\n\n") and not text.endswith("\n\n") else out


def write(read_as: ConfigText, new_text: str) -> None:
    """Replace the file with ``new_text`` if it still holds what ``read_as`` read.

    Written beside it and renamed (a crash never leaves half a config), with the old file's mode
    and owner. The check and the rename are a moment apart, not atomic: an editor saving in that
    moment is the one case left; an editor saving any time before is caught."""
    path = read_as.path
    try:
        if _digest(path.read_text(encoding="utf-8")) != read_as.digest:
            raise ChangedBehind(f"{path} was changed by someone else since the console read it")
        before = path.stat()
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except (PermissionError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise ChangedBehind(f"{path} is gone since the console read it") from None
        raise Unwritable(f"{path} cannot be written by this user (uid {os.geteuid()}): {exc.strerror}") from None
    try:
        os.fchmod(fd, before.st_mode & 0o7777)
        with contextlib.suppress(PermissionError):
            os.fchown(fd, before.st_uid, before.st_gid)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new_text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise Unwritable(f"{path} cannot be written by this user (uid {os.geteuid()}): {exc.strerror}") from None


def secrets_dir(state_path: Path) -> Path:
    """Secrets typed into the console, one owner-only file each, beside the state (as tokens are)."""
    return state_path.parent / f"{state_path.stem}-secrets"


def save_secret(state_path: Path, name: str, field: str, value: str) -> Path:
    """Write a secret to its owner-only file (0600 in a 0700 folder); the path the table names."""
    from bridge.tokens import TokenFile

    path = secrets_dir(state_path) / f"{name}.{field}"
    # a token file's rules: owner-only, atomic, and the service's user reads what root wrote
    TokenFile(path).write_text(value)
    return path
