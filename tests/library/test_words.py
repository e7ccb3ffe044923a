"""The words of photos in the library: OCR text, XMP text, the full-text index kept in step by
triggers with every write (names, folders, keywords, tags, moves, deletions, rollbacks), and
the OCR pass's backlog."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from clipdesk.library import words
from clipdesk.library.errors import FolderError
from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library
from clipdesk.library.words import OCR_STEP, XMP_TEXT_STEP, OcrBox, OcrCount


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "lib.sqlite3") as library:
        yield library


def _facts(path: str | Path, digest: str) -> FileFacts:
    return FileFacts(path=path, size=10, mtime_ns=1, kind="png", content_hash=digest)


def _digest(path: Path) -> str:
    return os.fsencode(path).hex()


def _add(lib: Library, root: Path, *names: str) -> list[int]:
    folder = lib.folder(root) or lib.add_folder(root)
    made = lib.add_or_update_photos(folder.id, [_facts(root / n, _digest(root / n)) for n in names])
    return [pid for pid, _ in made]


def _found(lib: Library, *include: str, exclude: tuple[str, ...] = ()) -> list[int]:
    return sorted(lib.match_words(list(include), exclude).ids.tolist())


def _words_row(lib: Library, pid: int) -> tuple[str, ...] | None:
    rows = lib.query("SELECT name, ocr, meta, tags FROM photo_words WHERE rowid = ?", (pid,))
    return tuple(rows[0]) if rows else None


def _index_check(lib: Library) -> None:
    # FTS5's own check of its index against its rows: raises when they disagree
    lib.connection().execute(
        "INSERT INTO photo_words(photo_words, rank) VALUES('integrity-check', 1)"
    )


def _tag(lib: Library, pid: int, label: str, state: str) -> int:
    with lib.transaction() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO categories(name, mode, threshold, templates, updated_at) "
            "VALUES('Things', 'multi', 0.5, '[]', 0)"
        )
        conn.execute(
            "INSERT OR IGNORE INTO labels(category_id, name) "
            "SELECT id, ? FROM categories WHERE name = 'Things'",
            (label,),
        )
        label_id = conn.execute("SELECT id FROM labels WHERE name = ?", (label,)).fetchone()[0]
        conn.execute(
            "INSERT INTO photo_tags(photo_id, label_id, state, updated_at) VALUES(?, ?, ?, 0) "
            "ON CONFLICT(photo_id, label_id) DO UPDATE SET state = excluded.state",
            (pid, label_id, state),
        )
    return int(label_id)


def _index(lib: Library, ids: list[int]) -> None:
    """The photos are embedded (status ok) and owed their text, as the pipeline leaves them."""
    lib.store_embeddings("m", ids, np.ones((len(ids), 2), np.float32))
    lib.add_steps(ids, [OCR_STEP, XMP_TEXT_STEP], "m", vector_free=[OCR_STEP, XMP_TEXT_STEP])


# --- names and folders --------------------------------------------------------------------


def test_a_file_is_found_by_its_name_its_folders_and_the_watched_folders_own_name(lib, tmp_path):
    root = tmp_path / "home" / "user" / "Pictures"
    astronaut, beach = _add(lib, root, "astronaut.png", "Trips 2019/Beach_Day.JPG")
    assert _found(lib, "astronaut") == [astronaut]
    assert _found(lib, "astro") == [astronaut]  # three letters or more: a prefix
    assert _found(lib, "png") == [astronaut]  # the extension
    assert _found(lib, "trips") == [beach] and _found(lib, "2019") == [beach]
    assert _found(lib, "beach day") == [beach]
    assert _found(lib, "pictures") == [astronaut, beach]
    # the path above the watched folder says nothing about the photos
    assert _found(lib, "home") == [] and _found(lib, "user") == []
    assert _found(lib, tmp_path.name) == []
    assert lib.word_sources([beach])[beach].name == "Pictures/Trips 2019/Beach_Day.JPG"


def test_a_rename_or_move_is_found_by_its_new_name_only(lib, tmp_path):
    root = tmp_path / "Pictures"
    (pid,) = _add(lib, root, "draft.png")
    folder = lib.folder(root)
    lib.move_photo(pid, folder.id, _facts(root / "moon" / "astronaut.png", "h"))
    assert _found(lib, "astronaut") == [pid] and _found(lib, "moon") == [pid]
    assert _found(lib, "draft") == []
    _index_check(lib)


def test_a_duplicate_merged_into_a_moved_photo_leaves_one_row_at_the_new_name(lib, tmp_path):
    root = tmp_path / "Pictures"
    old, dup = _add(lib, root, "old.png", "renamed.png")
    assert lib.merge_duplicate(old, dup)
    assert _found(lib, "renamed") == [old]
    assert _found(lib, "old") == [] and _words_row(lib, dup) is None
    _index_check(lib)


def test_a_relocated_folder_is_found_by_its_new_name(lib, tmp_path):
    (pid,) = _add(lib, tmp_path / "OldDisk" / "Holiday", "sea.png")
    folder = lib.folder(tmp_path / "OldDisk" / "Holiday")
    new_root = tmp_path / "NewDisk" / "Vacation"
    found = {
        pid: _facts(new_root / "sea.png", _digest(tmp_path / "OldDisk" / "Holiday" / "sea.png"))
    }
    assert lib.relocate_folder(folder.id, str(new_root), found).kept == [pid]
    assert _found(lib, "vacation") == [pid] and _found(lib, "holiday") == []
    assert _found(lib, "newdisk") == []  # above the watched folder
    _index_check(lib)


def test_a_folders_new_path_alone_gives_its_photos_the_new_name(lib, tmp_path):
    (pid,) = _add(lib, tmp_path / "Holiday", "sea.png")
    with lib.transaction() as conn:  # what no photo row's change would tell
        conn.execute("UPDATE folders SET path = ? WHERE id = ?", (str(tmp_path / "Trip"), 1))
    assert lib.word_sources([pid])[pid].name == "sea.png"  # its path is outside the root now
    assert _found(lib, "holiday") == []


def test_a_folder_absorbing_a_watched_subfolder_gives_its_photos_its_own_name(lib, tmp_path):
    (pid,) = _add(lib, tmp_path / "Photos" / "Cats", "tabby.png")
    assert _found(lib, "photos") == []  # above the watched folder Cats
    lib.add_folder(tmp_path / "Photos")
    assert _found(lib, "photos") == [pid] and _found(lib, "cats") == [pid]


def test_a_rescan_of_an_unchanged_file_does_not_rewrite_its_row(lib, tmp_path):
    root = tmp_path / "Pictures"
    (pid,) = _add(lib, root, "a.png")
    lib.save_ocr(pid, "hello", 0.9, [], "test")
    segments = "SELECT id, block FROM photo_words_data ORDER BY id"  # FTS5's index itself
    before = [tuple(r) for r in lib.query(segments)]
    _add(lib, root, "a.png")  # the scanner sets folder_id and the file's columns again
    assert [tuple(r) for r in lib.query(segments)] == before
    assert _found(lib, "hello") == [pid]


def test_a_photo_whose_name_is_not_utf8_is_written_found_and_moved(lib, tmp_path):
    folder = tmp_path / "pics"
    odd = os.fsdecode(os.path.join(os.fsencode(folder), b"caf\xe9 cr\xe8me.webp"))
    (pid,) = _add(lib, folder, os.path.basename(odd))
    assert lib.photo(pid).path == Path(odd)
    assert _found(lib, "cafe") == [pid] and _found(lib, "crème") == [pid]  # read as Latin-1
    other = os.fsdecode(os.path.join(os.fsencode(folder), b"\xff\xfe.webp"))
    lib.move_photo(pid, lib.folder(folder).id, _facts(other, "h"))
    assert _found(lib, "cafe") == [] and _found(lib, "pics") == [pid]
    _index_check(lib)


# --- the text of photos -------------------------------------------------------------------


def test_diacritics_and_case_fold_both_ways(lib, tmp_path):
    a, b = _add(lib, tmp_path / "P", "a.png", "b.png")
    lib.save_ocr(a, "Café de Flore\nZÜRICH Hauptbahnhof", 0.9, [], "test")
    lib.save_ocr(b, "cafe zurich naïve", 0.9, [], "test")
    assert _found(lib, "cafe") == [a, b] and _found(lib, "café") == [a, b]
    assert _found(lib, "zurich") == [a, b] and _found(lib, "Zürich") == [a, b]
    assert _found(lib, "naive") == [b] and _found(lib, "hauptbahn") == [a]


@pytest.mark.parametrize(
    ("text", "query", "hit"),
    [
        ("我们明天去北京大学参观", "北京", True),  # Chinese, two characters
        ("我们明天去北京大学参观", "大学", True),
        ("我们明天去北京大学参观", "北京大学", True),
        ("我们明天去北京大学参观", "京", True),  # one character: inside a word
        ("我们明天去北京大学参观", "上海", False),
        ("我们明天去北京大学参观", "京北", False),
        ("東京タワーに行きました", "東京", True),  # Japanese, kanji
        ("東京タワーに行きました", "タワー", True),  # katakana inside the run
        ("東京タワーに行きました", "行き", True),
        ("東京タワーに行きました", "京都", False),
        ("東京ﾀﾜｰの夜景", "タワー", True),  # half-width katakana
        ("서울에서 만나요", "서울", True),  # Korean: a word with its particle
        ("Tokyo 東京2020", "東京", True),
        ("Tokyo 東京2020", "2020", True),
    ],
)
def test_chinese_japanese_and_korean_words_of_two_characters_are_found(
    lib, tmp_path, text, query, hit
):
    (pid,) = _add(lib, tmp_path / "P", "a.png")
    lib.save_ocr(pid, text, 0.9, [], "test")
    assert _found(lib, query) == ([pid] if hit else [])


def test_reading_a_photo_again_replaces_its_old_text(lib, tmp_path):
    (pid,) = _add(lib, tmp_path / "P", "a.png")
    box = OcrBox("INVOICE 2041", 0.97, ((0.1, 0.1), (0.5, 0.1), (0.5, 0.2), (0.1, 0.2)))
    assert lib.save_ocr(pid, "INVOICE 2041", 0.97, [box], "engine 1")
    assert lib.save_ocr(pid, "receipt", 0.8, [], "engine 2")
    assert _found(lib, "invoice") == [] and _found(lib, "receipt") == [pid]
    text = lib.photo_text(pid)
    assert (text.ocr, text.ocr_engine, text.boxes, text.ocr_error) == (
        "receipt",
        "engine 2",
        (),
        None,
    )
    _index_check(lib)


def test_the_text_and_boxes_read_come_back_as_saved(lib, tmp_path):
    (pid,) = _add(lib, tmp_path / "P", "a.png")
    assert lib.photo_text(pid) is None
    boxes = [
        OcrBox("Zürich HB", 0.91, ((0.1, 0.2), (0.6, 0.2), (0.6, 0.3), (0.1, 0.3))),
        OcrBox("東京", 0.88, ((0.0, 0.5), (0.2, 0.5), (0.2, 0.6), (0.0, 0.6))),
    ]
    before = time.time()
    lib.save_ocr(pid, "Zürich HB\n東京", 0.895, boxes, "rapidocr test")
    text = lib.photo_text(pid)
    assert text.boxes == tuple(boxes) and text.ocr == "Zürich HB\n東京"
    assert text.ocr_confidence == 0.895 and text.ocr_at >= before


def test_a_failed_reading_keeps_its_reason_and_leaves_no_stale_text(lib, tmp_path):
    (pid,) = _add(lib, tmp_path / "P", "a.png")
    lib.set_xmp_text(pid, "Summit", None)
    lib.save_ocr(pid, "old words", 0.9, [], "test")
    lib.save_ocr_failure(pid, "timed out after 60 s", "test")
    text = lib.photo_text(pid)
    assert (text.ocr, text.ocr_at, text.boxes) == (None, None, ())
    assert text.ocr_error == "timed out after 60 s" and text.title == "Summit"
    assert _found(lib, "old") == [] and _found(lib, "summit") == [pid]  # its other words stay
    assert _found(lib, "a") == [pid]  # and its name


def test_text_of_a_photo_that_is_gone_is_not_written(lib, tmp_path):
    (pid,) = _add(lib, tmp_path / "P", "a.png")
    lib.delete_photos([pid])
    assert lib.save_ocr(pid, "late", 0.9, [], "test") is False
    assert lib.save_ocr_failure(pid, "late", "test") is False
    assert lib.set_xmp_text(pid, "late", "late") is False
    assert lib.photo_text(pid) is None and _found(lib, "late") == []


def test_titles_descriptions_and_keywords_are_words(lib, tmp_path):
    a, b = _add(lib, tmp_path / "P", "a.png", "b.png")
    lib.set_xmp_text(a, "Golden hour", "The harbour of Genoa at dusk")
    with lib.transaction() as conn:
        conn.executemany(
            "INSERT INTO keyword_sources VALUES(?, ?, ?, 'other', 0)",
            [(b, "subject", "Lighthouse"), (b, "hierarchy", "Places|Italy|Liguria")],
        )
    assert _found(lib, "golden") == [a] and _found(lib, "genoa") == [a]
    assert _found(lib, "lighthouse") == [b] and _found(lib, "liguria") == [b]
    assert lib.word_sources([a, b])[b].meta == "Lighthouse · Places › Italy › Liguria"
    assert lib.word_sources([a])[a].meta == "Golden hour · The harbour of Genoa at dusk"
    with lib.transaction() as conn:
        conn.execute("UPDATE keyword_sources SET keyword = 'Beacon' WHERE keyword = 'Lighthouse'")
        conn.execute("DELETE FROM keyword_sources WHERE field = 'hierarchy'")
    lib.set_xmp_text(a, None, None)
    assert _found(lib, "lighthouse") == [] and _found(lib, "beacon") == [b]
    assert _found(lib, "liguria") == [] and _found(lib, "genoa") == []
    _index_check(lib)


def test_confirmed_and_imported_tags_are_words_and_suggestions_are_not(lib, tmp_path):
    a, b, c = _add(lib, tmp_path / "P", "a.png", "b.png", "c.png")
    dog = _tag(lib, a, "dog", "confirmed")
    _tag(lib, b, "dog", "imported")
    _tag(lib, c, "dog", "suggested")
    _tag(lib, c, "cat", "candidate")
    assert _found(lib, "dog") == [a, b] and _found(lib, "cat") == []
    _tag(lib, c, "dog", "confirmed")  # the user confirms the suggestion
    _tag(lib, a, "dog", "rejected")  # and rejects another
    assert _found(lib, "dog") == [b, c]
    with lib.transaction() as conn:
        conn.execute("UPDATE labels SET name = 'puppy' WHERE id = ?", (dog,))
    assert _found(lib, "dog") == [] and _found(lib, "puppy") == [b, c]
    assert lib.word_sources([c])[c].tags == "puppy"
    with lib.transaction() as conn:
        conn.execute("DELETE FROM categories")  # labels and tags go with it
    assert _found(lib, "puppy") == []
    _index_check(lib)


# --- deletions and transactions -----------------------------------------------------------


def test_deleted_photos_and_removed_folders_leave_the_index(lib, tmp_path):
    a, b = _add(lib, tmp_path / "One", "apple.png", "banana.png")
    (c,) = _add(lib, tmp_path / "Two", "cherry.png")
    lib.save_ocr(a, "fruit", 0.9, [], "test")
    _tag(lib, b, "fruit", "confirmed")
    lib.save_ocr(c, "fruit", 0.9, [], "test")
    lib.delete_photos([a])
    assert _found(lib, "fruit") == [b, c] and _words_row(lib, a) is None
    lib.remove_folder(tmp_path / "Two")
    assert _found(lib, "fruit") == [b] and _words_row(lib, c) is None
    lib.mark_missing([b])
    with lib.transaction() as conn:
        conn.execute("UPDATE photos SET updated_at = 0 WHERE id = ?", (b,))
    assert lib.purge_missing(1.0) == 1
    assert lib.query("SELECT count(*) FROM photo_words")[0][0] == 0
    _index_check(lib)


def test_each_commit_writes_its_changes_to_the_index_itself(lib, tmp_path):
    (pid,) = _add(lib, tmp_path / "P", "a.png")
    lib.save_ocr(pid, "東京 Café", 0.9, [], "test")
    # read as stored, without a search (which would index what is queued first)
    row = _words_row(lib, pid)
    assert [column.split() for column in row] == [["P/a.png"], ["東京", "京", "Café"], [], []]
    assert lib.query("SELECT count(*) FROM photo_words_due")[0][0] == 0


def test_a_rolled_back_transaction_leaves_the_index_as_it_was(lib, tmp_path):
    root = tmp_path / "P"
    (pid,) = _add(lib, root, "before.png")
    lib.save_ocr(pid, "kept", 0.9, [], "test")
    snapshot = _words_row(lib, pid)
    with pytest.raises(RuntimeError), lib.transaction():
        lib.move_photo(pid, lib.folder(root).id, _facts(root / "after.png", "h"))
        lib.save_ocr(pid, "replaced", 0.9, [], "test")  # nested: joins the outer transaction
        _add(lib, root, "new.png")
        assert _found(lib, "after") == [pid]  # visible inside it
        raise RuntimeError("the write fails half way")
    assert _words_row(lib, pid) == snapshot
    assert _found(lib, "before") == [pid] and _found(lib, "kept") == [pid]
    assert _found(lib, "after") == [] and _found(lib, "replaced") == [] and _found(lib, "new") == []
    _index_check(lib)


# --- queries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"unbalanced',
        'a"b',
        "NEAR(astronaut moon)",
        "astronaut NEAR moon",
        "*",
        "astro*",
        "AND",
        "OR",
        "NOT",
        "astronaut OR moon",
        "astronaut AND NOT moon",
        "(",
        ")",
        "(astronaut",
        "-",
        "+",
        "^astronaut",
        "name:astronaut",
        "{name ocr}: moon",
        "'; DROP TABLE photos; --",
        "\\",
        "\u0301",
        "",
        "   ",
    ],
)
def test_hostile_query_text_never_raises_an_sql_error(lib, tmp_path, query):
    (pid,) = _add(lib, tmp_path / "P", "astronaut.png")
    lib.save_ocr(pid, "moon landing NEAR the base", 0.9, [], "test")
    hits = lib.match_words([query], [query])
    assert hits.ids.dtype == np.int64 and hits.scores.dtype == np.float32
    assert lib.match_words([query, "astronaut"]).ids.tolist() in ([], [pid])
    assert lib.match_words(["astronaut"], [query]).ids.tolist() in ([], [pid])
    assert lib.photo(pid) is not None


def test_every_word_is_required_and_an_excluded_phrase_drops_a_photo(lib, tmp_path):
    a, b = _add(lib, tmp_path / "P", "a.png", "b.png")
    lib.save_ocr(a, "red car parked", 0.9, [], "test")
    lib.save_ocr(b, "red bicycle", 0.9, [], "test")
    assert _found(lib, "red") == [a, b]
    assert _found(lib, "red car") == [a]
    assert _found(lib, "red", "parked") == [a]  # two phrases
    assert _found(lib, "red", exclude=("car",)) == [b]
    assert _found(lib, "red", exclude=("car parked",)) == [b]
    assert _found(lib, "red", exclude=("car bicycle",)) == [a, b]  # no photo has both
    assert lib.match_words([], ["car"]).ids.tolist() == []  # nothing to match


def test_a_name_hit_ranks_above_the_same_word_in_ocr_text_and_limit_keeps_the_best(lib, tmp_path):
    named, read = _add(lib, tmp_path / "P", "invoice.png", "scan.png")
    lib.save_ocr(read, "invoice number 2041 total due", 0.9, [], "test")
    hits = lib.match_words(["invoice"])
    assert hits.ids.tolist() == [named, read]
    assert hits.scores[0] > hits.scores[1] > 0
    assert lib.match_words(["invoice"], limit=1).ids.tolist() == [named]


def test_word_sources_give_each_fields_readable_text_and_skip_photos_gone(lib, tmp_path):
    (pid,) = _add(lib, tmp_path / "Pictures", "Trips/astronaut.png")
    lib.save_ocr(pid, "東京タワー", 0.9, [], "test")
    _tag(lib, pid, "space", "confirmed")
    _tag(lib, pid, "rocket", "imported")
    sources = lib.word_sources([pid, pid + 100])
    assert list(sources) == [pid]
    got = sources[pid]
    assert (got.name, got.ocr, got.meta, got.tags) == (
        "Pictures/Trips/astronaut.png",
        "東京タワー",  # as read, not as indexed
        "",
        "rocket, space",
    )


# --- the OCR pass -------------------------------------------------------------------------


def test_pending_ocr_honours_the_folder_switch_status_and_attempts(lib, tmp_path):
    a, b, c = _add(lib, tmp_path / "On", "a.png", "b.png", "c.png")
    (d,) = _add(lib, tmp_path / "Off", "d.png")
    (e,) = _add(lib, tmp_path / "On", "e.png")  # not embedded yet: pending
    _index(lib, [a, b, c, d])
    lib.add_steps([e], [OCR_STEP], "m", vector_free=[OCR_STEP])
    off = lib.folder(tmp_path / "Off")
    lib.set_folder_ocr(off.id, False)
    assert lib.folder(off.id).ocr is False and lib.folder(tmp_path / "On").ocr is True
    assert lib.pending_ocr(10) == [a, b, c]
    assert lib.pending_ocr(1) == [a] and lib.pending_ocr(10, after_id=a) == [b, c]
    for _ in range(3):
        lib.fail_step([b], OCR_STEP, "engine crashed")
    assert lib.pending_ocr(10) == [a, c]  # tried three times
    assert lib.pending_ocr(10, max_attempts=4) == [a, b, c]
    lib.mark_missing([c])
    assert lib.pending_ocr(10) == [a]
    lib.set_folder_ocr(off.id, True)
    assert lib.pending_ocr(10) == [a, d]


def test_count_ocr_tells_waiting_failed_done_and_switched_off(lib, tmp_path):
    a, b, c = _add(lib, tmp_path / "On", "a.png", "b.png", "c.png")
    (d,) = _add(lib, tmp_path / "Off", "d.png")
    _index(lib, [a, b, c, d])
    lib.set_folder_ocr(lib.folder(tmp_path / "Off").id, False)
    assert lib.count_ocr() == OcrCount(waiting=3, failed=0, done=0, off=1, readable=3)
    with lib.transaction():
        lib.save_ocr(a, "text", 0.9, [], "test")
        lib.finish_step([a], OCR_STEP)
    with lib.transaction():
        lib.save_ocr_failure(b, "could not decode", "test")
        lib.fail_step([b], OCR_STEP, "could not decode")
    assert lib.count_ocr() == OcrCount(waiting=2, failed=1, done=1, off=1, readable=2)
    for _ in range(2):  # b's third failure: the pass gives it up, with its reason kept
        lib.fail_step([b], OCR_STEP, "could not decode")
    assert lib.count_ocr(max_attempts=3) == OcrCount(2, 1, 1, 1, readable=1)


def test_switching_ocr_of_a_folder_that_is_not_there_says_so(lib):
    with pytest.raises(FolderError, match="not a folder of this library") as err:
        lib.set_folder_ocr(999, False)
    assert err.value.hint


def test_another_programs_write_succeeds_and_is_indexed_by_the_next_search(lib, tmp_path):
    (kept, gone) = _add(lib, tmp_path / "P", "kept.png", "gone.png")
    other = sqlite3.connect(lib.path, isolation_level=None)  # no ClipDesk functions on it
    other.execute("PRAGMA foreign_keys=ON")
    other.execute("UPDATE photos SET path = path || '.renamed.png' WHERE id = ?", (kept,))
    other.execute("DELETE FROM photos WHERE id = ?", (gone,))
    other.close()
    assert _found(lib, "renamed") == [kept] and _found(lib, "gone") == []
    assert lib.query("SELECT count(*) FROM photo_words_due")[0][0] == 0
    _index_check(lib)


def test_a_search_while_another_program_holds_the_lock_answers_from_the_index_as_it_is(tmp_path):
    with Library(tmp_path / "lib.sqlite3", timeout=0.2) as lib:
        (pid,) = _add(lib, tmp_path / "P", "before.png")
        other = sqlite3.connect(lib.path, isolation_level=None)
        other.execute(
            "UPDATE photos SET path = replace(path, 'before', 'after') WHERE id = ?", (pid,)
        )
        other.execute("BEGIN IMMEDIATE")  # queued the photo, and now holds the write lock
        try:
            assert _found(lib, "before") == [pid]  # its row as it was, not a "locked" error
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert _found(lib, "after") == [pid] and _found(lib, "before") == []


def test_a_search_inside_a_transaction_sees_its_changes_and_a_snapshot_does_not_write(
    lib, tmp_path
):
    (pid,) = _add(lib, tmp_path / "P", "a.png")
    with lib.transaction():
        lib.save_ocr(pid, "fresh", 0.9, [], "test")
        assert _found(lib, "fresh") == [pid]
    with lib.reading():
        assert _found(lib, "fresh") == [pid]


def test_the_sql_functions_turn_anything_into_words_without_raising(monkeypatch):
    assert words._sql_words(None) == "" and words._sql_words(b"caf\xe9 ok").endswith("ok")
    assert words._sql_words(3) == "3"
    assert words._sql_path_words(None, None) == ""
    assert words._sql_path_words(b"/r/\xff.png", b"/r") == "r/\xff.png"  # read as Latin-1
    assert words._sql_path_words(b"/r/a.png", 7) == "a.png"  # a damaged root: the name alone

    def broken(*args):
        raise ValueError("a bug in the word rules")

    monkeypatch.setattr(words, "index_text", broken)
    assert words._sql_words("x") == "" and words._sql_path_words(b"/r/a.png", b"/r") == ""
