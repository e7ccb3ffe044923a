"""Every family's towers can be exported as graphs with a dynamic batch (and, for text, a dynamic
length): the contract the inference runtime (ONNX, issue #15) relies on to serve every family
with one exporter. ``torch.export`` is the tracer ``torch.onnx.export`` uses; a tower with Python
control flow on tensor values, or with more than one input, fails here first."""

from __future__ import annotations

import pytest
import torch

from clipdesk.model.clip import ClipModule
from clipdesk.model.config import ClipConfig, ResNetConfig, TextConfig, VisionConfig
from clipdesk.model.dual_encoder import DualEncoder
from clipdesk.model.families.siglip import (
    SiglipConfig,
    SiglipModule,
    SiglipTextConfig,
    SiglipVisionConfig,
)
from clipdesk.model.families.xlmr import XlmrClipConfig, XlmrClipModule, XlmrTextConfig

# Pooled at the end token, id 299, which every test sequence ends with.
_TEXT = TextConfig(
    vocab_size=300,
    context_length=77,
    width=32,
    layers=1,
    heads=2,
    mlp_width=64,
    eos_token_id=299,
    pooling="eos",
)
_VIT = VisionConfig(image_size=32, patch_size=8, width=32, layers=1, heads=2, mlp_width=64)


def _families() -> dict[str, DualEncoder]:
    modules: dict[str, DualEncoder] = {
        "vit": ClipModule(ClipConfig(embed_dim=32, vision=_VIT, text=_TEXT)),
        "resnet": ClipModule(
            ClipConfig(
                embed_dim=32,
                vision=ResNetConfig(image_size=64, layers=(1, 1, 1, 1), width=8, heads=4),
                text=_TEXT,
            )
        ),
        "siglip": SiglipModule(
            SiglipConfig(
                vision=SiglipVisionConfig(
                    image_size=32, patch_size=8, width=32, layers=1, heads=2, mlp_width=64
                ),
                text=SiglipTextConfig(
                    vocab_size=300,
                    context_length=64,
                    width=32,
                    layers=1,
                    heads=2,
                    mlp_width=64,
                    projection_size=32,
                ),
            )
        ),
        "xlm-roberta": XlmrClipModule(
            XlmrClipConfig(
                embed_dim=32,
                vision=_VIT,
                text=XlmrTextConfig(
                    vocab_size=300, width=32, layers=1, heads=2, mlp_width=64, max_positions=80
                ),
            )
        ),
    }
    torch.manual_seed(0)
    for module in modules.values():
        if isinstance(module, ClipModule):
            module.init_weights()  # a ResNet with arbitrary weights gives every photo one vector
        else:
            with torch.no_grad():
                for p in module.parameters():
                    p.normal_(0, 0.2)
        module.eval()
    return modules


FAMILIES = _families()


class _Tower(torch.nn.Module):
    def __init__(self, module: DualEncoder, tower: str) -> None:
        super().__init__()
        self.module, self.tower = module, tower

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tower == "image":
            return self.module.encode_image(x, normalize=True)
        return self.module.encode_text(x, normalize=True)


def _ids(n: int, length: int) -> torch.Tensor:
    ids = torch.randint(3, 299, (n, length))
    ids[:, 0] = 0  # a start token
    ids[:, -1] = 299  # the end token
    return ids


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_image_tower_exports_with_a_dynamic_batch(family):
    module = FAMILIES[family]
    size = module.image_size
    tower = _Tower(module, "image")
    batch = torch.export.Dim("batch", min=1, max=64)
    graph = torch.export.export(
        tower, (torch.randn(2, 3, size, size),), dynamic_shapes=({0: batch},)
    ).module()
    for n in (1, 5):
        # photos unlike each other (plain noise looks alike to a random ResNet's average pool)
        ramp = torch.linspace(-2, 2, size).view(1, 1, 1, size) * torch.arange(n).view(n, 1, 1, 1)
        pixels = torch.randn(n, 3, size, size) + ramp
        with torch.no_grad():
            out = graph(pixels)
        assert out.shape == (n, module.embed_dim)
        torch.testing.assert_close(out, tower(pixels), atol=1e-5, rtol=0)
    assert (out[0] - out[1]).abs().max() > 1e-3  # each photo of the batch has its own vector


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_text_tower_exports_with_a_dynamic_batch_and_length(family):
    module = FAMILIES[family]
    tower = _Tower(module, "text")
    fixed = family == "siglip"  # SigLIP always pads to its 64 positions
    batch = torch.export.Dim("batch", min=1, max=64)
    shapes = {0: batch} if fixed else {0: batch, 1: torch.export.Dim("tokens", min=2, max=77)}
    example = _ids(2, 64 if fixed else 9)
    graph = torch.export.export(tower, (example,), dynamic_shapes=(shapes,)).module()
    for n, length in ((1, 64 if fixed else 4), (3, 64 if fixed else 20)):
        ids = _ids(n, length)
        with torch.no_grad():
            out = graph(ids)
        assert out.shape == (n, module.embed_dim)
        torch.testing.assert_close(out, tower(ids), atol=1e-5, rtol=0)
    assert (out[0] - out[1]).abs().max() > 1e-3
