"""The CLIP engine: architecture, checkpoints, tokenizer, preprocessing, devices, training.

``from clipdesk.model import load_model`` is cheap: torch is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clipdesk.model.engine import ClipModel, load_model

__all__ = ["ClipModel", "load_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from clipdesk.model import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'clipdesk.model' has no attribute {name!r}")
