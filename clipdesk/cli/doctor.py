"""``clipdesk-cli doctor``: what a user pastes into a bug report.

Versions, the compute devices torch can see, the active model, where ClipDesk keeps its files and
the health of the library. Every section is collected on its own: a missing torch, an unreadable
model or a corrupt library is reported in its section and never stops the others. The library is
opened read-only and never created or migrated, so running doctor cannot make things worse.
Exit status 1 when a check failed, so scripts can use it as a health probe.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clipdesk import __version__
from clipdesk.common import paths
from clipdesk.library.store import SEARCH_MODEL_KEY

Section = dict[str, Any]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="report versions, devices, the model and library health (for bug reports)",
        description="Check this installation and print what a bug report needs.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="skip loading the model and use SQLite's quick_check instead of a full check",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    report = collect(library=args.library, model=args.model, device=args.device, quick=args.quick)
    emit(args, report, format_report(report))
    return 1 if failures(report) else 0


def collect(
    *,
    library: str | None = None,
    model: str | None = None,
    device: str | None = None,
    quick: bool = False,
) -> dict[str, Section]:
    library_path = Path(library).expanduser() if library else paths.default_library_path()
    lib = _guarded(lambda: library_health(library_path, quick=quick))
    model_name = model or lib.get("active_model")
    return {
        "clipdesk": _guarded(runtime_info),
        "torch": _guarded(lambda: torch_info(device)),
        "model": _guarded(lambda: model_info(model_name, device=device, load=not quick)),
        "library": lib,
        "paths": _guarded(paths_info),
    }


def _guarded(func: Callable[[], Section]) -> Section:
    try:
        return func()
    except Exception as exc:  # noqa: BLE001 - doctor reports everything, crashes on nothing
        return {"status": "fail", "error": f"{type(exc).__name__}: {exc}"}


def failures(report: dict[str, Section]) -> list[str]:
    return [name for name, section in report.items() if section.get("status") == "fail"]


def runtime_info() -> Section:
    return {
        "status": "ok",
        "version": __version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "executable": sys.executable,
        "frozen": bool(getattr(sys, "frozen", False)),
        "platform": platform.platform(),
        "qt": _dist_version("PySide6-Essentials") or _dist_version("PySide6") or "not installed",
        "numpy": _dist_version("numpy") or "not installed",
        "pillow": _dist_version("Pillow") or _dist_version("pillow") or "not installed",
    }


def _dist_version(name: str) -> str | None:
    # Installed metadata, not an import: doctor must not start Qt to learn its version.
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def torch_info(requested: str | None) -> Section:
    try:
        import torch
    except ImportError as exc:
        return {"status": "fail", "error": f"torch cannot be imported: {exc}"}
    from clipdesk.model import device as devices

    mps = getattr(torch.backends, "mps", None)
    section: Section = {
        "status": "ok",
        "version": torch.__version__,
        "cuda_build": torch.version.cuda or "none (CPU build)",
        "cuda_available": torch.cuda.is_available(),
        "mps_built": bool(mps and mps.is_built()),
        "mps_available": bool(mps and mps.is_available()),
        "cpu_threads": torch.get_num_threads(),
        "devices": [f"{d.name}: {d.description}" for d in devices.available_devices()],
    }
    try:
        section["selected"] = str(devices.select_device(requested or "auto"))
    except Exception as exc:  # noqa: BLE001 - DeviceError, or a driver failing
        section["status"] = "fail"
        section["selected"] = None
        section["error"] = getattr(exc, "message", str(exc))
    return section


def model_info(name: str | None, *, device: str | None, load: bool) -> Section:
    from clipdesk.model import manager

    active = _call(manager, "get_active_model")
    section: Section = {
        "status": "ok",
        "requested": name or active or f"default ({manager.DEMO_MODEL})",
    }
    installed = _call(manager, "list_models")
    if isinstance(installed, list):
        section["installed"] = [
            f"{getattr(m, 'name', m)}{' (active)' if getattr(m, 'active', False) else ''}"
            for m in installed
        ]
    try:
        path = manager.resolve_model(name)
    except Exception as exc:  # noqa: BLE001 - ModelError with a hint, or a manager bug
        return {
            **section,
            "status": "fail",
            "error": getattr(exc, "message", str(exc)),
            "searched": [str(p) for p in manager.model_dirs()],
        }
    section["path"] = str(path)
    section["size_mb"] = round(_tree_size(path) / 1e6, 1)
    for meta_name in ("clipdesk.json", "config.json"):
        meta = _read_json(path / meta_name) if path.is_dir() else None
        if isinstance(meta, dict):
            section[meta_name.split(".")[0] + "_keys"] = sorted(meta)[:20]
            for key in ("name", "display_name", "is_demo", "projection_dim", "description"):
                if key in meta:
                    section[key] = meta[key]
    if load:
        from clipdesk.model import load_model

        start = time.perf_counter()
        try:
            loaded = load_model(str(path), device=device or "auto")
            vector = loaded.encode_texts(["a photo of a dog"])
        except Exception as exc:  # noqa: BLE001 - report what a load failure looks like
            return {**section, "status": "fail", "error": getattr(exc, "message", str(exc))}
        section.update(
            id=loaded.id,
            dim=int(vector.shape[1]),
            device=str(loaded.device),
            is_demo=bool(loaded.is_demo),
            load_s=round(time.perf_counter() - start, 2),
        )
    return section


def _call(module: Any, function: str) -> Any:
    # The manager grows while doctor exists: use what it offers, skip what it lacks or breaks.
    func = getattr(module, function, None)
    if func is None:
        return None
    try:
        return func()
    except Exception:  # noqa: BLE001
        return None


def library_health(path: Path, *, quick: bool = False) -> Section:
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
        _inspect_library(conn, section, quick=quick)
    except sqlite3.DatabaseError as exc:
        section.update(status="fail", error=f"{exc} (the file is damaged or not a database)")
    finally:
        conn.close()
    return section


def _inspect_library(conn: sqlite3.Connection, section: Section, *, quick: bool) -> None:
    from clipdesk.library import schema

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
            section["active_model"] = record.get("source")


def paths_info() -> Section:
    from clipdesk.common import logging_setup

    return {
        "status": "ok",
        "data": str(paths.data_dir()),
        "config": str(paths.config_dir()),
        "cache": str(paths.cache_dir()),
        "models": str(paths.models_dir()),
        "log_file": str(logging_setup.log_file_path()),
    }


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def format_report(report: dict[str, Section]) -> str:
    marks = {"ok": "ok", "warn": "WARNING", "fail": "PROBLEM"}
    lines = []
    for name, section in report.items():
        lines.append(f"[{name}] {marks.get(section.get('status', 'ok'), '?')}")
        for key, value in section.items():
            if key == "status":
                continue
            if isinstance(value, dict):
                lines.append(f"  {key}:")
                lines += [f"    {k}: {v}" for k, v in value.items()] or ["    (none)"]
            elif isinstance(value, list):
                lines.append(f"  {key}:")
                lines += [f"    {v}" for v in value] or ["    (none)"]
            else:
                lines.append(f"  {key}: {value}")
    bad = failures(report)
    lines.append("")
    lines.append(f"problems in: {', '.join(bad)}" if bad else "everything looks fine")
    return "\n".join(lines)
