"""Where ClipDesk keeps its files.

Everything lives under the platformdirs user directories unless ``CLIPDESK_HOME`` points at one
root (tests and portable installs use it); ``CLIPDESK_LIBRARY`` overrides only the library file.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "ClipDesk"
APP_AUTHOR = "ClipDesk"


def _home_override() -> Path | None:
    value = os.environ.get("CLIPDESK_HOME")
    return Path(value).expanduser() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    home = _home_override()
    base = home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    return _ensure(base)


def config_dir() -> Path:
    home = _home_override()
    base = home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))
    return _ensure(base)


def cache_dir() -> Path:
    home = _home_override()
    base = home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))
    return _ensure(base)


def log_dir() -> Path:
    home = _home_override()
    base = home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))
    return _ensure(base)


def models_dir() -> Path:
    """User-installed models (downloaded or imported), one folder each."""
    return _ensure(data_dir() / "models")


def default_library_path() -> Path:
    override = os.environ.get("CLIPDESK_LIBRARY")
    if override:
        return Path(override).expanduser()
    return data_dir() / "library.sqlite3"
