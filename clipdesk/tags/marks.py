"""What a rating and a colour label may be, as Lightroom, digiKam and darktable agree (kept apart
from the XMP code so that the window can name them without loading it)."""

from __future__ import annotations

LABELS = ("Red", "Yellow", "Green", "Blue", "Purple")  # Lightroom's default label set
MAX_RATING = 5
REJECTED = -1  # Lightroom's and darktable's rating of a rejected photo
