"""Reading an export's JSON file: what is not JSON is a ``SourceError`` that says so, so the file
is skipped with its reason and the others go on (shared by the JSON exports: no connector)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bridge.errors import SourceError

__all__ = ["parse_json", "read_json"]


def read_json(path: Path, *, needs: str, what: str) -> dict[str, Any]:
    """The object in ``path``; one without a list under ``needs`` is not ``what``."""
    return parse_json(path.read_bytes(), needs=needs, what=what)


def parse_json(data: bytes, *, needs: str, what: str) -> dict[str, Any]:
    """``read_json`` of bytes already read (a zip's member)."""
    try:
        export = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"not readable JSON ({exc})") from None
    if not isinstance(export, dict) or not isinstance(export.get(needs), list):
        raise SourceError(f"not {what} (no {needs} list)")
    return export
