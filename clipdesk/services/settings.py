"""The user's settings as both faces see them: the library in use, the active model, its device
and runtime, and the XMP sidecar rules. Stored once, in :mod:`clipdesk.common.config`; the app and the CLI
read and change them only through here."""

from __future__ import annotations

import os
from pathlib import Path

from clipdesk.common import config as config_file
from clipdesk.common import paths
from clipdesk.common.config import Config, XmpNaming
from clipdesk.common.errors import ClipDeskError

__all__ = ["Config", "SettingsService", "XmpNaming", "check_device", "resolve_library_path"]


def check_device(requested: str) -> str:
    """``requested`` if this machine has that compute device (auto, cpu, cuda, cuda:N, mps),
    else the ClipDeskError naming the devices it has; torch is imported only for a GPU name."""
    from clipdesk.model.device import check_device as check

    return check(requested)


def resolve_library_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The library to open, the same rule for both faces: ``explicit`` (``--library``), else the
    one chosen in the settings (the app's Settings, or its ``--library``), else the default:
    ``CLIPDESK_LIBRARY`` when set, else the file in the data folder. (The environment replaces
    the default only, so a choice the user made is never silently ignored.)"""
    if explicit:
        return Path(explicit).expanduser()
    chosen = config_file.load().library
    return Path(chosen).expanduser() if chosen else paths.default_library_path()


class SettingsService:
    """Read and change the shared settings; every change is written through at once."""

    def current(self) -> Config:
        return config_file.load()

    def library_path(self) -> Path:
        return resolve_library_path()

    def set_library_path(self, path: str | os.PathLike[str] | None) -> Path:
        """Use another library file from now on (None: the default), once
        :meth:`check_library_path` accepts it; a refused one is not saved."""
        if path is None or str(path) == "":
            config_file.update(library=None)
            return resolve_library_path()
        target = self.check_library_path(path)
        config_file.update(library=str(target))
        return target

    def check_library_path(self, path: str | os.PathLike[str]) -> Path:
        """The library file ``path`` names (absolute) if ClipDesk can use it: a ClipDesk library
        it can write to and that no other program holds locked, or a new file in a folder it
        can write to (created on first open). Otherwise the ClipDeskError that says why (not a
        ClipDesk library, from a newer ClipDesk, locked, read-only, a folder). Nothing is created
        or changed by the check."""
        target = Path(path).expanduser().resolve()
        if target.is_dir():
            raise ClipDeskError(
                f"{target} is a folder, not a library file.",
                "Choose a file name, e.g. library.sqlite3 inside that folder.",
            )
        from clipdesk.library import probe  # SQLite and the schema: not on the app's first paint

        probe.check_openable(target)
        return target

    def model(self) -> str | None:
        """The active model's name or path (None: the bundled demo model)."""
        return config_file.load().model

    def set_model(self, name: str | None) -> str | None:
        """Store the active model (an installed name or a checkpoint path; None: the bundled
        demo model); refuses one that is not there. Switching a running library over to it is
        :meth:`clipdesk.services.models.ModelService.activate`."""
        from clipdesk.model import manager

        manager.set_active_model(name or None)
        return name or None

    def device(self) -> str:
        return config_file.load().device

    def set_device(self, device: str) -> str:
        return config_file.update(device=device or "auto").device

    def runtime(self) -> str:
        """What runs the model: auto (the faster measured here), torch or onnx, as stored."""
        return config_file.load().runtime

    def set_runtime(self, runtime: str) -> str:
        """Store the runtime choice (auto, torch or onnx); refuses any other. A running app
        loads its model again to use it (:meth:`ClipDeskServices.reload_model`)."""
        from clipdesk.model.runtime import check_choice

        return config_file.update(runtime=check_choice(runtime or "auto")).runtime

    def runtime_override(self) -> str | None:
        """The runtime ``CLIPDESK_RUNTIME`` imposes on this process over the setting, if any."""
        from clipdesk.model.runtime import RUNTIME_ENV

        return os.environ.get(RUNTIME_ENV, "").strip() or None

    def xmp_naming(self) -> XmpNaming:
        return config_file.load().xmp_naming

    def xmp_write_suggestions(self) -> bool:
        return config_file.load().xmp_write_suggestions

    def xmp_embedded(self) -> bool:
        """Whether writing XMP writes into JPEG/TIFF/PNG files' own XMP too (default: no)."""
        return config_file.load().xmp_embedded

    def set_xmp(
        self,
        naming: XmpNaming | None = None,
        write_suggestions: bool | None = None,
        embedded: bool | None = None,
    ) -> Config:
        """Change the XMP rules given (None: leave that one as it is), in one read and write."""
        changes: dict[str, object] = {}
        if naming:
            changes["xmp_naming"] = naming
        if write_suggestions is not None:
            changes["xmp_write_suggestions"] = bool(write_suggestions)
        if embedded is not None:
            changes["xmp_embedded"] = bool(embedded)
        return config_file.update(**changes)
