"""Which loader reads a checkpoint: every family ClipDesk supports, and the refusal of the rest.

A folder is told apart by its files (``open_clip_config.json``: an OpenCLIP hub folder;
``config.json``'s ``model_type``: a Hugging Face model), a single file by its tensor names. A
family ClipDesk does not run is refused by :mod:`.detect` with a message naming it, before any
weights are built.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

# Only for annotations: the tokenizer modules of this package serve torch-free text queries.
if TYPE_CHECKING:
    from clipdesk.model.checkpoint import Checkpoint


def load_folder(folder: Path) -> Checkpoint:
    from clipdesk.model.families import detect

    kind = detect.folder_kind(folder)
    if kind == "openclip-hub":
        from clipdesk.model.families.openclip_hub import load_hub_folder

        return load_hub_folder(folder)
    if kind == "siglip":
        from clipdesk.model.families.siglip_load import load_siglip_folder

        return load_siglip_folder(folder)
    from clipdesk.model.checkpoint import load_hf_clip_folder

    return load_hf_clip_folder(folder)


def weight_files(folder: Path) -> list[Path]:
    """The weight files the loader of ``folder`` reads, chosen as :func:`load_folder` chooses the
    loader: a model's id is the hash of exactly these, so a folder holding both an OpenCLIP and
    a Hugging Face copy of the weights gets the id of the one that is loaded."""
    from clipdesk.model.families import detect

    if detect.folder_kind(folder) == "openclip-hub":
        from clipdesk.model.families.openclip_hub import hub_weight_files

        return hub_weight_files(folder)
    from clipdesk.model.state_dicts import find_weight_files

    return find_weight_files(folder)


def weight_files_of(path: Path) -> list[Path]:
    """The weight files a model at ``path`` is loaded from: the file itself, or what
    :func:`weight_files` chooses in a folder."""
    return [path] if path.is_file() else weight_files(path)


def load_file(path: Path, act: str | None) -> Checkpoint:
    from clipdesk.model.checkpoint import load_clip_state_dict_file

    return load_clip_state_dict_file(path, act)
