"""Vector shards of real photo files, as a cluster run writes them (without Ray): the facts a
scan takes (the real content hash, so a later scan finds the files unchanged), vectors made by
the desktop's own decoding and model, paths recorded under the prefix the cluster saw."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from clipdesk.cluster.shards import ShardModel, ShardRow, write_shard
from clipdesk.scanning.examine import examine


def shard_rows(paths: Sequence[Path], root: Path, recorded: str | None = None) -> list[ShardRow]:
    """One row per file (``examine``'s facts), its path and root under ``recorded`` instead of
    ``root`` when given (what the cluster's mount was called)."""
    base = str(root) if recorded is None else recorded
    rows = []
    for path in paths:
        facts = examine(str(path))
        assert facts is not None and facts.content_hash is not None
        rows.append(
            ShardRow(
                path=base + str(path)[len(str(root)) :],
                root=base,
                size=facts.size,
                mtime_ns=facts.mtime_ns,
                content_hash=facts.content_hash,
                kind=facts.kind,
                meta=facts.meta,
                error=facts.error,
            )
        )
    return rows


def embed_files(model, paths: Sequence[Path]) -> np.ndarray:
    """float32 [n, dim]: the desktop pipeline's decoding, preprocessing and model."""
    from clipdesk.indexing.pipeline import _prepare_array

    pixels = np.stack([_prepare_array(str(p), model.image_size, model.preprocessor) for p in paths])
    return model.encode_pixels(pixels)


def photo_shard(
    out: Path,
    model: ShardModel,
    paths: Sequence[Path],
    root: Path,
    vectors: np.ndarray | None = None,
    recorded: str | None = None,
) -> Path:
    """A shard of ``paths`` (random unit vectors unless given) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = shard_rows(paths, root, recorded)
    if vectors is None:
        vectors = np.random.default_rng(len(rows)).standard_normal((len(rows), model.dim))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return write_shard(out, model, rows, vectors)


def rewrite_shard(path: Path, change) -> Path:
    """The shard with ``change(table) -> table`` applied, its schema metadata kept (a shard
    damaged or forged after it was written)."""
    table = pq.read_table(path)
    changed = change(table)
    if changed.schema.metadata is None:
        changed = changed.replace_schema_metadata(table.schema.metadata)
    pq.write_table(changed, path)
    return path


def with_vector(table: pa.Table, values: np.ndarray, dim: int) -> pa.Table:
    """``table`` whose vector column holds ``values`` (float16 [n, dim]) instead."""
    flat = pa.array(np.asarray(values, np.float16).ravel(), type=pa.float16())
    column = pa.FixedSizeListArray.from_arrays(flat, dim)
    i = table.schema.get_field_index("vector")
    field = pa.field("vector", pa.list_(pa.float16(), dim))
    return table.set_column(i, field, column).replace_schema_metadata(table.schema.metadata)


def fake_files(root: Path, n: int, dim: int, model: ShardModel, out: Path, per_shard: int) -> int:
    """``n`` rows of files that are not there (the import reads no file), ``per_shard`` to a
    shard: for timing an import. Returns the number of shards written."""
    from clipdesk.library.records import PhotoMeta

    root.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    shards = 0
    for start in range(0, n, per_shard):
        count = min(per_shard, n - start)
        rows = [
            ShardRow(
                path=os.path.join(root, f"d{(start + i) // 1000:04d}", f"IMG_{start + i:07d}.jpg"),
                root=str(root),
                size=100_000 + start + i,
                mtime_ns=1_600_000_000_000_000_000 + start + i,
                content_hash=f"{start + i:032x}",
                kind="jpeg",
                meta=PhotoMeta(width=4000, height=3000, taken_at="2019-07-01T12:00:00"),
            )
            for i in range(count)
        ]
        vecs = rng.standard_normal((count, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        write_shard(out, model, rows, vecs)
        shards += 1
    return shards
