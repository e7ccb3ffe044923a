"""Read the text on a photo: decode it small enough, find its lines, keep the readable ones.

A photo is decoded through :mod:`clipdesk.imaging` (EXIF orientation, the decompression-bomb
guard, JPEG DCT scaling, early box reduction within the decode memory budget) to at most
``max_side`` pixels on its longest side: a 200 MP panorama costs what a 12 MP photo costs.
Detection then runs at a bounded size; each line is cut from the decoded image and recognised.

What is kept: lines whose box is at least ``min_text_height`` of the photo's shorter side
(smaller text is unreadable after the downscale, and mostly noise: far-off labels, texture)
and whose recognition confidence is at least ``min_confidence``. At most :data:`MAX_LINES`
lines are recognised (the biggest), and the deadline is checked after decoding, after
detection and between chunks of lines, so one photo takes at most about ``timeout_s`` plus one
forward pass (a second or two) however much text it holds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from clipdesk.ocr.engine import RapidEngine, engine_failure, engine_name
from clipdesk.ocr.result import OcrError, OcrLine, OcrResult

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

log = logging.getLogger(__name__)

# Lines recognised on one photo at most (the tallest first): a page of small print or a
# textured wall can give detection thousands of boxes, at ~20 ms each to recognise.
MAX_LINES = 200
# Longest side detection runs at (PaddleOCR's own default). Its cost grows with the pixels it
# sees; signs with a cap height of 1.5% of the photo and 12 px screenshot text are still found.
DETECT_SIDE = 960

_now = time.monotonic  # the reader's clock (a test may stand in a slower one)


class _Deadline:
    def __init__(self, started: float, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.at = started + timeout_s

    def check(self, stage: str) -> None:
        if _now() > self.at:
            raise OcrError(
                f"reading the text took longer than {self.timeout_s:g} s (stopped during "
                f"{stage}); the photo may hold a great deal of small text",
                kind="timeout",
            )


class TextReader:
    """Reads photos' text with rapidocr on the CPU; the models load in the constructor
    (about a second), which raises :class:`~clipdesk.ocr.OcrUnavailable` if they cannot.

    onnxruntime starts its threads as the models load, and they inherit the priority of the
    thread that makes the reader: make it on the thread (already lowered) that will read.
    One photo is read at a time; calls from several threads take turns.
    """

    def __init__(
        self,
        *,
        threads: int | None = None,  # onnxruntime threads per model (None: one per core)
        # Lines recognised with a lower score are dropped. Real words on signs, documents and
        # screenshots score over 0.9 (blurred: still 0.9); scribbles and texture 0.45-0.65.
        min_confidence: float = 0.7,
        # Lines whose box is thinner than this fraction of the shorter side are dropped, before
        # they cost a recognition. 12 px screenshot text gives boxes of 2.4% of a 1080 px
        # height; detection at DETECT_SIDE seldom finds lines under 1.5%: this drops slivers.
        min_text_height: float = 0.01,
        max_side: int = 2000,  # the photo is scaled to this longest side before OCR
        timeout_s: float = 60.0,  # one photo's budget, decoding included
    ) -> None:
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be within 0..1, not {min_confidence}")
        if not 0.0 <= min_text_height < 1.0:
            raise ValueError(f"min_text_height must be within 0..1, not {min_text_height}")
        if max_side < 32:
            raise ValueError(f"max_side must be at least 32 pixels, not {max_side}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        self.threads = None if threads is None else min(threads, os.cpu_count() or 1)
        self.min_confidence = min_confidence
        self.min_text_height = min_text_height
        self.max_side = max_side
        self.timeout_s = timeout_s
        self.engine = engine_name()
        self._lock = threading.Lock()
        self._engine: RapidEngine | None = self._load()

    def _load(self) -> RapidEngine:
        return RapidEngine(
            threads=self.threads,
            detect_side=min(DETECT_SIDE, self.max_side),
            max_side=self.max_side,
        )

    def read(self, path: Path) -> OcrResult:
        """The text on the photo at ``path``; :class:`~clipdesk.ocr.OcrError` if it cannot be
        read (the reason says why: damaged file, timeout, engine failure)."""
        from clipdesk.imaging.decode import DecodeError, decode_for_model

        started = _now()
        try:
            # Shortest side max_side, then fitted to the longest: asking the decoder for the
            # final size would let JPEG's DCT scaling do the whole reduction, which blurs
            # letters enough to misread them ("SOUH COFE" for "SOUTH COFFEE" at 12 MP).
            decoded = decode_for_model(path, size=self.max_side)
        except DecodeError as exc:
            raise OcrError(exc.reason, kind="decode") from exc
        return self._read(decoded.image, started)

    def read_image(self, image: Image.Image) -> OcrResult:
        """The text on an image already in memory (a paste, a drop, a test's rendering)."""
        from clipdesk.imaging.decode import decode_image

        started = _now()
        return self._read(decode_image(image, size=self.max_side).image, started)

    def _read(self, image: Image.Image, started: float) -> OcrResult:
        import cv2
        import numpy as np

        deadline = _Deadline(started, self.timeout_s)
        image = _fit(image, self.max_side)
        width, height = image.size
        deadline.check("decoding")
        with self._lock:
            if self._engine is None:
                self._engine = self._load()
            engine = self._engine
            try:
                bgr = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
                found = engine.detect(bgr)
                deadline.check("detection")
                keep = self._readable(found.boxes, min(width, height))
                texts = engine.recognise(
                    [found.crops[i] for i in keep], lambda: deadline.check("recognition")
                )
            except OcrError:
                raise
            except Exception as exc:  # OpenCV and onnxruntime raise many types on odd input
                log.warning("the text reader failed on an image", exc_info=True)
                raise engine_failure(exc) from exc
        lines = tuple(
            OcrLine(text.strip(), round(score, 4), _fractions(found.boxes[i], width, height))
            for i, (text, score) in zip(keep, texts, strict=True)
            if text.strip() and score >= self.min_confidence
        )
        return OcrResult(lines, self.engine, _now() - started, width, height)

    def _readable(self, boxes: np.ndarray, shorter_side: int) -> list[int]:
        """Indices of the boxes worth recognising, in reading order: tall enough, and the
        tallest :data:`MAX_LINES` of those."""
        import numpy as np

        if len(boxes) == 0:
            return []
        # A line's thickness is its box's shorter side, whichever way the line runs.
        along = (
            np.linalg.norm(boxes[:, 0] - boxes[:, 1], axis=1)
            + np.linalg.norm(boxes[:, 3] - boxes[:, 2], axis=1)
        ) / 2
        across = (
            np.linalg.norm(boxes[:, 0] - boxes[:, 3], axis=1)
            + np.linalg.norm(boxes[:, 1] - boxes[:, 2], axis=1)
        ) / 2
        thickness = np.minimum(along, across)
        tall = np.flatnonzero(thickness >= self.min_text_height * shorter_side)
        if len(tall) > MAX_LINES:
            log.info("%d text lines found, the tallest %d read", len(tall), MAX_LINES)
            tall = np.sort(tall[np.argsort(-thickness[tall], kind="stable")[:MAX_LINES]])
        return [int(i) for i in tall]

    def close(self) -> None:
        """Free the models now; a later read loads them again."""
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None

    def intra_op_threads(self) -> tuple[int, ...]:
        """onnxruntime's intra-op thread count per model, as its sessions were made (0: its
        default); () when closed."""
        with self._lock:
            return () if self._engine is None else self._engine.intra_op_threads()


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    from PIL import Image as PILImage

    w, h = image.size
    if max(w, h) <= max_side:
        return image
    scale = max_side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return image.resize(size, PILImage.Resampling.BICUBIC, reducing_gap=2.0)


def _fractions(box: np.ndarray, width: int, height: int) -> tuple[tuple[float, float], ...]:
    return tuple(
        (
            round(min(max(float(x) / width, 0.0), 1.0), 4),
            round(min(max(float(y) / height, 0.0), 1.0), 4),
        )
        for x, y in box
    )
