"""The facts a bug report needs (``clipdesk-cli doctor``), each section collected on its own.

Versions, the compute devices torch can see, the active model (named as ``status`` and
``models list`` name it, :meth:`StatusService.active_model`), where ClipDesk keeps its files and
the library file's health. A missing torch, an unreadable model or a corrupt library is reported
in its section and never stops the others. The library is read without being opened as a
Library: never created or migrated, so running the doctor cannot make things worse.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from clipdesk import __version__
from clipdesk.common import paths

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

Section = dict[str, object]


def diagnose(app: ClipDeskServices, *, quick: bool = False) -> dict[str, Section]:
    """Every section; ``quick`` skips loading the model and uses SQLite's quick_check."""
    status = app.status_report
    return {
        "clipdesk": guarded(runtime_info),
        "torch": guarded(lambda: torch_info(app.device)),
        "model": guarded(
            lambda: model_info(status.active_model(), device=app.device, load=not quick, app=app)
        ),
        "library": guarded(lambda: status.library_health(quick=quick)),
        "paths": guarded(paths_info),
    }


def guarded(func: Callable[[], Section]) -> Section:
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
        # the CPU runtime (clipdesk.model.runtime); its version is in every export's manifest
        "onnxruntime": _dist_version("onnxruntime") or "not installed",
        # approximate search past RAM (clipdesk.search.ann_index): imported, not only installed,
        # so a packaged app missing its native library says so here
        "faiss": _imported_version("faiss"),
    }


def _imported_version(module: str) -> str:
    try:
        return str(getattr(importlib.import_module(module), "__version__", "unknown"))
    except ImportError as exc:
        return f"not importable ({exc})"


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


def model_info(
    name: str | None, *, device: str | None, load: bool, app: ClipDeskServices | None = None
) -> Section:
    """The model ``name`` (None: the default), found, described and (``load``) test-run on the
    runtime ``app``'s choice gives it (what serves it: ONNX Runtime or PyTorch)."""
    from clipdesk.model import manager

    section: Section = {"status": "ok", "requested": name or f"default ({manager.DEMO_MODEL})"}
    try:
        installed = manager.list_models()
    except Exception:  # noqa: BLE001 - an unreadable models folder is reported by resolve below
        installed = []
    section["installed"] = [f"{m.name}{' (active)' if m.active else ''}" for m in installed]
    section.update(_models_folder_upkeep())
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
    if app is not None:
        section["runtime_choice"] = app.runtimes.choice()
        section.update(_runtime_of(app, path))
    if load:
        from clipdesk.model import load_model

        start = time.perf_counter()
        try:
            if app is not None:
                loaded = app.runtimes.load(str(path))
            else:
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
            runtime=loaded.runtime_label,
        )
    return section


def _runtime_of(app: ClipDeskServices, path: Path) -> Section:
    """Whether the model has its export for ONNX Runtime, and what its last export said."""
    described = app.runtimes.describe_models([path])[path]
    section: Section = {"onnx_prepared": described.prepared}
    if described.failed:
        section["onnx_export_failed"] = described.failed
        section["status"] = "warn"
    return section


def _models_folder_upkeep() -> Section:
    """What the start-up sweep of the models folder did, and what is left there besides models
    (an import in progress, partial downloads): a warning, since it takes space."""
    from clipdesk.model import installs, manager

    section: Section = {}
    try:
        recovered = manager.recover_installs().actions
        leftovers = installs.leftovers()
    except OSError as exc:  # an unreadable models folder is reported by resolve_model
        return {"leftovers": [f"the models folder cannot be read: {exc}"], "status": "warn"}
    if recovered:
        section["recovered"] = list(recovered)
    if leftovers:
        section["leftovers"] = leftovers
        section["status"] = "warn"
    return section


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


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
