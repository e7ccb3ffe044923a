"""The CLIP architecture (Radford et al., 2021): a ViT or ResNet image tower and a causal text
transformer (the ResNet tower is :mod:`clipdesk.model.families.resnet`).

Parameter names follow OpenAI/OpenCLIP state dicts so those load as they are; Hugging Face
checkpoints are renamed by :mod:`clipdesk.model.convert`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from clipdesk.model.config import Activation, ClipConfig, ResNetConfig, TextConfig, VisionConfig
from clipdesk.model.dual_encoder import DualEncoder

if TYPE_CHECKING:
    from clipdesk.model.families.resnet import ModifiedResNet


class QuickGELU(nn.Module):
    """The sigmoid approximation of GELU that OpenAI's weights were trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


def _activation(name: Activation) -> nn.Module:
    return QuickGELU() if name == "quick_gelu" else nn.GELU()


class Attention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.heads = heads
        # q, k and v in one matrix: one GEMM instead of three.
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        b, n, w = x.shape  # [batch, tokens, width]
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(b, n, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # [b, heads, n, hd]
        proj: torch.Tensor = self.out_proj(out.transpose(1, 2).reshape(b, n, w))
        return proj


class ResidualBlock(nn.Module):
    """Pre-LayerNorm transformer block."""

    def __init__(self, width: int, heads: int, mlp_width: int, act: Activation, eps: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, eps=eps)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width, eps=eps)
        self.mlp = nn.Sequential(
            OrderedDict(
                [
                    ("c_fc", nn.Linear(width, mlp_width)),
                    ("gelu", _activation(act)),
                    ("c_proj", nn.Linear(mlp_width, width)),
                ]
            )
        )

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), causal)
        mlp: torch.Tensor = self.mlp(self.ln_2(x))
        return x + mlp


class Transformer(nn.Module):
    def __init__(
        self, width: int, layers: int, heads: int, mlp_width: int, act: Activation, eps: float
    ) -> None:
        super().__init__()
        self.width = width
        self.resblocks = nn.ModuleList(
            ResidualBlock(width, heads, mlp_width, act, eps) for _ in range(layers)
        )
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        for block in self.resblocks:
            if self.grad_checkpointing and self.training:
                x = torch.utils.checkpoint.checkpoint(block, x, causal, use_reentrant=False)
            else:
                x = block(x, causal)
        return x

    def init_weights(self) -> None:
        attn_std = self.width**-0.5
        proj_std = attn_std * (2 * len(self.resblocks)) ** -0.5
        fc_std = (2 * self.width) ** -0.5
        for block in self.resblocks:
            # ModuleList and Sequential hand out plain Modules; the blocks are built in __init__.
            assert isinstance(block, ResidualBlock)
            c_fc, c_proj = block.mlp.c_fc, block.mlp.c_proj
            assert isinstance(c_fc, nn.Linear) and isinstance(c_proj, nn.Linear)
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.zeros_(block.attn.in_proj_bias)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.zeros_(block.attn.out_proj.bias)
            nn.init.normal_(c_fc.weight, std=fc_std)
            nn.init.normal_(c_proj.weight, std=proj_std)


class VisionTower(nn.Module):
    def __init__(self, cfg: VisionConfig, embed_dim: int) -> None:
        super().__init__()
        if cfg.image_size % cfg.patch_size:
            raise ValueError(
                f"image size {cfg.image_size} is not a multiple of patch size {cfg.patch_size}"
            )
        self.cfg = cfg
        w = cfg.width
        self.conv1 = nn.Conv2d(3, w, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.empty(w))
        self.positional_embedding = nn.Parameter(torch.empty(cfg.grid**2 + 1, w))
        self.ln_pre = nn.LayerNorm(w, eps=cfg.eps)
        self.transformer = Transformer(w, cfg.layers, cfg.heads, cfg.mlp_width, cfg.act, cfg.eps)
        self.ln_post = nn.LayerNorm(w, eps=cfg.eps)
        self.proj = nn.Parameter(torch.empty(w, embed_dim))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.conv1(pixels)  # [b, width, grid, grid]
        x = x.flatten(2).transpose(1, 2)  # [b, grid*grid, width]
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x))
        pooled: torch.Tensor = self.ln_post(x[:, 0])
        return pooled @ self.proj  # [b, embed_dim]

    def init_weights(self) -> None:
        scale = self.cfg.width**-0.5
        nn.init.normal_(self.conv1.weight, std=0.02)
        nn.init.normal_(self.class_embedding, std=scale)
        nn.init.normal_(self.positional_embedding, std=scale)
        nn.init.normal_(self.proj, std=scale)
        self.transformer.init_weights()


