"""The category file: tag categories as JSON, for import, export and the shipped starter sets
(one for real photo models, one for the demo model, which knows only coloured shapes).

Format (UTF-8 JSON; ``version`` is 1)::

    {
      "format": "clipdesk-categories",
      "version": 1,
      "categories": [
        {
          "name": "Scene",                  # required; no '|'
          "mode": "single",                 # "single" (default) or "multi"
          "threshold": 0.5,                 # 0..1; single: least probability, multi: per-label default
          "templates": ["a photo of a {label}."],   # optional; default: ClipDesk's ensemble
          "auto": true,                     # optional; false = manual keywords, never model-suggested
          "labels": [
            "city",                                             # a label is a name ...
            {"name": "beach", "prompts": ["a sandy beach"]},    # ... or an object
            {"name": "snow", "threshold": 0.7}                  # (per-label threshold: multi only)
          ]
        }
      ]
    }

Reading is all-or-nothing: every category is validated before any is returned, and any problem
raises :class:`CategoryFileError` naming the file, the field (``categories[2].labels[0].name``) and,
for JSON syntax errors, the line and column.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from clipdesk.common.atomic_file import atomic_write_bytes
from clipdesk.common.errors import ClipDeskError
from clipdesk.common.limits import (
    MAX_CATEGORIES,
    MAX_CATEGORY_FILE_BYTES,
    MAX_CATEGORY_JSON_DEPTH,
    MAX_LABELS_PER_CATEGORY,
)
from clipdesk.common.regular_files import NotARegularFileError, open_regular
from clipdesk.tags import prompts
from clipdesk.tags.categories import Category, CategoryError, Label, Mode, check_capacity

FORMAT_NAME = "clipdesk-categories"
FORMAT_VERSION = 1
_TOP_KEYS = {"format", "version", "categories"}
_CATEGORY_KEYS = {"name", "mode", "threshold", "templates", "auto", "labels"}
_LABEL_KEYS = {"name", "prompts", "threshold"}
STARTER_FILE = Path(__file__).with_name("starter_categories.json")
# The demo model knows colours and shapes only (models/clipdesk-mini/MODEL_CARD.md): real-world
# labels would tag its coloured shapes "Pets: cat", so it gets the categories of its own world.
DEMO_STARTER_FILE = Path(__file__).with_name("starter_categories_demo.json")


class CategoryFileError(ClipDeskError):
    """A category file cannot be read or is not a valid category file."""


def _fail(source: str, where: str, problem: str, hint: str | None = None) -> CategoryFileError:
    location = f"{source}: {where}: " if where else f"{source}: "
    err = CategoryFileError(f"{location}{problem}", hint)
    err.where = where  # type: ignore[attr-defined]  # parse_categories adds the line from it
    return err


class _Located(dict[str, Any]):
    """A JSON object that remembers the line it starts on."""

    line = 0


# json's undocumented pure-Python internals, which typeshed leaves out of its stubs.
_json_object: Callable[..., tuple[dict[str, Any], int]]
_json_object = json.decoder.JSONObject  # type: ignore[attr-defined]  # not in typeshed
_py_make_scanner: Callable[[json.JSONDecoder], Callable[[str, int], tuple[Any, int]]]
_py_make_scanner = json.scanner.py_make_scanner  # type: ignore[attr-defined]  # not in typeshed


def _decode(text: str) -> Any:
    """json.loads, except that every object is a :class:`_Located` (for error lines)."""
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[_Located, int]:
        obj, end = _json_object(s_and_end, *args)
        located = _Located(obj)
        located.line = bisect.bisect_left(newlines, s_and_end[1]) + 1
        return located, end

    decoder = json.JSONDecoder()
    # JSONDecoder has these hooks at runtime, but typeshed does not declare them.
    decoder.parse_object = parse_object  # type: ignore[attr-defined]  # not in typeshed
    decoder.scan_once = _py_make_scanner(decoder)  # type: ignore[attr-defined]  # the C scanner ignores hooks
    return decoder.decode(text)


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _line_of(doc: Any, where: str) -> int | None:
    """The line of the innermost object on the JSON path ``where`` (e.g. categories[1].labels[0])."""
    node, line = doc, getattr(doc, "line", None)
    for key, index in _PATH_TOKEN.findall(where):
        try:
            node = node[int(index)] if index else node[key]
        except (KeyError, IndexError, TypeError, ValueError):
            break
        line = getattr(node, "line", line)
    return line


def _expect(value: Any, kind: type | tuple[type, ...], source: str, where: str, what: str) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # JSON true/false are Python bools, which are ints: never accept them as numbers.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        found = json.dumps(value)
        found = found if len(found) <= 60 else found[:57] + "..."
        raise _fail(source, where, f"expected {what}, found {found}")
    return value


def _check_keys(obj: dict[str, Any], allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _fail(
            source,
            where,
            f"unknown field(s) {', '.join(map(repr, unknown))}",
            f"allowed fields: {', '.join(sorted(allowed))}",
        )


def _parse_label(raw: Any, source: str, where: str) -> Label:
    if isinstance(raw, str):
        return Label(raw)
    _expect(raw, dict, source, where, "a label name or an object with a 'name'")
    _check_keys(raw, _LABEL_KEYS, source, where)
    if "name" not in raw:
        raise _fail(source, where, "label has no 'name'")
    name = _expect(raw["name"], str, source, f"{where}.name", "text")
    label_prompts = _expect(
        raw.get("prompts", []), list, source, f"{where}.prompts", "a list of prompts"
    )
    for i, p in enumerate(label_prompts):
        _expect(p, str, source, f"{where}.prompts[{i}]", "text")
    threshold = raw.get("threshold")
    if threshold is not None:
        _expect(threshold, (int, float), source, f"{where}.threshold", "a number between 0 and 1")
    return Label(name, tuple(label_prompts), threshold)


def _parse_category(raw: Any, source: str, where: str) -> Category:
    _expect(raw, dict, source, where, "a category object")
    _check_keys(raw, _CATEGORY_KEYS, source, where)
    for key in ("name", "labels"):
        if key not in raw:
            raise _fail(source, where, f"category has no '{key}'")
    name = _expect(raw["name"], str, source, f"{where}.name", "text")
    labels_raw = _expect(raw["labels"], list, source, f"{where}.labels", "a list of labels")
    if len(labels_raw) > MAX_LABELS_PER_CATEGORY:  # before a million labels are validated
        raise _fail(
            source,
            f"{where}.labels",
            f"{len(labels_raw):,} labels; a category has at most {MAX_LABELS_PER_CATEGORY:,}",
            "split it into several categories",
        )
    labels = [_parse_label(lab, source, f"{where}.labels[{i}]") for i, lab in enumerate(labels_raw)]
    mode = _expect(
        raw.get("mode", Mode.SINGLE.value), str, source, f"{where}.mode", "'single' or 'multi'"
    )
    threshold = _expect(
        raw.get("threshold", 0.5), (int, float), source, f"{where}.threshold", "a number"
    )
    templates = raw.get("templates")
    if templates is None:
        templates = list(prompts.DEFAULT_TEMPLATES)
    _expect(templates, list, source, f"{where}.templates", "a list of templates")
    for i, t in enumerate(templates):
        _expect(t, str, source, f"{where}.templates[{i}]", "text")
    auto = _expect(raw.get("auto", True), bool, source, f"{where}.auto", "true or false")
    try:
        return Category(name, tuple(labels), mode, threshold, tuple(templates), auto)
    except CategoryError as exc:
        raise _fail(source, where, exc.message, exc.hint) from None


def parse_categories(text: str, source: str = "<text>") -> list[Category]:
    """Validate a whole category document and return its categories (nothing partial).

    Errors name the file, the line of the object at fault and the field's JSON path:
    ``cats.json, line 14: categories[1].mode: ...``.
    """
    if len(text) > MAX_CATEGORY_FILE_BYTES:
        raise _fail(source, "", _TOO_LARGE)
    line = _too_deep(text)
    if line is not None:
        # The parser recurses once per level: a 100,000-deep document would exhaust the stack.
        raise _fail(
            source,
            f"line {line}",
            f"nested more than {MAX_CATEGORY_JSON_DEPTH} levels deep; a category file needs 5",
        )
    try:
        doc = _decode(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            source, f"line {exc.lineno}, column {exc.colno}", f"not valid JSON ({exc.msg})"
        ) from None
    try:
        return _parse_document(doc, source)
    except CategoryFileError as exc:
        where = getattr(exc, "where", "")
        line = _line_of(doc, where) if where else None
        if line is None:
            raise
        message = exc.message.replace(f"{source}: ", f"{source}, line {line}: ", 1)
        raise CategoryFileError(message, exc.hint) from None


_TOO_LARGE = f"larger than {MAX_CATEGORY_FILE_BYTES:,} bytes, the most a category file may be"
_JSON_STRUCTURE = re.compile(r'[\[\]{}"\\\n]')


def _too_deep(text: str) -> int | None:
    """The line where ``text`` nests deeper than the limit, or None; strings are skipped."""
    depth, line, in_string, escaped_at = 0, 1, False, -1
    for found in _JSON_STRUCTURE.finditer(text):
        ch, at = found.group(), found.start()
        if ch == "\n":
            line += 1
        elif in_string:
            if at == escaped_at:
                continue
            if ch == "\\":
                escaped_at = at + 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_CATEGORY_JSON_DEPTH:
                return line
        elif ch in "]}":
            depth -= 1
    return None


def check_format_header(
    doc: dict[str, Any],
    source: str,
    name: str,
    newest: int,
    which_file: str,
    fail: Callable[[str, str, str, str | None], ClipDeskError],
) -> int:
    """The ``version`` of a ClipDesk JSON file whose ``format`` must be ``name``; ``fail`` makes
    the file kind's own error. Shared by the category and decision files."""
    if doc.get("format") != name:
        raise fail(
            source,
            "format",
            f'expected "{name}", found {json.dumps(doc.get("format"))}',
            which_file,
        )
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail(
            source, "version", f"expected a version number, found {json.dumps(version)}", None
        )
    if version > newest:
        raise fail(
            source,
            "version",
            f"version {version} is newer than this ClipDesk reads ({newest})",
            "Update ClipDesk to import this file.",
        )
    return version


