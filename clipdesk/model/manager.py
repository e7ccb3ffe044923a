"""Installed models: the user's models folder and the bundled demo model.

(Being extended: listing, import, download from the Hugging Face hub.)
"""

from __future__ import annotations

from pathlib import Path

from clipdesk.core import paths
from clipdesk.core.errors import ModelError

DEMO_MODEL = "clipdesk-mini"


def bundled_models_dir() -> Path:
    """The package's own models: ``models/`` in a source checkout, ``clipdesk/bundled_models``
    in an installed wheel."""
    try:
        from importlib import resources

        bundled = Path(str(resources.files("clipdesk.bundled_models")))
        if bundled.is_dir():
            return bundled
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "models"


def model_dirs() -> list[Path]:
    return [paths.models_dir(), bundled_models_dir()]


def resolve_model(path_or_name: str | Path | None) -> Path:
    """A path to load: an existing path as given, else an installed model folder by name."""
    if path_or_name is None:
        path_or_name = DEMO_MODEL
    candidate = Path(path_or_name).expanduser()
    if candidate.exists():
        return candidate
    for folder in model_dirs():
        if (folder / str(path_or_name)).is_dir():
            return folder / str(path_or_name)
    raise ModelError(
        f"no model named or found at {str(path_or_name)!r}",
        hint="import a model folder or .safetensors file, or download one in Settings",
    )
