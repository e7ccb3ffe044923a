"""Photos embedded elsewhere, merged into the library (a mixin of
:class:`clipdesk.library.store.Library`; see store.py for threads).

A cluster run (``clipdesk-cli cluster embed``) writes each photo's scan facts and vector to a
shard; :meth:`ImportQueries.import_photos` writes one shard's photos in one transaction: the
folder rows their roots need, the photo rows, the vectors with the runtime that made them, and
the steps each embedded photo is owed next, the same rows the indexing pipeline's commit writes
(:meth:`~clipdesk.library.vectors.VectorQueries.store_embeddings` and
:meth:`~clipdesk.library.steps.StepQueries.add_steps`). So an imported photo is tagged, its
XMP keywords read and its text read like an indexed one, and a crash loses at most that shard.

Photos are matched by path. A photo already here with the same content hash gets the vector it
lacks; one that already has a vector of the model is left as it is, so a second import of the
same shards changes nothing. A photo here whose content differs is refused (the file changed
since it was embedded: the next index embeds it again). A new path gets a row with the shard's
facts, as a scan would have recorded them, so the next scan finds it unchanged and embeds
nothing; the paths are this machine's (the caller maps them) and nothing here reads the disk.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clipdesk.common.fsnames import sql_text
from clipdesk.library.base import LibraryBase, inserted_id
from clipdesk.library.folders import is_inside, normalise_path
from clipdesk.library.photos import ErrorMark, fact_values
from clipdesk.library.records import FileFacts, Folder, PhotoStatus

# A refused row's reason: the file at the path is not the one the shard embedded.
OTHER_CONTENT = "the file here has other content than the one embedded (content hash differs)"
OUTSIDE_ROOT = "not inside the folder it was found in"


@dataclass(frozen=True)
class ImportedPhoto:
    """One photo of a shard, its path already this machine's."""

    facts: FileFacts  # absolute path; ``error``: why it has no vector, as the desktop words it
    root: str  # the folder it joins when no watched folder holds it
    vector: np.ndarray | None = None  # float32 [dim]; None exactly when ``facts.error`` is set


@dataclass
class ImportOutcome:
    """What one :meth:`ImportQueries.import_photos` call wrote."""

    added: list[int] = field(default_factory=list)  # new photos, with their vectors
    failed: list[int] = field(default_factory=list)  # new photos the shard could not read
    updated: list[int] = field(default_factory=list)  # photos here that got a vector or reason
    embedded: list[int] = field(default_factory=list)  # every photo given a vector (owed steps)
    unchanged: int = 0  # already here with a vector of the model (or a reason): left alone
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    folders: list[Folder] = field(default_factory=list)  # made for roots no watched folder held


class ImportQueries(LibraryBase):
    if TYPE_CHECKING:  # the other parts of store.Library this one writes through

        def folders(self) -> list[Folder]: ...

        def add_folder(self, path: str | Path) -> Folder: ...

        def store_embeddings(
            self,
            model_id: str,
            photo_ids: Sequence[int],
            vectors: np.ndarray | Sequence[np.ndarray],
            stamps: Sequence[tuple[int, int] | None] | None = None,
            *,
            runtime: str = ...,
        ) -> int: ...

        def add_steps(
            self,
            photo_ids: Sequence[int],
            steps: Sequence[str],
            model_id: str | None = None,
            vector_free: Sequence[str] = (),
        ) -> int: ...

        def mark_errors(self, items: Iterable[ErrorMark]) -> int: ...

    def import_photos(
        self,
        photos: Sequence[ImportedPhoto],
        *,
        model_id: str,
        runtime: str,
        steps: Sequence[str] = (),
        vector_free: Sequence[str] = (),
    ) -> ImportOutcome:
        """Write ``photos`` (one shard) in one transaction; see the module's docstring.
        ``runtime`` is the label of what made the vectors (``"onnx-int8"``); ``steps`` (and
        ``vector_free``) are what the pipeline owes each embedded photo."""
        out = ImportOutcome()
        now = time.time()
        with self.transaction() as conn:
            watched = self.folders()
            seen: set[str] = set()
            vec_ids: list[int] = []
            vecs: list[np.ndarray] = []
            errors: list[ErrorMark] = []
            for photo in photos:
                f = photo.facts
                path, root = normalise_path(f.path), normalise_path(photo.root)
                if path == root or not is_inside(path, root):
                    out.refused.append((path, OUTSIDE_ROOT))
                    continue
                if path in seen:  # twice in one shard: its vector is not stored yet
                    out.unchanged += 1
                    continue
                seen.add(path)
                row = conn.execute(
                    "SELECT p.id, p.status, p.content_hash, EXISTS(SELECT 1 FROM embeddings e "
                    "WHERE e.photo_id = p.id AND e.model_id = ?) AS has_vector "
                    "FROM photos p WHERE p.path = CAST(? AS TEXT)",
                    (model_id, sql_text(path)),
                ).fetchone()
                if row is not None:
                    if row["content_hash"] != f.content_hash:
                        out.refused.append((path, OTHER_CONTENT))
                    elif photo.vector is not None and not row["has_vector"]:
                        vec_ids.append(int(row["id"]))
                        vecs.append(photo.vector)
                        out.updated.append(int(row["id"]))
                    elif photo.vector is None and row["status"] == PhotoStatus.PENDING.value:
                        # what an index run here would have found; a transient reason (the file
                        # was away) is tried again by the next one
                        errors.append((int(row["id"]), f.error or "", None))
                        out.updated.append(int(row["id"]))
                    else:
                        out.unchanged += 1
                    continue
                folder_id = next((w.id for w in watched if is_inside(path, str(w.path))), None)
                if folder_id is None:
                    created = self.add_folder(root)
                    out.folders.append(created)
                    folder_id = created.id
                    watched = self.folders()  # it absorbed the watched folders inside it
                pid = self._insert_imported(conn, folder_id, path, f, now)
                if photo.vector is None:
                    out.failed.append(pid)
                else:
                    vec_ids.append(pid)
                    vecs.append(photo.vector)
                    out.added.append(pid)
            if vec_ids:
                self.store_embeddings(model_id, vec_ids, np.stack(vecs), runtime=runtime)
                self.add_steps(vec_ids, steps, model_id, vector_free)
            if errors:
                self.mark_errors(errors)
            out.embedded = vec_ids
        return out

    @staticmethod
    def _insert_imported(
        conn: sqlite3.Connection, folder_id: int, path: str, f: FileFacts, now: float
    ) -> int:
        # pending until its vector lands a few statements later (store_embeddings marks it ok);
        # an error row keeps the reason the cluster recorded, as an index run's mark would
        status = PhotoStatus.ERROR.value if f.error else PhotoStatus.PENDING.value
        cur = conn.execute(
            "INSERT INTO photos(folder_id, path, status, error, added_at, updated_at, "
            "indexed_at, kind, size, mtime_ns, content_hash, width, height, taken_at, "
            "camera_make, camera_model, gps_lat, gps_lon) "
            f"VALUES(?, CAST(? AS TEXT), {','.join('?' * 16)})",
            (
                folder_id,
                sql_text(path),
                status,
                f.error,
                now,
                now,
                now if f.error else None,
                *fact_values(f),
            ),
        )
        return inserted_id(cur)
