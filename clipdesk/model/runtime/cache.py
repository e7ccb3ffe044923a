"""Where a model's exported graphs live, and how a model finds its own without reading weights.

One folder per weights hash and variant under the user's models folder
(``.runtimes/<hash[:16]>-<variant>/``; the variant tells apart folders of the same weights with
another preprocessing or tokenizer, see :func:`clipdesk.model.runtime.export.variant_of`), holding
the ONNX graphs and ``manifest.json``: the model's facts (everything the engine needs besides the
towers, so ONNX Runtime can serve it with no torch and no weights read), the tokenizer's recipe,
the int8 agreement check and the speeds measured at export. A model folder finds its entry by
the path, size and mtime of its weight files, which the manifest records: a changed file is a
different model, never a stale graph.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clipdesk.common import limits, paths
from clipdesk.common.fsnames import is_plain_name
from clipdesk.common.json_files import read_json_file
from clipdesk.model.runtime import Precision

log = logging.getLogger(__name__)

ROOT_NAME = ".runtimes"
MANIFEST = "manifest.json"
# Bumped whenever the export's graphs or manifest change meaning; older entries are exported anew.
FORMAT = 1
TOWERS = ("image", "text")


def cache_root() -> Path:
    return paths.models_dir() / ROOT_NAME


def entry_folder(weights_hash: str, variant: str) -> Path:
    return cache_root() / f"{weights_hash[:16]}-{variant}"


def _located(path: Path) -> Path:
    """``path`` absolute, with its folder's links resolved but not its own: a model folder of
    links to its weights (a Hugging Face cache snapshot) is found by that folder, not by the
    folder the links point into."""
    path = path.expanduser().absolute()
    return path.parent.resolve() / path.name


def stat_source(files: Sequence[Path]) -> list[dict[str, Any]]:
    """The weight files as the manifest records them, to be matched later without reading them."""
    out = []
    for f in files:
        st = f.stat()
        out.append({"path": str(_located(f)), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    return out


def _source_matches(source: object) -> bool:
    if not isinstance(source, list) or not source:
        return False
    for item in source:
        if not isinstance(item, dict):
            return False
        try:
            st = Path(str(item["path"])).stat()
        except (OSError, KeyError):
            return False
        if st.st_size != item.get("size") or st.st_mtime_ns != item.get("mtime_ns"):
            return False
    return True


@dataclass(frozen=True)
class CacheEntry:
    folder: Path
    manifest: dict[str, Any]

    @property
    def weights_hash(self) -> str:
        return str(self.manifest["weights_hash"])

    @property
    def int8_agrees(self) -> bool:
        agreement = self.manifest.get("agreement", {}).get("int8", {})
        return bool(isinstance(agreement, dict) and agreement.get("passed"))

    def precisions(self) -> list[Precision]:
        """The precisions this entry serves, best first: int8 only where it agrees with fp32
        (the fp32 graphs are then not kept, see :mod:`.export`)."""
        found: list[Precision] = ["int8"] if self.int8_agrees and self.has("int8") else []
        return found + (["fp32"] if self.has("fp32") else [])

    def has(self, precision: str) -> bool:
        files = self.manifest.get("files", {})
        return all(
            isinstance(files.get(t), dict)
            and is_plain_name(files[t].get(precision))
            and (self.folder / files[t][precision]).is_file()
            for t in TOWERS
        )

    def files(self, precision: str) -> dict[str, Path]:
        files = self.manifest["files"]
        return {t: self.folder / str(files[t][precision]) for t in TOWERS}

    def speed(self, runtime_label: str) -> float | None:
        """Images per second measured at export for ``runtime_label``, if it was."""
        value = self.manifest.get("speed", {}).get(runtime_label, {}).get("image_per_s")
        return float(value) if isinstance(value, int | float) else None


def read_entry(folder: Path) -> CacheEntry | None:
    try:
        data = read_json_file(
            folder / MANIFEST,
            max_bytes=limits.MODEL_JSON_MAX_BYTES,
            max_depth=limits.MODEL_JSON_MAX_DEPTH,
        )
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    if not isinstance(data.get("weights_hash"), str) or not isinstance(data.get("files"), dict):
        return None
    entry = CacheEntry(folder, data)
    return entry if entry.precisions() and _serveable(entry) else None


def _serveable(entry: CacheEntry) -> bool:
    """Whether the facts and the tokenizer recipe are what ONNX Runtime's load needs: a
    damaged manifest is no export (so "auto" takes PyTorch, and "onnx" exports again), never an
    error at load or, worse, a model with a made-up image size."""
    from clipdesk.common.errors import CheckpointError
    from clipdesk.model.facts import ModelFacts
    from clipdesk.model.tokenizer_recipe import check_recipe

    try:
        ModelFacts.of_manifest(entry.manifest["facts"], entry.folder, entry.weights_hash)
        check_recipe(entry.manifest["tokenizer"], entry.folder)
    except (KeyError, TypeError, ValueError, CheckpointError) as exc:
        log.warning("%s: ignoring a damaged ONNX export (%s)", entry.folder, exc)
        return False
    return True


def entries() -> list[CacheEntry]:
    root = cache_root()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and not folder.name.startswith("."):
            entry = read_entry(folder)
            if entry is not None:
                found.append(entry)
    return found


def find_entry(model_path: str | Path) -> CacheEntry | None:
    """The export of the model at ``model_path`` (a folder or a weights file) as its weight
    files are now; None if it has none. Reads manifests only."""
    target = Path(model_path).expanduser().resolve()
    for entry in entries():
        for source in entry.manifest.get("sources", []):
            if not _source_matches(source):
                continue
            first = Path(str(source[0]["path"]))
            # a file model may be named by a link, or be what a recorded link points to
            if first.parent == target or first.resolve() == target:
                return entry
    return None


def entry_for_hash(weights_hash: str, variant: str | None = None) -> CacheEntry | None:
    """The export of these weights in this variant; with no variant, any export of them (they
    share the weights, so the int8 agreement of one stands for all)."""
    root = cache_root()
    if variant is not None:
        folders = [entry_folder(weights_hash, variant)]
    else:
        folders = sorted(root.glob(f"{weights_hash[:16]}-*")) if root.is_dir() else []
    for folder in folders:
        entry = read_entry(folder)
        if entry is not None and entry.weights_hash == weights_hash:
            return entry
    return None


def add_source(entry: CacheEntry, files: Sequence[Path]) -> CacheEntry:
    """Record another copy of the same weights (same hash) as served by ``entry``."""
    source = stat_source(files)
    sources = [s for s in entry.manifest.get("sources", []) if _source_matches(s)]
    if source not in sources:
        sources.append(source)
    manifest = {**entry.manifest, "sources": sources}
    write_manifest(entry.folder, manifest)
    return CacheEntry(entry.folder, manifest)


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    from clipdesk.common.atomic_file import atomic_write_bytes

    atomic_write_bytes(folder / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))


def remove_unused(keep_hashes: Iterable[str]) -> int:
    """Delete the exports of weights no installed model has any more; returns how many."""
    keep = {h[:16] for h in keep_hashes}
    removed = 0
    root = cache_root()
    if not root.is_dir():
        return 0
    for folder in root.iterdir():
        # a dot-name is an export still being written
        if folder.is_dir() and not folder.name.startswith(".") and folder.name[:16] not in keep:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
