"""Is a library's schema the one ClipDesk makes? Asked when SQLite says a table, a column or a
foreign key's target is missing: a damaged schema (one flipped byte renames a column) must read
as a damaged library, while the same message from a mistake in ClipDesk's own SQL stays a bug."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from clipdesk.library import schema
from clipdesk.library.errors import LibraryCorruptError, damaged, translate

_SCHEMA_ERRORS = ("no such table", "no such column", "foreign key mismatch")


def is_schema_error(exc: BaseException) -> bool:
    """True for SQLite's errors about tables, columns and keys that are not as the SQL says."""
    return isinstance(exc, sqlite3.OperationalError) and str(exc).lower().startswith(_SCHEMA_ERRORS)


def damaged_schema(path: Path) -> LibraryCorruptError | None:
    """The damaged-library error when the schema of the file at ``path`` is not the one
    ClipDesk makes; None when it is (the missing table or column is then a bug)."""
    try:
        # Its own read-only connection: the caller's may be closed or mid-rollback.
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            problem = schema_damage(conn)
        finally:
            conn.close()
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        known = translate(exc, path)
        return known if isinstance(known, LibraryCorruptError) else damaged(path, str(exc))
    return None if problem is None else damaged(path, problem)


def schema_damage(conn: sqlite3.Connection) -> str | None:
    """What the library's tables lack compared with the schema ClipDesk creates, or None when
    every table and column is there."""
    expected = sqlite3.connect(":memory:", isolation_level=None)
    try:
        schema.migrate(expected)
        wanted = _columns(expected)
    finally:
        expected.close()
    found = _columns(conn)
    for table, columns in wanted.items():
        if table not in found:
            return f"its table {table!r} is missing"
        missing = sorted(columns - found[table])
        if missing:
            return f"its table {table!r} lacks the column(s) {', '.join(map(repr, missing))}"
    return None


def _columns(conn: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    quoted = {t: t.replace('"', '""') for t in tables}  # a damaged name may hold any character
    return {
        t: {str(row[1]) for row in conn.execute(f'PRAGMA table_info("{q}")')}
        for t, q in quoted.items()
    }
