"""What reading a photo's text gives: its lines, or why it could not be read.

Plain records (no numpy, no Pillow), so that the library, the services and both faces can hold
them without loading the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from clipdesk.common.errors import ClipDeskError


@dataclass(frozen=True)
class OcrLine:
    """One line of text found on the photo."""

    text: str
    confidence: float  # the recogniser's score, 0..1
    # The line's box: 4 corners, clockwise from the top left, each (x, y) as fractions of the
    # photo's width and height (upright), so they fit the photo shown at any size.
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class OcrResult:
    """Every line kept on one photo (reading order: top to bottom, then left to right)."""

    lines: tuple[OcrLine, ...]
    engine: str  # e.g. "rapidocr 3.10.0 PP-OCRv6-small"
    seconds: float  # the whole read: decoding, detection and recognition
    width: int  # the size OCR saw, after the downscale; the photo upright (EXIF applied)
    height: int

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float | None:
        """Mean confidence of the kept lines; None when no line was kept."""
        if not self.lines:
            return None
        return sum(line.confidence for line in self.lines) / len(self.lines)


class OcrError(ClipDeskError):
    """This photo's text could not be read; ``reason`` is the text to record on the photo.

    ``kind`` is a stable key: "decode" (the file cannot be decoded), "timeout" (reading took
    longer than allowed), "engine" (the engine failed on this photo), "unavailable" (the engine
    cannot run at all, see :class:`OcrUnavailable`).
    """

    KINDS = ("decode", "timeout", "engine", "unavailable")

    def __init__(
        self,
        reason: str,
        *,
        kind: str = "engine",
        hint: str | None = None,
        cli_hint: str | None = None,
    ) -> None:
        super().__init__(reason, hint, cli_hint=cli_hint)
        self.reason = reason
        self.kind = kind


class OcrUnavailable(OcrError):
    """The OCR engine cannot load at all (not installed, models missing or damaged): no photo
    can be read until that is fixed, so a pass should stop rather than fail every photo."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            reason,
            kind="unavailable",
            hint="Reinstall ClipDesk: its text reader (rapidocr with onnxruntime) is missing "
            "or damaged.",
            cli_hint="reinstall it: pip install --force-reinstall rapidocr onnxruntime",
        )
