"""The photo view's tag list: the model's suggestions apart from the user's own tags, so that a
suggestion never reads as a tag the user gave. Suggestions come first under their own heading
(italic, amber, "?", with how to confirm or reject them), then the user's tags (confirmed or
imported: bold, "✓"), then the rejected ones (grey, "✗"). Headings cannot be selected, so the
Confirm / Reject keys always act on a tag."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPalette
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from clipdesk.ui.rows import TagRow

# (state, heading) in the order shown
SECTIONS = (
    ("suggested", "Suggested by the model: C confirms, R rejects"),
    ("confirmed", "Your tags"),
    ("rejected", "Rejected"),
)
SUGGESTED_TIP = (
    "The model's suggestion, not confirmed: XMP sidecars get it only if you ask for "
    "suggestions (Settings). C confirms, R rejects."
)
_SUGGESTED_COLOUR = QColor(176, 112, 0)  # amber that reads on light and dark list backgrounds


def _heading(text: str, palette: QPalette) -> QListWidgetItem:
    entry = QListWidgetItem(text)
    entry.setFlags(Qt.ItemFlag.NoItemFlags)  # not selectable: the keys act on tags only
    font = QFont()
    font.setBold(True)
    font.setPointSizeF(max(6.0, font.pointSizeF() * 0.9))
    entry.setFont(font)
    entry.setForeground(QBrush(palette.color(QPalette.ColorRole.PlaceholderText)))
    return entry


def _entry(tag: TagRow, palette: QPalette) -> QListWidgetItem:
    entry = QListWidgetItem(tag.describe())
    entry.setData(Qt.ItemDataRole.UserRole, tag)
    font = QFont()
    if tag.state == "suggested":
        font.setItalic(True)
        entry.setForeground(QBrush(_SUGGESTED_COLOUR))
        entry.setToolTip(SUGGESTED_TIP)
    elif tag.state == "confirmed":
        font.setBold(True)
        entry.setToolTip("Your tag (confirmed or imported from XMP). R rejects it.")
    else:
        font.setStrikeOut(True)
        entry.setForeground(QBrush(palette.color(QPalette.ColorRole.PlaceholderText)))
        entry.setToolTip("You rejected this tag; the model never suggests it again. C confirms it.")
    entry.setFont(font)
    return entry


def fill_tag_list(widget: QListWidget, tags: Sequence[TagRow]) -> None:
    """Show ``tags`` in sections, the first suggestion current (what the next C or R decides:
    after each decision the next suggestion is), else the first tag."""
    widget.clear()
    palette = widget.palette()
    first: QListWidgetItem | None = None
    for state, heading in SECTIONS:
        shown = [t for t in tags if t.state == state]
        if not shown:
            continue
        widget.addItem(_heading(heading, palette))
        for tag in shown:
            entry = _entry(tag, palette)
            widget.addItem(entry)
            first = first or entry
    if first is not None:
        widget.setCurrentItem(first)


def tag_of(entry: QListWidgetItem | None) -> TagRow | None:
    """The tag of a list entry; None for a heading or no entry."""
    if entry is None:
        return None
    tag = entry.data(Qt.ItemDataRole.UserRole)
    return tag if isinstance(tag, TagRow) else None
