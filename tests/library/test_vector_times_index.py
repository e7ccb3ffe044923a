"""Schema v7: what search compares with its index on every sync (``vector_stamps``: each photo's
vector time) is read from an index alone, never from the rows that hold the vector BLOBs."""

from __future__ import annotations

import numpy as np

from clipdesk.library.store import Library
from tests.support.photofiles import index_all, make_photo
from tests.support.pipeline_helpers import register


def test_vector_times_and_ids_are_read_from_a_covering_index(tmp_path):
    with Library(tmp_path / "lib.sqlite3") as lib:
        plans = [
            " ".join(str(r[3]) for r in lib.query(f"EXPLAIN QUERY PLAN {sql}", ("m",)))
            for sql in (
                "SELECT photo_id, created_at FROM embeddings WHERE model_id = ?",
                "SELECT photo_id FROM embeddings WHERE model_id = ? ORDER BY photo_id",
            )
        ]
    assert all("COVERING INDEX idx_embeddings_model_photo_time" in plan for plan in plans), plans


def test_vector_stamps_still_give_every_vector_time(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    files = [make_photo(folder / f"{i}.png", seed=i) for i in range(3)]
    with Library(tmp_path / "lib.sqlite3") as lib:
        register(lib, folder, files)
        ids = index_all(lib, model_id="m", dim=8)
        assert len(ids) == 3
        stamps = lib.vector_stamps("m")
        assert sorted(stamps.ids.tolist()) == sorted(ids)
        assert np.all(stamps.created_at > 0) and stamps.not_ok == {}
