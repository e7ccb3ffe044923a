"""Parquet shards: what a cluster embedding run writes and ``vectors import`` reads.

One shard per embedded batch, written by the worker that embedded it, so a crash loses at most
the batch in flight. A shard is written beside its final name and renamed into place
(``.shard-<uuid>.parquet.tmp`` → ``shard-<uuid>.parquet``): a reader never sees half a shard,
and a rerun sweeps what a killed worker left. Each row is one photo: the facts a scan records
(path, size, mtime, content hash, type, EXIF size, date, camera, GPS), then its vector (float16:
half the bytes, and below the noise of every runtime but fp32 — search keeps float16 anyway) or
the reason it failed, in the words the desktop records. The model that made the vectors is in
every row (model id, weights hash) and in the file's schema metadata with its runtime and
precision, so an import refuses vectors another model, runtime or precision made.

``clipdesk-job.json`` in the output folder names the model of the job: a rerun into the same
folder with another model is refused before anything runs.

Shards are user files: a reader checks the schema version, the dimensions, that every vector is
finite and every field fits, and raises :class:`ShardError` naming the file otherwise. Parquet is
read with pyarrow (no pickle anywhere); pyarrow is imported only here, on first use.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clipdesk.common.atomic_file import atomic_write_bytes
from clipdesk.common.errors import ClipDeskError
from clipdesk.library.records import PhotoMeta

if TYPE_CHECKING:
    from clipdesk.model.engine import ClipModel

SHARD_VERSION = 1
META_KEY = b"clipdesk.shard"
JOB_FILE = "clipdesk-job.json"
_PREFIX, _SUFFIX = "shard-", ".parquet"
_MAX_DIM = 8192
_MAX_TEXT = 4096  # characters in any text field but the path
_MAX_PATH = 32768
_INSTALL_HINT = "Install ClipDesk's cluster extra: pip install 'clipdesk[cluster]'."


class ShardError(ClipDeskError):
    """A shard or output folder cannot be used: not ours, damaged, or made by another model."""


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ClipDeskError(
            "Reading and writing vector shards needs pyarrow.", _INSTALL_HINT
        ) from exc
    return pa, pq


@dataclass(frozen=True)
class ShardModel:
    """The model, runtime and precision that made a shard's vectors."""

    model_id: str
    weights_hash: str
    runtime: str  # "torch", "onnx"
    precision: str  # "fp32", "int8", "fp16", "bf16"
    dim: int

    @property
    def runtime_label(self) -> str:
        """As the library records it beside each vector (``"onnx-int8"``)."""
        return f"{self.runtime}-{self.precision}"

    @classmethod
    def of(cls, model: ClipModel) -> ShardModel:
        return cls(model.id, model.weights_hash, model.runtime, model.precision, model.dim)

    def as_json(self) -> dict[str, Any]:
        return {
            "version": SHARD_VERSION,
            "model_id": self.model_id,
            "weights_hash": self.weights_hash,
            "runtime": self.runtime,
            "precision": self.precision,
            "runtime_label": self.runtime_label,
            "dim": self.dim,
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> ShardModel:
        if not isinstance(data, dict):
            raise ShardError(f"{where} does not describe a model.", _NOT_OURS)
        version = data.get("version")
        if version != SHARD_VERSION:
            raise ShardError(
                f"{where} has shard format version {version!r}; this ClipDesk reads "
                f"version {SHARD_VERSION}.",
                "Embed again with this version of ClipDesk, or import with the version that "
                "wrote it.",
            )
        texts = {k: data.get(k) for k in ("model_id", "weights_hash", "runtime", "precision")}
        dim = data.get("dim")
        if not all(isinstance(v, str) and 0 < len(v) <= _MAX_TEXT for v in texts.values()):
            raise ShardError(f"{where} names its model incompletely.", _NOT_OURS)
        if not isinstance(dim, int) or isinstance(dim, bool) or not 0 < dim <= _MAX_DIM:
            raise ShardError(f"{where} gives a vector dimension of {dim!r}.", _NOT_OURS)
        return cls(dim=dim, **{k: str(v) for k, v in texts.items()})

    def differences(self, other: ShardModel) -> list[str]:
        """What differs between two models' vectors, in words (empty: they mix)."""
        out = []
        if self.weights_hash != other.weights_hash:
            out.append(f"model {self.model_id} vs {other.model_id} (weights differ)")
        if self.runtime != other.runtime:
            out.append(f"runtime {self.runtime} vs {other.runtime}")
        if self.precision != other.precision:
            out.append(f"precision {self.precision} vs {other.precision}")
        if self.dim != other.dim:
            out.append(f"{self.dim} vs {other.dim} dimensions")
        return out


_NOT_OURS = "Give the folder a ClipDesk cluster run wrote (clipdesk-cli cluster embed)."


@dataclass(frozen=True)
class ShardRow:
    """One photo of a shard: a scan's facts and, unless it failed, a vector."""

    path: str  # as the input named it (before any --map)
    root: str  # the input folder it was found under (or the manifest's root)
    size: int
    mtime_ns: int
    content_hash: str
    kind: str | None
    meta: PhotoMeta
    error: str | None = None  # why it has no vector, as the desktop words it

    @property
    def stamp(self) -> tuple[int, int]:
        return (self.size, self.mtime_ns)


def fact_fields(pa: Any) -> list[tuple[str, Any]]:
    """The columns of a photo's scan facts, as shards and the cluster's CPU stage carry them."""
    text = pa.string()
    return [
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("content_hash", text),
        ("kind", text),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("taken_at", text),
        ("camera_make", text),
        ("camera_model", text),
        ("gps_lat", pa.float64()),
        ("gps_lon", pa.float64()),
    ]


def _schema(pa: Any, model: ShardModel) -> Any:
    text = pa.string()
    fields = [
        # the file system's bytes: a name that is not UTF-8 (PEP 383) survives the trip
        ("path", pa.binary()),
        ("root", pa.binary()),
        *fact_fields(pa),
        ("vector", pa.list_(pa.float16(), model.dim)),
        ("error", text),
        ("model_id", text),
        ("weights_hash", text),
    ]
    meta = dict(model.as_json(), created_at=time.time())
    return pa.schema(fields, metadata={META_KEY: json.dumps(meta).encode()})


def write_shard(
    folder: str | Path,
    model: ShardModel,
    rows: Sequence[ShardRow],
    vectors: np.ndarray,
    *,
    name: str | None = None,
) -> Path:
    """Write one shard of ``rows`` into ``folder`` and return its path. ``vectors`` [n, dim]:
    row i's vector (ignored for rows with an ``error``). Atomic: the shard appears whole or not
    at all. ``name`` (letters, digits, ``-``/``_``) names it ``shard-<name>.parquet`` and
    replaces a shard of that name: a retried batch, named by its input, rewrites its own shard
    instead of adding a second copy; without it the name is random."""
    pa, pq = _pyarrow()
    mat = np.asarray(vectors, dtype=np.float32).reshape(len(rows), -1) if len(rows) else None
    if mat is not None and mat.shape[1] != model.dim:
        raise ValueError(f"vectors have dimension {mat.shape[1]}, the model has {model.dim}")
    ok = np.array([r.error is None for r in rows], dtype=bool)
    if mat is not None and ok.any() and not np.isfinite(mat[ok]).all():
        raise ValueError("refusing to write a vector that is not finite")
    flat = (
        mat.astype(np.float16).ravel()
        if mat is not None
        else np.empty(0, np.float16)  # an empty shard still records its model
    )
    values = pa.array(flat, type=pa.float16())
    vector = pa.FixedSizeListArray.from_arrays(values, model.dim, mask=pa.array(~ok))
    m = [r.meta for r in rows]
    columns = {
        "path": [os.fsencode(r.path) for r in rows],
        "root": [os.fsencode(r.root) for r in rows],
        "size": [r.size for r in rows],
        "mtime_ns": [r.mtime_ns for r in rows],
        "content_hash": [r.content_hash for r in rows],
        "kind": [r.kind for r in rows],
        "width": [x.width for x in m],
        "height": [x.height for x in m],
        "taken_at": [x.taken_at for x in m],
        "camera_make": [x.camera_make for x in m],
        "camera_model": [x.camera_model for x in m],
        "gps_lat": [x.gps_lat for x in m],
        "gps_lon": [x.gps_lon for x in m],
        "error": [r.error for r in rows],
        "model_id": [model.model_id] * len(rows),
        "weights_hash": [model.weights_hash] * len(rows),
    }
    schema = _schema(pa, model)
    arrays = [
        vector if f.name == "vector" else pa.array(columns[f.name], type=f.type) for f in schema
    ]
    table = pa.Table.from_arrays(arrays, schema=schema)
    out = Path(folder)
    if name is not None and not (name and all(c.isalnum() or c in "-_" for c in name)):
        raise ValueError(f"a shard name may hold letters, digits, - and _ only, not {name!r}")
    final = f"{_PREFIX}{name or uuid.uuid4().hex}{_SUFFIX}"
    # a unique temporary name: two attempts at one batch (a retry beside a dying worker) never
    # write the same file
    tmp = out / f".{final}.{uuid.uuid4().hex}.tmp"
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, out / final)
    return out / final


