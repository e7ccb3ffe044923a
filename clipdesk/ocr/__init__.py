"""Reading the text on photos (OCR), on the CPU, offline, with the models inside rapidocr's wheel.

The face other packages use::

    reader = TextReader(threads=2)          # loads the models (~1 s), or raises OcrUnavailable
    result = reader.read(path)              # OcrResult, or OcrError with the reason to record
    result.text, result.confidence, result.lines[0].points

Importing this package loads nothing heavy (no rapidocr, OpenCV, onnxruntime, numpy or Pillow):
the engine loads when a :class:`TextReader` is made. :func:`available` says, without loading
anything, whether it can be.
"""

from __future__ import annotations

from clipdesk.ocr.engine import available, engine_name
from clipdesk.ocr.reader import TextReader
from clipdesk.ocr.result import OcrError, OcrLine, OcrResult, OcrUnavailable

__all__ = [
    "OcrError",
    "OcrLine",
    "OcrResult",
    "OcrUnavailable",
    "TextReader",
    "available",
    "engine_name",
]
