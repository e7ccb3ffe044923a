"""Reading a small JSON file from an untrusted source within a size and a nesting limit.

``json.loads`` reads a file of any size and recurses once per nesting level, so a huge or a
100,000-deep file costs gigabytes or ends in a ``RecursionError``; here both are refused first
with a :class:`JsonFileError` (a ``ValueError``) that says which limit was hit.
"""

from __future__ import annotations

import json
from pathlib import Path


class JsonFileError(ValueError):
    """The file is unreadable, not JSON, too large or nested too deeply (the message says)."""


def read_json_file(path: str | Path, *, max_bytes: int, max_depth: int) -> object:
    """The parsed contents of ``path``; :class:`JsonFileError` when it cannot be read, is not
    UTF-8 JSON, is larger than ``max_bytes`` or nests deeper than ``max_depth``."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)  # never more than the limit, whatever the file's size
    except OSError as exc:
        raise JsonFileError(f"cannot be read ({exc.strerror or exc})") from exc
    if len(raw) > max_bytes:
        raise JsonFileError(f"larger than {max_bytes:,} bytes, too large for this kind of file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise JsonFileError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except RecursionError:
        raise JsonFileError(f"nested more than {max_depth} levels deep") from None
    except json.JSONDecodeError as exc:
        raise JsonFileError(f"not valid JSON ({exc})") from exc
    if _depth(data) > max_depth:
        raise JsonFileError(f"nested more than {max_depth} levels deep")
    return data


def _depth(value: object) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children: list[object]
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest
