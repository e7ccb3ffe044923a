"""The ANN index (faiss IVF-PQ re-ranked exactly), its files beside the library, and the Searcher
over it: found like exact search finds, filtered without losing recall, kept in step, saved and
read back, refused when it cannot serve (issue #20, item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clipdesk.library.store import Library
from clipdesk.search import ann_index, ann_store
from clipdesk.search.ann_index import RANK_LIMIT, AnnIndex, AnnParams, training_size
from clipdesk.search.searcher import Searcher, SearchFilters
from tests.support.pipeline_helpers import register_folders

DIM = 32
N = 5000
MODEL = "fake@1"


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Photo-like unit vectors (clusters of varied spread around a shared direction) and
    text-like queries (a cluster's meaning far from every photo), as bench/ann_bench.py makes
    them at scale."""
    rng = np.random.default_rng(seed)
    common, text = _unit(rng.standard_normal(DIM)), _unit(rng.standard_normal(DIM))
    themes = _unit(rng.standard_normal((8, DIM)))
    meaning = _unit(0.8 * themes[rng.integers(0, 8, 200)] + 0.6 * rng.standard_normal((200, DIM)))
    centres = _unit(0.75 * common + 0.66 * meaning)
    c = rng.integers(0, 200, n)
    spread = rng.uniform(0.45, 1.05, 200)[c, None]
    photos = _unit(centres[c] + spread * rng.standard_normal((n, DIM)) / np.sqrt(DIM))
    q = rng.integers(0, 200, 60)
    queries = _unit(
        0.42 * meaning[q]
        + 0.12 * common
        + 0.75 * text
        + 0.5 * _unit(rng.standard_normal((60, DIM)))
    )
    return photos, queries


