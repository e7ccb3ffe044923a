"""CLIP's contrastive objective."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def clip_loss(
    image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric cross-entropy over the batch's image-text similarity matrix.

    ``image_features`` and ``text_features`` are L2-normalised [n, d], row i of each a matching
    pair; ``logit_scale`` is the (already exponentiated) inverse temperature. As in the CLIP paper's
    pseudocode: the mean of the image->text and text->image cross-entropies.
    """
    logits = logit_scale * image_features.float() @ text_features.float().T  # [n, n]
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
