"""The text-reading pass (issue #17, items 1 and 5): after an index run every photo is owed its
OCR, which the pass reads with the real engine into the full-text index; a crash, a cancel, a
switch or a bad photo leaves the work owed and said, never lost, never blocking the others."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from clipdesk.library.store import Library
from clipdesk.library.words import OCR_STEP
from clipdesk.model.testing import tiny_random_model
from clipdesk.ocr import OcrError, OcrResult
from clipdesk.services import ocr as ocr_service
from clipdesk.services import ocr_pass
from clipdesk.services.app import ClipDeskServices
from tests.support.text_photos import StemReader, indexed_services

pytestmark = pytest.mark.usefixtures("reading_text")

NICE = ocr_service.NICE

WORDS = ["BAKERY OPEN", "INVOICE TOTAL", "HARBOUR BRIDGE"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tiny_random_model(tmp_path_factory.mktemp("models"))


def ids_by_name(app: ClipDeskServices) -> dict[str, int]:
    return {f"{p.path.parent.name}/{p.path.name}": p.id for p in app.library.photos()}


def read_texts(app: ClipDeskServices) -> dict[str, object]:
    return {p.path.name: app.ocr.text_of(p.id) for p in app.library.photos()}


def niced_threads() -> set[int]:
    """Ids of this process's threads whose nice value is at least the pass's."""
    found = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        stat = (task / "stat").read_text()
        nice = int(stat.rsplit(")", 1)[1].split()[16])  # field 19 of proc(5)
        if nice >= ocr_service.NICE:
            found.add(int(task.name))
    return found


def test_a_pass_reads_the_words_on_indexed_photos_into_the_word_index(tmp_path, model_dir):
    with indexed_services(tmp_path, model_dir, {"cards": WORDS}) as app:
        assert app.status_report.report().waiting == {}  # the index run leaves OCR to its pass
        before = app.ocr.backlog()
        assert (before.waiting, before.done, before.seconds_per_photo) == (3, 0, None)
        assert before.describe() == "reading text: 3 photos waiting, ~1 s each (about 3 s)"
        seen = []
        report = app.ocr.run(progress=seen.append)  # its own reader, made on its own thread
        ids = ids_by_name(app)
        for i, words in enumerate(WORDS):
            for word in words.lower().split():
                assert ids[f"cards/card-{i}.jpg"] in app.library.match_words([word]).ids.tolist()
        text = app.ocr.text_of(ids["cards/card-1.jpg"])
        assert text is not None and text.ocr == "INVOICE TOTAL" and text.boxes
        assert 0.5 <= (text.ocr_confidence or 0) <= 1 and text.ocr_engine.startswith("rapidocr")
        assert (report.read, report.failed, report.cancelled, report.problem) == (3, 0, False, None)
        assert seen[-1].done == seen[-1].total == 3 and seen[-1].rate > 0
        assert seen[-1].message == ocr_service.MESSAGE
        after = app.ocr.backlog()
        assert (after.waiting, after.done) == (0, 3) and after.seconds_per_photo
        assert after.describe() == ""
        if sys.platform.startswith("linux") and os.getpriority(os.PRIO_PROCESS, 0) < NICE:
            # the reader was made on the lowered thread: onnxruntime's threads took its nice
            # value with them, and the caller's thread kept its own
            assert niced_threads()
            assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < NICE


def test_a_crash_mid_pass_keeps_what_was_read_and_the_next_pass_reads_the_rest(tmp_path, model_dir):
    app = indexed_services(tmp_path, model_dir, {"cards": ["one", "two", "three", "four"]})
    app.ocr.use_reader(StemReader(crash_at=3))  # the process dies on the third photo
    with pytest.raises(KeyboardInterrupt):
        app.ocr.run()
    app.close()

    with ClipDeskServices(tmp_path / "lib.sqlite3", model=str(model_dir), device="cpu") as again:
        assert again.ocr.backlog().waiting == 2  # the store says what is left
        read = [n for n, t in read_texts(again).items() if t is not None and t.ocr_at]
        assert len(read) == 2  # the two read before the crash, each with its row finished
        reader = StemReader()
        again.ocr.use_reader(reader)
        report = again.ocr.run()
        assert report.read == 2 and len(reader.read_paths) == 2  # the first two not read again
        assert again.ocr.backlog().waiting == 0
        assert again.library.match_words(["card"]).ids.size == 4  # "card-0".."card-3"


def test_a_photo_that_fails_records_why_and_holds_back_no_other(tmp_path, model_dir):
    with indexed_services(tmp_path, model_dir, {"cards": ["a", "b", "c", "d"]}) as app:
        timeout = OcrError("reading the text took longer than 60 s", kind="timeout")
        reader = StemReader(fail={"card-1.jpg": timeout, "card-2.jpg": ValueError("bug")})
        app.ocr.use_reader(reader)
        report = app.ocr.run()
        assert (report.read, report.failed) == (2, 2)
        ids = ids_by_name(app)
        slow = app.ocr.text_of(ids["cards/card-1.jpg"])
        assert slow is not None and slow.ocr is None and "longer than 60 s" in slow.ocr_error
        buggy = app.ocr.text_of(ids["cards/card-2.jpg"])
        assert buggy is not None and buggy.ocr_error == "unexpected error: ValueError: bug"
        backlog = app.ocr.backlog()
        assert (backlog.waiting, backlog.failed, backlog.done) == (2, 2, 2)
        assert "2 photos could not be read so far" in backlog.describe()
        # tried again by later passes, MAX_ATTEMPTS times in all, then left alone
        for _ in range(ocr_service.MAX_ATTEMPTS - 1):
            assert app.ocr.run().failed == 2
        assert app.ocr.run().failed == 0 and app.ocr.backlog().waiting == 0
        assert len(reader.read_paths) == 4 + 2 * (ocr_service.MAX_ATTEMPTS - 1)
        assert app.ocr.backlog().describe().startswith("reading text: 2 photos could not be read")
        # still found by their other words (the file name), and searchable by CLIP
        assert ids["cards/card-1.jpg"] in app.library.match_words(["card"]).ids.tolist()
        assert len(app.search("a photo", k=10)) == 4


def test_a_folder_switched_off_keeps_its_photos_owed_until_it_is_on_again(tmp_path, model_dir):
    with indexed_services(tmp_path, model_dir, {"kept": ["x", "y"], "skipped": ["z"]}) as app:
        app.ocr.set_folder(tmp_path / "skipped", False)
        reader = StemReader()
        app.ocr.use_reader(reader)
        assert app.ocr.run().read == 2
        assert {p.parent.name for p in reader.read_paths} == {"kept"}
        backlog = app.ocr.backlog()
        assert (backlog.waiting, backlog.off) == (0, 1)
        assert backlog.describe() == "reading text: 1 photo in folders with text reading off"
        assert [f.ocr for f in app.library.folders()] == [True, False]  # by path
        record = app.ocr.set_folder(str(tmp_path / "skipped"), True)
        assert record.folder.ocr
        assert app.ocr.run().read == 1 and app.ocr.backlog().off == 0


def test_the_global_switch_is_kept_in_the_library_and_off_reads_nothing(tmp_path, model_dir):
    library = tmp_path / "lib.sqlite3"
    with indexed_services(tmp_path, model_dir, {"cards": ["p", "q"]}) as app:
        assert app.ocr.enabled
        app.ocr.set_enabled(False)
    with ClipDeskServices(library, model=str(model_dir), device="cpu") as again:
        assert not again.ocr.enabled
        reader = StemReader()
        again.ocr.use_reader(reader)
        report = again.ocr.run()
        assert report.read == 0 and reader.read_paths == []
        assert again.ocr.backlog().describe() == "reading text is off (2 photos waiting)"
        again.ocr.set_enabled(True)
        assert again.ocr.run().read == 2


def test_the_global_switch_turned_off_by_another_program_stops_a_pass_by_its_next_batch(
    tmp_path, model_dir, monkeypatch
):
    monkeypatch.setattr(ocr_pass, "BATCH", 1)
    with indexed_services(tmp_path, model_dir, {"cards": ["p", "q", "r"]}) as app:

        class SwitchedOff(StemReader):
            def read(self, path: Path) -> OcrResult:
                if not self.read_paths:  # `clipdesk-cli ocr off` while the app reads
                    with Library(app.library.path) as other:
                        other.set_setting(ocr_service.ENABLED_KEY, False)
                return super().read(path)

        app.ocr.use_reader(SwitchedOff())
        report = app.ocr.run()
        assert (report.read, report.problem) == (1, None)
        assert report.backlog.describe() == "reading text is off (2 photos waiting)"


def test_a_cancel_returns_at_once_while_a_photo_is_being_read_and_stores_nothing_of_it(
    tmp_path, model_dir
):
    release, reading = threading.Event(), threading.Event()

    class SlowReader(StemReader):
        def read(self, path: Path) -> OcrResult:
            reading.set()
            release.wait(30)  # a photo that takes long: the quit must not wait for it
            return super().read(path)

    from clipdesk.common.progress import CancelToken

    with indexed_services(tmp_path, model_dir, {"cards": ["slow", "later"]}) as app:
        app.ocr.use_reader(SlowReader())
        token = CancelToken()
        threading.Thread(target=lambda: reading.wait(30) and token.cancel()).start()
        began = time.monotonic()
        report = app.ocr.run(cancel=token)
        took = time.monotonic() - began
        assert report.cancelled and report.read == 0 and took < 5
        assert not app.ocr.wait_idle(0.05)  # still reading it, on the pass's thread
        release.set()
        assert app.ocr.wait_idle(10)
        assert app.ocr.backlog().waiting == 2  # nothing stored after the cancel: both owed


def test_a_re_embedding_keeps_the_text_already_read(tmp_path, model_dir):
    other = tiny_random_model(tmp_path / "models", seed=1, name="tiny-b")
    with indexed_services(tmp_path, model_dir, {"cards": ["m", "n"]}) as app:
        first = StemReader()
        app.ocr.use_reader(first)
        assert app.ocr.run().read == 2
        app.set_model(str(other))
        app.index()  # every photo embedded again, and owed its steps again
        assert not app.reembedding
        assert app.library.count_steps().get(OCR_STEP) is not None
        again = StemReader()
        app.ocr.use_reader(again)
        report = app.ocr.run()
        assert (report.kept, report.read, again.read_paths) == (2, 0, [])
        assert app.ocr.backlog().waiting == 0


def test_the_pass_reads_on_a_lowered_thread_of_its_own(tmp_path, model_dir):
    seen: list[tuple[str, int]] = []

    class Spy(StemReader):
        def read(self, path: Path) -> OcrResult:
            tid = threading.get_native_id()
            seen.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, tid)))
            return super().read(path)

    if not sys.platform.startswith("linux"):
        pytest.skip("the priority is lowered on Linux only")
    with indexed_services(tmp_path, model_dir, {"cards": ["lo"]}) as app:
        app.ocr.use_reader(Spy())
        app.ocr.run()
    assert seen == [("clipdesk-ocr", max(ocr_service.NICE, os.getpriority(os.PRIO_PROCESS, 0)))]


def test_a_photo_changed_while_it_was_read_keeps_no_stale_text(tmp_path, model_dir):
    from tests.support.text_photos import text_photo

    with indexed_services(tmp_path, model_dir, {"cards": ["old words"]}) as app:
        path = tmp_path / "cards" / "card-0.jpg"

        class Changing(StemReader):
            def read(self, photo_path: Path) -> OcrResult:
                result = super().read(photo_path)
                if len(self.read_paths) == 1:  # the file is replaced while it is being read
                    text_photo(path, "new words, a longer line")
                    app.folders.scan()
                return result

        reader = Changing()
        app.ocr.use_reader(reader)
        assert app.ocr.run().read == 0  # read, but not stored: it is not that file any more
        (photo,) = app.library.photos()
        assert app.ocr.text_of(photo.id) is None or app.ocr.text_of(photo.id).ocr_at is None
        app.index()  # embedded again; its reading is still owed
        assert app.ocr.run().read == 1 and len(reader.read_paths) == 2
        assert app.ocr.text_of(photo.id).ocr_at is not None