class Store:
    """The stored vectors the re-rank reads (the library file's role), by photo id."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.by_id = dict(zip(ids.tolist(), vectors, strict=True))
        self.reads = 0

    def __call__(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.reads += 1
        found = [int(i) for i in ids if int(i) in self.by_id]
        mat = np.array([self.by_id[i] for i in found], np.float32).reshape(len(found), DIM)
        return np.array(found, np.int64), mat


def exact_top(ids: np.ndarray, vectors: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    scores = vectors @ q
    order = np.lexsort((ids, -scores))[:k]
    return ids[order].tolist()


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def build(ids: np.ndarray, vectors: np.ndarray, store: Store | None = None) -> AnnIndex:
    store = store or Store(ids, vectors)
    params = AnnParams.for_count(len(ids), DIM)
    rng = np.random.default_rng(1)
    sample = rng.choice(len(ids), training_size(len(ids), params.nlist), replace=False)
    ann = AnnIndex.train(vectors[sample], len(ids), store)
    ann.add(ids, vectors)
    return ann


@pytest.fixture(scope="module")
def world():
    photos, queries = clustered(N)
    ids = np.arange(1, N + 1, dtype=np.int64) * 3  # ids are rowids: gaps are normal
    return ids, photos, queries, build(ids, photos)


def test_parameters_fit_the_budget_and_scale_with_the_library() -> None:
    big = AnnParams.for_count(10_000_000, 512)
    assert big.bytes_per_vector == 72  # 64-byte code + id: 10M in 720 MB
    assert big.nlist == 8192 and big.nprobe == 256 and big.rerank == 1900
    assert AnnParams.for_count(1_000_000, 512).nlist == 2048
    small = AnnParams.for_count(300, 16)  # a test library: every list searched, all re-ranked
    assert small.nprobe == small.nlist and small.m == 16 and small.rerank >= 256
    with pytest.raises(ValueError, match="at least 256"):
        AnnParams.for_count(100, 512)


def test_search_finds_what_exact_search_finds_with_exact_scores(world) -> None:
    ids, photos, queries, ann = world
    assert ann.params.nprobe < ann.params.nlist  # the approximate path, not a full scan
    found, truth = [], []
    for q in queries:
        hits = ann.search(q, k=10)
        assert np.allclose(hits.scores, photos[np.searchsorted(ids, hits.ids)] @ q, atol=1e-6)
        assert np.all(np.diff(hits.scores) <= 0)
        found.append(hits.ids.tolist())
        truth.append(exact_top(ids, photos, q, 10))
    assert recall(found, truth) >= 0.95


def test_a_one_percent_filter_keeps_recall_through_more_probes(world, monkeypatch) -> None:
    ids, photos, queries, ann = world
    rng = np.random.default_rng(7)
    allowed = np.sort(rng.choice(ids, N // 100, replace=False))
    # 50 photos would be scored exactly: make the index filter them itself, as it does for a
    # 1% filter of a large library.
    monkeypatch.setattr(ann_index, "EXACT_LIMIT", 0)
    keep = np.isin(ids, allowed)
    found, truth = [], []
    for q in queries:
        hits = ann.search(q, k=10, allowed=allowed)
        assert set(hits.ids.tolist()) <= set(allowed.tolist())
        found.append(hits.ids.tolist())
        truth.append(exact_top(ids[keep], photos[keep], q, 10))
    assert recall(found, truth) >= 0.95


def test_exclusions_and_the_minimum_score_hold(world) -> None:
    ids, photos, queries, ann = world
    q = queries[0]
    best = ann.search(q, k=5).ids
    again = ann.search(q, k=5, exclude=best[:2])
    assert not set(best[:2].tolist()) & set(again.ids.tolist())
    assert again.ids[0] == best[2]
    floor = float(ann.search(q, k=20).scores[9])
    assert len(ann.search(q, k=50, min_score=floor)) == 10
    small = ann.search(q, k=3, allowed=ids[:50], exclude=ids[:10])  # scored exactly
    assert small.ids.tolist() == exact_top(ids[10:50], photos[10:50], q, 3)


def test_adds_replace_and_removes_keep_the_index_in_step() -> None:
    photos, queries = clustered(2000, seed=3)
    ids = np.arange(2000, dtype=np.int64)
    store = Store(ids, photos)
    ann = build(ids, photos, store)
    q = queries[0]
    top = int(ann.search(q, k=1).ids[0])
    assert ann.remove([top, 999_999]) == 1 and top not in ann and len(ann) == 1999
    del store.by_id[top]
    assert top not in ann.search(q, k=50).ids
    # a photo whose file changed: its new vector replaces the old code (an upsert)
    moved = int(ids[5])
    store.by_id[moved] = q.copy()
    ann.add([moved], q[None, :])
    assert len(ann) == 1999 and ann.search(q, k=1).ids[0] == moved
    new = np.array([5000, 5001])
    store.by_id.update({5000: q.copy(), 5001: photos[0]})
    ann.add(new, np.stack([q, photos[0]]))
    assert 5000 in ann and 5000 in ann.search(q, k=2).ids


def test_candidates_whose_vectors_are_gone_from_the_store_are_left_out(world) -> None:
    ids, photos, queries, ann = world
    q = queries[1]
    first = int(ann.search(q, k=1).ids[0])
    store = ann.fetch
    assert isinstance(store, Store)
    saved = store.by_id.pop(first)
    try:
        assert first not in ann.search(q, k=10).ids
    finally:
        store.by_id[first] = saved


# --- on disk -------------------------------------------------------------------------------


def _saved(tmp_path: Path, ann: AnnIndex, ids: np.ndarray) -> Path:
    folder = ann_store.model_folder(tmp_path / "lib.sqlite3", MODEL)
    ann_store.save(folder, MODEL, ann, ids, np.arange(len(ids), dtype=np.float64), 1.0)
    return folder


def test_an_index_saved_beside_the_library_reads_back_the_same(tmp_path, world) -> None:
    ids, _, queries, ann = world
    folder = _saved(tmp_path, ann, ids)
    assert folder.parent == tmp_path / "lib.sqlite3.ann"
    loaded = ann_store.load(folder, MODEL, DIM, ann.fetch)
    assert loaded.meta.count == N and loaded.meta.params == ann.params
    assert np.array_equal(np.sort(loaded.stamp_ids), ids)
    for q in queries[:10]:
        assert loaded.index.search(q, k=10).ids.tolist() == ann.search(q, k=10).ids.tolist()
    # a second save is the next generation; the older files are gone
    ann_store.save(folder, MODEL, loaded.index, ids, np.zeros(N), 1.0)
    assert sorted(p.name for p in folder.iterdir()) == [
        "index-2.faiss",
        "meta.json",
        "stamps-2.npz",
    ]


def test_another_model_format_or_dimension_is_refused(tmp_path, world) -> None:
    ids, _, _, ann = world
    folder = _saved(tmp_path, ann, ids)
    with pytest.raises(ann_store.AnnUnusable, match="built for model fake@1"):
        ann_store.load(folder, "other@2", DIM, ann.fetch)
    with pytest.raises(ann_store.AnnUnusable, match="32-d vectors, the model's are 16-d"):
        ann_store.load(folder, MODEL, 16, ann.fetch)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(ann_store.AnnUnusable, match="format 99"):
        ann_store.load(folder, MODEL, DIM, ann.fetch)
    with pytest.raises(ann_store.AnnUnusable, match="not built yet"):
        ann_store.load(tmp_path / "nowhere", MODEL, DIM, ann.fetch)


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "meta"])
def test_a_damaged_index_is_refused_with_the_reason(tmp_path, world, damage) -> None:
    ids, _, _, ann = world
    folder = _saved(tmp_path, ann, ids)
    index_file = folder / "index-1.faiss"
    data = bytearray(index_file.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
        index_file.write_bytes(bytes(data))
    elif damage == "truncate":
        index_file.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "garbage":
        index_file.write_bytes(b"\0" * len(data))
    else:
        (folder / "meta.json").write_text("{not json")
    with pytest.raises(ann_store.AnnUnusable, match="damaged|unreadable"):
        ann_store.load(folder, MODEL, DIM, ann.fetch)


def test_a_save_cut_short_leaves_the_previous_index(tmp_path, world, monkeypatch) -> None:
    ids, _, queries, ann = world
    folder = _saved(tmp_path, ann, ids)
    before = ann.search(queries[0], k=5).ids.tolist()

    def crash(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ann_store, "atomic_write_bytes", crash)  # the meta is written last
    with pytest.raises(OSError):
        ann_store.save(folder, MODEL, ann, ids, np.zeros(N), 1.0)
    monkeypatch.undo()
    loaded = ann_store.load(folder, MODEL, DIM, ann.fetch)
    assert loaded.meta.generation == 1
    assert loaded.index.search(queries[0], k=5).ids.tolist() == before


# --- the Searcher over it ------------------------------------------------------------------


@pytest.fixture
def library(tmp_path: Path):
    lib = Library(tmp_path / "lib.sqlite3")
    yield lib
    lib.close()


def _ann_searcher(library: Library, tmp_path: Path) -> tuple[Searcher, Searcher, np.ndarray]:
    """(the Searcher on an ANN index, a flat one, the photo ids) over 600 stored photos in
    two folders."""
    ids = np.array(register_folders(library, tmp_path, {"a": 300, "b": 300}))
    photos, _ = clustered(600, seed=5)
    library.store_embeddings(MODEL, ids.tolist(), photos)
    flat = Searcher(library, MODEL, dtype="float32")
    flat.load()
    searcher = Searcher(library, MODEL)

    def fetch(wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return library.vectors_for(MODEL, np.asarray(wanted).tolist())

    ann = AnnIndex.train(photos, len(ids), fetch)
    none = np.empty(0, np.int64)
    assert searcher.use_ann(ann, none, np.empty(0)) == (600, 0)  # sync fills it from the store
    assert searcher.ann is ann and len(ann) == 600
    return searcher, flat, ids


def test_searcher_on_an_ann_index_answers_like_the_flat_one(library, tmp_path) -> None:
    searcher, flat, ids = _ann_searcher(library, tmp_path)
    _, queries = clustered(600, seed=5)
    folder_b = SearchFilters(folders=[tmp_path / "b"])
    for q in queries[:10]:
        assert [r.photo_id for r in searcher.search(q, k=10)] == [
            r.photo_id for r in flat.search(q, k=10)
        ]
        in_b = [r.photo_id for r in searcher.search(q, k=10, filters=folder_b)]
        assert in_b == [r.photo_id for r in flat.search(q, k=10, filters=folder_b)]
        assert set(in_b) <= set(ids[300:].tolist())
    ranked, scores = searcher.rank(queries[0])
    assert len(ranked) == 600 <= RANK_LIMIT and np.all(np.diff(scores) <= 0)
    sims_ids, sims = searcher.similarities(queries[:2])
    assert sims.shape == (len(sims_ids), 2)
    scored = searcher.scores_of(queries[0], ids[:3])
    assert np.allclose(scored, library.vectors_for(MODEL, ids[:3].tolist())[1] @ queries[0])


def test_searcher_on_an_ann_index_follows_removals_statuses_and_new_vectors(
    library, tmp_path
) -> None:
    searcher, _, ids = _ann_searcher(library, tmp_path)
    _, queries = clustered(600, seed=5)
    q = queries[0]
    top = searcher.search(q, k=1)[0].photo_id
    library.mark_missing([top])
    searcher.sync()
    assert top not in [r.photo_id for r in searcher.search(q, k=20)]
    library.store_embeddings(MODEL, [int(ids[7])], q[None, :])  # re-embedded: now the best
    assert searcher.sync() == (1, 0)
    assert searcher.search(q, k=1)[0].photo_id == ids[7]
    library.remove_folder(library.folder(tmp_path / "b").id)
    assert searcher.sync()[1] == 300 and len(searcher.ann or []) == 300
    assert all(r.photo_id in set(ids[:300].tolist()) for r in searcher.search(q, k=50))
    held, times = searcher.stamps()
    assert len(held) == 300 and not np.isnan(times).any()
