"""Embedding queries of :class:`clipdesk.library.store.Library` (a mixin; see store.py for threads).

Vectors are stored as little-endian float32 BLOBs (``dim * 4`` bytes), one row per
(photo, model id); deleting a photo deletes its vectors. Loading a model's vectors for search
is one query streamed into a preallocated matrix, so peak memory is the matrix plus one chunk.
Each row records the runtime label that made it ("torch-fp32", "onnx-int8";
:mod:`clipdesk.model.runtime`): the pipeline mixes runtimes only where they agree, and search
says which ones it compared.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np

from clipdesk.library.base import LibraryBase
from clipdesk.library.photos import chunks
from clipdesk.library.records import PHOTO_COLUMNS, Photo, PhotoStatus

_FETCH = 4096  # rows per fetchmany while loading vectors (bounds the extra memory)
# The runtime of every vector stored before schema v5 recorded it (NULL there): ClipDesk had
# only torch then, in fp32 on the CPU.
LEGACY_RUNTIME = "torch-fp32"


@dataclass(frozen=True)
class VectorChunk:
    """Part of a model's vectors: row i of ``vectors`` belongs to photo ``ids[i]``."""

    ids: np.ndarray  # int64 [n]
    vectors: np.ndarray  # float32 [n, dim], read-only view of the stored bytes
    created_at: list[float]  # when each vector was stored
    statuses: list[str]  # each photo's status


@dataclass(frozen=True)
class VectorStamps:
    """When each of a model's vectors was stored, and which of their photos are not ok."""

    ids: np.ndarray  # int64 [n], photo ids
    created_at: np.ndarray  # float64 [n], when each one's vector was stored
    not_ok: dict[int, str]  # photo id -> status, for the photos among them not ok

    def __len__(self) -> int:
        return len(self.ids)


def _as_matrix(vectors: np.ndarray | Sequence[np.ndarray], n: int) -> np.ndarray:
    mat = np.ascontiguousarray(np.asarray(vectors), dtype="<f4")
    if mat.ndim == 1:
        mat = mat[None, :]
    if mat.ndim != 2 or mat.shape[0] != n:
        raise ValueError(f"expected {n} vectors, got an array of shape {mat.shape}")
    return mat


