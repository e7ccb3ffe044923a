"""What fine-tuning is judged by, and the WiSE-FT weight blend.

:class:`RetrievalProbe` measures text-to-image and image-to-text recall@k (and the contrastive
loss) of a module on held-out (image, caption) pairs; images of the same photo count as one.
:func:`blend_state` mixes the original and the fine-tuned weights (Wortsman et al., 2022, "Robust
fine-tuning of zero-shot models"): ``(1 - alpha) * original + alpha * fine_tuned``; alpha 0 is the
original model, 1 the fine-tuned one, and values between usually keep the original's general
knowledge while gaining most of what fine-tuning taught.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from clipdesk.model.clip import ClipModule
from clipdesk.model.losses import clip_loss
from clipdesk.model.preprocess import PreprocessConfig, Preprocessor
from clipdesk.model.tokenizer import ClipTokenizer

RECALL_AT = (1, 5, 10)


class RetrievalProbe:
    """Held-out pairs, preprocessed once. ``groups[i]`` is the photo of pair i (None: each pair its
    own photo); the first image of each photo is the one searched."""

    def __init__(
        self,
        images: Sequence[Image.Image],
        captions: Sequence[str],
        tokenizer: ClipTokenizer,
        preprocess: PreprocessConfig,
        groups: Sequence[int] | None = None,
        batch_size: int = 64,
    ) -> None:
        if len(images) != len(captions):
            raise ValueError("images and captions differ in number")
        groups = list(groups) if groups is not None else list(range(len(images)))
        first: dict[int, int] = {}
        for i, g in enumerate(groups):
            first.setdefault(g, i)
        self.photo_of_pair = torch.tensor([list(first).index(g) for g in groups])
        pre = Preprocessor(preprocess)
        self.pixels = pre.batch([images[i] for i in first.values()])  # [photos, 3, S, S]
        self.ids = tokenizer(list(captions))  # [pairs, L]
        self.batch_size = batch_size

    def __len__(self) -> int:
        return len(self.ids)

    @torch.no_grad()
    def features(self, module: ClipModule) -> tuple[torch.Tensor, torch.Tensor]:
        was_training = module.training
        module.eval()
        dev = next(module.parameters()).device
        bs = self.batch_size
        try:
            img = (
                torch.cat(
                    [
                        module.encode_image(self.pixels[i : i + bs].to(dev), normalize=True)
                        for i in range(0, len(self.pixels), bs)
                    ]
                )
                .float()
                .cpu()
            )
            txt = (
                torch.cat(
                    [
                        module.encode_text(self.ids[i : i + bs].to(dev), normalize=True)
                        for i in range(0, len(self.ids), bs)
                    ]
                )
                .float()
                .cpu()
            )
        finally:
            module.train(was_training)
        return img, txt

    def measure(self, module: ClipModule) -> dict[str, float]:
        img, txt = self.features(module)
        return retrieval_scores(
            img, txt, self.photo_of_pair, float(module.logit_scale.detach().exp().clamp(max=100))
        )


def retrieval_scores(
    img: torch.Tensor, txt: torch.Tensor, photo_of_pair: torch.Tensor, scale: float = 100.0
) -> dict[str, float]:
    """Recall@k both ways and the contrastive loss, from normalised features."""
    sims = txt @ img.T  # [pairs, photos]
    target = sims.gather(1, photo_of_pair[:, None])
    rank_t2i = (sims > target).sum(dim=1)  # 0 = the right photo is first
    out: dict[str, float] = {}
    for k in RECALL_AT:
        if k <= img.shape[0]:
            out[f"t2i_recall@{k}"] = float((rank_t2i < k).float().mean())
    # image -> text: for each photo, is one of its captions among the top k
    sims_i = sims.T  # [photos, pairs]
    best_own = torch.full((img.shape[0],), -2.0).scatter_reduce(
        0, photo_of_pair, sims.gather(1, photo_of_pair[:, None])[:, 0], reduce="amax"
    )
    rank_i2t = (sims_i > best_own[:, None]).sum(dim=1)
    for k in RECALL_AT:
        if k <= txt.shape[0]:
            out[f"i2t_recall@{k}"] = float((rank_i2t < k).float().mean())
    out["loss"] = float(clip_loss(img[photo_of_pair], txt, torch.tensor(scale)))
    return out


def blend_state(
    original: dict[str, torch.Tensor],
    fine_tuned: dict[str, torch.Tensor],
    alpha: float,
    keep: Sequence[str] = (),
) -> dict[str, torch.Tensor]:
    """WiSE-FT: ``(1 - alpha) * original + alpha * fine_tuned`` for every floating tensor.

    Names starting with a prefix in ``keep`` (a frozen tower) are copied from ``original``
    bit for bit, so stored image vectors stay exactly valid after a text-only fine-tune.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"blend alpha must lie between 0 and 1, not {alpha}")
    if set(original) != set(fine_tuned):
        raise ValueError("the two models have different parameters; they cannot be blended")
    out = {}
    for name, a in original.items():
        b = fine_tuned[name]
        if a.shape != b.shape:
            raise ValueError(f"{name}: shapes {tuple(a.shape)} and {tuple(b.shape)} differ")
        if any(name.startswith(p) for p in keep) or not a.is_floating_point():
            out[name] = a.clone()
        else:
            out[name] = torch.lerp(a.float(), b.float().to(a.device), alpha).to(a.dtype)
    return out


def cosine_drift(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """1 - cosine similarity of two weight sets, flattened: how far fine-tuning moved."""
    va = torch.cat([a[k].float().flatten() for k in sorted(a)])
    vb = torch.cat([b[k].float().flatten() for k in sorted(a)])
    return float(1 - F.cosine_similarity(va, vb, dim=0))
