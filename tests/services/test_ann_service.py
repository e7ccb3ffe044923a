"""``app.ann``: past the threshold (a low one here, so the ANN path runs in CI) search goes
through an IVF-PQ index built in the background, saved beside the library, loaded on start,
kept in step with new and removed photos, rebuilt when it cannot serve; below it nothing
changes (issue #20, item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken, Progress
from clipdesk.model.testing import tiny_random_model
from clipdesk.search import ann_store
from clipdesk.services import ann as ann_service
from clipdesk.services.app import ClipDeskServices
from tests.support.ann_library import THRESHOLD, clustered, more_photos, vectors_library
from tests.support.pipeline_helpers import solid_photos


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_random_model(tmp_path_factory.mktemp("models"))


def _open(tmp_path: Path, model: Path) -> ClipDeskServices:
    return ClipDeskServices(tmp_path / "lib.sqlite3", model=str(model), device="cpu")


@pytest.fixture
def app(tmp_path: Path, model: Path):
    svc = _open(tmp_path, model)
    vectors_library(svc, tmp_path, {"a": 300, "b": 300})
    yield svc
    svc.close()


def _queries(app: ClipDeskServices) -> np.ndarray:
    return clustered(8, app.search_model().dim, seed=9)


def _top(app: ClipDeskServices, q: np.ndarray, k: int = 10) -> list[int]:
    return [r.photo_id for r in app.searcher().search(q, k=k)]


def test_below_the_threshold_nothing_changes(app, tmp_path) -> None:
    status = app.ann.status()
    assert status.automatic and status.threshold == ann_service.auto_threshold(status.dim)
    assert not status.wanted and not status.due and status.vectors == 600
    assert app.searcher().ann is None  # the flat float16 matrix, as before
    assert app.ann.maintain().action == "none"
    assert not ann_store.ann_root(tmp_path / "lib.sqlite3").exists()


def test_past_a_low_threshold_the_index_is_built_and_search_goes_through_it(app) -> None:
    exact = {tuple(q): _top(app, q) for q in _queries(app)}
    status = app.ann.set_threshold(THRESHOLD)
    assert status.wanted and status.due and status.built is None
    said: list[Progress] = []
    report = app.ann.maintain(progress=said.append)
    assert report.action == "built" and report.vectors == 600
    assert {p.message for p in said} >= {
        "Reading a sample of the vectors",
        "Adding photos to the search index",
        "Saving the search index",
    }
    assert app.searcher().ann is not None and app.ann.status().in_use
    for q in _queries(app):
        assert _top(app, q) == exact[tuple(q)]
    after = app.ann.status()
    assert after.built == 600 and not after.due and after.disk_bytes > 0
    assert "approximate index of 600 photos" in after.describe()
    assert app.ann.maintain().action == "current"  # nothing changed since: nothing written


def test_a_saved_index_is_loaded_on_start_and_caught_up_with_the_library(
    tmp_path, model, app
) -> None:
    app.ann.set_threshold(THRESHOLD)
    app.ann.build()
    app.close()
    with _open(tmp_path, model) as again:
        new = more_photos(again, tmp_path, "c", 40, seed=4)
        again.library.remove_folder(again.library.folder(tmp_path / "a").id)
        searcher = again.searcher()
        assert searcher.ann is not None and len(searcher) == 340  # caught up while loading
        q = again.library.vectors_for(again.search_model().id, [int(new[3])])[1][0]
        assert _top(again, q, 1) == [int(new[3])]
        assert again.ann.maintain().action == "saved"
        assert again.ann.status().built == 340
    with _open(tmp_path, model) as third:  # the CLI's case: no search index loaded here
        more_photos(third, tmp_path, "d", 10, seed=5)
        assert third.ann.maintain().action == "caught_up"
        assert third.ann.status().built == 350


@pytest.mark.parametrize("harm", ["damaged", "other model", "old format"])
def test_an_index_that_cannot_serve_is_rebuilt_and_search_stays_exact_meanwhile(
    tmp_path, model, app, harm
) -> None:
    app.ann.set_threshold(THRESHOLD)
    app.ann.build()
    folder = Path(app.ann.status().path)
    q = _queries(app)[0]
    app.close()
    meta = json.loads((folder / "meta.json").read_text())
    if harm == "damaged":
        index_file = folder / f"index-{meta['generation']}.faiss"
        index_file.write_bytes(index_file.read_bytes()[:1000])
    else:
        key, value = ("model_id", "other@1") if harm == "other model" else ("version", 0)
        (folder / "meta.json").write_text(json.dumps({**meta, key: value}))
    with _open(tmp_path, model) as again:
        assert again.searcher().ann is None and len(again.searcher()) == 600  # exact search
        assert not folder.exists()
        status = again.ann.status()
        assert status.due and status.problem == "not built yet"
        assert again.ann.maintain().action == "built"
        assert again.searcher().ann is not None and len(_top(again, q)) == 10


def test_photos_indexed_while_searching_reach_the_index_and_it_is_saved(
    tmp_path, model, app
) -> None:
    app.ann.set_threshold(THRESHOLD)
    app.ann.build()
    before = len(app.searcher())
    photos = solid_photos(tmp_path / "new", 3)
    app.folders.add(tmp_path / "new")
    app.index()
    assert app.searcher().ann is not None and len(app.searcher()) == before + 3
    added = [app.library.photo_by_path(p).id for p in photos]
    vec = app.library.vectors_for(app.search_model().id, added[:1])[1][0]
    assert _top(app, vec, 1) == added[:1]
    assert app.ann.maintain().action == "saved" and app.ann.status().built == before + 3
    assert _top(app, vec, 1) == added[:1]  # read back at its exact size, the same index


def test_dropping_below_the_threshold_goes_back_to_exact_search(app) -> None:
    app.ann.set_threshold(THRESHOLD)
    app.ann.build()
    assert app.searcher().ann is not None
    app.ann.set_threshold(10_000)
    assert app.ann.maintain().action == "flat"
    assert app.searcher().ann is None and len(_top(app, _queries(app)[0])) == 10


def test_a_cancelled_build_saves_nothing(app) -> None:
    app.ann.set_threshold(THRESHOLD)
    token = CancelToken()

    def stop(_p: Progress) -> None:
        token.cancel()

    report = app.ann.build(progress=stop, cancel=token)
    assert report.cancelled and report.status.due and report.status.built is None
    assert app.searcher().ann is None


def test_the_threshold_is_the_librarys_and_automatic_follows_the_memory(app, monkeypatch) -> None:
    assert app.ann.set_threshold(5_000_000).threshold == 5_000_000
    assert app.ann.set_threshold(3).threshold == 256  # fewer leave nothing to train on
    assert app.ann.set_threshold(None).automatic
    ram = ann_service.total_ram()
    assert ann_service.auto_threshold(512) == ram // 4 // 1024  # float16: 1 KB a vector
    monkeypatch.delattr(ann_service.os, "sysconf")  # Windows has none
    assert ann_service.total_ram() == ann_service.FALLBACK_RAM
    with pytest.raises(ClipDeskError, match="number of photos"):
        app.ann.set_threshold(-5)


def test_a_library_too_small_to_train_on_is_told_so(tmp_path, model) -> None:
    with _open(tmp_path, model) as small:
        vectors_library(small, tmp_path, {"few": 20})
        with pytest.raises(ClipDeskError, match="at least 256 indexed photos"):
            small.ann.build()
