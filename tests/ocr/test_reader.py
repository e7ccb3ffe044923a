"""The text reader on rendered photos: words come back, diacritics survive, the filters drop
small and unsure text, the deadline stops a long read, and the thread count holds."""

from __future__ import annotations

import os

import pytest
from PIL import Image, ImageDraw

from clipdesk.ocr import OcrError, TextReader
from clipdesk.ocr import engine as engine_module
from clipdesk.ocr import reader as reader_module
from tests.ocr.images import font, photo_with_sign, scribbles, sign, words_of


def test_words_on_a_rotated_jpeg_sign_are_read_back(reader, tmp_path):
    path = tmp_path / "sign.jpg"
    photo_with_sign(["Harbour Bakery", "Open Sunday Morning"], angle=4).save(path, quality=85)
    result = reader.read(path)
    assert {"harbour", "bakery", "open", "sunday", "morning"} <= words_of(result.text)
    assert result.engine.startswith("rapidocr 3.") and "PP-OCR" in result.engine
    assert (result.width, result.height) == (1600, 1000)
    assert result.confidence is not None and 0.7 <= result.confidence <= 1.0
    assert 0 < result.seconds < 30
    first, second = result.lines[0], result.lines[-1]
    assert "Harbour" in first.text and "Sunday" in second.text  # reading order
    for line in result.lines:
        assert len(line.points) == 4
        assert all(0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 for x, y in line.points)
    # the box is where the sign was drawn: across the middle, in the upper half
    xs = [x for x, _ in first.points]
    ys = [y for _, y in first.points]
    assert min(xs) > 0.1 and max(xs) < 0.9 and 0.15 < min(ys) < max(ys) < 0.5


def test_a_photo_stored_sideways_is_read_upright_from_its_exif_orientation(reader, tmp_path):
    upright = photo_with_sign(["Garden Museum"], size=(1200, 800), text_size=80)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to show": the pixels are stored turned left
    path = tmp_path / "sideways.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(path, quality=85, exif=exif)
    result = reader.read(path)
    assert (result.width, result.height) == (1200, 800)
    assert {"garden", "museum"} <= words_of(result.text)
    xs = [x for x, _ in result.lines[0].points]
    assert max(xs) - min(xs) > 0.3  # a wide box: the line runs across the upright photo


def test_latin_diacritics_are_read_as_written(reader):
    image = Image.new("RGB", (1400, 500), "white")
    board = sign(["Crème brûlée à Noël", "Ångström Łódź Düsseldorf"], 56)
    image.paste(board, (40, 80))
    text = reader.read_image(image).text
    for word in ("Crème", "brûlée", "Noël", "Ångström", "Łódź", "Düsseldorf"):
        assert word in text, text


def test_a_photo_larger_than_max_side_is_scaled_down_before_reading(reader):
    big = photo_with_sign(["Station Platform"], size=(4000, 3000), text_size=160)
    result = reader.read_image(big)
    assert (result.width, result.height) == (2000, 1500)
    assert {"station", "platform"} <= words_of(result.text)


def test_text_smaller_than_min_text_height_is_dropped(permissive):
    image = Image.new("RGB", (1200, 900), "white")
    draw = ImageDraw.Draw(image)
    draw.text((60, 80), "Market Street", font=font(90), fill="black")
    draw.text((60, 600), "tiny footnote printed here", font=font(20), fill="black")
    everything = words_of(permissive.read_image(image).text)
    assert {"market", "street", "tiny", "footnote"} <= everything  # both are readable
    # the small line's box is ~5% of the height, the big one's over 10%
    strict = TextReader(threads=1, min_text_height=0.08)
    try:
        kept = words_of(strict.read_image(image).text)
    finally:
        strict.close()
    assert {"market", "street"} <= kept and not kept & {"tiny", "footnote", "printed"}


