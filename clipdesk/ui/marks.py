"""Ratings and colour labels in the app: Lightroom's keys and colours, and setting them on
photos through the services (``app.ratings``), off the GUI thread.

Keys, as in Lightroom's Library: 0 clears the rating, 1-5 give stars; 6 red, 7 yellow, 8 green,
9 blue, and the same key again (every photo of the selection having that label) takes it off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeyEvent

from clipdesk.services.records import LABELS

if TYPE_CHECKING:
    from clipdesk.ui.controller import AppController

__all__ = [
    "KEYS_HELP",
    "LABELS",
    "LABEL_COLOURS",
    "Mark",
    "apply_mark",
    "describe_marks",
    "mark_of_key",
]

MarkKind = Literal["rating", "label"]
Mark = tuple[MarkKind, int | str]

RATING_KEYS: dict[int, int] = {getattr(Qt.Key, f"Key_{n}"): n for n in range(6)}
LABEL_KEYS: dict[int, str] = {
    Qt.Key.Key_6: "Red",
    Qt.Key.Key_7: "Yellow",
    Qt.Key.Key_8: "Green",
    Qt.Key.Key_9: "Blue",
}
# Lightroom's label colours, a little brighter to read on a dark thumbnail
LABEL_COLOURS = {
    "Red": QColor(224, 64, 64),
    "Yellow": QColor(236, 200, 40),
    "Green": QColor(72, 180, 72),
    "Blue": QColor(64, 120, 224),
    "Purple": QColor(160, 80, 200),
}
KEYS_HELP = "0-5 rate, 6-9 colour label (6 red, 7 yellow, 8 green, 9 blue; again clears)"


def mark_of_key(event: QKeyEvent) -> Mark | None:
    """The rating or label a key press asks for (a digit, on the keypad too, without Ctrl, Alt
    or Meta); None for any other key."""
    modifiers = event.modifiers() & ~(
        Qt.KeyboardModifier.KeypadModifier | Qt.KeyboardModifier.ShiftModifier
    )
    if modifiers != Qt.KeyboardModifier.NoModifier:
        return None
    key = event.key()
    if key in RATING_KEYS:
        return "rating", RATING_KEYS[key]
    if key in LABEL_KEYS:
        return "label", LABEL_KEYS[key]
    return None


def describe_marks(rating: int, label: str | None) -> str:
    """The rating and label for people: "★★★☆☆ · Red", "Rejected", "No rating"."""
    if rating < 0:
        text = "Rejected"
    elif rating == 0:
        text = "No rating"
    else:
        text = "★" * rating + "☆" * (5 - rating)
    return f"{text} · {label}" if label else text


def apply_mark(
    controller: AppController,
    photo_ids: Sequence[int],
    mark: Mark,
    done: Callable[[dict[str, object]], None],
) -> None:
    """Set the rating, or toggle the label, of the photos (one transaction, on the db pool);
    ``done`` gets the PhotoItem fields that changed ({"rating": 3} or {"label": None})."""
    ids = [int(i) for i in photo_ids]
    if not ids:
        return
    kind, value = mark
    if kind == "rating":
        rating = int(value)
        controller.call(
            lambda b, _t: b.services.ratings.set_rating(ids, rating),
            lambda _n: done({"rating": rating}),
        )
    else:
        controller.call(
            lambda b, _t: b.services.ratings.toggle_label(ids, str(value)),
            lambda label: done({"label": label}),
        )
