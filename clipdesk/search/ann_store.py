"""An ANN index on disk, beside its library: ``<library>.ann/<model>/``.

Three files a generation: ``index-<g>.faiss`` (faiss's own format), ``stamps-<g>.npz`` (the
photo ids the index holds and when each vector was stored, what
:meth:`~clipdesk.search.searcher.Searcher.sync` compares with the library to catch up) and
``meta.json``, written last, which names the generation and records the model id, the format
:data:`VERSION`, the dimension, the counts, the parameters, and each file's size and CRC-32.

Atomic: a save writes the next generation's files (each fsynced), then replaces ``meta.json``
(``os.replace``), then deletes the older generation; a crash at any moment leaves a
``meta.json`` that names complete files. Checked: an index is loaded only when its meta names
the model asked for, this format and this dimension, and the files are there with their
sizes and checksums and faiss reads them back to the recorded counts; anything else is
:class:`AnnUnusable` with the reason (the caller rebuilds), never a crash.

Loading reads the lists back at their exact sizes, which compacts an index whose lists grew
by appends (:mod:`clipdesk.search.ann_index`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clipdesk.common.atomic_file import atomic_write_bytes, fsync_dir
from clipdesk.common.json_files import read_json_file
from clipdesk.search.ann_index import AnnIndex, AnnParams, Fetch, faiss_module

log = logging.getLogger(__name__)

VERSION = 1  # of the files' layout and the index's kind: another one is rebuilt
META = "meta.json"
_CRC_BLOCK = 8 << 20


class AnnUnusable(Exception):
    """The index on disk cannot serve this library (absent, another model or format, damaged);
    the message says why, for the log and ``ann status``."""


@dataclass(frozen=True)
class AnnMeta:
    """What ``meta.json`` records."""

    model_id: str
    dim: int
    count: int  # vectors in the index when saved
    trained_on: int  # vectors the library had when the cells were trained
    params: AnnParams
    built_at: float  # when the cells were trained
    saved_at: float
    generation: int
    files: dict[str, dict[str, int]]  # name -> {"size": bytes, "crc32": int}

    @property
    def nbytes_on_disk(self) -> int:
        return sum(int(f["size"]) for f in self.files.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "model_id": self.model_id,
            "dim": self.dim,
            "count": self.count,
            "trained_on": self.trained_on,
            "params": self.params.as_json(),
            "built_at": self.built_at,
            "saved_at": self.saved_at,
            "generation": self.generation,
            "files": self.files,
        }


@dataclass(frozen=True)
class LoadedAnn:
    index: AnnIndex
    stamp_ids: np.ndarray  # int64: the photos it holds
    stamp_times: np.ndarray  # float64: when each one's vector was stored (-1: unknown)
    meta: AnnMeta


def ann_root(library_path: str | os.PathLike[str]) -> Path:
    """The folder beside a library file that holds its ANN indexes (one folder a model)."""
    path = Path(library_path)
    return path.with_name(path.name + ".ann")


def model_folder(library_path: str | os.PathLike[str], model_id: str) -> Path:
    """``<library>.ann/<model>``: the model id made a safe file name, with a short hash so that
    two ids that read alike stay apart."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)[:80]
    digest = hashlib.sha256(model_id.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return ann_root(library_path) / f"{safe}-{digest}"


def read_meta(folder: Path, model_id: str, dim: int | None = None) -> AnnMeta:
    """The meta of the index in ``folder``, checked against the model (and ``dim``); raises
    :class:`AnnUnusable` with the reason. Reads no index file."""
    path = folder / META
    if not path.exists():
        raise AnnUnusable("not built yet")
    try:
        raw = read_json_file(path, max_bytes=1 << 16, max_depth=4)
    except (OSError, ValueError) as exc:
        raise AnnUnusable(f"{path.name} unreadable: {exc}") from exc
    if not isinstance(raw, dict):
        raise AnnUnusable(f"{path.name} is not an index description")
    if raw.get("version") != VERSION:
        raise AnnUnusable(f"built by another ClipDesk (format {raw.get('version')}, not {VERSION})")
    if raw.get("model_id") != model_id:
        raise AnnUnusable(f"built for model {raw.get('model_id')}, search uses {model_id}")
    try:
        params = AnnParams(**{k: int(v) for k, v in raw["params"].items()})
        meta = AnnMeta(
            model_id=model_id,
            dim=int(raw["dim"]),
            count=int(raw["count"]),
            trained_on=int(raw["trained_on"]),
            params=params,
            built_at=float(raw["built_at"]),
            saved_at=float(raw["saved_at"]),
            generation=int(raw["generation"]),
            files={
                str(name): {"size": int(f["size"]), "crc32": int(f["crc32"])}
                for name, f in raw["files"].items()
            },
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AnnUnusable(f"{path.name} is incomplete ({exc!r})") from exc
    if dim is not None and meta.dim != dim:
        raise AnnUnusable(f"built for {meta.dim}-d vectors, the model's are {dim}-d")
    if set(meta.files) != {_index_name(meta.generation), _stamps_name(meta.generation)}:
        raise AnnUnusable(f"{path.name} names other files")
    return meta


def load(folder: Path, model_id: str, dim: int, fetch: Fetch) -> LoadedAnn:
    """The index saved in ``folder`` for ``model_id``; :class:`AnnUnusable` when it cannot serve."""
    meta = read_meta(folder, model_id, dim)
    _check_files(folder, meta)
    index = _read_faiss(folder, meta, dim)
    try:
        with np.load(folder / _stamps_name(meta.generation), allow_pickle=False) as stamps:
            ids = np.asarray(stamps["ids"], np.int64)
            times = np.asarray(stamps["times"], np.float64)
    except (OSError, ValueError, KeyError) as exc:
        raise AnnUnusable(f"stamps unreadable ({exc})") from exc
    if len(ids) != meta.count or len(times) != len(ids):
        raise AnnUnusable(f"{len(ids):,} stamps for {meta.count:,} vectors")
    ann = AnnIndex(index, meta.params, fetch, trained_on=meta.trained_on)
    if not ann.holds_exactly(ids):
        raise AnnUnusable("its stamps do not name the photos it holds")
    return LoadedAnn(ann, ids, times, meta)


def read_index(folder: Path, model_id: str, dim: int) -> Any:
    """The faiss index of the generation ``meta.json`` names, checked (size, checksum, kind,
    count) but without its stamps: to read back what was just saved (compaction)."""
    meta = read_meta(folder, model_id, dim)
    _check_files(folder, meta)
    return _read_faiss(folder, meta, dim)


def save(
    folder: Path,
    model_id: str,
    ann: AnnIndex,
    stamp_ids: np.ndarray,
    stamp_times: np.ndarray,
    built_at: float,
) -> AnnMeta:
    """Write ``ann`` and its stamps as the next generation in ``folder``, atomically (see the
    module docstring). The caller holds the index still (no add or remove) meanwhile."""
    faiss = faiss_module()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        generation = read_meta(folder, model_id).generation + 1
    except AnnUnusable:
        generation = 1 + max((_generation_of(p.name) for p in folder.iterdir()), default=0)
    index_name, stamps_name = _index_name(generation), _stamps_name(generation)
    faiss.write_index(ann.faiss_index, str(folder / index_name))
    with open(folder / stamps_name, "wb") as fh:
        np.savez(fh, ids=np.asarray(stamp_ids, np.int64), times=np.asarray(stamp_times, np.float64))
    for name in (index_name, stamps_name):
        with open(folder / name, "rb+") as fh:
            os.fsync(fh.fileno())
    files = {
        name: {"size": (folder / name).stat().st_size, "crc32": _crc32(folder / name)}
        for name in (index_name, stamps_name)
    }
    meta = AnnMeta(
        model_id=model_id,
        dim=ann.dim,
        count=len(ann),
        trained_on=ann.trained_on,
        params=ann.params,
        built_at=built_at,
        saved_at=time.time(),
        generation=generation,
        files=files,
    )
    atomic_write_bytes(folder / META, json.dumps(meta.as_json(), indent=1).encode())
    for old in folder.iterdir():  # the generations before, and any a crash left half written
        if old.name != META and old.name not in files:
            with contextlib.suppress(OSError):
                old.unlink()
    fsync_dir(folder)
    return meta


def discard(folder: Path) -> None:
    """Delete an index that cannot serve (it is rebuilt)."""
    shutil.rmtree(folder, ignore_errors=True)


def prune(library_path: str | os.PathLike[str], keep: Path) -> None:
    """Delete the indexes of other models (search moved on from them)."""
    root = ann_root(library_path)
    if root.is_dir():
        for other in root.iterdir():
            if other != keep and other.is_dir():
                shutil.rmtree(other, ignore_errors=True)


def _check_files(folder: Path, meta: AnnMeta) -> None:
    for name, want in meta.files.items():
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise AnnUnusable(f"{name} missing") from exc
        if size != want["size"]:
            raise AnnUnusable(f"{name} damaged ({size:,} bytes, {want['size']:,} written)")
        if _crc32(path) != want["crc32"]:
            raise AnnUnusable(f"{name} damaged (checksum)")


def _read_faiss(folder: Path, meta: AnnMeta, dim: int) -> Any:
    faiss = faiss_module()
    try:
        index = faiss.read_index(str(folder / _index_name(meta.generation)))
    except RuntimeError as exc:  # faiss's own errors
        raise AnnUnusable(f"unreadable ({exc})") from exc
    if not isinstance(index, faiss.IndexIVFPQ) or index.d != dim:
        raise AnnUnusable(f"not an IVF-PQ index of {dim}-d vectors")
    if index.ntotal != meta.count:
        raise AnnUnusable(f"holds {index.ntotal:,} vectors, not {meta.count:,}")
    return index


def _index_name(generation: int) -> str:
    return f"index-{generation}.faiss"


def _stamps_name(generation: int) -> str:
    return f"stamps-{generation}.npz"


def _generation_of(name: str) -> int:
    match = re.fullmatch(r"(?:index|stamps)-(\d+)\.(?:faiss|npz)", name)
    return int(match.group(1)) if match else 0


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(_CRC_BLOCK):
            crc = zlib.crc32(block, crc)
    return crc
