"""User settings of the desktop app, persisted with QSettings in ClipDesk's config dir.

Typed properties with defaults, so the rest of the UI never handles raw QSettings values. The file
is an INI under ``config_dir()`` (not the registry / plist), which keeps tests and portable installs
self-contained.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from clipdesk.common import paths

SCHEMA_VERSION = 1
DEVICES = ("auto", "cuda", "mps", "cpu")


class AppSettings:
    def __init__(self, file: Path | None = None) -> None:
        file = file or paths.config_dir() / "clipdesk-ui.ini"
        self._qs = QSettings(str(file), QSettings.Format.IniFormat)
        if int(self._qs.value("schema_version", 0)) < SCHEMA_VERSION:
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
    def library_path(self) -> Path:
        value = self._qs.value("library/path", "")
        return Path(value) if value else paths.default_library_path()

    @library_path.setter
    def library_path(self, path: Path | None) -> None:
        self._set("library/path", str(path) if path else "")

    @property
    def model_name(self) -> str:
        """Installed model name or a path; empty means the default (the bundled demo model)."""
        return self._get("model/name", "")

    @model_name.setter
    def model_name(self, name: str) -> None:
        self._set("model/name", name)

    @property
    def device(self) -> str:
        value = self._get("model/device", "auto")
        return value if value in DEVICES or value.startswith("cuda:") else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self._set("model/device", value)

    @property
    def welcome_done(self) -> bool:
        return self._get("app/welcome_done", False)

    @welcome_done.setter
    def welcome_done(self, done: bool) -> None:
        self._set("app/welcome_done", bool(done))

    @property
    def xmp_confirmed_only(self) -> bool:
        return self._get("tags/xmp_confirmed_only", True)

    @xmp_confirmed_only.setter
    def xmp_confirmed_only(self, value: bool) -> None:
        self._set("tags/xmp_confirmed_only", bool(value))

    @property
    def xmp_naming(self) -> str:
        """'ext' for photo.jpg.xmp (darktable), 'stem' for photo.xmp (Lightroom)."""
        value = self._get("tags/xmp_naming", "stem")
        return value if value in ("ext", "stem") else "stem"

    @xmp_naming.setter
    def xmp_naming(self, value: str) -> None:
        self._set("tags/xmp_naming", value)

    @property
    def min_score(self) -> float:
        return self._get("search/min_score", 0.0)

    @min_score.setter
    def min_score(self, value: float) -> None:
        self._set("search/min_score", float(value))

    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, value: QByteArray) -> None:
        self._set("window/geometry", value)
