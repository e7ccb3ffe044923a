"""Installed models: the user's models folder and the bundled demo model.

A model is a folder (Hugging Face layout, or an OpenCLIP hub folder, plus ``clipdesk.json``)
named after the model. User models live in :func:`clipdesk.common.paths.models_dir`; the
package's own in :func:`bundled_models_dir`. A user model shadows a bundled one of the same name. The active model
(the one the library's vectors come from) is the ``model`` field of the shared user settings
(:mod:`clipdesk.common.config`), so ``clipdesk-cli`` and the app name the same one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from clipdesk.common import config, limits, paths
from clipdesk.common.errors import CheckpointError, ModelError
from clipdesk.common.json_files import read_json_file
from clipdesk.model import installs

if TYPE_CHECKING:
    from clipdesk.model.checkpoint import Checkpoint

log = logging.getLogger(__name__)

DEMO_MODEL = "clipdesk-mini"
META_FILE = "clipdesk.json"  # same name as checkpoint.META_FILE; kept here to avoid importing torch
SETTINGS_FILE = config.LEGACY_MODEL_FILE  # before the shared settings: migrated, kept
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
# Files worth copying from a model folder (Hugging Face CLIP / SigLIP, OpenCLIP hub); anything
# else (README images, flax/tf weights, .git) stays behind.
_HF_FILES = re.compile(
    r"^(config\.json|preprocessor_config\.json|tokenizer\.json|tokenizer_config\.json|"
    r"special_tokens_map\.json|added_tokens\.json|vocab\.json|merges\.txt|spiece\.model|"
    r"sentencepiece\.bpe\.model|model\.safetensors|model-\d+-of-\d+\.safetensors|"
    r"model\.safetensors\.index\.json|pytorch_model\.bin|open_clip_config\.json|"
    r"open_clip_model\.safetensors|open_clip_pytorch_model\.(bin|safetensors|pth)|"
    r"hf_text_config\.json|clipdesk\.json|README\.md|LICENSE.*)$"
)
# The weight files among them: only the ones the folder's loader reads are copied (a hub folder
# may hold OpenCLIP's safetensors and pickle of the same weights, and Hugging Face ones besides).
_WEIGHT_FILES = re.compile(
    r"^(model\.safetensors|model-\d+-of-\d+\.safetensors|pytorch_model\.bin|"
    r"open_clip_model\.safetensors|open_clip_pytorch_model\.(bin|safetensors|pth))$"
)
# What makes a folder a model folder: a Hugging Face config or an OpenCLIP hub config.
MODEL_CONFIG_FILES = ("config.json", "open_clip_config.json")

Source = Literal["user", "bundled"]
OnClash = Literal["error", "replace", "rename"]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    size_bytes: int
    source: Source  # "user" (imported or downloaded) or "bundled" (ships with ClipDesk)
    demo: bool  # a small model for trying ClipDesk out, not for real search quality
    active: bool
    description: str = ""
    origin: str = ""  # where it came from: a hub repository or an imported path

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def bundled_models_dir() -> Path:
    """The package's own models: ``clipdesk/bundled_models`` in an installed wheel, ``models/``
    in a source checkout."""
    try:
        from importlib import resources

        bundled = Path(str(resources.files("clipdesk.bundled_models")))
        if bundled.is_dir() and any(bundled.glob("*/config.json")):
            return bundled
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "models"


def model_dirs() -> list[Path]:
    return [paths.models_dir(), bundled_models_dir()]


def _is_model_folder(folder: Path) -> bool:
    return (
        folder.is_dir()
        and not folder.name.startswith(".")
        and any((folder / name).is_file() for name in MODEL_CONFIG_FILES)
    )


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META_FILE
    if not path.is_file():
        return {}
    try:
        data = read_json_file(
            path, max_bytes=limits.MODEL_JSON_MAX_BYTES, max_depth=limits.MODEL_JSON_MAX_DEPTH
        )
    except ValueError as exc:
        log.warning("%s: ignored, %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


# --- the start-up sweep ---
# Run once per process and models folder, before the first look at the installed models, so an
# install that a crash interrupted is finished or rolled back before anyone misses the model.

_sweeps: dict[Path, installs.InstallSweep] = {}
_sweep_lock = threading.Lock()


def recover_installs() -> installs.InstallSweep:
    """What the start-up sweep of the user's models folder did and left (see
    :func:`clipdesk.model.installs.sweep`); the sweep runs on the first call only."""
    root = paths.models_dir()
    with _sweep_lock:
        if root not in _sweeps:
            _sweeps[root] = installs.sweep(root)
        return _sweeps[root]


def _folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def list_models() -> list[ModelInfo]:
    """Installed models, user ones first, each name once."""
    recover_installs()
    active = active_installed_name()  # a path to an installed folder counts too
    seen: set[str] = set()
    found: list[ModelInfo] = []
    roots: tuple[tuple[Source, Path], ...] = (
        ("user", paths.models_dir()),
        ("bundled", bundled_models_dir()),
    )
    for source, root in roots:
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir(), key=lambda p: p.name.lower()):
            if not _is_model_folder(folder) or folder.name in seen:
                continue
            seen.add(folder.name)
            meta = _read_meta(folder)
            found.append(
                ModelInfo(
                    name=folder.name,
                    path=folder,
                    size_bytes=_folder_size(folder),
                    source=source,
                    demo=bool(meta.get("demo", False)),
                    active=folder.name == active,
                    description=str(meta.get("description", "")),
                    origin=str(meta.get("origin", "")),
                )
            )
    return found


def find_model(name: str) -> Path | None:
    recover_installs()
    for root in model_dirs():
        if _is_model_folder(root / name):
            return root / name
    return None


def resolve_model(path_or_name: str | Path | None) -> Path:
    """A path to load: an existing path as given, else an installed model folder by name;
    ``None`` is the active model, else the bundled demo model."""
    if path_or_name is None:
        chosen = _active_setting()
        if chosen is not None and get_active_model() is None:
            # Falling back to the demo would re-embed the library with it and drop the vectors
            # of the model the user chose; say what happened instead.
            raise _missing_active_model(chosen)
        path_or_name = chosen or DEMO_MODEL
    candidate = Path(path_or_name).expanduser()
    if candidate.exists():
        return candidate
    found = find_model(str(path_or_name))
    if found is not None:
        return found
    raise ModelError(
        f"no model named or found at {str(path_or_name)!r}",
        hint="see `clipdesk-cli models list`; import a model folder or .safetensors file, "
        "or download one (clipdesk-cli models download)",
    )


# --- the active model setting ---
# Stored in the shared user settings (clipdesk.common.config, field ``model``), which the app and
# the CLI both read; the older ``model.json`` is migrated by config.load().


def _active_setting() -> str | None:
    return config.load().model


def _is_model_path(value: str) -> bool:
    path = Path(value).expanduser()
    return path.is_file() or _is_model_folder(path)


def _installed_name(value: str) -> str | None:
    """The installed model ``value`` names: a name, or a path to an installed model's folder."""
    if _NAME.match(value):
        return value if find_model(value) is not None else None
    path = Path(value).expanduser()
    if path.is_dir():
        resolved = path.resolve()
        for root in model_dirs():
            candidate = root / path.name
            if _is_model_folder(candidate) and candidate.resolve() == resolved:
                return path.name
    return None


