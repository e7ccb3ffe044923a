"""``app.vectors.import_shards``: a cluster run's shards merged into a library without embedding
anything here. Matched by path and content hash, idempotent, another model's, runtime's or
precision's shards refused, ``--map``, hostile shards skipped; the imported photos are searched,
tagged and shown like indexed ones, and a later scan and index run embed nothing (issue #20,
items 2 and 4)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from clipdesk.cluster.shards import ShardError, ShardModel, ShardRow, write_shard
from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken
from clipdesk.library.records import PhotoMeta
from clipdesk.model.synth import SceneSpec, write_photo
from clipdesk.services.app import ClipDeskServices
from tests.support.demo_model import load_demo_model
from tests.support.owed_work import lost_work, photos_with_keywords
from tests.support.vector_shards import (
    embed_files,
    photo_shard,
    rewrite_shard,
    shard_rows,
    with_vector,
)

SCENES = {
    "red-circle": SceneSpec("red", "circle", bg_colour="grey", seed=1),
    "blue-square": SceneSpec("blue", "square", bg_colour="grey", seed=2),
    "green-triangle": SceneSpec("green", "triangle", bg_colour="grey", seed=3),
    "yellow-star": SceneSpec("yellow", "star", bg_colour="grey", seed=4),
}


@pytest.fixture(scope="module")
def demo():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIPDESK_RUNTIME", "torch")  # as every test's environment has it
        model = load_demo_model()
    assert model.runtime_label == "torch-fp32"
    return model


@pytest.fixture(scope="module")
def scenes(tmp_path_factory, demo) -> tuple[Path, list[Path], np.ndarray]:
    """Four photos in two folders and their vectors, by the desktop's decoding and the model."""
    root = tmp_path_factory.mktemp("archive")
    paths = [
        write_photo(spec, root / ("shapes" if i % 2 else "colours") / f"{name}.jpg", size=128)
        for i, (name, spec) in enumerate(SCENES.items())
    ]
    return root, paths, embed_files(demo, paths)


@pytest.fixture
def app(tmp_path, demo):
    with ClipDeskServices(tmp_path / "lib.sqlite3", model=demo, device="cpu") as services:
        yield services


def _tables(app: ClipDeskServices) -> dict[str, list[tuple]]:
    lib = app.library
    return {
        t: [tuple(r) for r in lib.query(f"SELECT * FROM {t} ORDER BY 1, 2")]
        for t in ("folders", "photos", "embeddings", "photo_steps")
    }


def _empty(app: ClipDeskServices) -> bool:
    return all(not rows for rows in _tables(app).values())


def _shards(tmp_path, demo, scenes, recorded=None, model=None) -> Path:
    """The four photos in two shards (a cluster's two batches)."""
    root, paths, vectors = scenes
    out = tmp_path / "out"
    model = model or ShardModel.of(demo)
    photo_shard(out, model, paths[:2], root, vectors[:2], recorded)
    photo_shard(out, model, paths[2:], root, vectors[2:], recorded)
    return out


def test_imported_photos_are_found_by_search_and_shown_by_folders(tmp_path, app, demo, scenes):
    root, paths, _ = scenes
    assert app.search("a red circle", k=3) == []  # the index is loaded, and empty
    summary = app.vectors.import_shards(_shards(tmp_path, demo, scenes))
    assert (summary.shards, summary.imported, summary.added, summary.refused) == (2, 2, 4, {})
    assert summary.folders_added == [str(root)] and summary.runtime == demo.runtime_label
    [hit, *_] = app.search("a red circle", k=4)  # the loaded index took the new vectors
    assert hit.photo.path == root / "colours" / "red-circle.jpg"
    [blue, *_] = app.search("a blue square", k=4)
    assert blue.photo.path.name == "blue-square.jpg"
    [record] = app.folders.list()
    assert (record.path, record.indexed, record.pending, record.errors) == (root, 4, 0, 0)
    assert app.status_report.report().photos["ok"] == 4
    assert app.library.vector_runtimes(demo.id) == {demo.runtime_label: 4}
    described = summary.describe()
    assert described.startswith("Imported 4 photos from 2 of 2 shards in ")
    assert f"Added the folder {root}" in described


def test_a_scan_and_an_index_run_after_the_import_embed_nothing(tmp_path, app, demo, scenes):
    root, paths, _ = scenes
    app.vectors.import_shards(_shards(tmp_path, demo, scenes))
    stored = _tables(app)["embeddings"]
    os.utime(paths[0], ns=(paths[0].stat().st_atime_ns, paths[0].stat().st_mtime_ns + 10**9))
    changes = app.folders.scan()  # the file touched on this machine is read, and is the same
    assert (changes.added, changes.changed, changes.moved, changes.missing) == ([], [], [], [])
    assert changes.unchanged == 3
    report = app.index()
    assert report.embedded == 0 and report.failed == 0 and app.pending_count() == 0
    assert _tables(app)["embeddings"] == stored
    assert app.library.photo_by_path(paths[0]).status == "ok"


