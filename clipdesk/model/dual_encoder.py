"""What every model family offers the engine: an image tower and a text tower into one space.

Each family (OpenAI-layout CLIP with a ViT or ResNet image tower, SigLIP, OpenCLIP's multilingual
XLM-R text towers) is its own ``nn.Module`` whose parameter names follow the checkpoints it is
loaded from; the engine, tagging and search only use this interface. Both encoders take one
tensor each, so one exporter (ONNX) serves every family: a text tower that needs an attention
mask derives it from the padding id.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

# "softmax": CLIP's contrastive scoring, a label's probability is relative to the others;
# "sigmoid": SigLIP's, each image-text pair has its own probability sigmoid(scale * sim + bias).
Scoring = Literal["softmax", "sigmoid"]


class DualEncoder(nn.Module):
    family: ClassVar[str] = "clip"  # shown to the user and recorded with the model's facts
    scoring: ClassVar[Scoring] = "softmax"
    # Whether the trainer can fine-tune the module and save it back in a layout ClipDesk reads.
    can_finetune: ClassVar[bool] = False

    logit_scale: nn.Parameter  # log of the learned inverse temperature
    # The family's architecture config: every one has ``embed_dim`` and ``vision.image_size``.
    cfg: Any

    @property
    def embed_dim(self) -> int:
        dim: int = self.cfg.embed_dim
        return dim

    @property
    def image_size(self) -> int:
        """Side in pixels of the square the image tower takes."""
        size: int = self.cfg.vision.image_size
        return size

    @property
    def logit_bias(self) -> float | None:
        """The learned bias of sigmoid scoring; None for softmax families."""
        return None

    def encode_image(self, pixels: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Preprocessed pixels [b, 3, S, S] -> features [b, embed_dim]."""
        feats = self.image_features(pixels)
        return F.normalize(feats, dim=-1) if normalize else feats

    def encode_text(self, ids: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Token ids [b, n] (as the family's tokenizer gives them) -> features [b, embed_dim]."""
        feats = self.text_features(ids)
        return F.normalize(feats, dim=-1) if normalize else feats

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """The family's image tower: :meth:`encode_image` before normalising."""
        raise NotImplementedError

    def text_features(self, ids: torch.Tensor) -> torch.Tensor:
        """The family's text tower: :meth:`encode_text` before normalising."""
        raise NotImplementedError