def _parse_document(doc: Any, source: str) -> list[Category]:
    _expect(doc, dict, source, "", "a JSON object with 'format', 'version' and 'categories'")
    _check_keys(doc, _TOP_KEYS, source, "top level")
    check_format_header(
        doc, source, FORMAT_NAME, FORMAT_VERSION, "is this a ClipDesk category file?", _fail
    )
    if "categories" not in doc:
        raise _fail(source, "top level", "no 'categories' list")
    raw_list = _expect(doc["categories"], list, source, "categories", "a list of categories")
    if len(raw_list) > MAX_CATEGORIES:
        raise _fail(
            source,
            "categories",
            f"{len(raw_list):,} categories; ClipDesk holds at most {MAX_CATEGORIES}",
            "split the file, or merge related categories",
        )
    result: list[Category] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_list):
        cat = _parse_category(raw, source, f"categories[{i}]")
        key = cat.name.casefold()
        if key in seen:
            raise _fail(
                source,
                f"categories[{i}].name",
                f"category {cat.name!r} appears twice (also categories[{seen[key]}])",
            )
        seen[key] = i
        result.append(cat)
    try:
        check_capacity([], result)
    except CategoryError as exc:
        raise _fail(source, "categories", exc.message, exc.hint) from None
    return result


def read_category_file(path: str | os.PathLike[str]) -> list[Category]:
    path = Path(path)
    try:
        with open_regular(path) as fh:
            data = fh.read(MAX_CATEGORY_FILE_BYTES + 1)  # never more, whatever the file's size
        if len(data) > MAX_CATEGORY_FILE_BYTES:
            raise _fail(str(path), "", _TOO_LARGE)
    except FileNotFoundError:
        raise CategoryFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CategoryFileError(f"{path}: is a folder, not a category file") from None
    except NotARegularFileError as exc:
        if path.is_dir():
            raise CategoryFileError(f"{path}: is a folder, not a category file") from None
        raise CategoryFileError(f"{path}: {exc.strerror}, not a category file") from None
    except OSError as exc:
        raise CategoryFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(
            str(path), f"byte {exc.start}", "not UTF-8 text", "save the file as UTF-8"
        ) from None
    return parse_categories(text, str(path))


