"""rapidocr behind a small face: detect text lines, then recognise them in chunks.

rapidocr (PP-OCRv6 detection and recognition, ONNX on onnxruntime's CPU provider) is driven
step by step rather than through its one-call ``RapidOCR.__call__``, so that the reader can
drop boxes too small to read before they cost a recognition, and check its deadline between
chunks of lines. The models are the ones inside rapidocr's wheel, given by path: rapidocr
downloads a model it cannot find, and ClipDesk must work offline and never fetch anything
behind the user's back; a missing one is reported by :func:`available` instead.

Importing this module costs nothing: rapidocr, OpenCV and numpy load when an engine is made.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clipdesk.ocr.result import OcrError, OcrUnavailable

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

# The models rapidocr 3.10's wheel ships: multilingual PP-OCRv6 (Latin scripts with diacritics,
# Chinese, Japanese), and the small line classifier that turns upside-down lines around.
DETECTION_MODEL = "PP-OCRv6_det_small.onnx"
RECOGNITION_MODEL = "PP-OCRv6_rec_small.onnx"
CLASSIFIER_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
MODELS_LABEL = "PP-OCRv6-small"
_MODULES = (("rapidocr", "rapidocr"), ("onnxruntime", "onnxruntime"), ("cv2", "OpenCV"))

# Lines recognised per forward pass; the deadline is checked between passes. rapidocr batches
# 6, but a screenshot's 30-50 lines of similar shape (sorted by aspect, so little padding) read
# ~28% faster 32 at a time on 2 cores (median of 10 screenshots: 0.82 s against 1.14 s), and
# one pass stays under half a second, so the deadline still bounds a read closely.
CHUNK_LINES = 32


@dataclass(frozen=True)
class Detected:
    """Text lines found on an image: ``boxes[i]`` (4 corners in the image's pixels, float32)
    is where ``crops[i]`` (the line cut out and straightened, BGR) came from."""

    boxes: np.ndarray  # [lines, 4, 2]
    crops: list[np.ndarray]


def _models_dir() -> Path | None:
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def available() -> str | None:
    """None when the engine can be loaded, else why not (for a status line). Cheap: nothing is
    imported or loaded; a model that is there but damaged shows when an engine is made."""
    for module, name in _MODULES:
        if importlib.util.find_spec(module) is None:
            return f"the text reader needs {name}, which is not installed"
    models = _models_dir()
    assert models is not None  # rapidocr was found just above
    missing = [
        name
        for name in (DETECTION_MODEL, RECOGNITION_MODEL, CLASSIFIER_MODEL)
        if not (models / name).is_file()
    ]
    if missing:
        return (
            f"the text reader's models are missing from {models} ({', '.join(missing)}); "
            "this rapidocr version ships others or its install is damaged"
        )
    return None


def engine_name() -> str:
    """What to record as the engine of a read, e.g. ``rapidocr 3.10.0 PP-OCRv6-small``."""
    try:
        version = metadata.version("rapidocr")
    except metadata.PackageNotFoundError:
        version = "?"
    return f"rapidocr {version} {MODELS_LABEL}"


class RapidEngine:
    """The three rapidocr models, loaded once; not for concurrent use (the reader serialises).

    ``threads``: onnxruntime's intra-op threads per model (None: its default, one per core);
    ``detect_side``: the longest side detection runs at (lines are cut from the full image).
    """

    def __init__(self, *, threads: int | None, detect_side: int, max_side: int) -> None:
        problem = available()
        if problem is not None:
            raise OcrUnavailable(problem)
        try:
            # rapidocr logs at INFO to its own stderr handler as it loads: the level is its
            # config's (below), so nothing reaches the terminal or the CLI's JSON on stdout.
            from rapidocr import RapidOCR
        except Exception as exc:  # any import failure means the same to the user
            raise OcrUnavailable(f"the text reader cannot be loaded: {_short(exc)}") from exc
        models = _models_dir()
        assert models is not None
        params: dict[str, Any] = {
            "Global.log_level": "critical",
            # The reader has already scaled the image; rapidocr's own bound stays out of the way.
            "Global.max_side_len": max_side,
            "Det.model_path": str(models / DETECTION_MODEL),
            "Rec.model_path": str(models / RECOGNITION_MODEL),
            "Cls.model_path": str(models / CLASSIFIER_MODEL),
            # Detection at a bounded size costs the same on every photo; the lines are then cut
            # from the image at full resolution, where small text is still sharp.
            "Det.limit_type": "max",
            "Det.limit_side_len": detect_side,
        }
        if threads is not None:
            # rapidocr ignores a count above the machine's cores (silently); onnxruntime's
            # default would be one thread per core.
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        try:
            self._ocr = RapidOCR(params=params)
            self._warm_up(threads)
        except Exception as exc:  # onnxruntime raises its own types for a damaged model
            log.warning("the text reader could not load its models", exc_info=True)
            raise OcrUnavailable(
                f"the text reader's models cannot be loaded: {_short(exc)}"
            ) from exc

    def _warm_up(self, threads: int | None) -> None:
        """Load all three models now (rapidocr loads each on first use), so a damaged model is
        found here rather than as the first photo's failure."""
        import cv2
        import numpy as np
        from rapidocr.main import RapidOCRError

        if threads is not None:
            # OpenCV's pool (resizing, cutting lines out) is process-wide; OCR is its only user.
            cv2.setNumThreads(threads)
        blank = np.full((64, 256, 3), 255, np.uint8)
        with contextlib.suppress(RapidOCRError):  # nothing to find on a blank image
            self._ocr.detect_and_crop(blank, {})
        self._ocr.cls_and_rotate([blank])
        self._ocr.recognize_txt([blank])

    def intra_op_threads(self) -> tuple[int, ...]:
        """onnxruntime's intra-op thread count of each model's session (0: its default)."""
        counts: list[int] = []
        for model in (self._ocr.text_det, self._ocr.text_cls, self._ocr.text_rec):
            assert model is not None  # all three loaded by the warm-up
            counts.append(int(model.session.session.get_session_options().intra_op_num_threads))
        return tuple(counts)

    def detect(self, bgr: np.ndarray) -> Detected:
        """The text lines on ``bgr`` (H x W x 3, uint8), boxes in its pixels."""
        import numpy as np
        from rapidocr.main import RapidOCRError
        from rapidocr.utils.process_img import map_boxes_to_original

        height, width = bgr.shape[:2]
        image, record = self._ocr.preprocess_img(bgr)
        try:
            crops, found = self._ocr.detect_and_crop(image, record)
        except RapidOCRError:  # rapidocr's way of saying "no text here"
            return Detected(np.zeros((0, 4, 2), np.float32), [])
        boxes = np.asarray(found.boxes, dtype=np.float32)
        # Back from rapidocr's padded and rescaled image to the caller's pixels.
        boxes = map_boxes_to_original(boxes, record, height, width)
        return Detected(boxes, list(crops))

    def recognise(
        self, crops: Sequence[np.ndarray], before_chunk: Callable[[], None]
    ) -> list[tuple[str, float]]:
        """(text, confidence) of each crop, in order; ``before_chunk`` runs before every chunk
        (the reader's deadline check: it raises to stop)."""
        # Lines of similar shape share a chunk, so each forward pass pads little.
        order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / crops[i].shape[0])
        read: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        for start in range(0, len(order), CHUNK_LINES):
            before_chunk()
            chunk = order[start : start + CHUNK_LINES]
            upright, _ = self._ocr.cls_and_rotate([crops[i] for i in chunk])
            out = self._ocr.recognize_txt(upright)
            assert out.txts is not None and out.scores is not None  # else it raises
            for i, text, score in zip(chunk, out.txts, out.scores, strict=True):
                read[i] = (str(text), float(score))
        return read

    def close(self) -> None:
        """Free the sessions (their weights and thread pools) now rather than at collection."""
        ocr = self.__dict__.pop("_ocr", None)
        if ocr is not None:
            ocr.text_det = ocr.text_cls = ocr.text_rec = None


def engine_failure(exc: BaseException) -> OcrError:
    """The error for a photo on which the engine itself failed (never the user's fault, but
    never worth stopping the other photos for)."""
    if isinstance(exc, MemoryError):
        return OcrError("not enough memory to read the text of this photo", kind="engine")
    return OcrError(f"the text reader failed on this photo: {_short(exc)}", kind="engine")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
