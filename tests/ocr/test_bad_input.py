"""Photos the reader cannot read fail with a reason to record; a huge one is read small, in
bounded memory; a missing or damaged engine says so before any photo is tried."""

from __future__ import annotations

import random
import shutil

import pytest

from clipdesk.common.errors import ClipDeskError
from clipdesk.ocr import OcrError, OcrUnavailable, TextReader, available, engine
from tests.ocr.images import huge_png, photo_with_sign, words_of
from tests.support.peak_memory import measure


def test_a_corrupt_file_fails_with_the_decoders_reason(reader, tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + random.Random(7).randbytes(4000))
    with pytest.raises(OcrError) as caught:
        reader.read(path)
    assert isinstance(caught.value, ClipDeskError)
    assert caught.value.kind == "decode"
    assert "damaged" in caught.value.reason


def test_a_truncated_jpeg_fails_as_truncated(reader, tmp_path):
    whole = tmp_path / "whole.jpg"
    photo_with_sign(["Harbour Bakery"]).save(whole, quality=85)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    with pytest.raises(OcrError) as caught:
        reader.read(cut)
    assert caught.value.kind == "decode" and "truncated" in caught.value.reason


def test_a_file_that_is_gone_fails_as_not_found(reader, tmp_path):
    with pytest.raises(OcrError, match="file not found"):
        reader.read(tmp_path / "gone.jpg")


def test_a_192_megapixel_png_is_read_at_max_side_in_bounded_memory(tmp_path):
    path = huge_png(tmp_path / "huge.png", (16000, 12000), "Harbour Station", 900)
    assert path.stat().st_size < 2_000_000
    setup = (
        "from pathlib import Path\n"
        "from clipdesk.ocr import TextReader\n"
        "reader = TextReader(threads=2)\n"
    )
    work = f"out = reader.read(Path({str(path)!r}))\nresult = [out.width, out.height, out.text]\n"
    got = measure(setup, work, timeout=120)
    width, height, text = got.result
    assert (width, height) == (2000, 1500)
    assert {"harbour", "station"} <= words_of(text)
    # Pillow holds the 192 MP at one byte a pixel (192 MB) while it is box-reduced; an RGB
    # copy at full size alone would be 576 MB
    assert got.growth_mb < 400, got


def test_missing_models_make_the_reader_unavailable_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "_models_dir", lambda: tmp_path)
    reason = available()
    assert reason is not None and engine.DETECTION_MODEL in reason
    with pytest.raises(OcrUnavailable) as caught:
        TextReader(threads=1)
    assert caught.value.reason == reason and caught.value.kind == "unavailable"
    assert caught.value.hint and "Reinstall ClipDesk" in caught.value.hint


def test_a_damaged_model_makes_the_reader_unavailable(tmp_path, monkeypatch):
    models = engine._models_dir()
    assert models is not None
    for name in (engine.RECOGNITION_MODEL, engine.CLASSIFIER_MODEL):
        (tmp_path / name).symlink_to(models / name)
    shutil.copyfile(models / engine.DETECTION_MODEL, tmp_path / engine.DETECTION_MODEL)
    with open(tmp_path / engine.DETECTION_MODEL, "r+b") as fh:
        fh.truncate(4096)  # a download cut short
    monkeypatch.setattr(engine, "_models_dir", lambda: tmp_path)
    assert available() is None  # the files are there: loading finds the damage
    with pytest.raises(OcrUnavailable, match="cannot be loaded"):
        TextReader(threads=1)


def test_the_engine_is_available_here():
    assert available() is None