def category_to_dict(cat: Category) -> dict[str, Any]:
    labels: list[Any] = []
    for lab in cat.labels:
        if not lab.prompts and lab.threshold is None:
            labels.append(lab.name)
            continue
        entry: dict[str, Any] = {"name": lab.name}
        if lab.prompts:
            entry["prompts"] = list(lab.prompts)
        if lab.threshold is not None:
            entry["threshold"] = lab.threshold
        labels.append(entry)
    out: dict[str, Any] = {"name": cat.name, "mode": cat.mode.value, "threshold": cat.threshold}
    if cat.templates != prompts.DEFAULT_TEMPLATES:
        out["templates"] = list(cat.templates)
    if not cat.auto:
        out["auto"] = False
    out["labels"] = labels
    return out


def dump_categories(categories: Sequence[Category]) -> str:
    doc = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "categories": [category_to_dict(c) for c in categories],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_category_file(path: str | os.PathLike[str], categories: Sequence[Category]) -> None:
    """Write atomically: the old file stays whole until the new one is complete on disk."""
    try:
        atomic_write_bytes(path, dump_categories(categories).encode("utf-8"))
    except OSError as exc:
        raise CategoryFileError(f"{path}: cannot write ({exc.strerror or exc})") from None


def starter_categories(demo_model: bool = False) -> list[Category]:
    """The categories ClipDesk ships for a real model (Scene, Who, Pets, Subject), or with
    ``demo_model`` for the demo model (Colour, Shape); a new library starts with the set of
    the model it is first tagged with (the user may edit or remove them)."""
    return read_category_file(DEMO_STARTER_FILE if demo_model else STARTER_FILE)
