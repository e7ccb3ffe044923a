"""The decision file: the user's confirmed and rejected tags as portable JSON, to carry them
into another library (``clipdesk-cli library export-decisions`` / ``import-decisions``).

Format (UTF-8 JSON; ``version`` is 1)::

    {
      "format": "clipdesk-decisions",
      "version": 1,
      "exported_at": "2026-05-01T12:00:00+00:00",
      "categories": [ ... ],          # the categories decided on, as in a category file
      "decisions": [
        {"path": "/photos/2024/beach.jpg", "content_hash": "9f2c...",
         "category": "Scene", "label": "beach", "state": "confirmed"}
      ]
    }

``state`` is ``confirmed`` or ``rejected``: the user's own decisions. Tags imported from XMP
sidecars are not in the file (the sidecars carry them, and ``tags import-xmp`` reads them into
any library); the model's suggestions are not either (the other library makes its own).
Reading is all-or-nothing and bounded (:mod:`clipdesk.common.limits`); every problem raises
:class:`DecisionFileError` naming the file and the field (``decisions[12].state``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clipdesk.common import limits
from clipdesk.common.atomic_file import atomic_write_bytes
from clipdesk.common.errors import ClipDeskError
from clipdesk.common.json_files import JsonFileError, read_json_file
from clipdesk.tags import category_file
from clipdesk.tags.categories import Category
from clipdesk.tags.records import TagState
from clipdesk.tags.store.decisions import EXPORTED_STATES, DecisionRow

FORMAT_NAME = "clipdesk-decisions"
FORMAT_VERSION = 1
_TOP_KEYS = {"format", "version", "exported_at", "categories", "decisions"}
_ENTRY_KEYS = {"path", "content_hash", "category", "label", "state"}
_MAX_HASH_CHARS = 128
_MAX_NAME_CHARS = 1000  # names are validated again against the library's own categories


class DecisionFileError(ClipDeskError):
    """A decision file cannot be read or written, or is not a valid decision file."""


@dataclass(frozen=True)
class DecisionFile:
    categories: list[Category]
    decisions: list[DecisionRow]
    exported_at: str | None = None


def _fail(source: str, where: str, problem: str, hint: str | None = None) -> DecisionFileError:
    return DecisionFileError(
        f"{source}: {where}: {problem}" if where else f"{source}: {problem}", hint
    )


def dump_decisions(categories: Sequence[Category], decisions: Sequence[DecisionRow]) -> bytes:
    # ensure_ascii: a path that is not UTF-8 (kept as surrogate escapes) survives as \udcXX
    doc = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "categories": [category_file.category_to_dict(c) for c in categories],
        "decisions": [
            {
                "path": d.path,
                "content_hash": d.content_hash,
                "category": d.category,
                "label": d.label,
                "state": d.state.value,
            }
            for d in decisions
        ],
    }
    return (json.dumps(doc, indent=1, ensure_ascii=True) + "\n").encode("ascii")


def write_decision_file(
    path: str | os.PathLike[str],
    categories: Sequence[Category],
    decisions: Sequence[DecisionRow],
) -> int:
    """Write atomically (an old file stays whole until the new one is on disk); returns bytes."""
    data = dump_decisions(categories, decisions)
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise DecisionFileError(
            f"{path}: cannot write ({exc.strerror or exc})",
            "Check that the folder exists and that you can write to it.",
        ) from None
    return len(data)


def read_decision_file(path: str | os.PathLike[str]) -> DecisionFile:
    source, file = str(path), Path(path)
    if file.is_dir():
        raise DecisionFileError(f"{source}: is a folder, not a decision file")
    if not file.exists():
        raise DecisionFileError(f"{source}: no such file")
    try:
        doc = read_json_file(
            file,
            max_bytes=limits.MAX_DECISION_FILE_BYTES,
            max_depth=limits.MAX_DECISION_JSON_DEPTH,
        )
    except JsonFileError as exc:
        raise _fail(source, "", str(exc), "Is this a file written by export-decisions?") from None
    return parse_document(doc, source)


def parse_document(doc: Any, source: str = "<decisions>") -> DecisionFile:
    if not isinstance(doc, dict):
        raise _fail(source, "", "expected a JSON object with 'format', 'version' and 'decisions'")
    extra = sorted(set(doc) - _TOP_KEYS)
    if extra:
        raise _fail(source, "top level", f"unknown field {extra[0]!r}")
    category_file.check_format_header(
        doc, source, FORMAT_NAME, FORMAT_VERSION, "Is this a ClipDesk decision file?", _fail
    )
    exported_at = doc.get("exported_at")
    if exported_at is not None and not isinstance(exported_at, str):
        raise _fail(source, "exported_at", "expected a date as text")
    categories = _categories(doc.get("categories", []), source)
    raw = doc.get("decisions")
    if not isinstance(raw, list):
        raise _fail(source, "decisions", "expected a list of decisions")
    if len(raw) > limits.MAX_DECISIONS:
        raise _fail(
            source, "decisions", f"{len(raw):,} decisions; at most {limits.MAX_DECISIONS:,}"
        )
    return DecisionFile(
        categories, [_entry(e, source, f"decisions[{i}]") for i, e in enumerate(raw)], exported_at
    )


def _categories(raw: Any, source: str) -> list[Category]:
    if not isinstance(raw, list):
        raise _fail(source, "categories", "expected a list of categories")
    wrapped = {
        "format": category_file.FORMAT_NAME,
        "version": category_file.FORMAT_VERSION,
        "categories": raw,
    }
    try:
        return category_file.parse_categories(json.dumps(wrapped), source)
    except category_file.CategoryFileError as exc:
        raise DecisionFileError(exc.message, exc.hint) from None


def _text(entry: dict[str, Any], key: str, source: str, where: str, limit: int) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, f"{where}.{key}", f"expected text, found {json.dumps(value)}")
    if len(value) > limit:
        raise _fail(source, f"{where}.{key}", f"longer than {limit:,} characters")
    return value


def _entry(entry: Any, source: str, where: str) -> DecisionRow:
    if not isinstance(entry, dict):
        raise _fail(source, where, "expected an object with path, category, label and state")
    extra = sorted(set(entry) - _ENTRY_KEYS)
    if extra:
        raise _fail(source, where, f"unknown field {extra[0]!r}")
    path = _text(entry, "path", source, where, limits.MAX_DECISION_PATH_CHARS)
    digest = entry.get("content_hash")
    if digest is not None and (
        not isinstance(digest, str)
        or not digest
        or len(digest) > _MAX_HASH_CHARS
        or any(c not in "0123456789abcdef" for c in digest)
    ):
        raise _fail(
            source, f"{where}.content_hash", f"expected a hex digest or null, found {digest!r:.60}"
        )
    category = _text(entry, "category", source, where, _MAX_NAME_CHARS)
    label = _text(entry, "label", source, where, _MAX_NAME_CHARS)
    state = entry.get("state")
    allowed = [s.value for s in EXPORTED_STATES]
    if state not in allowed:
        raise _fail(
            source,
            f"{where}.state",
            f"expected {' or '.join(json.dumps(a) for a in allowed)}, found {json.dumps(state)}",
        )
    return DecisionRow(path, digest, category, label, TagState(state))
