"""A shard's photos written in one transaction: folders, rows, vectors with their runtime and
the steps owed next, matched by path and content hash, and idempotent (issue #20, item 2)."""

from __future__ import annotations

import numpy as np
import pytest

from clipdesk.library.imports import OTHER_CONTENT, OUTSIDE_ROOT, ImportedPhoto
from clipdesk.library.records import FileFacts, PhotoMeta
from clipdesk.library.store import Library

MODEL = "mini@0123456789ab"
STEPS = ("xmp_import", "tag", "ocr")
DIM = 8


@pytest.fixture
def lib(tmp_path):
    library = Library(tmp_path / "lib.sqlite3")
    yield library
    library.close()


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _photo(root, name: str, seed: int, error: str | None = None) -> ImportedPhoto:
    facts = FileFacts(
        path=str(root / name),
        size=1000 + seed,
        mtime_ns=1_700_000_000_000_000_000 + seed,
        kind="jpeg",
        content_hash=f"{seed:032x}",
        meta=PhotoMeta(width=640, height=480, taken_at="2021-05-01T10:00:00"),
        error=error,
    )
    return ImportedPhoto(facts, str(root), None if error else _unit(seed))


def _write(lib: Library, photos: list[ImportedPhoto]):
    return lib.import_photos(
        photos, model_id=MODEL, runtime="onnx-int8", steps=STEPS, vector_free=("xmp_import",)
    )


def _tables(lib: Library) -> dict[str, list[tuple]]:
    """Everything an import writes, to compare two states of the file."""
    return {
        t: [tuple(r) for r in lib.query(f"SELECT * FROM {t} ORDER BY 1, 2")]
        for t in ("folders", "photos", "embeddings", "photo_steps")
    }


def test_new_photos_get_their_root_as_a_folder_their_vectors_and_the_steps_owed(lib, tmp_path):
    root = tmp_path / "archive"
    photos = [_photo(root, f"{i}.jpg", i) for i in range(3)]
    photos.append(_photo(root / "sub", "bad.jpg", 9, error="cannot identify image file"))
    out = _write(lib, photos)
    assert [f.path for f in out.folders] == [root]
    assert len(out.added) == 3 and len(out.failed) == 1 and out.embedded == out.added
    ok = lib.photos(statuses=["ok"])
    assert sorted(p.path.name for p in ok) == ["0.jpg", "1.jpg", "2.jpg"]
    assert {p.folder_id for p in lib.photos()} == {out.folders[0].id}
    first = lib.photo_by_path(root / "0.jpg")
    assert first.content_hash == f"{0:032x}" and first.stamp == (1000, 1_700_000_000_000_000_000)
    assert (first.width, first.taken_at, first.indexed_at is not None) == (
        640,
        "2021-05-01T10:00:00",
        True,
    )
    [bad] = lib.errors()
    assert bad.path.name == "bad.jpg" and bad.error == "cannot identify image file"
    ids, vecs = lib.load_vectors(MODEL)
    assert np.allclose(vecs[list(ids).index(first.id)], photos[0].vector)
    assert lib.vector_runtimes(MODEL) == {"onnx-int8": 3}
    counts = {s: c.waiting for s, c in lib.count_steps().items()}
    assert counts == {"xmp_import": 3, "tag": 3, "ocr": 3}  # none for the photo without a vector
    # the XMP step needs no vector: it is owed whatever model search uses, as the pipeline's is
    assert lib.pending_steps("xmp_import", model_id="other@1") == sorted(out.added)


def test_a_second_import_of_the_same_shard_changes_nothing(lib, tmp_path):
    photos = [_photo(tmp_path / "a", f"{i}.jpg", i) for i in range(4)]
    photos.append(_photo(tmp_path / "a", "x.jpg", 7, error="truncated file"))
    _write(lib, photos)
    before = _tables(lib)
    again = _write(lib, photos)
    assert (again.added, again.failed, again.updated, again.refused) == ([], [], [], [])
    assert again.unchanged == 5 and again.folders == []
    assert _tables(lib) == before


