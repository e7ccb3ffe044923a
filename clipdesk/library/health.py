"""A library file's health, read without opening it as a :class:`~clipdesk.library.store.Library`.

``clipdesk-cli doctor`` must never create, migrate or lock a library, and must describe even a
damaged or foreign file, so this opens the file read-only with plain SQLite and reports what it
finds as a dict (the doctor's "library" section) instead of raising.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from clipdesk.library import schema
from clipdesk.library.store import SEARCH_MODEL_KEY

Section = dict[str, object]


def library_file_health(path: Path, *, quick: bool = False) -> Section:
    """``status`` (ok, warn or fail) and what was found: schema version, integrity, row counts,
    photos by status, vectors by model and the model search uses. ``quick`` uses SQLite's
    quick_check instead of the full integrity check."""
    section: Section = {"status": "ok", "path": str(path), "exists": path.exists()}
    if not path.exists():
        section["status"] = "warn"
        section["note"] = "no library yet (created when the app or `index` first runs)"
        return section
    section["size_mb"] = round(path.stat().st_size / 1e6, 2)
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        section["wal_mb"] = round(wal.stat().st_size / 1e6, 2)
    section["disk_free_gb"] = round(shutil.disk_usage(path.parent).free / 1e9, 1)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        return {**section, "status": "fail", "error": f"cannot open: {exc}"}
    try:
        _inspect(conn, section, quick=quick)
    except sqlite3.DatabaseError as exc:
        section.update(status="fail", error=f"{exc} (the file is damaged or not a database)")
    except UnicodeDecodeError:  # SQLite's message quotes a damaged schema's bytes
        section.update(status="fail", error="the file is damaged: its schema is not valid UTF-8")
    finally:
        conn.close()
    return section


def _inspect(conn: sqlite3.Connection, section: Section, *, quick: bool) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    section["schema_version"] = version
    section["schema_latest"] = schema.latest_version()
    if app_id != schema.APPLICATION_ID:
        section.update(status="fail", error="an SQLite file, but not a ClipDesk library")
        return
    if version > schema.latest_version():
        section.update(status="fail", error="written by a newer ClipDesk; update the app")
    pragma = "quick_check" if quick else "integrity_check"
    problems = [row[0] for row in conn.execute(f"PRAGMA {pragma}").fetchall()]
    section["integrity"] = "ok" if problems == ["ok"] else problems[:20]
    if problems != ["ok"]:
        section.update(status="fail", error=f"{pragma} found {len(problems)} problem(s)")
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    section["counts"] = {
        t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables
    }
    columns = {t: {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')} for t in tables}
    if "status" in columns.get("photos", ()):
        section["photos_by_status"] = dict(
            conn.execute("SELECT status, count(*) FROM photos GROUP BY status").fetchall()
        )
    if "model_id" in columns.get("embeddings", ()):
        section["embeddings_by_model"] = dict(
            conn.execute("SELECT model_id, count(*) FROM embeddings GROUP BY model_id").fetchall()
        )
    if {"key", "value"} <= columns.get("settings", set()):
        row = conn.execute(
            "SELECT value FROM settings WHERE key = ?", (SEARCH_MODEL_KEY,)
        ).fetchone()
        record = _loads(row[0]) if row is not None else None
        if isinstance(record, dict) and record.get("id"):
            section["search_model"] = record["id"]
            # Where search's vectors came from (a name or path): not the active model, which
            # the settings name (they differ while a new model re-embeds the library).
            section["search_model_source"] = record.get("source")


def _loads(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text
