"""Which runtime serves each model, for both faces: preparing a model for ONNX Runtime (its
one-off export, :mod:`clipdesk.model.runtime.export`), what serves it here, and the exports
removed with their models.

A model is prepared when it is installed, imported, downloaded or fine-tuned, and the first time
it is used on the CPU without an export (one installed before exports existed, the bundled demo
model): ``clipdesk-cli index`` exports first, the app runs a background job after start-up and
after a model switch, then loads the model again so ONNX Runtime serves it. The runtime setting
"torch" skips every export, and "auto" skips it on a GPU (where PyTorch serves anyway).

A failed export never fails what asked for it: the model keeps running on PyTorch, the log has
the details and the face shows a note. The failure is remembered for the model's files as they
are now, so the automatic tries do not repeat a long export that cannot succeed; an explicit
``models prepare`` tries again.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from clipdesk.common import limits, paths
from clipdesk.common.errors import CancelledError, ClipDeskError
from clipdesk.common.json_files import read_json_file
from clipdesk.common.progress import CancelToken, ProgressCallback

if TYPE_CHECKING:
    from clipdesk.model.engine import ClipModel
    from clipdesk.model.runtime import RuntimeChoice
    from clipdesk.model.runtime.cache import CacheEntry
    from clipdesk.services.app import ClipDeskServices

log = logging.getLogger(__name__)

FAILURES_FILE = "runtime-export-failures.json"  # in the user's cache folder
Outcome = Literal["prepared", "ready", "skipped", "failed", "cancelled"]
# One export at a time in this process: two of the same weights would share a staging folder.
_export_lock = threading.Lock()


@dataclass(frozen=True)
class Preparation:
    """What preparing a model for ONNX Runtime did, with the figures its export measured."""

    model: str  # the model's name
    outcome: Outcome  # prepared now, ready already, skipped (setting/device), failed, cancelled
    note: str = ""  # one sentence for people: what happened, and what runs the model now
    serves: str = ""  # the runtime label that serves the model here now ("onnx-int8")
    agreement: dict[str, Any] = field(default_factory=dict)  # int8 vs fp32 (see agreement.py)
    speed: dict[str, dict[str, float]] = field(default_factory=dict)  # per label: image/s, ms
    fp32_max_diff: float | None = None  # ONNX fp32 vs PyTorch, normalised vectors
    seconds: float = 0.0
    folder: str = ""  # the export's folder

    @property
    def ok(self) -> bool:
        """ONNX Runtime can serve the model (exported now or before)."""
        return self.outcome in ("prepared", "ready")

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "outcome": self.outcome,
            "note": self.note,
            "serves": self.serves,
            "agreement": self.agreement,
            "speed": self.speed,
            "fp32_max_diff": self.fp32_max_diff,
            "seconds": round(self.seconds, 2),
            "folder": self.folder,
        }


@dataclass(frozen=True)
class ModelRuntime:
    """What serves one installed model here, told from small files (no weights, no torch)."""

    prepared: bool  # an export for ONNX Runtime exists for its files as they are now
    serves: str  # the runtime label the current choice gives it ("onnx-int8", "torch-fp32")
    int8_agrees: bool = False
    failed: str = ""  # why its last automatic export failed, if it did
    owed: bool = False  # the choice wants it exported here and it is not (nor failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "prepared": self.prepared,
            "serves": self.serves,
            "int8_agrees": self.int8_agrees,
            "export_failed": self.failed or None,
            "export_owed": self.owed,
        }


def describe(runtime_label: str) -> str:
    """``"onnx-int8"`` -> ``"ONNX Runtime int8"`` (the faces may not import the model layer)."""
    from clipdesk.model.runtime import describe as describe_label

    return describe_label(runtime_label) if runtime_label else ""


class RuntimeService:
    """``app.runtimes`` (or ``RuntimeService()`` with no library open)."""

    def __init__(self, app: ClipDeskServices | None = None) -> None:
        self.app = app
        self._cpu: dict[str, bool] = {}

    # --- the choice -------------------------------------------------------------------------
    def choice(self) -> RuntimeChoice:
        """auto, torch or onnx: the services' own (``--runtime``), else ``CLIPDESK_RUNTIME``,
        else the setting."""
        from clipdesk.model import runtime as rt

        explicit = self.app.runtime if self.app is not None else None
        return rt.check_choice(explicit or rt.configured_choice())

    def device(self) -> str:
        if self.app is not None:
            return self.app.device
        from clipdesk.common import config

        return config.load().device

    def on_cpu(self) -> bool:
        """Whether the model runs on the CPU here; asks torch only where a GPU may exist."""
        device = (self.device() or "auto").strip().lower()
        if device not in self._cpu:
            from clipdesk.model.runtime.choose import wants_gpu

            self._cpu[device] = not wants_gpu(device)
        return self._cpu[device]

    def wanted(self) -> bool:
        """Whether exports are of use with the current choice and device: "onnx" on the CPU
        (or an automatic device), "auto" on the CPU; never "torch"."""
        choice = self.choice()
        if choice == "torch":
            return False
        if choice == "onnx":
            return (self.device() or "auto").strip().lower() in ("cpu", "auto")
        return self.on_cpu()

    # --- what serves a model ----------------------------------------------------------------
    def owed(self, model: str | Path | None = None) -> bool:
        """Whether ``model`` (a name or path; None: the services' model) should be exported
        before it is used here: exports are wanted, it has none for its files as they are now,
        and no automatic export of these files failed before. Reads small files only."""
        if not self.wanted():
            return False
        path = self._path(model)
        from clipdesk.model.runtime.cache import find_entry

        return find_entry(path) is None and not self._failure(path)

    def serving(self, path: Path, entry: CacheEntry | None = None, *, look: bool = True) -> str:
        """The runtime label the current choice gives the model at ``path``, from its export's
        manifest (``look``: find it; else ``entry`` is all there is)."""
        from clipdesk.model.runtime import label
        from clipdesk.model.runtime.cache import find_entry
        from clipdesk.model.runtime.choose import choose_runtime

        torch_label = "torch-fp32" if self.on_cpu() else "torch"
        entry = find_entry(path) if look and entry is None else entry
        if entry is None or not self.wanted():
            return torch_label
        try:
            chosen = choose_runtime(self.choice(), path, self.device())
        except ClipDeskError:
            return torch_label
        return label("onnx", chosen.precision) if chosen is not None else torch_label

    def describe_models(self, paths_: list[Path]) -> dict[Path, ModelRuntime]:
        """:class:`ModelRuntime` of each model folder or file (manifests read, no weights)."""
        from clipdesk.model.runtime.cache import find_entry

        failures = self._failures()
        wanted = self.wanted()
        out = {}
        for path in paths_:
            entry = find_entry(path)
            failed = _failed(failures, path)
            out[path] = ModelRuntime(
                prepared=entry is not None,
                serves=self.serving(path, entry, look=False),
                int8_agrees=bool(entry is not None and entry.int8_agrees),
                failed=failed,
                owed=wanted and entry is None and not failed,
            )
        return out

    def failure(self, model: str | Path | None = None) -> str:
        """Why the last automatic export of ``model`` failed ("" if it did not)."""
        try:
            return self._failure(self._path(model))
        except ClipDeskError:
            return ""

    # --- preparing --------------------------------------------------------------------------
    def prepare(
        self,
        model: str | Path | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Preparation:
        """Export ``model`` (a name or path; None: the services' model) for ONNX Runtime now,
        whatever the setting (``clipdesk-cli models prepare``). Raises the export's
        ClipDeskError (the model stays on PyTorch) or CancelledError."""
        path = self._path(model)
        return self._export(path, progress, cancel)

    def try_prepare(
        self,
        model: str | Path | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Preparation:
        """:meth:`prepare` for a workflow that must not fail by it (an install, a fine-tune,
        the first index): skipped where exports are of no use (the setting says PyTorch, a
        GPU serves) or where an export of these files failed before; any failure or a cancel
        becomes the Preparation's outcome and note, the model staying on PyTorch."""
        try:
            path = self._path(model)
        except ClipDeskError as exc:
            return Preparation(str(model or ""), "failed", exc.message)
        name = _name_of(path)
        if not self.wanted():
            why = "the runtime setting is PyTorch" if self.choice() == "torch" else "a GPU runs it"
            return Preparation(name, "skipped", f"not prepared for ONNX Runtime: {why}")
        failed = self._failure(path)
        if failed:
            return Preparation(name, "failed", _failed_note(name, failed))
        try:
            return self._export(path, progress, cancel)
        except CancelledError:
            return Preparation(
                name,
                "cancelled",
                f"preparing {name} for ONNX Runtime was cancelled: it runs on PyTorch until "
                "it is prepared (the next index run or start of the app does it)",
            )
        except ClipDeskError as exc:
            log.warning("could not prepare %s for ONNX Runtime: %s", name, exc)
            return Preparation(name, "failed", _failed_note(name, exc.message))
        except Exception as exc:  # noqa: BLE001 - an exporter's bug must not fail the install
            log.exception("preparing %s for ONNX Runtime failed", name)
            return Preparation(name, "failed", _failed_note(name, f"{type(exc).__name__}: {exc}"))

    def prepare_active(
        self, *, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> Preparation | None:
        """Export the services' model if it is :meth:`owed` one, then load it again so ONNX
        Runtime serves it; None when nothing was owed. Never raises for the export (see
        :meth:`try_prepare`); a missing model raises as loading it would."""
        app = self._app()
        path = self._path(None)
        if not self.owed(path):
            return None
        done = self.try_prepare(path, progress=progress, cancel=cancel)
        if done.ok:
            app.reload_model()
        return done

    # --- loading ----------------------------------------------------------------------------
    def load(self, source: str | None) -> ClipModel:
        """The model ``source`` (None: the active one) on the runtime the choice gives it here.
        "onnx" exports first where needed (in the app, whose ``defer_exports`` is set, PyTorch
        serves meanwhile and a background job exports); a model whose export failed runs on
        PyTorch, with a warning, rather than not at all."""
        from clipdesk.model import load_model

        choice = self.choice()
        if choice == "onnx":
            choice = self._onnx_or_fallback(source)
        return load_model(source, device=self.device(), runtime=choice)

    def _onnx_or_fallback(self, source: str | None) -> RuntimeChoice:
        if (self.device() or "auto").strip().lower() not in ("cpu", "auto"):
            return "onnx"  # the loader says why ONNX Runtime cannot serve a GPU
        try:
            path = self._path(source)
        except ClipDeskError:
            return "onnx"  # the loader says the model is missing
        from clipdesk.model.runtime.cache import find_entry

        if find_entry(path) is not None:
            return "onnx"
        failed = self._failure(path)
        if failed:
            log.warning("%s", _failed_note(_name_of(path), failed))
            return "torch"
        if self.app is not None and self.app.defer_exports:
            return "auto"  # PyTorch until the background export is done
        done = self.try_prepare(path)
        if not done.ok:
            log.warning("%s", done.note)
            return "torch"
        return "onnx"

    # --- removing ---------------------------------------------------------------------------
    def forget(self, entry: CacheEntry | None) -> bool:
        """Delete ``entry`` (the export of a model just removed) unless another copy of its
        weights still uses it: an installed model with the same weights hash (as the hash
        cache knows it, or its own export finds it), or another file it was exported from.
        Returns True when it was deleted."""
        if entry is None:
            return False
        if self._weights_in_use(entry):
            return False
        shutil.rmtree(entry.folder, ignore_errors=True)
        log.info("removed the ONNX export %s of %s", entry.folder.name, entry.manifest.get("name"))
        return True

    def _weights_in_use(self, entry: CacheEntry) -> bool:
        from clipdesk.model import manager
        from clipdesk.model.runtime.cache import find_entry

        def same(path: Path) -> bool:
            found = find_entry(path)
            return found is not None and found.weights_hash == entry.weights_hash

        sources = entry.manifest.get("sources", [])
        firsts = [s[0] for s in sources if isinstance(s, list) and s and isinstance(s[0], dict)]
        if any(same(Path(str(first.get("path")))) for first in firsts):
            return True  # another copy of the weights it was exported from
        installed = [m.path for m in manager.list_models()]
        return any(same(p) for p in installed) or entry.weights_hash in _cached_hashes(installed)

    # --- helpers ----------------------------------------------------------------------------
    def _app(self) -> ClipDeskServices:
        if self.app is None:
            raise RuntimeError("this RuntimeService has no services open")
        return self.app

    def _path(self, model: str | Path | None) -> Path:
        from clipdesk.model.manager import resolve_model

        if model is None and self.app is not None:
            model = self.app.model_source
        return resolve_model(model)

    def _export(
        self, path: Path, progress: ProgressCallback | None, cancel: CancelToken | None
    ) -> Preparation:
        from clipdesk.model.runtime.cache import find_entry

        name = _name_of(path)
        existing = find_entry(path)
        start = time.perf_counter()
        if existing is None:
            from clipdesk.model.runtime import export

            # The app exports in a child process, which its quit or a cancel stops at once;
            # the CLI in its own, where Ctrl+C ends everything anyway.
            isolated = self.app is not None and self.app.defer_exports
            run = export.export_in_child if isolated else export.export_model
            with _export_lock:
                try:
                    entry = run(path, progress=progress, cancel=cancel)
                except ClipDeskError as exc:
                    # a full disk or a killed child is no verdict on the model: try again later
                    if not isinstance(exc, export.ExportInterrupted):
                        self._remember_failure(path, exc.message)
                    raise
        else:
            entry = existing
        self._forget_failure(path)
        manifest = entry.manifest
        serves = self.serving(path, entry, look=False)
        outcome: Outcome = "ready" if existing is not None else "prepared"
        verb = "was prepared" if existing is not None else "is prepared"
        on = describe(serves) if serves.startswith("onnx") else "PyTorch"
        return Preparation(
            name,
            outcome,
            f"{name} {verb} for ONNX Runtime; {on} serves it here",
            serves,
            dict(manifest.get("agreement", {}).get("int8", {})),
            dict(manifest.get("speed", {})),
            manifest.get("fp32_max_diff"),
            time.perf_counter() - start,
            str(entry.folder),
        )

    # Failed exports, remembered per model path with the files' sizes and times: a replaced
    # or touched file is tried again, the same file is not.
    def _failures(self) -> dict[str, Any]:
        try:
            data = read_json_file(
                paths.cache_dir() / FAILURES_FILE,
                max_bytes=limits.MODEL_JSON_MAX_BYTES,
                max_depth=limits.MODEL_JSON_MAX_DEPTH,
            )
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _failure(self, path: Path) -> str:
        return _failed(self._failures(), path)

    def _remember_failure(self, path: Path, message: str) -> None:
        failures = self._failures()
        failures[str(path.resolve())] = {"files": _signature(path), "error": message}
        self._write_failures(failures)

    def _forget_failure(self, path: Path) -> None:
        failures = self._failures()
        if failures.pop(str(path.resolve()), None) is not None:
            self._write_failures(failures)

    def _write_failures(self, failures: dict[str, Any]) -> None:
        from clipdesk.common.atomic_file import atomic_write_bytes

        try:
            atomic_write_bytes(
                paths.cache_dir() / FAILURES_FILE, json.dumps(failures, indent=1).encode("utf-8")
            )
        except OSError as exc:  # a read-only cache only costs another try next time
            log.warning("could not record the failed export: %s", exc)


def _name_of(path: Path) -> str:
    return path.stem if path.is_file() else path.name


def _failed_note(name: str, error: str) -> str:
    return (
        f"{name} could not be prepared for ONNX Runtime ({error}); it runs on PyTorch "
        "(`clipdesk-cli models prepare` tries again)"
    )


def _signature(path: Path) -> list[list[Any]]:
    """Every file of the model with its size and mtime: what a failed export is matched by."""
    files = [path] if path.is_file() else sorted(f for f in path.iterdir() if f.is_file())
    out = []
    for f in files:
        st = f.stat()
        out.append([f.name, st.st_size, st.st_mtime_ns])
    return out


def _failed(failures: dict[str, Any], path: Path) -> str:
    record = failures.get(str(path.resolve()))
    if not isinstance(record, dict):
        return ""
    try:
        same = record.get("files") == _signature(path)
    except OSError:
        return ""
    return str(record.get("error") or "the export failed") if same else ""


def _cached_hashes(models: list[Path]) -> set[str]:
    """The weights hashes the hash cache holds for these models as their files are now."""
    from clipdesk.model.checkpoint import cached_weights_hash, read_hash_cache
    from clipdesk.model.families import weight_files_of

    cache = read_hash_cache()
    found = set()
    for path in models:
        try:
            files = weight_files_of(path)
        except (OSError, ClipDeskError):
            continue
        digest = cached_weights_hash(files, cache)
        if digest is not None:
            found.add(digest)
    return found
