"""OpenAI's ModifiedResNet image tower (Radford et al., 2021, section 2.4): RN50, RN101, RN50x4,
RN50x16 and RN50x64.

Three changes to a ResNet-50: a stem of three 3x3 convolutions with an average pool instead of
one 7x7 convolution and a max pool (ResNet-D); strided convolutions replaced by a stride-1
convolution after an average pool (anti-aliased downsampling, Zhang 2019); and global average
pooling replaced by one layer of multi-head attention whose query is the mean of the feature
map. Parameter and buffer names are those of OpenAI's and OpenCLIP's state dicts under
``visual.``, so both load as they are. Batch norms always use their running statistics: ClipDesk
only runs these towers, it never trains them.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from clipdesk.model.config import ResNetConfig

EXPANSION = 4  # a bottleneck's output has 4x the channels of its 3x3 convolution


class FrozenBatchNorm2d(nn.BatchNorm2d):
    """A batch norm that normalises with its running statistics even in training mode, so a
    tower cannot drift from its checkpoint by being put in ``train()``; same state-dict names
    (``weight``, ``bias``, ``running_mean``, ``running_var``, ``num_batches_tracked``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
        )


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, (average pool when striding), 1x1 expand, plus the shortcut."""

    def __init__(self, c_in: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        c_out = planes * EXPANSION
        self.conv1 = _conv(c_in, planes, 1)
        self.bn1 = FrozenBatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3)
        self.bn2 = FrozenBatchNorm2d(planes)
        self.pool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = _conv(planes, c_out, 1)
        self.bn3 = FrozenBatchNorm2d(c_out)
        # OpenAI's shortcut Sequential is ("-1" avgpool, "0" conv, "1" bn); the pool holds no
        # weights, so it sits outside and the conv and bn keep their checkpoint names.
        self.shortcut_pool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.downsample: nn.Sequential | None = None
        if stride > 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                OrderedDict([("0", _conv(c_in, c_out, 1)), ("1", FrozenBatchNorm2d(c_out))])
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        out = self.bn3(self.conv3(self.pool(out)))
        shortcut = x if self.downsample is None else self.downsample(self.shortcut_pool(x))
        return F.relu(out + shortcut, inplace=True)

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.BatchNorm2d):
                m.reset_parameters()
        # each residual branch starts as the identity (OpenAI's and OpenCLIP's scheme)
        nn.init.zeros_(self.bn3.weight)


class AttentionPool2d(nn.Module):
    """One multi-head attention layer over the final feature map; the query is the mean token
    with its own position (row 0 of ``positional_embedding``), its output is the embedding."""

    def __init__(self, grid: int, width: int, heads: int, embed_dim: int) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"attention pool width {width} is not divisible by {heads} heads")
        self.heads = heads
        self.positional_embedding = nn.Parameter(torch.empty(grid**2 + 1, width))
        self.k_proj = nn.Linear(width, width)
        self.q_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.c_proj = nn.Linear(width, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[0], x.shape[1]
        x = x.flatten(2).transpose(1, 2)  # [b, grid*grid, width]
        x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)  # [b, 1 + grid*grid, width]
        x = x + self.positional_embedding.to(x.dtype)
        hd = c // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, -1, self.heads, hd).transpose(1, 2)  # [b, heads, tokens, hd]

        # Only the mean token's output is used, so only its query is computed.
        q = split(self.q_proj(x[:, :1]))
        out = F.scaled_dot_product_attention(q, split(self.k_proj(x)), split(self.v_proj(x)))
        pooled: torch.Tensor = self.c_proj(out.transpose(1, 2).reshape(b, c))
        return pooled  # [b, embed_dim]

    def init_weights(self) -> None:
        std = self.c_proj.in_features**-0.5
        nn.init.normal_(self.positional_embedding, std=std)
        for proj in (self.q_proj, self.k_proj, self.v_proj, self.c_proj):
            proj.reset_parameters()
            nn.init.normal_(proj.weight, std=std)


class ModifiedResNet(nn.Module):
    """The image tower: pixels [b, 3, S, S] -> features [b, embed_dim]."""

    def __init__(self, cfg: ResNetConfig, embed_dim: int) -> None:
        super().__init__()
        if cfg.image_size % 32:
            raise ValueError(f"image size {cfg.image_size} is not a multiple of 32")
        self.cfg = cfg
        w = cfg.width
        self.conv1 = _conv(3, w // 2, 3, stride=2)
        self.bn1 = FrozenBatchNorm2d(w // 2)
        self.conv2 = _conv(w // 2, w // 2, 3)
        self.bn2 = FrozenBatchNorm2d(w // 2)
        self.conv3 = _conv(w // 2, w, 3)
        self.bn3 = FrozenBatchNorm2d(w)
        self.avgpool = nn.AvgPool2d(2)
        c_in = w
        stages = []
        for i, blocks in enumerate(cfg.layers):
            planes = w * 2**i
            stage = [Bottleneck(c_in, planes, stride=1 if i == 0 else 2)]
            stage += [Bottleneck(planes * EXPANSION, planes) for _ in range(1, blocks)]
            stages.append(nn.Sequential(*stage))
            c_in = planes * EXPANSION
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        # the stem and three strided stages divide the side by 32; the last stage has 32x width
        self.attnpool = AttentionPool2d(cfg.image_size // 32, c_in, cfg.heads, embed_dim)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(pixels)), inplace=True)  # [b, width/2, S/2, S/2]
        x = F.relu(self.bn2(self.conv2(x)), inplace=True)
        x = F.relu(self.bn3(self.conv3(x)), inplace=True)  # [b, width, S/2, S/2]
        x = self.avgpool(x)  # [b, width, S/4, S/4]
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # [b, 32*width, S/32, S/32]
        pooled: torch.Tensor = self.attnpool(x)
        return pooled

    def init_weights(self) -> None:
        for m in (self.conv1, self.bn1, self.conv2, self.bn2, self.conv3, self.bn3):
            m.reset_parameters()
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in stage:
                assert isinstance(block, Bottleneck)  # Sequential hands out plain Modules
                block.init_weights()
        self.attnpool.init_weights()