def test_unsure_lines_are_dropped_and_real_words_kept(reader, permissive):
    image = Image.new("RGB", (1000, 700), "white")
    draw = ImageDraw.Draw(image)
    draw.text((60, 40), "Ticket Office", font=font(80), fill="black")
    scribbles(draw, (40, 260, 900, 680), seed=1)
    everything = permissive.read_image(image).lines
    unsure = [line for line in everything if line.confidence < reader.min_confidence]
    assert unsure, [(line.text, line.confidence) for line in everything]  # the scribbles
    kept = reader.read_image(image)
    assert [line.text for line in kept.lines] == ["Ticket Office"]
    assert kept.confidence is not None and kept.confidence > 0.9


def test_a_photo_with_too_many_lines_has_only_its_tallest_read(reader, monkeypatch):
    image = Image.new("RGB", (1400, 1000), "white")
    draw = ImageDraw.Draw(image)
    for i, (word, size) in enumerate(
        [("Harbour", 40), ("Bakery", 80), ("Station", 40), ("Museum", 90), ("Garden", 70)]
    ):
        draw.text((60, 40 + i * 190), word, font=font(size), fill="black")
    monkeypatch.setattr(reader_module, "MAX_LINES", 3)
    assert [line.text for line in reader.read_image(image).lines] == ["Bakery", "Museum", "Garden"]


def test_a_blank_photo_has_no_text_and_no_confidence(reader):
    result = reader.read_image(Image.new("RGB", (800, 600), (200, 210, 220)))
    assert result.lines == () and result.text == "" and result.confidence is None


def test_a_read_past_its_deadline_stops_between_chunks_with_a_clear_error(reader, monkeypatch):
    image = Image.new("RGB", (1200, 1200), "white")
    image.paste(sign([f"Platform {n} North Station" for n in range(18)], 40), (40, 40))
    ticks: list[float] = []

    def slow_clock() -> float:  # every look at the clock finds 15 s gone
        ticks.append(len(ticks) * 15.0)
        return ticks[-1]

    monkeypatch.setattr(reader_module, "_now", slow_clock)
    monkeypatch.setattr(engine_module, "CHUNK_LINES", 6)  # three passes for the 18 lines
    with pytest.raises(OcrError) as caught:
        reader.read_image(image)
    error = caught.value
    assert error.kind == "timeout"
    assert "longer than 60 s" in error.reason and "during recognition" in error.reason
    # Started at 0, decoded at 15, detected at 30, chunks of 6 lines begun at 45 and 60 s; the
    # look at 75 s stops it: the last of the 18 lines' 3 chunks is never read.
    assert ticks[-1] == 75.0


def test_a_tiny_timeout_fails_the_read_at_once(tmp_path):
    path = tmp_path / "sign.jpg"
    photo_with_sign(["Harbour Bakery"]).save(path, quality=85)
    hurried = TextReader(threads=1, timeout_s=0.001)
    try:
        with pytest.raises(OcrError) as caught:
            hurried.read(path)
    finally:
        hurried.close()
    assert caught.value.kind == "timeout" and "0.001 s" in caught.value.reason


def test_the_thread_count_is_honoured_and_nothing_is_printed(reader, capfd):
    one = TextReader(threads=1)  # rapidocr logs as it loads models, onnxruntime warns
    try:
        assert one.intra_op_threads() == (1, 1, 1)
        text = one.read_image(photo_with_sign(["Harbour Bakery"])).text
        assert {"harbour", "bakery"} <= words_of(text)
    finally:
        one.close()
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # the CLI's JSON goes to stdout: nothing else may
    assert reader.intra_op_threads() == (min(2, os.cpu_count() or 1),) * 3
    assert one.intra_op_threads() == ()  # closed


def test_bad_settings_are_refused():
    for kwargs in ({"threads": 0}, {"min_confidence": 1.5}, {"timeout_s": 0}, {"max_side": 8}):
        with pytest.raises(ValueError):
            TextReader(**kwargs)