def test_a_second_import_changes_nothing(tmp_path, app, demo, scenes):
    out = _shards(tmp_path, demo, scenes)
    app.vectors.import_shards(out)
    before = _tables(app)
    again = app.vectors.import_shards(out)
    assert (again.added, again.updated, again.unchanged, again.folders_added) == (0, 0, 4, [])
    assert _tables(app) == before


def test_photos_scanned_here_first_are_matched_by_path_and_hash(tmp_path, app, demo, scenes):
    root, paths, vectors = scenes
    app.folders.add(root)  # scanned: four pending photos
    edited = dataclasses.replace(shard_rows(paths[1:2], root)[0], content_hash="e" * 32)
    out = tmp_path / "out"
    photo_shard(out, ShardModel.of(demo), [paths[0], paths[2], paths[3]], root, vectors[[0, 2, 3]])
    write_shard(out, ShardModel.of(demo), [edited], vectors[1:2])
    summary = app.vectors.import_shards(out)
    assert (summary.added, summary.updated, summary.folders_added) == (0, 3, [])
    assert summary.refused == {
        "the file here has other content than the one embedded (content hash differs)": 1
    }
    assert app.pending_count() == 1  # the photo whose content differs is embedded here
    assert app.index().embedded == 1


def test_imported_photos_get_their_keywords_and_tags_and_owe_their_text(tmp_path, app, demo):
    root = tmp_path / "kw"
    paths = photos_with_keywords(root, 4)
    photo_shard(tmp_path / "out", ShardModel.of(demo), paths, root, embed_files(demo, paths))
    summary = app.vectors.import_shards(tmp_path / "out")
    assert summary.waiting == {} and summary.waiting_note == ""
    work = lost_work(app.library.path)
    assert (work.photos, work.untagged, work.keyword_lost) == (4, [], [])
    assert app.ocr.backlog().waiting == 4  # read by the pass both faces run afterwards


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"weights_hash": "0" * 64, "model_id": "other@000000000000"}, "(weights differ)"),
        ({"runtime": "onnx", "precision": "int8"}, "runtime onnx vs torch; precision int8 vs"),
        ({"precision": "fp16"}, "precision fp16 vs fp32"),
    ],
)
def test_shards_of_another_model_runtime_or_precision_are_refused_and_nothing_is_written(
    tmp_path, app, demo, scenes, change, said
):
    theirs = dataclasses.replace(ShardModel.of(demo), **change)
    out = _shards(tmp_path, demo, scenes, model=theirs)
    with pytest.raises(ShardError) as err:
        app.vectors.import_shards(out)
    assert "cannot search beside its own" in err.value.message and said in err.value.message
    assert "Nothing was imported." in err.value.message and err.value.hint
    assert _empty(app)


def test_a_foreign_shard_anywhere_in_the_folder_stops_the_import_before_any_write(
    tmp_path, app, demo, scenes
):
    root, paths, vectors = scenes
    out = tmp_path / "out"
    good = photo_shard(out, ShardModel.of(demo), paths[:2], root, vectors[:2])
    other = dataclasses.replace(ShardModel.of(demo), precision="fp16")
    foreign = photo_shard(out, other, paths[2:], root, vectors[2:])
    # shards are imported by name: the foreign one comes after a good one
    good.rename(out / "shard-0.parquet")
    foreign.rename(out / "shard-1.parquet")
    with pytest.raises(ShardError) as err:
        app.vectors.import_shards(out)
    assert "shard-1.parquet" in err.value.message and "Nothing was imported." in err.value.message
    assert _empty(app)


def test_a_library_with_vectors_refuses_another_runtime_and_says_which(tmp_path, app, demo, scenes):
    root, paths, _ = scenes
    app.folders.add(root)
    app.index()  # the library's vectors: this machine's runtime
    other = tmp_path / "other"
    photo_shard(other, dataclasses.replace(ShardModel.of(demo), precision="fp16"), paths, root)
    with pytest.raises(ShardError) as err:
        app.vectors.import_shards(other)
    assert "This library's vectors were made with" in err.value.hint


