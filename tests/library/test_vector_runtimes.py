"""Every stored vector names the runtime that made it: stored, replaced, copied and counted."""

from __future__ import annotations

import numpy as np
import pytest

from clipdesk.library.store import Library
from tests.support.pipeline_helpers import register, solid_photos


@pytest.fixture
def library(tmp_path):
    with Library(tmp_path / "lib.sqlite3") as lib:
        yield lib


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _runtimes(library: Library) -> dict[tuple[int, str], str | None]:
    rows = library.connection().execute("SELECT photo_id, model_id, runtime FROM embeddings")
    return {(r[0], r[1]): r[2] for r in rows}


def test_stored_vectors_keep_their_runtime_and_are_counted_per_runtime(library, tmp_path):
    ids = register(library, tmp_path / "p", solid_photos(tmp_path / "p", 5, (8, 8)))
    assert library.vector_runtimes("m@1") == {}
    library.store_embeddings("m@1", ids[:3], _vectors(3), runtime="onnx-int8")
    library.store_embeddings("m@1", ids[3:], _vectors(2), runtime="torch-fp32")
    assert library.vector_runtimes("m@1") == {"onnx-int8": 3, "torch-fp32": 2}
    # A photo embedded again (its file changed) takes the label of its new vector.
    library.store_embeddings("m@1", ids[:1], _vectors(1, seed=1), runtime="onnx-fp32")
    assert library.vector_runtimes("m@1") == {"onnx-fp32": 1, "onnx-int8": 2, "torch-fp32": 2}
    assert library.mark_indexed(ids[1], "m@1", _vectors(1)[0], runtime="torch-bf16")
    assert _runtimes(library)[(ids[1], "m@1")] == "torch-bf16"
    assert library.vector_runtimes("other@1") == {}


def test_vectors_stored_without_a_label_and_old_rows_count_as_torch_fp32(library, tmp_path):
    ids = register(library, tmp_path / "p", solid_photos(tmp_path / "p", 3, (8, 8)))
    library.store_embeddings("m@1", ids, _vectors(3))
    assert set(_runtimes(library).values()) == {"torch-fp32"}
    with library.transaction() as conn:  # as a library from before schema v5 has them
        conn.execute("UPDATE embeddings SET runtime = NULL WHERE photo_id = ?", (ids[0],))
    library.store_embeddings("m@1", ids[1:2], _vectors(1), runtime="onnx-int8")
    assert library.vector_runtimes("m@1") == {"torch-fp32": 2, "onnx-int8": 1}


def test_copied_vectors_keep_the_runtime_that_made_them(library, tmp_path):
    ids = register(library, tmp_path / "p", solid_photos(tmp_path / "p", 4, (8, 8)))
    library.store_embeddings("base@1", ids[:2], _vectors(2), runtime="onnx-int8")
    library.store_embeddings("base@1", ids[2:], _vectors(2), runtime="torch-fp32")
    with library.transaction() as conn:
        conn.execute("UPDATE embeddings SET runtime = NULL WHERE photo_id = ?", (ids[3],))
    assert library.copy_embeddings("base@1", "tuned@2") == 4
    got = _runtimes(library)
    assert [got[(i, "tuned@2")] for i in ids] == ["onnx-int8", "onnx-int8", "torch-fp32", None]
    assert library.vector_runtimes("tuned@2") == {"onnx-int8": 2, "torch-fp32": 2}
