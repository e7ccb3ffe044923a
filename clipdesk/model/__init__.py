"""The CLIP engine: architecture, checkpoints, tokenizer, preprocessing, devices, training.

``from clipdesk.model import load_model`` is cheap: the engine (tokenizers, safetensors, Pillow,
the model code) is imported on the first call, so the app's window appears before any of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clipdesk.model.engine import ClipModel

__all__ = ["ClipModel", "load_model"]


def load_model(
    path_or_name: str | Path | None = None,
    device: str | None = "auto",
    *,
    allow_fallback: bool = False,
    act: str | None = None,
    runtime: str | None = None,
) -> ClipModel:
    """Load a model by installed name or by path (see :func:`clipdesk.model.engine.load_model`)."""
    from clipdesk.model import engine

    return engine.load_model(
        path_or_name, device, allow_fallback=allow_fallback, act=act, runtime=runtime
    )


def __getattr__(name: str) -> Any:
    if name == "ClipModel":
        from clipdesk.model import engine

        return engine.ClipModel
    raise AttributeError(f"module 'clipdesk.model' has no attribute {name!r}")
