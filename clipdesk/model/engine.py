"""The model as the rest of ClipDesk sees it: photos and phrases in, normalised vectors out.

The towers run on PyTorch or on ONNX Runtime (:mod:`clipdesk.model.runtime`); which one is
chosen at load. This module imports no torch: a model served by ONNX Runtime (a text query from
the CLI, say) starts without it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clipdesk.common.errors import ModelError
from clipdesk.model.facts import ModelFacts
from clipdesk.model.preprocess import Preprocessor
from clipdesk.model.runtime import RuntimeChoice, describe, label
from clipdesk.model.runtime.towers import Towers
from clipdesk.model.tokenizer import TextTokenizer

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from clipdesk.model.dual_encoder import DualEncoder, Scoring

log = logging.getLogger(__name__)

# The CLIP paper clamps the learned temperature so logits never exceed 100.
MAX_LOGIT_SCALE = 100.0


class ClipModel:
    """A loaded model on one device and runtime. Thread-safe: each runtime serialises or
    separates its own calls."""

    def __init__(
        self, facts: ModelFacts, tokenizer: TextTokenizer, towers: Towers, device: str
    ) -> None:
        self.facts = facts
        self.tokenizer: TextTokenizer = tokenizer
        self.towers = towers
        self.preprocessor = Preprocessor(facts.preprocess)
        self.device = device
        self.name = facts.name
        self.path: Path = facts.path
        self.meta = facts.meta
        self.weights_hash = facts.weights_hash
        self.id = f"{facts.name}@{facts.weights_hash[:12]}"

    @property
    def module(self) -> DualEncoder:
        """The torch module (the PyTorch runtime only: ONNX Runtime holds graphs)."""
        module = getattr(self.towers, "module", None)
        if module is None:
            raise ModelError(f"{self.id} runs on {describe(self.runtime_label)}: no torch module")
        return module  # type: ignore[no-any-return]

    @property
    def config(self) -> Any:
        """The family's architecture (a ClipConfig for CLIP models); torch runtime only."""
        return self.module.cfg

    @property
    def runtime(self) -> str:
        return self.towers.runtime

    @property
    def precision(self) -> str:
        return self.towers.precision

    @property
    def runtime_label(self) -> str:
        """``"onnx-int8"``, ``"torch-fp32"``...: what the library records with the vectors."""
        return label(self.towers.runtime, self.towers.precision)

    @property
    def family(self) -> str:
        return self.facts.family

    @property
    def scoring(self) -> Scoring:
        """How the model turns similarities into probabilities (see :mod:`.dual_encoder`)."""
        return self.facts.scoring

    @property
    def dim(self) -> int:
        return self.facts.embed_dim

    @property
    def image_size(self) -> int:
        return self.preprocessor.cfg.size

    @property
    def is_demo(self) -> bool:
        return bool(self.meta.get("demo", False))

    @property
    def logit_scale(self) -> float:
        scale = self.facts.logit_scale
        # CLIP's clamp only: SigLIP learns its scale (~118) unclamped, together with its bias,
        # and clamping it would shift every sigmoid probability.
        return min(scale, MAX_LOGIT_SCALE) if self.scoring == "softmax" else scale

    @property
    def logit_bias(self) -> float | None:
        """SigLIP's learned bias: a pair's probability is sigmoid(logit_scale * sim + bias)."""
        return self.facts.logit_bias

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """float32 [3, S, S]: CLIP's resize, centre crop and normalisation."""
        return self.preprocessor(image)

    def encode_pixels(self, pixels: np.ndarray | torch.Tensor) -> np.ndarray:
        """Preprocessed pixels [n, 3, S, S] -> float32 [n, dim], L2-normalised."""
        if pixels.shape[0] == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.runtime != "torch" and not isinstance(pixels, np.ndarray):
            pixels = pixels.detach().cpu().numpy()
        feats = self.towers.image(pixels)  # type: ignore[arg-type]
        return self._finite(_normalised(feats), "photos")

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        """PIL images -> float32 [n, dim], L2-normalised."""
        out = []
        for i in range(0, len(images), batch_size):
            chunk = [self.preprocessor.to_array(im) for im in images[i : i + batch_size]]
            out.append(self.encode_pixels(np.stack(chunk).astype(np.float32)))
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Phrases -> float32 [n, dim], L2-normalised."""
        chunks = []
        for i in range(0, len(texts), batch_size):
            ids = self.tokenizer.ids(list(texts[i : i + batch_size]))
            chunks.append(self._finite(_normalised(self.towers.text(ids)), "texts"))
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), dtype=np.float32)

    def warm_text(self) -> None:
        """Get the text tower ready in the background (a query is coming)."""
        self.towers.warm("text")

    def close(self) -> None:
        self.towers.close()

    def _finite(self, vectors: np.ndarray, what: str) -> np.ndarray:
        """Vectors as they are, unless one holds NaN or infinity: stored, such a vector would
        look indexed and never match a search."""
        bad = ~np.isfinite(vectors).all(axis=1)
        if bad.any():
            raise ModelError(
                f"the model {self.name} gave invalid vectors (NaN or infinity) for "
                f"{int(bad.sum())} of {len(vectors)} {what}; nothing of them was stored",
                hint="the model's weights or preprocessing are damaged: import it again "
                "or choose another model",
            )
        return vectors

    def __repr__(self) -> str:
        return f"ClipModel({self.id!r}, device={self.device}, runtime={self.runtime_label})"


def _normalised(feats: np.ndarray) -> np.ndarray:
    feats = np.asarray(feats, dtype=np.float32)
    norms = np.linalg.norm(feats, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = feats / np.maximum(norms, 1e-12)
    return out


def load_model(
    path_or_name: str | Path | None = None,
    device: str | None = "auto",
    *,
    allow_fallback: bool = False,
    act: str | None = None,
    runtime: RuntimeChoice | str | None = None,
) -> ClipModel:
    """Load a model by installed name or by path (HF folder or state-dict file).

    ``None`` loads the default: the active installed model, else the bundled demo model.
    ``act`` sets the activation of config-less state dicts (see load_checkpoint).
    ``runtime``: "auto" (ONNX Runtime on the CPU where the model has an export that measured
    faster, else PyTorch), "torch" or "onnx" (which exports first if needed); None is the
    setting (``CLIPDESK_RUNTIME`` overrides it).
    """
    from clipdesk.model import runtime as rt
    from clipdesk.model.manager import resolve_model
    from clipdesk.model.runtime.choose import choose_runtime

    path = resolve_model(path_or_name)
    choice = rt.check_choice(runtime or rt.configured_choice())
    chosen = choose_runtime(choice, path, device, act=act)
    if chosen is not None:
        model = chosen.load(path)
        log.info("loaded %s on cpu with %s", model.id, describe(model.runtime_label))
        return model
    return _load_torch(path, device, allow_fallback=allow_fallback, act=act)


def _load_torch(
    path: Path, device: str | None, *, allow_fallback: bool, act: str | None
) -> ClipModel:
    from clipdesk.model.checkpoint import load_checkpoint
    from clipdesk.model.device import configure_cpu_threads, select_device
    from clipdesk.model.runtime.torch_towers import TorchTowers

    dev = select_device(device, allow_fallback=allow_fallback)
    if dev.type == "cpu":
        configure_cpu_threads()
    ckpt = load_checkpoint(path, act=act)
    model = ClipModel(
        ModelFacts.of_checkpoint(ckpt), ckpt.tokenizer, TorchTowers(ckpt.module, dev), str(dev)
    )
    log.info("loaded %s on %s with PyTorch", model.id, dev)
    return model