class VectorQueries(LibraryBase):
    def pending_photos(
        self, model_id: str, limit: int | None = None, after_id: int = 0
    ) -> list[Photo]:
        """Photos the pipeline should embed with ``model_id``, by id, at most ``limit``.

        That is every ``pending`` photo, plus ``ok`` photos with no vector for ``model_id``
        (after the active model changes). Page with ``after_id`` = the last id returned.
        """
        sql = (
            f"SELECT {PHOTO_COLUMNS} FROM photos p WHERE p.id > ? AND (p.status = ? OR "
            f"(p.status = ? AND NOT EXISTS (SELECT 1 FROM embeddings e "
            f"WHERE e.photo_id = p.id AND e.model_id = ?))) ORDER BY p.id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self.query(
            sql, (after_id, PhotoStatus.PENDING.value, PhotoStatus.OK.value, model_id)
        )
        return [Photo.from_row(r) for r in rows]

    def count_pending(self, model_id: str) -> int:
        rows = self.query(
            "SELECT count(*) FROM photos p WHERE p.status = ? OR (p.status = ? AND NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.photo_id = p.id AND e.model_id = ?))",
            (PhotoStatus.PENDING.value, PhotoStatus.OK.value, model_id),
        )
        return int(rows[0][0])

    def store_embeddings(
        self,
        model_id: str,
        photo_ids: Sequence[int],
        vectors: np.ndarray | Sequence[np.ndarray],
        stamps: Sequence[tuple[int, int] | None] | None = None,
        *,
        runtime: str = LEGACY_RUNTIME,
    ) -> int:
        """Save one batch of vectors in one transaction and mark those photos indexed (ok).

        ``vectors`` is float32 [n, dim], row i for ``photo_ids[i]``. ``stamps[i]`` is the
        ``Photo.stamp`` the pipeline was given: a photo that changed (or vanished) since is
        skipped, so a stale vector never lands. ``runtime`` is the label of what made them
        (``ClipModel.runtime_label``). Returns how many were stored.
        """
        ids = [int(i) for i in photo_ids]
        mat = _as_matrix(vectors, len(ids))
        stamps = list(stamps) if stamps is not None else [None] * len(ids)
        now = time.time()
        stored = 0
        with self.transaction() as conn:
            current: dict[int, tuple[int, int]] = {}
            for part in chunks(ids):
                for r in conn.execute(
                    f"SELECT id, size, mtime_ns FROM photos WHERE id IN "
                    f"({','.join('?' * len(part))})",
                    part,
                ):
                    current[r["id"]] = (r["size"], r["mtime_ns"])
            rows, done = [], []
            for i, pid in enumerate(ids):
                have, stamp = current.get(pid), stamps[i]
                if have is None or (stamp is not None and tuple(stamp) != have):
                    continue
                rows.append((pid, model_id, mat.shape[1], mat[i].tobytes(), now, runtime))
                done.append(pid)
            conn.executemany(
                "INSERT INTO embeddings(photo_id, model_id, dim, vector, created_at, runtime) "
                "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(photo_id, model_id) DO UPDATE SET "
                "dim = excluded.dim, vector = excluded.vector, created_at = excluded.created_at, "
                "runtime = excluded.runtime",
                rows,
            )
            for part in chunks(done):
                marks = ",".join("?" * len(part))
                conn.execute(
                    f"UPDATE photos SET status = ?, error = NULL, indexed_at = ? "
                    f"WHERE status IN (?, ?) AND id IN ({marks})",
                    (
                        PhotoStatus.OK.value,
                        now,
                        PhotoStatus.PENDING.value,
                        PhotoStatus.ERROR.value,
                        *part,
                    ),
                )
                conn.execute(  # finished while its folder went offline / the file went missing
                    f"UPDATE photos SET prev_status = ?, error = NULL, indexed_at = ? "
                    f"WHERE status IN (?, ?) AND id IN ({marks})",
                    (
                        PhotoStatus.OK.value,
                        now,
                        PhotoStatus.MISSING.value,
                        PhotoStatus.OFFLINE.value,
                        *part,
                    ),
                )
            stored = len(done)
        return stored

    def mark_indexed(
        self,
        photo_id: int,
        model_id: str,
        vector: np.ndarray,
        stamp: tuple[int, int] | None = None,
        *,
        runtime: str = LEGACY_RUNTIME,
    ) -> bool:
        """Single-photo form of :meth:`store_embeddings`."""
        return self.store_embeddings(model_id, [photo_id], [vector], [stamp], runtime=runtime) == 1

    def load_vectors(
        self,
        model_id: str,
        statuses: Sequence[PhotoStatus | str] = (PhotoStatus.OK,),
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64 [n], vectors float32 [n, dim]) of every photo with a ``model_id`` vector
        and one of ``statuses``, ordered by id. Empty arrays (dim 0) when there are none."""
        st = [str(s) for s in statuses]
        where = (
            f"FROM embeddings e JOIN photos p ON p.id = e.photo_id WHERE e.model_id = ? "
            f"AND p.status IN ({','.join('?' * len(st))})"
        )
        with self.reading() as conn:
            # both answered from indexes alone: no vector BLOB is read twice
            n = int(conn.execute(f"SELECT count(*) {where}", (model_id, *st)).fetchone()[0])
            row = conn.execute(
                "SELECT dim FROM embeddings WHERE model_id = ? LIMIT 1", (model_id,)
            ).fetchone()
            dim = int(row[0]) if row else 0
            ids = np.empty(n, dtype=np.int64)
            mat = np.empty((n, dim), dtype=np.float32)
            cur = conn.execute(
                f"SELECT e.photo_id, e.vector {where} ORDER BY e.photo_id", (model_id, *st)
            )
            filled = 0
            while rows := cur.fetchmany(_FETCH):
                k = len(rows)
                ids[filled : filled + k] = [r[0] for r in rows]
                blob = b"".join(r[1] for r in rows)
                if len(blob) != k * dim * 4:
                    raise ValueError(f"vectors of model {model_id} have mixed dimensions")
                mat[filled : filled + k] = np.frombuffer(blob, dtype="<f4").reshape(k, dim)
                filled += k
        return ids[:filled], mat[:filled]

    def vectors_for(self, model_id: str, photo_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) for the given photos that have a ``model_id`` vector (any status)."""
        found: list[tuple[int, bytes]] = []
        for part in chunks([int(i) for i in photo_ids]):
            found += [
                (r[0], r[1])
                for r in self.query(
                    f"SELECT photo_id, vector FROM embeddings WHERE model_id = ? AND photo_id IN "
                    f"({','.join('?' * len(part))}) ORDER BY photo_id",
                    (model_id, *part),
                )
            ]
        if not found:
            return np.empty(0, dtype=np.int64), np.empty((0, 0), dtype=np.float32)
        ids = np.array([f[0] for f in found], dtype=np.int64)
        mat = np.frombuffer(b"".join(f[1] for f in found), dtype="<f4").reshape(len(found), -1)
        return ids, mat.astype(np.float32, copy=True)

    def photo_ids_with_vectors(
        self,
        model_id: str,
        statuses: Sequence[PhotoStatus | str] = (PhotoStatus.OK,),
    ) -> list[int]:
        """Ids of the photos with a ``model_id`` vector and one of ``statuses`` (no vector read)."""
        st = [str(s) for s in statuses]
        rows = self.query(
            "SELECT e.photo_id FROM embeddings e JOIN photos p ON p.id = e.photo_id "
            f"WHERE e.model_id = ? AND p.status IN ({','.join('?' * len(st))}) ORDER BY e.photo_id",
            (model_id, *st),
        )
        return [int(r[0]) for r in rows]

    def vector_shape(self, model_id: str) -> tuple[int, int | None]:
        """(number of stored vectors of ``model_id``, their largest dimension or None)."""
        rows = self.query(
            "SELECT count(*), max(dim) FROM embeddings WHERE model_id = ?", (model_id,)
        )
        n, dim = rows[0][0], rows[0][1]
        return int(n or 0), (int(dim) if dim is not None else None)

    def vector_count(self, model_id: str) -> tuple[int, int | None]:
        """(number of stored vectors of ``model_id``, their dimension or None) without reading
        the vectors: the count from the (model, photo) index, the dimension from one row
        (:meth:`vector_shape` reads every row for its largest dimension). What the ANN upkeep
        asks after every index run."""
        with self.reading() as conn:
            n = conn.execute(
                "SELECT count(*) FROM embeddings WHERE model_id = ?", (model_id,)
            ).fetchone()[0]
            row = conn.execute(
                "SELECT dim FROM embeddings WHERE model_id = ? LIMIT 1", (model_id,)
            ).fetchone()
        return int(n or 0), (int(row[0]) if row else None)

    def vector_chunks(
        self, model_id: str, dim: int, chunk: int = 8192
    ) -> Generator[VectorChunk, None, None]:
        """Every ``dim``-sized vector of ``model_id`` (any photo status), streamed from one read
        snapshot in chunks of at most ``chunk`` rows: peak memory is one chunk, not the matrix."""
        with self.reading() as conn:
            cur = conn.execute(
                "SELECT e.photo_id, e.vector, e.created_at, p.status FROM embeddings e "
                "JOIN photos p ON p.id = e.photo_id WHERE e.model_id = ? AND e.dim = ?",
                (model_id, int(dim)),
            )
            while rows := cur.fetchmany(chunk):
                ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
                vecs = np.frombuffer(b"".join(r[1] for r in rows), "<f4").reshape(len(rows), -1)
                yield VectorChunk(ids, vecs, [r[2] for r in rows], [r[3] for r in rows])

    def vector_stamps(self, model_id: str) -> VectorStamps:
        """(photo id, vector created_at) of every photo with a ``model_id`` vector, as arrays,
        and the status of those not ok: what search compares with its index to find what
        changed. One read snapshot; no Python object a photo (ten million photos are 160 MB
        of arrays, not 1.5 GB of tuples)."""
        with self.reading() as conn:
            cur = conn.execute(
                "SELECT photo_id, created_at FROM embeddings WHERE model_id = ?", (model_id,)
            )
            rows = np.fromiter(
                ((r[0], r[1]) for r in cur), dtype=[("id", np.int64), ("at", np.float64)]
            )
            not_ok = {
                int(r[0]): str(r[1])
                for r in conn.execute(
                    "SELECT e.photo_id, p.status FROM embeddings e JOIN photos p "
                    "ON p.id = e.photo_id WHERE e.model_id = ? AND p.status != ?",
                    (model_id, PhotoStatus.OK.value),
                )
            }
        return VectorStamps(rows["id"], rows["at"], not_ok)  # views: no second copy

    def vector_ids(self, model_id: str, dim: int | None = None) -> np.ndarray:
        """Ids (int64, ascending) of the photos with a ``model_id`` vector (of ``dim``
        dimensions when given), any status: answered from the (model, photo) index when no
        ``dim`` is asked, no vector read."""
        sql = "SELECT photo_id FROM embeddings WHERE model_id = ?"
        params: tuple[str | int, ...] = (model_id,)
        if dim is not None:
            sql, params = sql + " AND dim = ?", (model_id, int(dim))
        with self.reading() as conn:
            cur = conn.execute(sql + " ORDER BY photo_id", params)
            return np.fromiter((r[0] for r in cur), np.int64)

    def vector_runtimes(self, model_id: str) -> dict[str, int]:
        """{runtime label: number of ``model_id`` vectors it made}, e.g. ``{"torch-fp32": 9}``;
        vectors from before labels were recorded count as :data:`LEGACY_RUNTIME`. Answered from
        an index: no vector is read."""
        counts: dict[str, int] = {}
        for r in self.query(
            "SELECT runtime, count(*) FROM embeddings WHERE model_id = ? GROUP BY runtime",
            (model_id,),
        ):
            label = r[0] if r[0] is not None else LEGACY_RUNTIME
            counts[label] = counts.get(label, 0) + int(r[1])
        return counts

    def vector_runtime_labels(self, model_id: str) -> set[str]:
        """The keys of :meth:`vector_runtimes` without counting: one index seek per label
        whatever the number of vectors (counting 100,000 takes milliseconds), so a search may
        ask on every keystroke."""
        labels: set[str] = set()
        with self.reading() as conn:
            if conn.execute(
                "SELECT 1 FROM embeddings WHERE model_id = ? AND runtime IS NULL LIMIT 1",
                (model_id,),
            ).fetchone():
                labels.add(LEGACY_RUNTIME)
            # min() ignores NULLs; each step seeks past the label found before.
            row = conn.execute(
                "SELECT min(runtime) FROM embeddings WHERE model_id = ?", (model_id,)
            ).fetchone()
            while row[0] is not None:
                labels.add(str(row[0]))
                row = conn.execute(
                    "SELECT min(runtime) FROM embeddings WHERE model_id = ? AND runtime > ?",
                    (model_id, row[0]),
                ).fetchone()
        return labels

    def embedding_models(self) -> dict[str, int]:
        """{model id: number of stored vectors}."""
        rows = self.query("SELECT model_id, count(*) AS n FROM embeddings GROUP BY model_id")
        return {r["model_id"]: r["n"] for r in rows}

    def copy_embeddings(self, source_model: str, target_model: str) -> int:
        """Store every vector of ``source_model`` under ``target_model`` as well (models with
        the same image tower embed photos identically), each with the runtime that made it;
        vectors the target already has are kept. Returns how many were copied."""
        with self.transaction() as conn:
            return conn.execute(
                "INSERT OR IGNORE INTO embeddings(photo_id, model_id, dim, vector, created_at, "
                "runtime) SELECT photo_id, ?, dim, vector, ?, runtime FROM embeddings "
                "WHERE model_id = ?",
                (target_model, time.time(), source_model),
            ).rowcount

    def delete_embeddings(self, model_id: str) -> int:
        """Drop every vector of ``model_id`` (e.g. once a new model's re-embedding is done)."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM embeddings WHERE model_id = ?", (model_id,)).rowcount
