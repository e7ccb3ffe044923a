"""Moves keep a photo's id, vector, tags and decisions, whatever the watcher's timing (issue 14).

The matrix runs the real Watcher, with the app's timings, on real files (slow tier); the fast
tests replay the orders those timings produce straight on the scanner, the watcher's batching
and the pipeline, so each one is deterministic.
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from clipdesk.cli import main
from clipdesk.indexing import pipeline as pipeline_module
from clipdesk.library.records import PhotoStatus
from clipdesk.library.store import Library
from clipdesk.model import load_model
from clipdesk.model.testing import tiny_random_model
from clipdesk.scanning import scanner as scanner_module
from clipdesk.scanning.scanner import Scanner
from clipdesk.scanning.watcher import Watcher
from clipdesk.services.app import ClipDeskServices
from clipdesk.tags.categories import Category
from tests.support.photofiles import make_photo
from tests.support.watching import random_burst, settle

NAMES = ("p0.jpg", "p1.jpg", "album/a0.jpg", "album/a1.jpg")
TRIPS = Category("Trips", ("Rome", "Paris"), auto=False)

# one photo row as the user knows it: (path under the root, vector bytes, vector time, decisions)
Row = tuple[str, bytes | None, float | None, frozenset[tuple[str, str]]]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return tiny_random_model(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    return load_model(tiny_dir, device="cpu")


@dataclass
class Desk:
    """A library of NAMES under ``root``, indexed, each photo with a confirmed and a rejected tag."""

    app: ClipDeskServices
    root: Path
    lib: Library = field(init=False)

    def __post_init__(self) -> None:
        self.lib = self.app.library

    def id_of(self, name: str) -> int:
        photo = self.lib.photo_by_path(self.root / name)
        assert photo is not None, name
        return photo.id

    def decide(self, ids: list[int]) -> None:
        self.app.tags.decide(ids, "Trips", "Rome", "confirmed")
        self.app.tags.decide(ids, "Trips", "Paris", "rejected")

    def rows(self) -> dict[int, Row]:
        model_id = self.app.model.id
        stamps = self.lib.vector_stamps(model_id)
        times = dict(zip(stamps.ids.tolist(), stamps.created_at.tolist(), strict=True))
        out: dict[int, Row] = {}
        for p in self.lib.photos():
            ids, vecs = self.lib.vectors_for(model_id, [p.id])
            decided = self.app.tags.tags_of(p.id, ["confirmed", "rejected"])
            out[p.id] = (
                os.path.relpath(p.path, self.root),
                vecs[0].tobytes() if len(ids) else None,
                times.get(p.id),
                frozenset((t.keyword, str(t.state)) for t in decided),
            )
        return out

    def assert_kept(self, before: dict[int, Row], moved: dict[str, str]) -> None:
        """Every photo of ``before`` is still there under its id, at its new path, with the same
        vector (never re-embedded) and decisions; no other row, none missing or in error."""
        expected = {
            pid: (moved.get(path, path), vec, when, decided)
            for pid, (path, vec, when, decided) in before.items()
        }
        assert self.rows() == expected
        assert {p.status for p in self.lib.photos()} == {PhotoStatus.OK}


@pytest.fixture
def desk(tmp_path, tiny) -> Iterator[Desk]:
    root = tmp_path / "Pictures"
    for seed, name in enumerate(NAMES):
        make_photo(root / name, seed=seed)
    app = ClipDeskServices(tmp_path / "lib.sqlite3", model=tiny, device="cpu")
    app.folders.add(root)
    app.index()
    app.tags.add_category(TRIPS)
    desk = Desk(app, root)
    desk.decide([p.id for p in desk.lib.photos()])
    yield desk
    app.close()


# --- the orders a watcher can produce, replayed on the scanner ----------------------------------


def test_a_new_folder_reconciled_before_the_move_into_it_keeps_the_photo(desk):
    """`mkdir new && mv p0.jpg new/`: the folder's walk finds the file before the move's own
    batch says where it came from (what the app did with no pause between the commands)."""
    before = desk.rows()
    scanner = desk.app.scanner()
    (desk.root / "new").mkdir()
    os.rename(desk.root / "p0.jpg", desk.root / "new" / "p0.jpg")
    first = scanner.reconcile_paths([desk.root / "new"])
    assert first.moved == [desk.id_of("new/p0.jpg")] and not first.added
    scanner.reconcile_paths([desk.root / "p0.jpg", desk.root / "new" / "p0.jpg"])
    desk.assert_kept(before, {"p0.jpg": "new/p0.jpg"})


def test_a_copy_then_delete_move_keeps_the_photo_and_drops_the_copy_row(desk):
    """A move across drives copies, then deletes: the copy is a new photo for a while (even
    indexed and tagged), and when the original goes, the original takes its place."""
    before = desk.rows()
    scanner = desk.app.scanner()
    copied = desk.root / "copied" / "p0.jpg"
    copied.parent.mkdir()
    shutil.copy2(desk.root / "p0.jpg", copied)
    scanner.reconcile_paths([copied.parent])
    twin = desk.id_of("copied/p0.jpg")
    assert twin not in before and len(desk.lib.photos()) == len(before) + 1
    desk.app.index()
    os.remove(desk.root / "p0.jpg")
    changes = scanner.reconcile_paths([desk.root / "p0.jpg"])
    assert not changes.missing and changes.moved == [before_id(before, "p0.jpg")]
    assert desk.lib.photo(twin) is None and changes.merged == [twin]
    desk.assert_kept(before, {"p0.jpg": "copied/p0.jpg"})


def before_id(before: dict[int, Row], path: str) -> int:
    return next(pid for pid, row in before.items() if row[0] == path)


def test_two_copies_that_both_exist_are_two_photos(desk):
    before = desk.rows()
    shutil.copy2(desk.root / "p0.jpg", desk.root / "p0 copy.jpg")
    changes = desk.app.scanner().reconcile_paths([desk.root / "p0 copy.jpg"])
    assert len(changes.added) == 1 and not changes.moved
    assert desk.rows()[before_id(before, "p0.jpg")] == before[before_id(before, "p0.jpg")]


def test_a_copy_with_decisions_of_its_own_is_never_merged_away(desk):
    scanner = desk.app.scanner()
    shutil.copy2(desk.root / "p0.jpg", desk.root / "mine.jpg")
    scanner.reconcile_paths([desk.root / "mine.jpg"])
    mine, original = desk.id_of("mine.jpg"), desk.id_of("p0.jpg")
    desk.app.tags.decide([mine], "Trips", "Paris", "confirmed")
    os.remove(desk.root / "p0.jpg")
    changes = scanner.reconcile_paths([desk.root / "p0.jpg"])
    assert changes.missing == [original] and desk.lib.photo(mine) is not None
    assert [t.keyword for t in desk.app.tags.tags_of(mine, ["confirmed"])] == ["Trips|Paris"]


def test_a_copy_first_seen_long_before_the_original_went_is_not_merged(desk, monkeypatch):
    scanner = desk.app.scanner()
    shutil.copy2(desk.root / "p0.jpg", desk.root / "backup.jpg")
    scanner.reconcile_paths([desk.root / "backup.jpg"])
    monkeypatch.setattr(scanner_module, "MOVE_WINDOW_S", 0.0, raising=False)
    os.remove(desk.root / "p0.jpg")
    changes = scanner.reconcile_paths([desk.root / "p0.jpg"])
    assert len(changes.missing) == 1 and len(desk.lib.photos()) == len(NAMES) + 1


@pytest.mark.parametrize("towards", ["a folder walked later", "a folder walked earlier"])
def test_a_move_during_a_full_rescan_keeps_the_photo(desk, monkeypatch, towards):
    """The rescan walks one folder, the file moves, the rescan walks the next one; then the
    watcher's batch for the move's two ends."""
    later = desk.root.parent / "Zed"  # folders are walked by path: Pictures, then Zed
    for i in range(2):  # (a folder left empty would read as an unplugged drive)
        make_photo(later / f"z{i}.jpg", seed=20 + i)
    desk.app.folders.add(later)
    desk.app.index()
    desk.decide([p.id for p in desk.lib.photos(folder_id=desk.lib.folder(later).id)])
    before = desk.rows()
    if towards == "a folder walked later":
        src, dst = desk.root / "p0.jpg", later / "p0.jpg"
    else:
        src, dst = later / "z0.jpg", desk.root / "z0.jpg"
    real_walk = scanner_module.walk

    def walk(path: str, *args: Any, **kwargs: Any) -> Any:
        result = real_walk(path, *args, **kwargs)
        if path == str(desk.root) and src.exists():
            os.rename(src, dst)
        return result

    monkeypatch.setattr(scanner_module, "walk", walk)
    desk.app.folders.scan()
    desk.app.scanner().reconcile_paths([src, dst])
    desk.assert_kept(before, {os.path.relpath(src, desk.root): os.path.relpath(dst, desk.root)})


# --- the watcher's batches --------------------------------------------------------------------


def _ready_after(watcher: Watcher, seconds: float) -> list[str]:
    return sorted(watcher._take_ready(time.monotonic() + seconds))


def test_a_new_folder_waits_for_the_move_settling_inside_it(tmp_path):
    """The folder's event is ready before the moved file has settled: reconciled alone, its
    walk would take the file before the batch that knows where it came from."""
    lib = Library(tmp_path / "lib.sqlite3")
    watcher = Watcher(Scanner(lib), debounce_s=0.1, settle_s=0.5)  # not started: batches only
    new = tmp_path / "new"
    make_photo(new / "p.jpg", seed=1)
    watcher.touch(str(new))
    watcher.touch_move(str(tmp_path / "p.jpg"), str(new / "p.jpg"))
    assert _ready_after(watcher, 0.2) == []  # the file has been seen once, not yet settled
    assert _ready_after(watcher, 1.0) == sorted(
        [str(new), str(new / "p.jpg"), str(tmp_path / "p.jpg")]
    )
    lib.close()


def test_a_rename_chain_is_one_batch(tmp_path):
    lib = Library(tmp_path / "lib.sqlite3")
    watcher = Watcher(Scanner(lib), debounce_s=0.1, settle_s=0.5)
    a, b, c = (str(tmp_path / n) for n in ("a.jpg", "b.jpg", "c.jpg"))
    make_photo(Path(c), seed=2)
    watcher.touch_move(a, b)
    watcher.touch_move(b, c)
    assert _ready_after(watcher, 0.2) == []  # a waits for c, not only for b (gone at once)
    assert _ready_after(watcher, 1.0) == sorted([a, b, c])
    lib.close()


# --- moves while the pipeline decodes; error marks -------------------------------------------


@pytest.mark.parametrize("first", ["the scanner", "the pipeline"])
def test_a_move_during_decoding_is_indexed_at_the_new_path(desk, monkeypatch, first):
    """The decoder is handed the old path just as the file moves: "file not found". Whichever
    records first, the photo ends indexed at its new path, never stuck in error."""
    old, new = desk.root / "fresh.jpg", desk.root / "sorted" / "fresh.jpg"
    make_photo(old, seed=40)
    desk.app.folders.scan()
    pid = desk.id_of("fresh.jpg")
    desk.decide([pid])
    real_decode = pipeline_module.decode_for_model

    def moving_decode(path: Any, size: int) -> Any:
        if Path(path) == old and old.exists():
            new.parent.mkdir(exist_ok=True)
            os.rename(old, new)
            if first == "the scanner":  # the watcher's batch lands before the pipeline commits
                desk.app.scanner().reconcile_paths([old, new])
        return real_decode(path, size)

    monkeypatch.setattr(pipeline_module, "decode_for_model", moving_decode)
    desk.app.index()
    desk.app.scanner().reconcile_paths([old, new])  # the watcher's batch (or a repeat of it)
    photo = desk.lib.photo(pid)
    assert photo.path == new and photo.status is PhotoStatus.PENDING and photo.error is None
    desk.app.index()  # what each face runs after the change
    photo = desk.lib.photo(pid)
    assert photo.status is PhotoStatus.OK and desk.rows()[pid][1] is not None
    assert {t.keyword for t in desk.app.tags.tags_of(pid, ["confirmed", "rejected"])} == {
        "Trips|Rome",
        "Trips|Paris",
    }
    assert desk.lib.errors() == []


def test_an_error_marked_for_the_old_path_is_not_recorded_on_the_moved_photo(desk):
    photo = desk.lib.photo(desk.id_of("p0.jpg"))
    os.rename(desk.root / "p0.jpg", desk.root / "p0-renamed.jpg")
    desk.app.scanner().reconcile_paths([desk.root / "p0.jpg", desk.root / "p0-renamed.jpg"])
    assert not desk.lib.mark_error(photo.id, "file not found", photo.stamp, photo.path)
    assert desk.lib.photo(photo.id).status is PhotoStatus.OK


def test_a_photo_in_error_is_tried_again_when_its_file_is_touched(desk):
    pid = desk.id_of("p1.jpg")
    assert desk.lib.mark_error(pid, "permission denied")
    os.utime(desk.root / "p1.jpg", ns=(time.time_ns(), time.time_ns()))
    desk.app.folders.scan()
    assert desk.lib.photo(pid).status is PhotoStatus.PENDING


def test_index_retries_errors_that_told_of_the_moment_not_of_the_file(desk):
    gone, damaged = desk.id_of("p0.jpg"), desk.id_of("p1.jpg")
    desk.lib.mark_error(gone, "file not found")  # the file was moving; it is there now
    desk.lib.mark_error(damaged, "damaged JPEG data: bad Huffman table")
    desk.app.index()
    assert desk.lib.photo(gone).status is PhotoStatus.OK
    assert desk.lib.photo(damaged).status is PhotoStatus.ERROR  # only the user retries that


def test_retry_failed_requeues_in_the_services_and_the_cli(desk, tiny_dir, capsys):
    pid = desk.id_of("p1.jpg")
    desk.lib.mark_error(pid, "no decoder for this HEIF variant")  # e.g. before a plugin install
    assert desk.app.folders.retry_errors(desk.root) == 1
    assert desk.lib.photo(pid).status is PhotoStatus.PENDING
    desk.app.index()
    assert desk.lib.photo(pid).status is PhotoStatus.OK

    desk.lib.mark_error(pid, "no decoder for this HEIF variant")
    library = str(desk.lib.path)
    code = main(
        ["--library", library, "--model", str(tiny_dir), "--device", "cpu"]
        + ["index", "--no-scan", "--retry-errors"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "Queued 1 photos in error to be tried again." in out
    assert desk.lib.photo(pid).status is PhotoStatus.OK


# --- the matrix, with the real watcher and the app's timings -----------------------------------


@dataclass
class Live:
    desk: Desk
    watcher: Watcher
    monkeypatch: pytest.MonkeyPatch
    roots: list[Path] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.desk.root

    def settle(self) -> None:
        settle(self.desk.lib, self.watcher, self.root, *self.roots)


Move = Callable[[Live], dict[str, str]]


def into_a_new_folder(gap_s: float) -> Move:
    def move(live: Live) -> dict[str, str]:
        (live.root / "new").mkdir()
        time.sleep(gap_s)
        os.rename(live.root / "p0.jpg", live.root / "new" / "p0.jpg")
        return {"p0.jpg": "new/p0.jpg"}

    return move


def whole_tree_into_a_new_folder(live: Live) -> dict[str, str]:
    (live.root / "2024" / "trips").mkdir(parents=True)
    os.rename(live.root / "album", live.root / "2024" / "trips" / "album")
    return {f"album/a{i}.jpg": f"2024/trips/album/a{i}.jpg" for i in range(2)}


def out_and_back(pause: bool) -> Move:
    def move(live: Live) -> dict[str, str]:
        outside = live.root.parent / "outside"
        outside.mkdir()
        os.rename(live.root / "p0.jpg", outside / "p0.jpg")
        if pause:
            live.settle()  # by now the photo is missing
        (live.root / "back").mkdir()
        os.rename(outside / "p0.jpg", live.root / "back" / "p0.jpg")
        return {"p0.jpg": "back/p0.jpg"}

    return move


def rename_chain(live: Live) -> dict[str, str]:
    os.rename(live.root / "p0.jpg", live.root / "b.jpg")
    os.rename(live.root / "b.jpg", live.root / "c.jpg")
    return {"p0.jpg": "c.jpg"}


def rename_chain_through_new_folders(live: Live) -> dict[str, str]:
    (live.root / "x").mkdir()
    os.rename(live.root / "p0.jpg", live.root / "x" / "p0.jpg")
    (live.root / "y").mkdir()
    os.rename(live.root / "x" / "p0.jpg", live.root / "y" / "p0.jpg")
    return {"p0.jpg": "y/p0.jpg"}


def copy_then_delete(pause: bool) -> Move:
    def move(live: Live) -> dict[str, str]:
        (live.root / "copied").mkdir()
        shutil.copy2(live.root / "p0.jpg", live.root / "copied" / "p0.jpg")
        if pause:  # the copy is seen, indexed and tagged as a photo of its own first
            live.settle()
            live.desk.app.index()
        os.remove(live.root / "p0.jpg")
        return {"p0.jpg": "copied/p0.jpg"}

    return move


def during_a_full_rescan(live: Live) -> dict[str, str]:
    """The rescan walks Pictures, the file moves to Zed (watched, walked next)."""
    zed = live.root.parent / "Zed"
    zed.mkdir()
    live.desk.app.folders.add(zed)
    live.roots.append(zed)
    real_walk = scanner_module.walk
    done = threading.Event()

    def walk(path: str, *args: Any, **kwargs: Any) -> Any:
        result = real_walk(path, *args, **kwargs)
        if path == str(live.root) and not done.is_set():
            os.rename(live.root / "p0.jpg", zed / "p0.jpg")
            done.set()
        return result

    live.monkeypatch.setattr(scanner_module, "walk", walk)
    live.watcher.request_full_rescan()
    assert done.wait(10)
    return {"p0.jpg": "../Zed/p0.jpg"}


MATRIX = [
    pytest.param(into_a_new_folder(0.0), id="into a folder created 0 ms before"),
    pytest.param(into_a_new_folder(0.05), id="into a folder created 50 ms before"),
    pytest.param(into_a_new_folder(0.6), id="into a folder created 600 ms before"),
    pytest.param(into_a_new_folder(3.0), id="into a folder created 3 s before"),
    pytest.param(whole_tree_into_a_new_folder, id="a whole tree into a new folder"),
    pytest.param(out_and_back(pause=False), id="out of the folder and straight back in"),
    pytest.param(out_and_back(pause=True), id="out of the folder, missing, then back in"),
    pytest.param(rename_chain, id="rename chain a-b-c"),
    pytest.param(rename_chain_through_new_folders, id="rename chain through new folders"),
    pytest.param(copy_then_delete(pause=False), id="copy then delete (across drives)"),
    pytest.param(copy_then_delete(pause=True), id="copy indexed, then the original deleted"),
    pytest.param(during_a_full_rescan, id="during a full rescan"),
]


@pytest.mark.slow
@pytest.mark.parametrize("move", MATRIX)
def test_a_move_keeps_id_vector_tags_and_decisions(desk, monkeypatch, move):
    errors: list[BaseException] = []
    watcher = desk.app.watch(on_error=errors.append)  # the app's debounce and settle times
    try:
        live = Live(desk, watcher, monkeypatch)
        before = desk.rows()
        moved = move(live)
        live.settle()
        monkeypatch.undo()
        desk.app.index()  # what each face runs after a change: nothing may be left to redo
        live.settle()
    finally:
        watcher.stop()
    assert errors == []
    desk.assert_kept(before, moved)


@pytest.mark.slow
@pytest.mark.parametrize("hold_s", [0.0, 2.0], ids=["pipeline commits first", "watcher first"])
def test_a_move_during_decoding_with_the_watcher_running(desk, monkeypatch, hold_s):
    """The file moves under the decoder while the watcher runs; the decoder's failure reaches
    the library before or after the watcher's batch. The photo ends indexed where it is now."""
    old, new = desk.root / "fresh.jpg", desk.root / "sorted" / "fresh.jpg"
    make_photo(old, seed=40)
    desk.app.folders.scan()
    pid = desk.id_of("fresh.jpg")
    desk.decide([pid])
    before = desk.rows()
    real_decode = pipeline_module.decode_for_model

    def moving_decode(path: Any, size: int) -> Any:
        if Path(path) == old and old.exists():
            new.parent.mkdir(exist_ok=True)
            os.rename(old, new)
            time.sleep(hold_s)  # long enough for the watcher's batch to land first
        return real_decode(path, size)

    monkeypatch.setattr(pipeline_module, "decode_for_model", moving_decode)
    errors: list[BaseException] = []
    watcher = desk.app.watch(on_error=errors.append)
    try:
        desk.app.index()
        monkeypatch.undo()
        settle(desk.lib, watcher, desk.root)
        desk.app.index()
    finally:
        watcher.stop()
    assert errors == [] and desk.lib.errors() == []
    after = desk.rows()
    assert after[pid][0] == "sorted/fresh.jpg" and after[pid][1] is not None
    assert after[pid][3] == before[pid][3]
    del before[pid], after[pid]
    assert after == before


