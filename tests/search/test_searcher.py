from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from clipdesk.library.records import PhotoStatus
from clipdesk.library.store import Library
from clipdesk.search.searcher import Searcher, SearchFilters
from tests.support.pipeline_helpers import register, register_folders

MODEL = "fake@1"
DIM = 16


@pytest.fixture
def library(tmp_path: Path):
    lib = Library(tmp_path / "lib.sqlite3")
    yield lib
    lib.close()


def _unit(rng, n):
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _setup(library: Library, tmp_path: Path, n_a: int = 30, n_b: int = 20):
    """Two folders of photos, all embedded with random vectors."""
    ids = register_folders(library, tmp_path, {"a": n_a, "b": n_b})
    vecs = _unit(np.random.default_rng(0), len(ids))
    library.store_embeddings(MODEL, ids, vecs)
    return np.array(ids), vecs


def test_load_and_search_ranks_like_exact(library, tmp_path) -> None:
    ids, vecs = _setup(library, tmp_path)
    s = Searcher(library, MODEL, dtype="float32")
    assert s.load() == 50
    q = vecs[7]
    results = s.search(q, k=5)
    exact = ids[np.argsort(-(vecs @ q))[:5]]
    assert [r.photo_id for r in results] == exact.tolist()
    resolved = s.resolve(results)
    assert resolved[0].photo.id == ids[7] and resolved[0].as_dict()["path"].endswith("7.jpg")


def test_filters_folder_date_status_allowed_and_min_score(library, tmp_path) -> None:
    ids, vecs = _setup(library, tmp_path)
    conn = library.connection()
    conn.execute("UPDATE photos SET taken_at = '2021-06-01T10:00:00' WHERE id <= ?", (int(ids[9]),))
    conn.execute("UPDATE photos SET taken_at = '2023-01-15T08:30:00' WHERE id > ?", (int(ids[9]),))
    s = Searcher(library, MODEL)
    s.load()
    q = vecs[0]
    only_b = s.search(q, k=100, filters=SearchFilters(folders=[tmp_path / "b"]))
    assert {r.photo_id for r in only_b} == set(ids[30:].tolist())
    old = s.search(q, k=100, filters=SearchFilters(date_to=dt.date(2021, 12, 31)))
    assert {r.photo_id for r in old} == set(ids[:10].tolist())
    day = s.search(q, k=100, filters=SearchFilters(date_from="2021-06-01", date_to="2021-06-01"))
    assert len(day) == 10
    new_b = s.search(
        q, k=100, filters=SearchFilters(folders=[tmp_path / "b"], date_from="2022-01-01")
    )
    assert {r.photo_id for r in new_b} == set(ids[30:].tolist())
    tagged = s.search(q, k=100, filters=SearchFilters(allowed_ids=[ids[3], ids[40], 99999]))
    assert {r.photo_id for r in tagged} == {ids[3], ids[40]}
    top = s.search(q, k=100, filters=SearchFilters(min_score=0.999))
    assert [r.photo_id for r in top] == [ids[0]]
    # Status: a missing photo is hidden by default and can be asked for.
    library.mark_missing([int(ids[0])])
    s.sync()
    assert ids[0] not in [r.photo_id for r in s.search(q, k=100)]
    missing = s.search(q, k=100, filters=SearchFilters(statuses=["missing"]))
    assert [r.photo_id for r in missing] == [ids[0]]
    both = s.search(q, k=3, filters=SearchFilters(statuses=["ok", "missing"]))
    assert both[0].photo_id == ids[0]


def test_sync_is_incremental(library, tmp_path, monkeypatch) -> None:
    ids, vecs = _setup(library, tmp_path)
    s = Searcher(library, MODEL, dtype="float32")
    s.load()
    read: list[int] = []
    real = library.vectors_for

    def spy(model_id, photo_ids):
        read.extend(photo_ids)
        return real(model_id, photo_ids)

    monkeypatch.setattr(library, "vectors_for", spy)
    assert s.sync() == (0, 0) and read == []
    # One photo re-embedded, one deleted, one added: only those are touched.
    new_vec = _unit(np.random.default_rng(5), 1)
    library.connection().execute(
        "UPDATE embeddings SET created_at = created_at + 1 WHERE photo_id = ?", (int(ids[4]),)
    )
    library.store_embeddings(MODEL, [int(ids[4])], new_vec)
    library.delete_photos([int(ids[5])])
    folder = tmp_path / "a"
    extra = folder / "extra.jpg"
    extra.write_bytes(b"extra")
    (new_id,) = register(library, folder, [extra])
    library.store_embeddings(MODEL, [new_id], new_vec)
    added, removed = s.sync()
    assert (added, removed) == (2, 1)
    assert sorted(read) == sorted([int(ids[4]), new_id])
    hits = s.search(new_vec[0], k=2)
    assert {h.photo_id for h in hits} == {int(ids[4]), new_id}
    assert len(s) == 50


def test_hook_adds_and_sync_does_not_reread(library, tmp_path, monkeypatch) -> None:
    ids, vecs = _setup(library, tmp_path, 5, 0)
    s = Searcher(library, MODEL)
    s.load()
    folder = tmp_path / "a"
    f = folder / "new.jpg"
    f.write_bytes(b"new")
    (pid,) = register(library, folder, [f])
    v = _unit(np.random.default_rng(9), 1)
    library.store_embeddings(MODEL, [pid], v)
    s.add(np.array([pid]), v)
    assert s.search(v[0], k=1)[0].photo_id == pid
    monkeypatch.setattr(library, "vectors_for", lambda *a: pytest.fail("re-read"))
    assert s.sync() == (0, 0)


def test_empty_library_and_unknown_model(library) -> None:
    s = Searcher(library, "none@0", dim=DIM)
    assert s.load() == 0
    assert s.search(np.ones(DIM, np.float32) / 4) == []
    assert s.vector(1) is None


def test_offline_photos_hidden_until_back(library, tmp_path) -> None:
    ids, vecs = _setup(library, tmp_path, 4, 0)
    s = Searcher(library, MODEL)
    s.load()
    s.set_status([int(ids[1])], PhotoStatus.OFFLINE.value)
    assert int(ids[1]) not in [r.photo_id for r in s.search(vecs[1], k=10)]
    s.set_status([int(ids[1])], PhotoStatus.OK.value)
    assert s.search(vecs[1], k=1)[0].photo_id == ids[1]


def test_similarities_are_the_index_scores_of_the_photos_search_shows(library, tmp_path) -> None:
    ids, vecs = _setup(library, tmp_path, 12, 0)
    s = Searcher(library, MODEL)  # float16 in memory, as in the app
    assert s.similarities(vecs[:2])[0].size == 0  # nothing loaded yet
    s.load()
    s.set_status([int(ids[3])], PhotoStatus.MISSING.value)
    queries = vecs[[0, 5, 9]]
    got_ids, sims = s.similarities(queries)
    shown = np.array([i for i in range(12) if i != 3])
    assert sorted(got_ids.tolist()) == sorted(ids[shown].tolist())
    order = np.argsort(got_ids)
    assert sims.shape == (11, 3) and sims.dtype == np.float32
    np.testing.assert_allclose(sims[order], vecs[shown] @ queries.T, atol=2e-3)
