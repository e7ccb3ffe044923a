"""JSON values ClipDesk stored in the library (settings, category templates, label prompts):
one that no longer parses was damaged in the file, and says so instead of a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clipdesk.library.errors import damaged


def loads(text: Any, path: Path | str, what: str) -> Any:
    """``json.loads(text)``; a damaged value raises LibraryCorruptError naming ``what``."""
    try:
        return json.loads(text)
    except (ValueError, TypeError) as exc:
        raise damaged(path, f"{what} is not valid JSON ({exc})") from None


def loads_list(text: Any, path: Path | str, what: str) -> list[Any]:
    """:func:`loads` for a value that must be a JSON list."""
    value = loads(text, path, what)
    if not isinstance(value, list):
        raise damaged(path, f"{what} is not a JSON list")
    return value
