"""Writing a fine-tuned model as a new version folder (the original is never touched)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from clipdesk.common import paths
from clipdesk.common.errors import ModelError
from clipdesk.model import installs
from clipdesk.model.checkpoint import save_model_folder
from clipdesk.model.clip import ClipModule
from clipdesk.model.preprocess import PreprocessConfig
from clipdesk.model.tokenizer import ClipTokenizer

METRICS_FILE = "metrics.json"


def save_version(
    module: ClipModule,
    tokenizer: ClipTokenizer,
    preprocess: PreprocessConfig,
    name: str,
    spec: dict[str, Any],
    alpha: float,
    summary: dict[str, Any],
) -> Path:
    """``module`` as a new folder ``name`` in the user's models dir, with ``metrics.json``.

    ``spec`` is the job's (base, options, pairs, base_id, base_meta). A text-only fine-tune
    records ``image_vectors_from``: its image vectors equal the base model's, bit for bit.
    """
    from clipdesk.model.manager import check_name

    check_name(name)
    with installs.writing(name):
        return _save(module, tokenizer, preprocess, name, spec, alpha, summary)


def _save(
    module: ClipModule,
    tokenizer: ClipTokenizer,
    preprocess: PreprocessConfig,
    name: str,
    spec: dict[str, Any],
    alpha: float,
    summary: dict[str, Any],
) -> Path:
    dest = paths.models_dir() / name
    if dest.exists():
        raise ModelError(f"a model named {name!r} already exists", "choose another name")
    o = spec["options"]
    base_meta = spec.get("base_meta") or {}
    base_id = spec.get("base_id") or ""
    meta: dict[str, Any] = {
        "description": f"{spec['base_name']} fine-tuned on {len(spec['train'])} of your photos "
        f"({'text tower' if o['towers'] == 'text' else 'both towers'}, "
        f"blend {alpha:.2f})",
        "demo": bool(base_meta.get("demo", False)),
        "base_model": spec["base_name"],
        "base_model_id": base_id,
        "finetune": {
            "options": {**o, "alpha": alpha},
            "pairs": len(spec["train"]),
            "val_pairs": len(spec["val"]),
            "created": time.time(),
        },
    }
    if o["towers"] == "text" and base_id:
        meta["image_vectors_from"] = base_meta.get("image_vectors_from") or base_id
    module.eval()
    path = save_model_folder(module, tokenizer, dest, name=name, preprocess=preprocess, meta=meta)
    (path / METRICS_FILE).write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return path
