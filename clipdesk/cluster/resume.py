"""What a rerun skips: the photos an output folder's shards already hold, as compact keys.

Two kinds of key, 16 bytes each: a photo's content hash (``scanning.hashing``'s BLAKE2b-128,
already 16 bytes), and a digest of its (path, size, mtime) stamp, so an unchanged file is
skipped on a ``stat`` alone, before a byte of it is read. Both are sorted numpy arrays of two
uint64 halves: 10 million photos cost 320 MB once in Ray's object store, which every worker of a
node reads without a copy; a Python set of the same strings would cost each worker gigabytes.

Error rows count as done: the same bytes fail the same way. Photos that could not be read at
all are in no shard (the summary names them), so a rerun tries them again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clipdesk.cluster.shards import ShardError, shard_files

_EMPTY = np.zeros((0, 2), dtype=np.uint64)


def stamp_key(path: bytes, size: int, mtime_ns: int) -> bytes:
    """The 16-byte key of a recorded path as it was when embedded."""
    h = hashlib.blake2b(digest_size=16)
    h.update(size.to_bytes(8, "little", signed=True))
    h.update(mtime_ns.to_bytes(8, "little", signed=True))
    h.update(path)
    return h.digest()


def hash_key(content_hash: str) -> bytes:
    """``scanning.hashing``'s hex digest as its 16 bytes (ValueError for anything else)."""
    key = bytes.fromhex(content_hash)
    if len(key) != 16:
        raise ValueError(f"a content hash of {len(key)} bytes")
    return key


def pairs_of(keys: list[bytes]) -> np.ndarray:
    """16-byte keys as uint64 pairs [n, 2]."""
    if not keys:
        return _EMPTY
    return np.frombuffer(b"".join(keys), dtype=">u8").reshape(-1, 2).astype(np.uint64)


@dataclass(frozen=True)
class KeySet:
    """Sorted 16-byte keys as uint64 pairs [n, 2] (big-endian halves, so the order of the
    pairs is the order of the bytes)."""

    keys: np.ndarray

    @classmethod
    def of(cls, raw: list[bytes]) -> KeySet:
        return cls.joined([pairs_of(raw)])

    @classmethod
    def joined(cls, parts: list[np.ndarray]) -> KeySet:
        pairs = np.concatenate(parts) if parts else _EMPTY
        order = np.lexsort((pairs[:, 1], pairs[:, 0]))
        return cls(np.ascontiguousarray(pairs[order]))

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, bytes) or len(key) != 16 or not len(self.keys):
            return False
        hi, lo = (int.from_bytes(key[i : i + 8], "big") for i in (0, 8))
        column = self.keys[:, 0]
        start = int(np.searchsorted(column, np.uint64(hi), "left"))
        end = int(np.searchsorted(column, np.uint64(hi), "right"))
        return bool((self.keys[start:end, 1] == np.uint64(lo)).any())


@dataclass(frozen=True)
class Done:
    """What an output folder holds already: content hashes, and (path, size, mtime) stamps."""

    hashes: KeySet
    stamps: KeySet

    def __len__(self) -> int:
        return len(self.hashes)


def done_in(folder: str | Path) -> Done:
    """The keys of every finished shard in ``folder`` (only four columns are read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    hashes: list[np.ndarray] = []  # per shard: a folder's keys never exist as Python objects
    stamps: list[np.ndarray] = []
    for path in shard_files(folder):
        try:
            table: Any = pq.read_table(path, columns=["path", "size", "mtime_ns", "content_hash"])
        except (OSError, pa.ArrowException, ValueError, KeyError) as exc:
            raise ShardError(
                f"The shard {path} cannot be read: {exc}",
                "Move it out of the folder (its photos are then embedded again), or remove it.",
            ) from exc
        cols = [table.column(n).to_pylist() for n in ("path", "size", "mtime_ns", "content_hash")]
        try:
            hashes.append(pairs_of([hash_key(d) for d in cols[3]]))
        except (TypeError, ValueError) as exc:
            raise ShardError(
                f"The shard {path} holds a content hash that is not ClipDesk's.",
                "Move it out of the folder (its photos are then embedded again), or remove it.",
            ) from exc
        stamps.append(pairs_of([stamp_key(*row) for row in zip(*cols[:3], strict=True)]))
    return Done(KeySet.joined(hashes), KeySet.joined(stamps))
