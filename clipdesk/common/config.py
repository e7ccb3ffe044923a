"""The user's choices that both faces read: one JSON file in ClipDesk's config folder, no Qt.

The app and ``clipdesk-cli`` must agree on the library in use, the active model, the device and
how XMP sidecars are written, so those live here, stored once; settings only the window cares
about (its geometry, the welcome page) stay in the app's own QSettings file.

Older versions kept these facts in the app's QSettings INI (``clipdesk-ui.ini``, unreadable to the
Qt-free side) and the active model in ``model.json``; :func:`load` migrates both on first use,
once, and leaves the old files in place for an older version still installed.
"""

from __future__ import annotations

import configparser
import json
import logging
import threading
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, cast

from clipdesk.common import paths
from clipdesk.common.atomic_file import atomic_write_bytes

log = logging.getLogger(__name__)

CONFIG_FILE = "settings.json"
SCHEMA_VERSION = 1
LEGACY_UI_FILE = "clipdesk-ui.ini"  # the app's QSettings file before this config existed
LEGACY_MODEL_FILE = "model.json"  # clipdesk.model.manager's active-model file before it

XmpNaming = Literal["fullname", "basename"]
XMP_NAMINGS: tuple[XmpNaming, ...] = ("fullname", "basename")
DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
RUNTIME_CHOICES = ("auto", "torch", "onnx")  # = clipdesk.model.runtime.RUNTIME_CHOICES


@dataclass(frozen=True)
class Config:
    # Library file in use; None is paths.default_library_path() (CLIPDESK_LIBRARY, else data dir).
    library: str | None = None
    # Active model: an installed model's name or a checkpoint path; None is the bundled demo.
    model: str | None = None
    # Where the model runs: auto, cpu, cuda, cuda:N or mps.
    device: str = "auto"
    # Sidecar file name: "fullname" is photo.jpg.xmp (keeps RAW+JPEG pairs apart; darktable,
    # digiKam), "basename" is photo.xmp (Lightroom).
    xmp_naming: XmpNaming = "fullname"
    # Write the model's unconfirmed suggestions too; by default only confirmed and imported tags.
    xmp_write_suggestions: bool = False
    # How the model runs on the CPU: auto (the faster measured here), torch, or onnx.
    runtime: str = "auto"
    # Write keywords and ratings into JPEG/TIFF/PNG files' own XMP too, beside the sidecar
    # (Lightroom reads only that for those formats). Off: ClipDesk never changes a photo file.
    xmp_embedded: bool = False

    def validated(self) -> Config:
        """The same config with every unusable value back at its default (a hand-edited or
        foreign file never breaks start-up)."""
        default = Config()
        library = self.library if isinstance(self.library, str) and self.library else None
        model = self.model if isinstance(self.model, str) and self.model else None
        device = self.device if isinstance(self.device, str) else default.device
        if device not in DEVICE_CHOICES and not device.startswith("cuda:"):
            device = default.device
        naming = self.xmp_naming if self.xmp_naming in XMP_NAMINGS else default.xmp_naming
        suggestions = self.xmp_write_suggestions is True
        runtime = self.runtime if self.runtime in RUNTIME_CHOICES else default.runtime
        embedded = self.xmp_embedded is True
        return Config(library, model, device, naming, suggestions, runtime, embedded)


_lock = threading.Lock()


def config_path() -> Path:
    return paths.config_dir() / CONFIG_FILE


def load() -> Config:
    """The current config (defaults where the file is missing, unreadable or partly invalid).
    Read again only when the file changed (the other face may have written it), so asking for
    a setting costs a stat, not a parse."""
    with _lock:
        path = config_path()
        if not path.is_file():
            config = _migrated()
            try:
                _write(config)
            except OSError as exc:  # a read-only config folder must not stop either face
                log.warning("could not save the settings to %s: %s", path, exc)
            return config
        return _read(path)


def save(config: Config) -> Config:
    """Store ``config`` (atomically: a crash leaves the old file or the new one)."""
    config = config.validated()
    with _lock:
        _write(config)
    return config


def update(**changes: Any) -> Config:
    """Change some fields and store the result; returns it."""
    known = {f.name for f in fields(Config)}
    unknown = set(changes) - known
    if unknown:
        raise TypeError(f"unknown config field(s): {', '.join(sorted(unknown))}")
    with _lock:
        path = config_path()
        exists = path.is_file()
        current = _read(path) if exists else _migrated()
        config = replace(current, **changes).validated()
        if config != current or not exists:  # an OK that changed nothing writes nothing
            _write(config)
    return config


# The last file read: (path, inode, mtime_ns, size) -> its config. Every write replaces the file
# (a new inode), so a change within one mtime tick is still seen.
_cache: dict[tuple[str, int, int, int], Config] = {}


def _read(path: Path) -> Config:
    try:
        stat = path.stat()
        key = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if key in _cache:
            return _cache[key]
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable settings file %s: %s", path, exc)
        return Config()
    if not isinstance(data, dict):
        log.warning("ignoring settings file %s: not a JSON object", path)
        return Config()
    known = {f.name for f in fields(Config)}
    values = {k: v for k, v in data.items() if k in known}
    config = Config(**values).validated()
    _cache.clear()
    _cache[key] = config
    return config


def _write(config: Config) -> None:
    data = {"schema_version": SCHEMA_VERSION, **asdict(config)}
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(config_path(), text.encode("utf-8"))


# --- migration from the settings files of earlier versions ------------------------------------


def _migrated() -> Config:
    """A first config made from the older files, where they exist."""
    config = Config()
    ui = paths.config_dir() / LEGACY_UI_FILE
    if ui.is_file():
        config = _from_legacy_ui(ui, config)
    model_file = paths.config_dir() / LEGACY_MODEL_FILE
    if config.model is None and model_file.is_file():
        try:
            data = json.loads(model_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        active = data.get("active") if isinstance(data, dict) else None
        if isinstance(active, str) and active:
            config = replace(config, model=active)
    if config != Config():
        log.info("settings migrated from earlier versions: %s", asdict(config))
    return config.validated()


def _from_legacy_ui(path: Path, config: Config) -> Config:
    # QSettings' IniFormat is an INI file; keys are "group/key" -> section [group], key.
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        log.warning("could not read the app's old settings %s: %s", path, exc)
        return config

    def value(section: str, key: str) -> str | None:
        raw = parser.get(section, key, fallback=None)
        if raw is None:
            return None
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return raw or None

    library = value("library", "path")
    model = value("model", "name")
    device = value("model", "device")
    naming = {"ext": "fullname", "stem": "basename"}.get(value("tags", "xmp_naming") or "")
    confirmed_only = value("tags", "xmp_confirmed_only")
    return replace(
        config,
        library=library or config.library,
        model=model or config.model,
        device=device or config.device,
        # The app's old default was photo.xmp; a user who never chose keeps the new default.
        xmp_naming=cast(XmpNaming, naming) if naming else config.xmp_naming,
        xmp_write_suggestions=(confirmed_only == "false")
        if confirmed_only
        else config.xmp_write_suggestions,
    )
