from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipdesk.model.testing import tiny_random_model
from clipdesk.search.query import QueryError
from clipdesk.search.results import SearchFilters
from clipdesk.services.app import ClipDeskServices
from tests.support.pipeline_helpers import embedding_rows, solid_photos


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return tiny_random_model(root, seed=0, name="tiny-a"), tiny_random_model(
        root, seed=1, name="tiny-b"
    )


@pytest.fixture
def app(tmp_path: Path, models):
    svc = ClipDeskServices(tmp_path / "lib.sqlite3", model=str(models[0]), device="cpu")
    yield svc
    svc.close()


def test_add_index_search_end_to_end(app, tmp_path) -> None:
    photos = solid_photos(tmp_path / "pics", 12)
    app.folders.add(tmp_path / "pics")
    assert app.pending_count() == 12
    report = app.index()
    assert report.embedded == 12 and app.pending_count() == 0
    hits = app.search("a red circle", k=5)
    assert len(hits) == 5 and all(h.photo is not None for h in hits)
    assert hits[0].score >= hits[-1].score
    # An image query with a library photo finds that photo first, with score ~1.
    same = app.search_image(photos[3], k=3)
    assert same[0].photo.path == photos[3] and same[0].score > 0.99
    # In-memory image too.
    with Image.open(photos[5]) as im:
        assert app.search_image(im.copy(), k=1)[0].photo.path == photos[5]
    # More like this never returns the photo itself.
    like = app.more_like_this(same[0].photo_id, k=20)
    assert same[0].photo_id not in [h.photo_id for h in like] and len(like) == 11
    # Combined query and filters.
    combo = app.search("sky -people", k=12, image=photos[0], image_weight=2.0)
    assert combo[0].photo.path == photos[0]
    none = app.search("sky", filters=SearchFilters(date_to="1990-01-01"))
    assert none == []
    status = app.status_report.report()
    assert status.photos["ok"] == 12 and status.pending == {app.model.id: 0}


def test_new_photos_reach_the_index_incrementally(app, tmp_path) -> None:
    solid_photos(tmp_path / "pics", 4)
    app.folders.add(tmp_path / "pics")
    app.index()
    assert len(app.searcher()) == 4
    seen = []
    app.add_embedded_listener(lambda ids, vecs: seen.append(ids.tolist()))
    extra = tmp_path / "pics" / "new.jpg"
    Image.new("RGB", (300, 200), (1, 2, 3)).save(extra)
    app.folders.scan()
    app.index()
    assert len(app.searcher()) == 5 and len(seen) == 1 and len(seen[0]) == 1
    assert app.search_image(extra, k=1)[0].photo.path == extra
    extra.unlink()
    app.folders.scan()  # missing: hidden from search
    assert extra not in [h.photo.path for h in app.search("x", k=10)]


def test_model_change_reembeds_while_search_uses_old_vectors(app, tmp_path, models) -> None:
    photos = solid_photos(tmp_path / "pics", 10)
    app.folders.add(tmp_path / "pics")
    app.index()
    old_id = app.model.id
    app.set_model(str(models[1]))
    new_id = app.model.id
    assert new_id != old_id and app.reembedding
    # Half-way: search still answers from the old model's complete vectors.
    report = app.index(limit=4)
    assert report.embedded == 4 and app.reembedding
    assert app.searcher().model_id == old_id
    assert app.search_image(photos[7], k=1)[0].photo.path == photos[7]
    # A fresh start (like an app restart) resumes, still searching the old vectors.
    path = app.library.path
    app.close()
    again = ClipDeskServices(path, model=str(models[1]), device="cpu")
    try:
        assert again.reembedding and again.searcher().model_id == old_id
        assert again.index().embedded == 6
        assert not again.reembedding
        assert again.searcher().model_id == new_id
        assert again.library.embedding_models() == {new_id: 10}
        assert again.search_image(photos[2], k=1)[0].photo.path == photos[2]
    finally:
        again.close()


def test_query_errors_surface_as_clipdesk_errors(app, tmp_path) -> None:
    solid_photos(tmp_path / "pics", 2)
    app.folders.add(tmp_path / "pics")
    app.index()
    with pytest.raises(QueryError):
        app.search("beach -beach")
    with pytest.raises(QueryError):
        app.search_image(tmp_path / "nope.jpg")


def test_concurrent_search_while_indexing(app, tmp_path) -> None:
    solid_photos(tmp_path / "pics", 30)
    app.folders.add(tmp_path / "pics")
    app.searcher()  # loaded before indexing: the hook keeps it current
    errors: list[BaseException] = []
    stop = threading.Event()

    def searching() -> None:
        try:
            while not stop.is_set():
                for hit in app.search("something", k=5):
                    assert np.isfinite(hit.score)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=searching)
    t.start()
    try:
        app.index(batch_size=4, commit_size=4)
    finally:
        stop.set()
        t.join()
    assert not errors
    assert len(app.searcher()) == 30
    rows = embedding_rows(app.library)
    assert len(rows) == len(set(rows)) == 30
