"""The window's own settings (geometry, the welcome page, the score slider, the grid's thumbnail
size and how it shows scores), persisted with QSettings in ClipDesk's config dir.

What the CLI must agree on — the library in use, the active model and device, the XMP sidecar
rules — is not here: it lives in the shared, Qt-free settings file
(:mod:`clipdesk.services.settings`), which migrates the values older versions kept in this INI.

Typed properties with defaults, so the rest of the UI never handles raw QSettings values. The file
is an INI under ``config_dir()`` (not the registry / plist), which keeps tests and portable installs
self-contained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast, get_args

from PySide6.QtCore import QByteArray, QSettings

from clipdesk.common import paths

SCHEMA_VERSION = 1
UI_FILE = "clipdesk-ui.ini"
# The grid's thumbnail square, in logical pixels: the default, the range and one step of the
# View menu's Larger / Smaller (Ctrl+= / Ctrl+-); the size slider moves by CELL_STEP too.
CELL = 128
CELL_MIN, CELL_MAX, CELL_STEP = 96, 320, 16
# How a grid shows each match's score: a badge on the thumbnail, on hover only, or not at all
# (the tooltip always has it).
ScoreShown = Literal["badge", "hover", "off"]
SCORE_SHOWN: tuple[ScoreShown, ...] = get_args(ScoreShown)


def clamp_cell(px: int) -> int:
    """A thumbnail size within the range, on a step."""
    px = min(CELL_MAX, max(CELL_MIN, int(px)))
    return CELL_MIN + round((px - CELL_MIN) / CELL_STEP) * CELL_STEP


class AppSettings:
    def __init__(self, file: Path | None = None) -> None:
        file = file or paths.config_dir() / UI_FILE
        self._qs = QSettings(str(file), QSettings.Format.IniFormat)
        if self._get("schema_version", 0) < SCHEMA_VERSION:
            self._qs.setValue("schema_version", SCHEMA_VERSION)

    def _get(self, key: str, default):
        value = self._qs.value(key, default)
        if isinstance(default, bool):
            return value in (True, "true", "1", 1)
        return type(default)(value) if default is not None and value is not None else value

    def _set(self, key: str, value) -> None:
        self._qs.setValue(key, value)
        self._qs.sync()

    @property
    def welcome_done(self) -> bool:
        return self._get("app/welcome_done", False)

    @welcome_done.setter
    def welcome_done(self, done: bool) -> None:
        self._set("app/welcome_done", bool(done))

    @property
    def min_score(self) -> float:
        return self._get("search/min_score", 0.0)

    @min_score.setter
    def min_score(self, value: float) -> None:
        self._set("search/min_score", float(value))

    @property
    def thumbnail_px(self) -> int:
        try:
            return clamp_cell(self._get("grid/thumbnail_px", CELL))
        except (TypeError, ValueError):  # not a number (a hand edit): the default
            return CELL

    @thumbnail_px.setter
    def thumbnail_px(self, px: int) -> None:
        self._set("grid/thumbnail_px", clamp_cell(px))

    @property
    def score_shown(self) -> ScoreShown:
        value = self._get("grid/score_shown", "badge")
        # a value this version does not know (a newer one wrote it, a hand edit): the default
        return cast(ScoreShown, value) if value in SCORE_SHOWN else "badge"

    @score_shown.setter
    def score_shown(self, how: ScoreShown) -> None:
        if how not in SCORE_SHOWN:
            raise ValueError(f"score_shown is one of {', '.join(SCORE_SHOWN)}, not {how!r}")
        self._set("grid/score_shown", how)

    @property
    def tag_panel_shown(self) -> bool:
        return bool(self._get("search/tag_panel_shown", True))

    @tag_panel_shown.setter
    def tag_panel_shown(self, shown: bool) -> None:
        self._set("search/tag_panel_shown", bool(shown))

    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, value: QByteArray) -> None:
        self._set("window/geometry", value)
