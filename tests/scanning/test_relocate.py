"""Relocating a folder: its photos moved to a new disk or mount path, and every one keeps its id,
vector, tags and decisions - matched by relative path, verified by content hash."""

from __future__ import annotations

import shutil

import pytest

from clipdesk.library.errors import FolderError
from clipdesk.library.records import FolderStatus, PhotoStatus
from clipdesk.library.relocation import RelocationQueries
from clipdesk.library.store import Library
from clipdesk.scanning.scanner import Scanner
from tests.scanning.test_drives import decide, decisions
from tests.support.photofiles import index_all, make_photo


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "lib.sqlite3") as library:
        yield library


@pytest.fixture
def old_root(tmp_path):
    base = tmp_path / "old-disk" / "Photos"
    for i, rel in enumerate(["a.jpg", "b.png", "trip/c.jpg", "trip/day2/d.webp", "e.jpg"]):
        make_photo(base / rel, seed=i)
    return base


def vectors(lib):
    ids, mat = lib.load_vectors("test-model", statuses=list(PhotoStatus))
    return {int(i): row.tobytes() for i, row in zip(ids, mat, strict=True)}


def by_rel(lib, root):
    return {p.path.relative_to(root).as_posix(): p for p in lib.photos()}


@pytest.mark.parametrize("old_state", ["online", "offline"])
def test_relocating_keeps_ids_vectors_tags_and_decisions(lib, old_root, tmp_path, old_state):
    scanner = Scanner(lib)
    folder, _ = scanner.add_folder(old_root)
    index_all(lib)
    ids = {rel: p.id for rel, p in by_rel(lib, old_root).items()}
    decide(lib, sorted(ids.values()))
    decided, vecs = decisions(lib), vectors(lib)

    new_root = tmp_path / "new-disk" / "Photos"
    shutil.copytree(old_root, new_root)  # a plain copy: new mtimes, same content
    make_photo(new_root / "e.jpg", seed=40)  # edited since
    (new_root / "trip" / "c.jpg").unlink()  # not copied
    make_photo(new_root / "new.jpg", seed=41)  # taken since
    if old_state == "offline":
        shutil.rmtree(tmp_path / "old-disk")  # the old disk died
        scanner.reconcile()
        assert lib.folder(folder.id).status == FolderStatus.OFFLINE

    moved, changes = scanner.relocate_folder(lib.folder(folder.id), new_root)
    assert sorted(moved.photos.kept) == sorted(
        ids[r] for r in ("a.jpg", "b.png", "trip/day2/d.webp")
    )
    assert moved.photos.changed == [ids["e.jpg"]] and moved.photos.unmatched == [ids["trip/c.jpg"]]
    relocated = lib.folder(folder.id)
    assert relocated.path == new_root and relocated.status == FolderStatus.OK
    photos = by_rel(lib, new_root)
    assert {r: photos[r].id for r in ids} == ids  # every photo kept its id, under the new root
    for rel in ("a.jpg", "b.png", "trip/day2/d.webp"):
        assert photos[rel].status == PhotoStatus.OK
        assert vectors(lib)[ids[rel]] == vecs[ids[rel]]
    assert photos["e.jpg"].status == PhotoStatus.PENDING and ids["e.jpg"] not in vectors(lib)
    assert photos["trip/c.jpg"].status == PhotoStatus.MISSING
    assert [lib.photo(i).path.name for i in changes.added] == ["new.jpg"]
    assert decisions(lib) == decided  # the changed and the missing photo keep theirs too


def test_relocation_is_refused_into_itself_or_onto_another_folder(lib, old_root, tmp_path):
    other = tmp_path / "other"
    make_photo(other / "x.jpg", seed=60)
    scanner = Scanner(lib)
    folder, _ = scanner.add_folder(old_root)
    scanner.add_folder(other)
    for target, words in [
        (old_root, "already where"),
        (old_root / "trip", "inside"),
        (other, "overlaps"),
        (tmp_path / "nowhere", "does not exist"),
    ]:
        with pytest.raises(FolderError, match=words):
            scanner.relocate_folder(lib.folder(folder.id), target)
    assert lib.folder(folder.id).path == old_root


def test_relocation_is_one_transaction(lib, old_root, tmp_path, monkeypatch):
    scanner = Scanner(lib)
    folder, _ = scanner.add_folder(old_root)
    before = {p.id: (p.path, p.status) for p in lib.photos()}
    new_root = tmp_path / "new"
    shutil.copytree(old_root, new_root)
    (new_root / "b.png").unlink()
    (new_root / "e.jpg").unlink()
    calls = []

    def fail_on_second(conn, photo_id, path, now):
        calls.append(photo_id)
        if len(calls) == 2:
            raise OSError("power cut")
        return original(conn, photo_id, path, now)

    original = RelocationQueries._relocate_unmatched
    monkeypatch.setattr(RelocationQueries, "_relocate_unmatched", staticmethod(fail_on_second))
    with pytest.raises(OSError, match="power cut"):
        scanner.relocate_folder(lib.folder(folder.id), new_root)
    assert lib.folder(folder.id).path == old_root
    assert {p.id: (p.path, p.status) for p in lib.photos()} == before
