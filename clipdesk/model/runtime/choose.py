"""Which runtime serves a model: the user's choice, the device, and what was measured here."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from clipdesk.common import limits
from clipdesk.common.errors import CheckpointError, ModelError
from clipdesk.common.json_files import read_json_file
from clipdesk.model.manager import META_FILE
from clipdesk.model.runtime import Precision, RuntimeChoice, label
from clipdesk.model.runtime.cache import CacheEntry, find_entry

if TYPE_CHECKING:
    from clipdesk.model.engine import ClipModel

log = logging.getLogger(__name__)

TORCH_MARGIN = 1.15


@dataclass(frozen=True)
class OnnxServing:
    entry: CacheEntry
    precision: Precision
    threads: int

    def load(self, path: Path) -> ClipModel:
        """The model at ``path`` on ONNX Runtime, from its export alone (no torch, no weights)."""
        from clipdesk.model.engine import ClipModel
        from clipdesk.model.facts import ModelFacts
        from clipdesk.model.runtime.onnx_towers import OnnxTowers
        from clipdesk.model.tokenizer_recipe import tokenizer_from_recipe

        manifest = self.entry.manifest
        try:
            facts = ModelFacts.of_manifest(manifest["facts"], path, self.entry.weights_hash)
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(
                f"{self.entry.folder}: the ONNX export's facts are unreadable ({exc})",
                hint="prepare the model for the fast runtime again",
            ) from exc
        name, meta = _name_and_meta(path)
        facts = replace(facts, name=name, meta=meta)
        tokenizer = tokenizer_from_recipe(manifest["tokenizer"], self.entry.folder)
        by = manifest.get("preoptimised_by")
        towers = OnnxTowers(
            self.entry.files(self.precision),
            self.precision,
            self.threads,
            preoptimised_by=by if isinstance(by, str) else None,
        )
        return ClipModel(facts, tokenizer, towers, "cpu")


def _name_and_meta(path: Path) -> tuple[str, dict[str, object]]:
    """Named as :func:`clipdesk.model.checkpoint.folder_checkpoint` names it, so the model's id
    (and so its vectors) is the same whichever runtime serves it."""
    if path.is_file():
        return path.stem, {}
    meta: object = {}
    if (path / META_FILE).is_file():
        try:
            meta = read_json_file(
                path / META_FILE,
                max_bytes=limits.MODEL_JSON_MAX_BYTES,
                max_depth=limits.MODEL_JSON_MAX_DEPTH,
            )
        except ValueError as exc:
            raise CheckpointError(f"{path / META_FILE}: {exc}") from exc
    meta = meta if isinstance(meta, dict) else {}
    return str(meta.get("name") or path.name), meta


def wants_gpu(device: str) -> bool:
    """Whether ``device`` (lower case: "auto", "cpu", "cuda:0"...) means a GPU here; asks torch
    only where a GPU may exist."""
    if device == "cpu":
        return False
    if device != "auto":
        return True
    from clipdesk.model.device import gpu_possible

    if not gpu_possible():
        return False
    from clipdesk.model.device import available_devices

    return available_devices()[0].name != "cpu"


def choose_runtime(
    choice: RuntimeChoice, path: Path, device: str | None, *, act: str | None = None
) -> OnnxServing | None:
    """ONNX Runtime's serving of the model at ``path``, or None for PyTorch.

    "auto": ONNX Runtime on the CPU when the model has an export here that measured faster than
    PyTorch (int8 where its agreement check passed); PyTorch on a GPU, for a model not exported
    yet, and for a config-less file given an activation. "onnx": ONNX Runtime, exporting first
    when needed; "torch": PyTorch.
    """
    from clipdesk.model.device import default_cpu_threads

    if choice == "torch":
        return None
    dev = (device or "auto").strip().lower()
    if wants_gpu(dev):
        if choice == "onnx" and dev != "auto":
            raise ModelError(
                f"ClipDesk runs ONNX Runtime on the CPU only, not on {device}",
                hint="choose the CPU as the device, or the PyTorch runtime for the GPU",
                cli_hint="pass --device cpu, or --runtime torch for the GPU",
            )
        if choice == "auto":
            return None
    if act is not None:
        if choice == "onnx":
            raise ModelError(
                "an activation override needs the PyTorch runtime",
                cli_hint="drop --act, or pass --runtime torch",
            )
        return None
    entry = find_entry(path)
    if entry is None:
        if choice == "auto":
            return None
        from clipdesk.model.runtime.export import export_model

        entry = export_model(path)
    precision = entry.precisions()[0]
    if choice == "auto":
        ours, torch_speed = entry.speed(label("onnx", precision)), entry.speed("torch-fp32")
        # A tie goes to ONNX Runtime, which also starts without torch; PyTorch must be clearly
        # faster to be chosen, so noise in a short measurement does not flip the choice.
        if ours is not None and torch_speed is not None and ours * TORCH_MARGIN < torch_speed:
            log.info("%s: PyTorch measured faster here than ONNX Runtime", path)
            return None
    return OnnxServing(entry, precision, default_cpu_threads())
