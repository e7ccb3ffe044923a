"""Full-size pixels, briefly: decoded photos shrink before anything copies them, within a budget.

A PNG, TIFF or HEIF is decoded at full size (only JPEG has DCT scaling), and a 200 MP RGBA image
is 800 MB. Turning it upright or into RGB first would copy it at full size (and a 16-bit one
through float64 arrays: 5 GB); so :func:`reduce_early` box-reduces it by an integer factor
first, converting awkward modes strip by strip. :data:`DECODE_MEMORY` bounds the full-size pixels
all decode threads of a process hold at once, so eight workers on eight such photos take their
turns instead of 6 GB together.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

from clipdesk.common.limits import MAX_DECODE_MEMORY_BYTES
from clipdesk.imaging.pixels import to_rgb

# Modes Pillow box-reduces in place of a copy (it converts RGBA and LA to premultiplied first).
_REDUCIBLE = frozenset({"L", "RGB", "CMYK", "YCbCr", "I", "F", "RGBa", "La"})
_STRIP_ROWS = 16  # rows of the reduced image converted at a time


class DecodeMemory:
    """A budget of bytes of decoded pixels held across threads; a request larger than the whole
    budget waits until it can hold all of it (it then runs alone)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._free = total
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, nbytes: int) -> Iterator[None]:
        want = max(0, min(nbytes, self.total))
        with self._cond:
            self._cond.wait_for(lambda: self._free >= want)
            self._free -= want
        try:
            yield
        finally:
            with self._cond:
                self._free += want
                self._cond.notify_all()


DECODE_MEMORY = DecodeMemory(MAX_DECODE_MEMORY_BYTES)


def decoded_bytes(image: Image.Image) -> int:
    """What ``image.load()`` allocates: Pillow stores up to 4 bytes per pixel."""
    return image.width * image.height * 4


def reduce_early(image: Image.Image, size: int) -> Image.Image:
    """``image`` (loaded) box-reduced so that its shortest side stays at least ``2 * size``;
    the image itself when it is already that small. The result may be RGB where the mode could
    not be reduced as it is (palette, 1-bit, 16-bit, alpha)."""
    factor = min(image.size) // (2 * size)
    if factor < 2:
        return image
    if image.mode in _REDUCIBLE:
        return image.reduce(factor)
    # Converted strip by strip: a whole-image RGB copy would cost 3-8 bytes per full-size pixel.
    # Sizes as Image.reduce gives them: a partial box at the right and bottom edge counts.
    out = Image.new("RGB", (-(-image.width // factor), -(-image.height // factor)))
    step = _STRIP_ROWS * factor
    for top in range(0, image.height, step):
        strip = image.crop((0, top, image.width, min(top + step, image.height)))
        out.paste(to_rgb(strip).reduce(factor), (0, top // factor))
    return out