def test_paths_recorded_elsewhere_need_map_and_then_land_here(tmp_path, app, demo, scenes):
    root, paths, _ = scenes
    out = _shards(tmp_path, demo, scenes, recorded="/mnt/archive/photos")
    with pytest.raises(ClipDeskError) as err:
        app.vectors.import_shards(out)
    assert "/mnt/archive/photos" in err.value.message and "does not exist" in err.value.message
    assert "--map FROM=TO" in err.value.cli_hint and _empty(app)
    maps = [("/mnt", str(tmp_path / "wrong")), ("/mnt/archive/photos/", str(root))]
    summary = app.vectors.import_shards(out, maps)  # the longest prefix that applies wins
    assert summary.added == 4 and summary.folders_added == [str(root)]
    assert sorted(p.path for p in app.library.photos()) == sorted(paths)


def test_hostile_shards_are_skipped_and_named_and_write_nothing(tmp_path, app, demo, scenes):
    root, paths, vectors = scenes
    out = tmp_path / "out"
    model = ShardModel.of(demo)
    (out / "shard-junk.parquet").parent.mkdir(parents=True)
    (out / "shard-junk.parquet").write_bytes(b"PAR1 not really")
    nan = photo_shard(out, model, paths[:1], root, vectors[:1])
    rewrite_shard(nan, lambda t: with_vector(t, np.full((1, model.dim), np.nan), model.dim))
    short = photo_shard(out, model, paths[1:2], root, vectors[1:2])
    rewrite_shard(short, lambda t: with_vector(t, np.ones((1, 8)) / np.sqrt(8), 8))
    summary = app.vectors.import_shards(out)
    why = {Path(s).name: r for s, r in summary.bad_shards}
    assert "cannot be read as Parquet" in why["shard-junk.parquet"]
    assert "not finite" in why[nan.name]
    assert "column 'vector'" in why[short.name]
    assert summary.imported == 0 and _empty(app)
    assert all(f"Skipped {s}" in summary.describe() for s, _ in summary.bad_shards)


def test_rows_that_cannot_be_photos_here_are_refused_with_their_reasons(
    tmp_path, app, demo, scenes
):
    root, paths, vectors = scenes
    [good] = shard_rows(paths[:1], root)

    def row(**change) -> ShardRow:
        return dataclasses.replace(good, **change)

    rows = [
        good,
        row(path="colours/red.jpg", root="colours"),
        row(path=str(root / ".." / "escaped.jpg")),
        row(path=str(root / "notes.txt")),
        row(path=str(root / ".git" / "x.jpg")),
        row(path=str(root / "h.jpg"), content_hash="../../etc"),
        row(path=str(root / "k.jpg"), kind="exe"),
    ]
    vecs = np.repeat(vectors[:1], len(rows), axis=0)
    (tmp_path / "out").mkdir()
    write_shard(tmp_path / "out", ShardModel.of(demo), rows, vecs)
    summary = app.vectors.import_shards(tmp_path / "out")
    assert summary.added == 1
    assert summary.refused == {
        "not an absolute path": 1,
        "not inside the folder it was found in": 1,
        "not a photo file type ClipDesk indexes": 1,
        "in a folder scans skip (hidden or system)": 1,
        "its content hash is not one ClipDesk takes": 1,
        "unknown file type 'exe'": 1,
    }
    assert [p.path for p in app.library.photos()] == [paths[0]]


def test_a_drive_root_is_never_made_a_folder(tmp_path, app, demo):
    row = ShardRow(
        path="/photo.jpg", root="/", size=1, mtime_ns=1, content_hash="a" * 32,
        kind="jpeg", meta=PhotoMeta(),
    )  # fmt: skip
    v = np.zeros((1, demo.dim), np.float32)
    v[0, 0] = 1.0
    (tmp_path / "out").mkdir()
    write_shard(tmp_path / "out", ShardModel.of(demo), [row], v)
    with pytest.raises(ClipDeskError, match="a whole drive"):
        app.vectors.import_shards(tmp_path / "out")
    assert _empty(app)


def test_a_cancel_stops_between_shards_and_a_rerun_finishes(tmp_path, app, demo, scenes):
    out = _shards(tmp_path, demo, scenes)
    token = CancelToken()
    seen = []

    def progress(p):
        seen.append((p.done, p.total))
        if p.done:
            token.cancel()  # Ctrl+C while the first shard was written

    summary = app.vectors.import_shards(out, progress=progress, cancel=token)
    assert summary.cancelled and summary.imported == 1 and summary.added == 2
    assert seen == [(0, 2), (1, 2)] and "Stopped between shards" in summary.describe()
    rest = app.vectors.import_shards(out)
    assert (rest.added, rest.unchanged) == (2, 2)


def test_a_folder_without_shards_is_refused(tmp_path, app):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ShardError, match="holds no vector shards"):
        app.vectors.import_shards(tmp_path / "empty")
    with pytest.raises(ShardError, match="There is no folder"):
        app.vectors.import_shards(tmp_path / "nowhere")