def get_active_model() -> str | None:
    """The model the user chose (an installed name, or a checkpoint path), if it is still there;
    None means the default (the bundled demo model) or a choice that is gone."""
    chosen = _active_setting()
    if chosen is None:
        return None
    if find_model(chosen) is not None or _is_model_path(chosen):
        return chosen
    log.warning("the active model %r is no longer installed", chosen)
    return None


def active_installed_name() -> str | None:
    """The installed model that is active (its folder name), None for the default or a
    checkpoint path outside the models folders."""
    chosen = get_active_model()
    return _installed_name(chosen) if chosen else None


def set_active_model(name: str | None) -> None:
    """Make an installed model (or a checkpoint path) the active one; ``None`` goes back to the
    default. Both faces read it from the shared settings."""
    if name is not None and find_model(name) is None and not _is_model_path(name):
        raise ModelError(
            f"no installed model named {name!r}", hint="see `clipdesk-cli models list`"
        )
    config.update(model=name)


def _missing_active_model(chosen: str) -> ModelError:
    return ModelError(
        f"the active model {chosen!r} is no longer installed",
        hint="choose another model in Settings or with `clipdesk-cli models activate NAME` "
        "(see `clipdesk-cli models list`)",
    )


# --- import ---


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ModelError(
            f"{name!r} is not a usable model name",
            hint="use letters, digits, '.', '_', '+' and '-' (at most 100 characters)",
        )
    return name