# --- the burst, with moves while the pipeline decodes --------------------------------


def burst_with_indexing(
    tmp: Path, model: Any, events: int = 5000, seed: int = 0, rescan_at: tuple[int, ...] = (2500,)
) -> dict[str, Any]:
    """The issue's experiment: creates, renames and deletes in a burst while the pipeline keeps
    indexing, with a full rescan in the middle (what an inotify queue overflow asks for; the
    kernel's queue is rarely that short on a test machine); returns what the library holds
    once the watcher settled and one last index ran."""
    root = tmp / "burst"
    root.mkdir(parents=True)
    app = ClipDeskServices(tmp / "lib.sqlite3", model=model, device="cpu")
    app.folders.add(root)
    watcher = app.watch(debounce_s=0.2, settle_s=0.2, check_interval_s=1.0)
    stop = threading.Event()

    def keep_indexing() -> None:
        while not stop.is_set():
            app.index(workers=2)

    indexer = threading.Thread(target=keep_indexing, daemon=True)
    indexer.start()
    rng = random.Random(seed)
    template = make_photo(tmp / "t.jpg", seed=1).read_bytes()
    start = time.monotonic()

    def rescan_midway(n: int) -> None:
        if n in rescan_at:
            watcher.request_full_rescan()

    live = random_burst(root, template, rng, events, rescan_midway)
    try:
        settle(app.library, watcher, root, timeout=300)
        stop.set()
        indexer.join(120)
        app.index()
        settle(app.library, watcher, root, timeout=120)
        lib = app.library
        rows = lib.connection().execute("SELECT count(*), count(DISTINCT path) FROM photos")
        total, distinct = rows.fetchone()
        gone = (PhotoStatus.MISSING, PhotoStatus.OFFLINE)
        present = {p.content_hash for p in lib.photos() if p.status not in gone}
        lost = [p for p in lib.photos(statuses=[PhotoStatus.MISSING]) if p.content_hash in present]
        return {
            "files": len(live),
            "rows": total,
            "distinct_paths": distinct,
            "counts": lib.counts(),
            "stuck": [(str(p.path), p.error) for p in lib.errors()],
            "moves_lost": len(lost),  # missing rows whose file lives on at another path
            "seconds": round(time.monotonic() - start, 1),
        }
    finally:
        stop.set()
        watcher.stop()
        indexer.join(120)
        app.close()