class ClipModule(DualEncoder):
    """Both towers and the learned temperature; the image tower is a ViT or, for a
    :class:`ResNetConfig`, OpenAI's ModifiedResNet.

    The text tower's parameters sit at the top level (``token_embedding``, ``transformer`` ...),
    as in OpenAI's and OpenCLIP's state dicts.
    """

    family = "clip"
    can_finetune = True
    cfg: ClipConfig

    def __init__(self, cfg: ClipConfig) -> None:
        super().__init__()
        self.cfg = cfg
        t: TextConfig = cfg.text
        self.visual: VisionTower | ModifiedResNet
        if isinstance(cfg.vision, ResNetConfig):
            # Imported here: the families package imports the checkpoint loader, which imports
            # this module.
            from clipdesk.model.families.resnet import ModifiedResNet

            self.visual = ModifiedResNet(cfg.vision, cfg.embed_dim)
        else:
            self.visual = VisionTower(cfg.vision, cfg.embed_dim)
        self.token_embedding = nn.Embedding(t.vocab_size, t.width)
        self.positional_embedding = nn.Parameter(torch.empty(t.context_length, t.width))
        self.transformer = Transformer(t.width, t.layers, t.heads, t.mlp_width, t.act, t.eps)
        self.ln_final = nn.LayerNorm(t.width, eps=t.eps)
        self.text_projection = nn.Parameter(torch.empty(t.width, cfg.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(float(cfg.logit_scale_init)))

    def init_weights(self) -> None:
        """Random initialisation for training from scratch (OpenCLIP's scheme)."""
        t = self.cfg.text
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=t.width**-0.5)
        self.transformer.init_weights()
        self.visual.init_weights()
        with torch.no_grad():
            self.logit_scale.fill_(float(self.cfg.logit_scale_init))

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        feats: torch.Tensor = self.visual(pixels)  # [b, embed_dim]
        return feats

    def text_features(self, ids: torch.Tensor) -> torch.Tensor:
        t = self.cfg.text
        n = ids.shape[1]  # padding past the end-of-text token may be cut: attention is causal
        x = self.token_embedding(ids) + self.positional_embedding[:n].to(
            self.token_embedding.weight.dtype
        )  # [b, tokens, width]
        x = self.ln_final(self.transformer(x, causal=True))
        if t.pooling == "argmax":
            pos = ids.argmax(dim=-1)
        else:
            pos = (ids == t.eos_token_id).int().argmax(dim=-1)
        feats: torch.Tensor = (
            x[torch.arange(x.shape[0], device=x.device), pos] @ self.text_projection
        )
        return feats  # [b, embed_dim]

    def forward(
        self, pixels: torch.Tensor, ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised image and text features and the temperature, for contrastive training."""
        return (
            self.encode_image(pixels, normalize=True),
            self.encode_text(ids, normalize=True),
            self.logit_scale.exp(),
        )

    def lock_tower(self, tower: str) -> None:
        """Freeze the ``"image"`` or ``"text"`` tower for fine-tuning the other one."""
        if tower == "image":
            params = list(self.visual.parameters())
        elif tower == "text":
            params = [
                p
                for name, p in self.named_parameters()
                if not name.startswith("visual.") and name != "logit_scale"
            ]
        else:
            raise ValueError(f"unknown tower {tower!r} (expected 'image' or 'text')")
        for p in params:
            p.requires_grad_(False)
