"""Small photos with words on them, for the tests of the OCR pass and its faces: rendered with a
real font (DejaVu Sans from Debian's ``fonts-dejavu-core`` when present, else Pillow's own), big
and dark on a light ground, so that the real reader reads them in a fraction of a second; a
library with folders of them, indexed with a tiny model so that each photo is owed its OCR; and
a stand-in reader for the tests about the pass rather than the reading."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from clipdesk.ocr import OcrLine, OcrResult
from clipdesk.services.app import ClipDeskServices

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if DEJAVU.exists():
        return ImageFont.truetype(str(DEJAVU), size)
    return ImageFont.load_default(size=size)


def text_photo(path: Path, words: str, size: tuple[int, int] = (480, 160)) -> Path:
    """A JPEG (or PNG, by suffix) of ``words`` written across a light, faintly striped card."""
    image = Image.new("RGB", size, (236, 232, 220))
    draw = ImageDraw.Draw(image)
    for y in range(0, size[1], 12):  # some texture, so it is not a blank page
        draw.line([(0, y), (size[0], y)], fill=(226, 222, 210))
    draw.text((24, size[1] // 2), words, font=font(size[1] // 4), fill=(25, 25, 30), anchor="lm")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=90) if path.suffix.lower() in {".jpg", ".jpeg"} else image.save(path)
    return path


def text_folder(root: Path, words: list[str], suffix: str = ".jpg") -> list[Path]:
    """One photo per entry of ``words``, named ``card-<i>``."""
    return [text_photo(root / f"card-{i}{suffix}", w) for i, w in enumerate(words)]


def indexed_services(
    tmp_path: Path, model_dir: Path, folders: dict[str, list[str]]
) -> ClipDeskServices:
    """Services over a new library (``tmp_path/lib.sqlite3``) watching one folder of word cards
    per entry of ``folders``, indexed: each photo embedded and owed its OCR."""
    app = ClipDeskServices(tmp_path / "lib.sqlite3", model=str(model_dir), device="cpu")
    for name, words in folders.items():
        text_folder(tmp_path / name, words)
        app.folders.add(tmp_path / name)
    app.index()
    return app


class StemReader:
    """Stands in for the OCR engine where a test is about the pass, not the reading: "reads"
    each photo's file stem; waits for ``gate`` first when one is given, fails with
    ``fail[name]`` where told, raises ``crash`` on the ``crash_at``-th photo (1-based)."""

    engine = "stems 1"

    def __init__(
        self,
        fail: dict[str, BaseException] | None = None,
        crash_at: int | None = None,
        crash: type[BaseException] = KeyboardInterrupt,
        gate: threading.Event | None = None,
    ) -> None:
        self.fail = fail or {}
        self.crash_at, self.crash = crash_at, crash
        self.gate = gate
        self.reading = threading.Event()  # set as the first photo's reading starts
        self.read_paths: list[Path] = []

    def read(self, path: Path) -> OcrResult:
        self.reading.set()
        if self.gate is not None:
            self.gate.wait(30)
        self.read_paths.append(path)
        if self.crash_at is not None and len(self.read_paths) == self.crash_at:
            raise self.crash()
        if path.name in self.fail:
            raise self.fail[path.name]
        box = ((0.1, 0.1), (0.9, 0.1), (0.9, 0.3), (0.1, 0.3))
        return OcrResult((OcrLine(path.stem, 0.9, box),), self.engine, 0.0, 100, 100)

    def close(self) -> None:
        pass


def made_by_services(monkeypatch: pytest.MonkeyPatch, reader: StemReader) -> StemReader:
    """``reader`` is the one the services make for their passes (``clipdesk.ocr.TextReader``)."""
    import clipdesk.ocr

    monkeypatch.setattr(clipdesk.ocr, "TextReader", lambda: reader)
    return reader