def shard_files(folder: str | Path) -> list[Path]:
    """The finished shards of ``folder``, by name (half-written ``.tmp`` files excluded)."""
    root = Path(folder)
    try:
        names = sorted(
            e.name
            for e in os.scandir(root)
            if e.name.startswith(_PREFIX) and e.name.endswith(_SUFFIX) and e.is_file()
        )
    except FileNotFoundError:
        raise ShardError(f"There is no folder {root}.", _NOT_OURS) from None
    except NotADirectoryError:
        raise ShardError(f"{root} is not a folder.", _NOT_OURS) from None
    return [root / n for n in names]


def sweep_partial(folder: str | Path) -> int:
    """Remove the half-written shards a killed worker left; returns how many."""
    removed = 0
    for e in os.scandir(folder):
        if e.name.startswith(f".{_PREFIX}") and e.name.endswith(".tmp") and e.is_file():
            with contextlib.suppress(FileNotFoundError):  # another run's sweep got there first
                os.unlink(e.path)
                removed += 1
    return removed


@dataclass(frozen=True)
class Shard:
    """One shard read and checked: its model and its rows."""

    path: Path
    model: ShardModel
    _table: Any

    def __len__(self) -> int:
        return int(self._table.num_rows)

    def rows(self) -> list[ShardRow]:
        cols = {name: self._table.column(name).to_pylist() for name in _ROW_COLUMNS}
        out = []
        for i in range(len(self)):
            meta = PhotoMeta(
                width=cols["width"][i],
                height=cols["height"][i],
                taken_at=cols["taken_at"][i],
                camera_make=cols["camera_make"][i],
                camera_model=cols["camera_model"][i],
                gps_lat=cols["gps_lat"][i],
                gps_lon=cols["gps_lon"][i],
            )
            out.append(
                ShardRow(
                    path=os.fsdecode(cols["path"][i]),
                    root=os.fsdecode(cols["root"][i]),
                    size=cols["size"][i],
                    mtime_ns=cols["mtime_ns"][i],
                    content_hash=cols["content_hash"][i],
                    kind=cols["kind"][i],
                    meta=meta,
                    error=cols["error"][i],
                )
            )
        return out

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions of the rows with a vector, float32 [m, dim] in that order)."""
        column = self._table.column("vector").combine_chunks()
        ok = np.flatnonzero(~np.asarray(column.is_null(), dtype=bool))
        values = np.asarray(column.flatten(), dtype=np.float16).reshape(-1, self.model.dim)
        return ok.astype(np.int64), values.astype(np.float32)


_ROW_COLUMNS = (
    "path",
    "root",
    "size",
    "mtime_ns",
    "content_hash",
    "kind",
    "width",
    "height",
    "taken_at",
    "camera_make",
    "camera_model",
    "gps_lat",
    "gps_lon",
    "error",
)


def read_shard(path: str | Path) -> Shard:
    """Read and check one shard. Raises :class:`ShardError` (the file named) for anything that
    is not a whole shard of ours: not Parquet, another schema or version, a dimension or value
    out of range, a vector that is not finite."""
    pa, pq = _pyarrow()
    path = Path(path)
    where = f"The shard {path}"
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise ShardError(f"{where} cannot be read as Parquet: {exc}", _NOT_OURS) from exc
    model = _model_of(table.schema, where)
    expected = _schema(pa, model)
    for f in expected:
        got = table.schema.field(f.name) if f.name in table.schema.names else None
        if got is None or not got.type.equals(f.type):
            found = "missing" if got is None else str(got.type)
            raise ShardError(
                f"{where} has column {f.name!r} {found}, expected {f.type}.", _NOT_OURS
            )
    _check_values(table, model, where)
    return Shard(path, model, table)


def _check_values(table: Any, model: ShardModel, where: str) -> None:
    pc = __import__("pyarrow.compute", fromlist=["compute"])

    def bad(text: str) -> ShardError:
        return ShardError(f"{where} {text}.", _NOT_OURS)

    for name in ("path", "root", "size", "mtime_ns", "content_hash", "model_id", "weights_hash"):
        if table.column(name).null_count:
            raise bad(f"has rows without {name}")
    for name, limit in (("path", _MAX_PATH), ("root", _MAX_PATH)):
        lengths = pc.binary_length(table.column(name))
        if len(lengths) and (pc.max(lengths).as_py() > limit or pc.min(lengths).as_py() == 0):
            raise bad(f"has an empty or over-long {name}")
    for name in ("kind", "content_hash", "taken_at", "camera_make", "camera_model", "error"):
        lengths = pc.utf8_length(table.column(name))
        top = pc.max(lengths).as_py() if len(lengths) else None
        if top is not None and top > _MAX_TEXT:
            raise bad(f"has a {name} of {top} characters")
    for name in ("size", "mtime_ns", "width", "height"):
        low = pc.min(table.column(name)).as_py() if table.num_rows else None
        if low is not None and low < 0:
            raise bad(f"has a negative {name}")
    for name in ("model_id", "weights_hash"):
        want = getattr(model, name)
        if table.num_rows and not pc.all(pc.equal(table.column(name), want)).as_py():
            raise bad(f"mixes rows of several models ({name} is not {want} in every row)")
    for name, bound in (("gps_lat", 90.0), ("gps_lon", 180.0)):
        col = table.column(name)
        if col.null_count < len(col):
            values = np.asarray(col.drop_null(), dtype=np.float64)
            if not (np.isfinite(values).all() and np.abs(values).max() <= bound):
                raise bad(f"has a {name} outside ±{bound:g}")
    vector = table.column("vector").combine_chunks()
    ok = ~np.asarray(vector.is_null(), dtype=bool)
    errors = ~np.asarray(table.column("error").is_null(), dtype=bool)
    if (ok & errors).any() or (~ok & ~errors).any():
        raise bad("has rows with both a vector and an error, or neither")
    values = np.asarray(vector.flatten(), dtype=np.float16).astype(np.float32)
    if values.size != int(ok.sum()) * model.dim:
        raise bad("has vectors of the wrong length")
    if values.size:
        mat = values.reshape(-1, model.dim)
        if not np.isfinite(mat).all():
            raise bad("holds a vector that is not finite")
        norms = np.linalg.norm(mat, axis=1)
        # float16 rounding moves a unit vector's norm by ~1e-3; anything else is not a CLIP
        # embedding of ours (search assumes unit vectors)
        if not np.all(np.abs(norms - 1.0) < 0.02):
            raise bad("holds vectors that are not unit length")


def shard_model(path: str | Path) -> ShardModel:
    """The model of one shard, from its footer alone (no row read): what an import checks for
    every shard before it writes anything. Raises :class:`ShardError` like :func:`read_shard`."""
    pa, pq = _pyarrow()
    where = f"The shard {path}"
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise ShardError(f"{where} cannot be read as Parquet: {exc}", _NOT_OURS) from exc
    return _model_of(schema, where)


def _model_of(schema: Any, where: str) -> ShardModel:
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise ShardError(f"{where} was not written by ClipDesk (no shard metadata).", _NOT_OURS)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ShardError(f"{where} has damaged shard metadata.", _NOT_OURS) from exc
    return ShardModel.from_json(data, where)


def read_shards(folder: str | Path) -> Iterator[Shard]:
    """Every finished shard of ``folder``, checked, one at a time (memory: one shard)."""
    for path in shard_files(folder):
        yield read_shard(path)


def done_hashes(folder: str | Path) -> set[str]:
    """The content hashes a folder's shards already hold (only that column is read): what a
    rerun skips. A shard that cannot be read is named in a :class:`ShardError`."""
    pa, pq = _pyarrow()
    done: set[str] = set()
    for path in shard_files(folder):
        try:
            col = pq.read_table(path, columns=["content_hash"]).column("content_hash")
        except (OSError, pa.ArrowException, ValueError, KeyError) as exc:
            raise ShardError(
                f"The shard {path} cannot be read: {exc}",
                "Move it out of the folder (it is then embedded again), or remove it.",
            ) from exc
        done.update(v for v in col.to_pylist() if v is not None)
    return done


def job_file(folder: str | Path) -> Path:
    return Path(folder) / JOB_FILE


def check_job(folder: str | Path, model: ShardModel) -> None:
    """Refuse to add ``model``'s shards to a folder another model's job wrote."""
    path = job_file(folder)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise ShardError(f"{path} cannot be read: {exc}", _NOT_OURS) from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ShardError(f"{path} is damaged.", "Remove it, or use a new output folder.") from exc
    theirs = ShardModel.from_json(data.get("model") if isinstance(data, dict) else None, str(path))
    diff = theirs.differences(model)
    if diff:
        raise ShardError(
            f"The folder {Path(folder)} holds vectors of another model: {'; '.join(diff)}.",
            "Use a new output folder for this model, or the model the folder was made with.",
        )


def write_job(folder: str | Path, model: ShardModel, inputs: Sequence[str]) -> None:
    """Record the job's model and inputs in ``folder`` (after :func:`check_job` passed)."""
    data = {"model": model.as_json(), "inputs": list(inputs), "written_at": time.time()}
    atomic_write_bytes(job_file(folder), (json.dumps(data, indent=2) + "\n").encode())