def free_name(base: str) -> str:
    """``base``, or ``base-2``, ``base-3`` ... whichever is not installed yet."""
    name, n = base, 1
    while (paths.models_dir() / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def target_for(name: str, on_clash: OnClash) -> str:
    """The name to install under, given what is already installed."""
    check_name(name)
    if not (paths.models_dir() / name).exists():
        return name
    if on_clash == "rename":
        return free_name(name)
    if on_clash == "replace":
        return name
    raise ModelError(
        f"a model named {name!r} is already installed",
        hint="choose another name, or replace the installed one",
    )


def install_folder(staging: Path, name: str) -> Path:
    """Move a complete, validated model folder into place as ``name`` (replacing any old one),
    recoverably at any moment; the caller holds ``installs.writing(name)``."""
    from clipdesk.model.folder_swap import swap_into_place

    dest = paths.models_dir() / name
    swap_into_place(staging, dest)
    return dest


def import_model(
    source: str | Path,
    name: str | None = None,
    *,
    on_clash: OnClash = "error",
    act: str | None = None,
) -> ModelInfo:
    """Copy a model folder (Hugging Face CLIP or SigLIP, OpenCLIP hub) or a state-dict file into
    the user's models folder.

    The source is loaded first (a broken checkpoint is refused before anything is copied), and
    the copy appears under its final name only once complete. A state-dict file is stored as a
    Hugging Face CLIP folder (ViT) or an OpenCLIP hub folder (ResNet, which the Hugging Face
    layout cannot hold), so its architecture, activation and tokenizer travel with it.
    """
    from clipdesk.model.checkpoint import load_checkpoint

    src = Path(source).expanduser()
    if not src.exists():
        raise ModelError(f"{src}: no such file or folder")
    default_name = src.stem if src.is_file() else src.name
    name = target_for(name or default_name, on_clash)
    ckpt = load_checkpoint(src, act=act)  # raises CheckpointError naming the problem
    meta = {"origin": str(src.resolve()), "source": "import"}
    with installs.writing(name) as root:
        if on_clash == "error":
            target_for(name, on_clash)  # another process may have installed it meanwhile
        staging = installs.new_staging(root, name)
        try:
            if src.is_file():
                _save_state_dict_model(ckpt, staging / "model", name, meta)
                dest = install_folder(staging / "model", name)
            else:
                _copy_hf_folder(src, staging)
                old_meta = _read_meta(src)
                (staging / META_FILE).write_text(
                    json.dumps({**old_meta, **meta, "name": name}, indent=2), encoding="utf-8"
                )
                dest = install_folder(staging, name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # gone already once installed
    log.info("imported %s as %s", src, name)
    return next(m for m in list_models() if m.name == name and m.path == dest)


def _save_state_dict_model(ckpt: Checkpoint, folder: Path, name: str, meta: dict[str, Any]) -> None:
    from clipdesk.model.checkpoint import save_model_folder
    from clipdesk.model.clip import ClipModule
    from clipdesk.model.config import VisionConfig
    from clipdesk.model.families.openclip_save import save_hub_folder
    from clipdesk.model.tokenizer import ClipTokenizer

    module, tokenizer = ckpt.module, ckpt.tokenizer
    # load_file only gives CLIP modules with CLIP's tokenizer; anything else would be a new
    # family that needs its own layout here.
    if not isinstance(module, ClipModule) or not isinstance(tokenizer, ClipTokenizer):
        raise CheckpointError(
            f"{ckpt.path}: a single-file {module.family} model cannot be stored yet; ClipDesk "
            "stores single files of CLIP models only",
            hint="import the model's folder instead",
        )
    save = save_model_folder if isinstance(module.cfg.vision, VisionConfig) else save_hub_folder
    save(module, tokenizer, folder, name=name, preprocess=ckpt.preprocess, meta=meta)


def _copy_hf_folder(src: Path, dest: Path) -> None:
    from clipdesk.model.families import weight_files

    loaded = set(weight_files(src))
    for f in sorted(src.iterdir()):
        if not f.is_file() or not _HF_FILES.match(f.name):
            continue
        if _WEIGHT_FILES.match(f.name) and f not in loaded:
            continue
        shutil.copy2(f, dest / f.name)
    # fsync so that a crash right after the rename cannot leave an installed model with empty files
    for f in dest.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def remove_model(name: str) -> None:
    """Delete a user-installed model (bundled ones cannot be removed)."""
    folder = paths.models_dir() / check_name(name)
    if not _is_model_folder(folder):
        raise ModelError(f"no user-installed model named {name!r}")
    with installs.writing(name):
        trash = folder.with_name(f".{name}.removing")  # the sweep finishes a killed removal
        folder.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
    if _active_setting() is not None and get_active_model() is None:
        set_active_model(None)  # back to the default, not a dangling name