def test_a_photo_here_with_the_same_content_gets_the_vector_and_other_content_is_refused(
    lib, tmp_path
):
    root = tmp_path / "pics"
    folder = lib.add_folder(root)
    same, other = _photo(root, "same.jpg", 1), _photo(root, "other.jpg", 2)
    scanned = [same.facts, FileFacts(**{**other.facts.__dict__, "content_hash": "f" * 32})]
    [(same_id, _), (other_id, _)] = lib.add_or_update_photos(folder.id, scanned)  # pending
    out = _write(lib, [same, other])
    assert out.updated == [same_id] and out.embedded == [same_id] and out.folders == []
    assert out.refused == [(str(root / "other.jpg"), OTHER_CONTENT)]
    assert lib.photo(same_id).status == "ok" and lib.photo(other_id).status == "pending"
    assert list(lib.load_vectors(MODEL, statuses=["ok", "pending"])[0]) == [same_id]
    assert lib.pending_steps("tag") == [same_id]


def test_a_vector_already_stored_for_the_model_is_kept(lib, tmp_path):
    root = tmp_path / "pics"
    folder = lib.add_folder(root)
    photo = _photo(root, "p.jpg", 3)
    [(pid, _)] = lib.add_or_update_photos(folder.id, [photo.facts])
    mine = np.ones(DIM, np.float32) / np.sqrt(DIM)
    lib.store_embeddings(MODEL, [pid], mine[None], runtime="onnx-int8")
    out = _write(lib, [photo])
    assert out.unchanged == 1 and out.embedded == []
    assert np.allclose(lib.vectors_for(MODEL, [pid])[1][0], mine)


def test_a_shard_error_for_a_photo_waiting_here_is_recorded_but_never_replaces_a_vector(
    lib, tmp_path
):
    root = tmp_path / "pics"
    folder = lib.add_folder(root)
    waiting = _photo(root, "w.jpg", 4, error="file not found")
    done = _photo(root, "d.jpg", 5, error="file not found")
    [(wid, _), (did, _)] = lib.add_or_update_photos(
        folder.id, [FileFacts(**{**p.facts.__dict__, "error": None}) for p in (waiting, done)]
    )
    lib.store_embeddings(MODEL, [did], _unit(5)[None], runtime="onnx-int8")
    out = _write(lib, [waiting, done])
    assert out.updated == [wid] and out.unchanged == 1
    assert (lib.photo(wid).status, lib.photo(wid).error) == ("error", "file not found")
    assert lib.photo(did).status == "ok"


def test_a_photo_inside_a_watched_folder_joins_it_and_a_root_above_one_absorbs_it(lib, tmp_path):
    inner = lib.add_folder(tmp_path / "archive" / "2020")
    out = _write(lib, [_photo(tmp_path / "archive", "2020/a.jpg", 1)])
    assert out.folders == [] and lib.photo(out.added[0]).folder_id == inner.id
    out = _write(lib, [_photo(tmp_path / "archive", "2021/b.jpg", 2)])
    [outer] = out.folders
    assert [f.path for f in lib.folders()] == [tmp_path / "archive"]
    assert {p.folder_id for p in lib.photos()} == {outer.id}  # 2020's photo moved up with it


def test_a_path_outside_its_root_is_refused(lib, tmp_path):
    root = tmp_path / "archive"
    outside = _photo(tmp_path / "elsewhere", "x.jpg", 1)
    escaping = _photo(root, "../../etc/y.jpg", 2)
    out = _write(lib, [ImportedPhoto(outside.facts, str(root), outside.vector), escaping])
    assert [why for _, why in out.refused] == [OUTSIDE_ROOT, OUTSIDE_ROOT]
    assert lib.folders() == [] and lib.photos() == []


def test_the_shard_is_one_transaction(lib, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(Library, "add_steps", fail)
    with pytest.raises(RuntimeError):
        _write(lib, [_photo(tmp_path / "a", f"{i}.jpg", i) for i in range(3)])
    assert _tables(lib) == {"folders": [], "photos": [], "embeddings": [], "photo_steps": []}