@pytest.mark.slow
def test_burst_with_moves_during_decoding_leaves_no_photo_in_error(tmp_path, tiny):
    result = burst_with_indexing(tmp_path, tiny)
    assert result["stuck"] == [] and result["moves_lost"] == 0
    assert (
        result["rows"] == result["distinct_paths"] == result["files"] + result["counts"]["missing"]
    )
    assert result["counts"]["ok"] == result["files"]


def test_a_merged_copy_brings_the_keywords_another_tool_wrote_beside_it(desk):
    """The copy's sidecar was read at the new path (its keywords imported, their writer noted):
    when the original takes the copy's place, those come along instead of going with the row."""
    from clipdesk.tags.xmp import sidecar as xmp

    before = desk.rows()
    scanner = desk.app.scanner()
    copied = desk.root / "copied" / "p0.jpg"
    copied.parent.mkdir()
    shutil.copy2(desk.root / "p0.jpg", copied)
    xmp.sidecar_path(copied, "fullname").write_bytes(xmp.update_keywords(None, ["holiday"]))
    scanner.reconcile_paths([copied.parent])
    twin = desk.id_of("copied/p0.jpg")
    desk.app.index()
    assert [t.keyword for t in desk.app.tags.tags_of(twin, ["imported"])] == ["holiday"]
    os.remove(desk.root / "p0.jpg")
    changes = scanner.reconcile_paths([desk.root / "p0.jpg"])
    original = before_id(before, "p0.jpg")
    assert changes.merged == [twin]
    assert [t.keyword for t in desk.app.tags.tags_of(original, ["imported"])] == ["holiday"]
