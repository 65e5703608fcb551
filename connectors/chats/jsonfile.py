"""Reading an export's JSON file: what is not JSON is a ``SourceError`` that says so, so the file
is skipped with its reason and the others go on (shared by the JSON exports: no connector)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bridge.errors import SourceError

__all__ = ["read_json"]


def read_json(path: Path, *, needs: str, what: str) -> dict[str, Any]:
    """The object in ``path``; one without a list under ``needs`` is not ``what``."""
    try:
        export = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"not readable JSON ({exc})") from None
    if not isinstance(export, dict) or not isinstance(export.get(needs), list):
        raise SourceError(f"not {what} (no {needs} list)")
    return export
