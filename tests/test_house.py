"""The house rules that a reviewer would otherwise have to remember, checked on the source itself.

- SQL lives only in the library (``clipdesk/library``) and the tag store (``clipdesk/tags/store``):
  every other module asks one of them, so a table's shape is decided in one place. SQL is found in
  string literals (the house writes its keywords in capitals) and in ``execute`` calls; comments
  and docstrings may talk about SQL freely.
- Every module logs under its own name (``logging.getLogger(__name__)``), so ``CLIPDESK_LOG``
  takes the names a user reads in the log and in the package tree.

Import-linter (``lint-imports``, run by .ci/run) checks the arrows between packages; this file
checks what import-linter cannot see.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "clipdesk"
SQL_HOMES = ("library", "tags/store")

SQL_PATTERNS = [
    re.compile(pattern)
    for pattern in (
        r"\bSELECT\b[\s\S]*?\bFROM\b",
        r"^\s*SELECT\s+\S",  # the first piece of a statement glued together at run time
        r"\b(INSERT|REPLACE)\s+(OR\s+[A-Z]+\s+)?INTO\b",
        r"\bUPDATE\s+(OR\s+[A-Z]+\s+)?\w+\s+SET\b",
        r"\bDELETE\s+FROM\b",
        r"\bCREATE\s+(UNIQUE\s+|VIRTUAL\s+|TEMP\s+|TEMPORARY\s+)?(TABLE|INDEX|VIEW|TRIGGER)\b",
        r"\bDROP\s+(TABLE|INDEX|VIEW|TRIGGER)\b",
        r"\bALTER\s+TABLE\b",
        r"\bPRAGMA\s+\w+",
    )
]
# Cursor and connection methods that run SQL, whatever the text looks like.
SQL_RUNNERS = {"execute", "executemany", "executescript"}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def _is_sql_home(path: Path) -> bool:
    inside = path.relative_to(PACKAGE).as_posix()
    return any(inside.startswith(f"{home}/") for home in SQL_HOMES)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of string constants that stand alone as statements (docstrings and the like)."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant | ast.JoinedStr)
    }


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string literal that is not documentation; an f-string counts as one
    text with ``?`` where its values go, so ``f"SELECT {cols} FROM t"`` reads as SQL."""
    skipped = _docstrings(tree)
    parts_of_fstrings: set[int] = set()
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts_of_fstrings.update(id(value) for value in node.values)
            if id(node) not in skipped:
                text = "".join(
                    value.value if isinstance(value, ast.Constant) else "?" for value in node.values
                )
                found.append((node.lineno, str(text)))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skipped
            and id(node) not in parts_of_fstrings
        ):
            found.append((node.lineno, node.value))
    return found


def sql_in_source(source: str) -> list[str]:
    """Where ``source`` holds or runs SQL: ``"line: why"`` for each finding."""
    tree = ast.parse(source)
    findings = [
        f"{line}: {' '.join(text.split())[:70]!r}"
        for line, text in _strings(tree)
        if any(pattern.search(text) for pattern in SQL_PATTERNS)
    ]
    findings += [
        f"{node.lineno}: calls .{node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SQL_RUNNERS
    ]
    return sorted(set(findings), key=lambda finding: int(finding.split(":", 1)[0]))


def test_sql_lives_only_in_the_library_and_the_tag_store():
    offenders = {
        _relative(path): found
        for path in _modules()
        if not _is_sql_home(path) and (found := sql_in_source(path.read_text(encoding="utf-8")))
    }
    report = "\n".join(
        f"  {module}\n" + "\n".join(f"    line {finding}" for finding in found)
        for module, found in offenders.items()
    )
    assert not offenders, (
        f"SQL outside clipdesk/library and clipdesk/tags/store ({len(offenders)} modules); "
        f"move it into a method there:\n{report}"
    )


def test_the_sql_detector_finds_sql_and_ignores_documentation():
    found = sql_in_source(
        '"""Docs may say SELECT path FROM photos."""\n'
        "# and so may comments: DELETE FROM photos\n"
        "def f(conn, cols, table):\n"
        '    """Runs UPDATE photos SET x = 1."""\n'
        '    a = "SELECT id, path FROM photos WHERE id = ?"\n'
        '    b = f"SELECT {cols} FROM {table}"\n'
        '    c = "INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)"\n'
        '    d = "UPDATE photos SET status = ?"\n'
        '    e = f"PRAGMA busy_timeout={1000}"\n'
        '    g = "CREATE INDEX IF NOT EXISTS i ON t(x)"\n'
        '    h = "SELECT id " + "FROM t"\n'
        "    conn.execute(a)\n"
        '    ok = "Select a folder from the list, then update the settings."\n'
    )
    lines = sorted({int(finding.split(":", 1)[0]) for finding in found})
    assert lines == [5, 6, 7, 8, 9, 10, 11, 12], found


def test_the_detector_sees_the_sql_that_does_live_in_the_library():
    assert sql_in_source((PACKAGE / "library" / "store.py").read_text(encoding="utf-8"))


def _hand_named_loggers(source: str) -> list[str]:
    """getLogger calls naming a ClipDesk logger by hand instead of by ``__name__``."""
    return [
        f"{node.lineno}: getLogger({node.args[0].value!r})"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "getLogger"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
        and node.args[0].value.startswith("clipdesk")
    ]


# The one logger named by hand on purpose: the root of ClipDesk's tree, where the handlers live.
ROOT_LOGGER_MODULES = {"clipdesk/common/logging_setup.py"}


@pytest.mark.parametrize("path", _modules(), ids=_relative)
def test_every_module_logs_under_its_own_name(path: Path):
    if _relative(path) in ROOT_LOGGER_MODULES:
        return
    source = path.read_text(encoding="utf-8")
    assert not _hand_named_loggers(source)
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id in {"log", "logger"} for t in node.targets)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "attr", None) == "getLogger"
        ):
            assert ast.unparse(node.value) == "logging.getLogger(__name__)", ast.unparse(node)
