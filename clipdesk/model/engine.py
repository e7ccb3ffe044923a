"""The model as the rest of ClipDesk sees it: photos and phrases in, normalised vectors out."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from clipdesk.common.errors import ModelError
from clipdesk.model.checkpoint import Checkpoint, load_checkpoint
from clipdesk.model.device import autocast_dtype, configure_cpu_threads, select_device
from clipdesk.model.dual_encoder import DualEncoder, Scoring
from clipdesk.model.preprocess import Preprocessor
from clipdesk.model.tokenizer import TextTokenizer

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

# The CLIP paper clamps the learned temperature so logits never exceed 100.
MAX_LOGIT_SCALE = 100.0


class ClipModel:
    """A loaded CLIP model on one device. Thread-safe: calls are serialised."""

    def __init__(self, ckpt: Checkpoint, device: torch.device) -> None:
        self.module: DualEncoder = ckpt.module.to(device).eval()
        self.tokenizer: TextTokenizer = ckpt.tokenizer
        self.preprocessor = Preprocessor(ckpt.preprocess)
        self.device = device
        self.name = ckpt.name
        self.path: Path = ckpt.path
        self.meta = ckpt.meta
        self.weights_hash = ckpt.weights_hash
        self.id = f"{ckpt.name}@{ckpt.weights_hash[:12]}"
        self._amp_dtype = autocast_dtype(device)
        self._lock = threading.Lock()

    @property
    def config(self) -> Any:
        """The family's architecture (a ClipConfig for CLIP models)."""
        return self.module.cfg

    @property
    def family(self) -> str:
        return self.module.family

    @property
    def scoring(self) -> Scoring:
        """How the model turns similarities into probabilities (see :mod:`.dual_encoder`)."""
        return self.module.scoring

    @property
    def dim(self) -> int:
        return self.module.embed_dim

    @property
    def image_size(self) -> int:
        return self.preprocessor.cfg.size

    @property
    def is_demo(self) -> bool:
        return bool(self.meta.get("demo", False))

    @property
    def logit_scale(self) -> float:
        scale = float(self.module.logit_scale.detach().exp().item())
        # CLIP's clamp only: SigLIP learns its scale (~118) unclamped, together with its bias,
        # and clamping it would shift every sigmoid probability.
        return min(scale, MAX_LOGIT_SCALE) if self.scoring == "softmax" else scale

    @property
    def logit_bias(self) -> float | None:
        """SigLIP's learned bias: a pair's probability is sigmoid(logit_scale * sim + bias)."""
        return self.module.logit_bias

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        if self._amp_dtype is None:
            yield
        else:
            with torch.autocast(device_type=self.device.type, dtype=self._amp_dtype):
                yield

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """float32 [3, S, S]: CLIP's resize, centre crop and normalisation."""
        return self.preprocessor(image)

    @torch.inference_mode()
    def encode_pixels(self, pixels: torch.Tensor) -> np.ndarray:
        """Preprocessed pixels [n, 3, S, S] -> float32 [n, dim], L2-normalised."""
        if pixels.shape[0] == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock, self._autocast():
            feats = self.module.encode_image(pixels.to(self.device, non_blocking=True))
        return self._finite(F.normalize(feats.float(), dim=-1).cpu().numpy(), "photos")

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        """PIL images -> float32 [n, dim], L2-normalised."""
        out = [
            self.encode_pixels(self.preprocessor.batch(images[i : i + batch_size]))
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Phrases -> float32 [n, dim], L2-normalised."""
        chunks = []
        for i in range(0, len(texts), batch_size):
            ids = self.tokenizer(list(texts[i : i + batch_size])).to(self.device)
            with self._lock, self._autocast():
                feats = self.module.encode_text(ids)
            chunks.append(self._finite(F.normalize(feats.float(), dim=-1).cpu().numpy(), "texts"))
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), dtype=np.float32)

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
        return f"ClipModel({self.id!r}, device={self.device})"


def load_model(
    path_or_name: str | Path | None = None,
    device: str | None = "auto",
    *,
    allow_fallback: bool = False,
    act: str | None = None,
) -> ClipModel:
    """Load a model by installed name or by path (HF folder or state-dict file).

    ``None`` loads the default: the active installed model, else the bundled demo model.
    ``act`` sets the activation of config-less state dicts (see load_checkpoint).
    """
    from clipdesk.model.manager import resolve_model

    dev = select_device(device, allow_fallback=allow_fallback)
    if dev.type == "cpu":
        configure_cpu_threads()
    path = resolve_model(path_or_name)
    ckpt = load_checkpoint(path, act=act)
    model = ClipModel(ckpt, dev)
    log.info("loaded %s on %s", model.id, dev)
    return model
