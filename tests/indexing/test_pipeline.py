from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from clipdesk.common.errors import ModelError
from clipdesk.common.progress import CancelToken, Progress
from clipdesk.indexing.pipeline import IndexPipeline
from clipdesk.library.store import Library
from clipdesk.model import load_model
from clipdesk.model.testing import tiny_random_model
from tests.support.pipeline_helpers import embedding_rows, register, solid_photos


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tiny_random_model(tmp_path_factory.mktemp("models"))
    return load_model(folder, device="cpu")


@pytest.fixture(scope="module")
def model_b(tmp_path_factory):
    folder = tiny_random_model(tmp_path_factory.mktemp("models_b"), seed=1, name="tiny-b")
    return load_model(folder, device="cpu")


@pytest.fixture
def library(tmp_path: Path):
    lib = Library(tmp_path / "lib.sqlite3")
    yield lib
    lib.close()


def _bad_files(folder: Path) -> dict[str, str]:
    """name -> word expected in the recorded reason."""
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_bytes(b"just some text, not a picture\n" * 10)
    good = (folder / "p0000.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(good[: len(good) // 3])
    return {"empty.jpg": "empty", "text.png": "text", "cut.jpg": "truncated"}


def test_indexes_everything_and_records_bad_files(library, model, tmp_path) -> None:
    folder = tmp_path / "photos"
    good = solid_photos(folder, 40)
    bad = _bad_files(folder)
    register(library, folder, good + [folder / n for n in bad])
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    reports: list[Progress] = []
    pipe = IndexPipeline(
        library,
        model,
        batch_size=8,
        workers=2,
        commit_size=16,
        on_embedded=lambda ids, v: seen.append((ids, v)),
    )
    report = pipe.run(progress=reports.append)
    assert (report.embedded, report.failed, report.total) == (40, 3, 43)
    assert not report.cancelled
    counts = library.counts()
    assert counts["ok"] == 40 and counts["error"] == 3 and counts["pending"] == 0
    errors = {p.path.name: p.error for p in library.errors()}
    for name, word in bad.items():
        assert word in errors[name].lower(), errors[name]
    # One row per photo for this model, no duplicates; the hook saw each photo once.
    rows = embedding_rows(library)
    assert len(rows) == len(set(rows)) == 40
    hooked = np.concatenate([ids for ids, _ in seen])
    assert sorted(hooked.tolist()) == sorted(pid for pid, _ in rows)
    assert all(v.shape == (len(i), model.dim) for i, v in seen)
    # Vectors equal the model's own output for the same photo.
    ids, vecs = library.load_vectors(model.id)
    photo = library.photo(int(ids[0]))
    from clipdesk.imaging.decode import decode_for_model

    direct = model.encode_pixels(
        model.preprocess(decode_for_model(photo.path, model.image_size).image)[None]
    )
    np.testing.assert_allclose(vecs[0], direct[0], atol=1e-5)
    # Progress: starts at 0 with the total, ends with everything done.
    assert reports[0].done == 0 and reports[0].total == 43
    assert reports[-1].done == 43
    # Nothing left: a second run is a no-op.
    assert pipe.run().embedded == 0


def test_cancel_keeps_committed_work_and_resume_finishes(library, model, tmp_path) -> None:
    folder = tmp_path / "photos"
    register(library, folder, solid_photos(folder, 60))
    token = CancelToken()
    done_batches = []

    def on_embedded(ids, vecs):
        done_batches.append(len(ids))
        token.cancel()  # cancel right after the first commit

    pipe = IndexPipeline(
        library, model, batch_size=4, workers=2, commit_size=8, on_embedded=on_embedded
    )
    first = pipe.run(cancel=token)
    assert first.cancelled and 0 < first.embedded < 60
    assert library.counts()["ok"] == first.embedded
    assert library.count_pending(model.id) == 60 - first.embedded
    second = IndexPipeline(library, model, batch_size=16).run()
    assert second.embedded == 60 - first.embedded
    rows = embedding_rows(library)
    assert len(rows) == len(set(rows)) == 60


def test_changed_file_during_run_is_not_stored_stale(library, model, tmp_path) -> None:
    folder = tmp_path / "photos"
    paths = solid_photos(folder, 5)
    ids = register(library, folder, paths)
    # The file changes on disk and the scanner records it, after the run took its stamp: the
    # store refuses the stale vector, the photo stays pending for the next run.
    target = library.photo(ids[2])

    class Racing:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def encode_pixels(self, px):
            paths[2].write_bytes(paths[0].read_bytes() + b"\0")
            register(library, folder, [paths[2]])
            return self.inner.encode_pixels(px)

    report = IndexPipeline(library, Racing(model), batch_size=8).run()
    assert report.embedded == 4
    assert library.photo(target.id).status == "pending"
    assert IndexPipeline(library, model).run().embedded == 1


def test_reembedding_for_a_new_model_keeps_old_vectors(library, model, model_b, tmp_path):
    folder = tmp_path / "photos"
    register(library, folder, solid_photos(folder, 12))
    IndexPipeline(library, model).run()
    assert library.count_pending(model_b.id) == 12  # ok photos without a model_b vector
    report = IndexPipeline(library, model_b, batch_size=5).run()
    assert report.embedded == 12
    assert library.embedding_models() == {model.id: 12, model_b.id: 12}
    assert library.counts()["ok"] == 12


def test_model_failure_stops_with_model_error_after_commit(library, model, tmp_path) -> None:
    folder = tmp_path / "photos"
    register(library, folder, solid_photos(folder, 20))
    calls = {"n": 0}

    class Flaky:
        def __getattr__(self, name):
            return getattr(model, name)

        def encode_pixels(self, px):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("device lost")
            return model.encode_pixels(px)

    with pytest.raises(ModelError, match="device lost"):
        IndexPipeline(library, Flaky(), batch_size=4, commit_size=1000).run()
    assert library.counts()["ok"] == 8  # the two batches before the failure were committed


def test_out_of_memory_halves_the_batch(library, model, tmp_path) -> None:
    folder = tmp_path / "photos"
    register(library, folder, solid_photos(folder, 16))
    sizes = []

    class Small:
        def __getattr__(self, name):
            return getattr(model, name)

        def encode_pixels(self, px):
            sizes.append(len(px))
            if len(px) > 4:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")
            return model.encode_pixels(px)

    pipe = IndexPipeline(library, Small(), batch_size=16)
    assert pipe.run().embedded == 16
    assert pipe.batch_size == 4 and max(sizes[-2:]) <= 4


@pytest.mark.skipif(os.cpu_count() is None, reason="needs a cpu count")
def test_process_decoder_gives_the_same_vectors(library, model, tmp_path) -> None:
    folder = tmp_path / "photos"
    register(library, folder, solid_photos(folder, 6))
    (folder / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    register(library, folder, [folder / "bad.jpg"])
    report = IndexPipeline(library, model, decoder="processes", workers=1).run()
    assert (report.embedded, report.failed) == (6, 1)
    ids, vecs = library.load_vectors(model.id)
    lib2 = Library(tmp_path / "lib2.sqlite3")
    try:
        register(lib2, folder, sorted(folder.glob("p*.jpg")))
        IndexPipeline(lib2, model, decoder="threads").run()
        _, vecs2 = lib2.load_vectors(model.id)
    finally:
        lib2.close()
    np.testing.assert_allclose(vecs, vecs2, atol=1e-6)


def test_store_failure_stops_the_run_and_writes_nothing_half(
    library, model, tmp_path, monkeypatch
) -> None:
    from clipdesk.common.errors import LibraryError

    folder = tmp_path / "photos"
    register(library, folder, solid_photos(folder, 10))
    (folder / "bad.jpg").write_bytes(b"")
    register(library, folder, [folder / "bad.jpg"])
    calls = []

    def full(*args, **kwargs):
        calls.append(1)
        raise LibraryError("The disk is full.", "Free some space.")

    monkeypatch.setattr(library, "store_embeddings", full)
    with pytest.raises(LibraryError, match="disk is full"):
        IndexPipeline(library, model, batch_size=4, commit_size=100).run()
    assert len(calls) == 1  # not retried in the clean-up
    # The error mark of bad.jpg was in the same transaction: rolled back, still pending.
    assert library.counts()["pending"] == 11 and embedding_rows(library) == []
    monkeypatch.undo()
    assert IndexPipeline(library, model).run().embedded == 10
