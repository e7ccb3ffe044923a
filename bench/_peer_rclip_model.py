"""One random-weight OpenCLIP ViT-B-32-256 (rclip 4.x's default architecture), written by
ClipDesk's own code in both tools' layouts, so the two are timed on identical weights offline.

    <out>/hub/                 an OpenCLIP hub folder (``open_clip_config.json`` +
                               ``open_clip_model.safetensors``), as ClipDesk writes one, for
                               ``clipdesk-cli models import``
    <out>/rclip-data/          what rclip's model "download" leaves in ``$RCLIP_DATADIR``:
        ViT-B-32-256-datacomp_s34b_b86k/visual.onnx, textual.onnx
        tokenizer/bpe_simple_vocab_16e6.txt.gz, and stand-ins for the legal files rclip checks
        for before it would go to the hub

The module is the catalog architecture built by ``clipdesk.model.architectures`` (ClipDesk's
own config reader) with :func:`~clipdesk.model.architectures.randomize`'s weights. The ONNX
files are exported as rclip's ``scripts/convert_model.py`` exports OpenCLIP's model: the image
tower with its projection and the text tower's ``encode_text`` (neither normalised), opset 18,
the TorchScript exporter, input ``input``, output ``output``, a dynamic batch axis. rclip's
tokenizer reads OpenAI's BPE merges, which ClipDesk ships (``clipdesk/model/assets``,
byte-identical to OpenCLIP's copy).

    python bench/_peer_rclip_model.py OUT [--seed N]     (prints the facts as JSON)

Run as its own process: a benchmark process that once held torch and a model would lend that
peak to every child's ``ru_maxrss`` (Linux counts the pages a child had before ``exec``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from clipdesk.model.architectures import build as build_arch
from clipdesk.model.architectures import parameter_count
from clipdesk.model.catalog import ARCHITECTURES
from clipdesk.model.clip import ClipModule
from clipdesk.model.families.openclip_save import save_hub_folder
from clipdesk.model.preprocess import PreprocessConfig
from clipdesk.model.state_dicts import default_clip_tokenizer

ARCH = "ViT-B-32-256"
# rclip.model_download.MODEL_SUBDIR and the files it looks for before downloading anything
RCLIP_MODEL_SUBDIR = "ViT-B-32-256-datacomp_s34b_b86k"
RCLIP_VOCAB = "tokenizer/bpe_simple_vocab_16e6.txt.gz"
RCLIP_LEGAL = ("LICENSE", "OPENAI-CLIP-MIT.txt", "README.md", "THIRD_PARTY_NOTICES.md")
MANIFEST = "manifest.json"


def build(out: Path, seed: int = 0) -> dict[str, Any]:
    """Write both layouts under ``out`` (once: a complete earlier build is reused)."""
    manifest = out / MANIFEST
    if manifest.is_file():
        facts: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
        if facts.get("seed") == seed and facts.get("arch") == ARCH:
            return facts
    shutil.rmtree(out, ignore_errors=True)
    arch = ARCHITECTURES[ARCH]
    module = build_arch(arch, seed).module
    assert isinstance(module, ClipModule), type(module)
    cfg = module.cfg
    tokenizer = default_clip_tokenizer(cfg.text.context_length)
    hub = save_hub_folder(
        module,
        tokenizer,
        out / "hub",
        name=f"peer-{ARCH.lower()}",
        # OpenCLIP's and rclip's preprocessing for this model: shorter side to 256 (bicubic),
        # centre crop, OpenAI's mean and std.
        preprocess=PreprocessConfig(size=arch.image_size),
        meta={"source": f"random {ARCH} (seed {seed}) for bench/peer_rclip.py"},
    )

    data = out / "rclip-data"
    onnx_dir = data / RCLIP_MODEL_SUBDIR
    onnx_dir.mkdir(parents=True)
    size = arch.image_size
    _export(_Tower(module, "image").eval(), torch.randn(1, 3, size, size), onnx_dir / "visual.onnx")
    _export(
        _Tower(module, "text").eval(),
        torch.zeros(1, cfg.text.context_length, dtype=torch.long),
        onnx_dir / "textual.onnx",
    )
    diffs = _check_onnx(module, onnx_dir, size, cfg.text.context_length)

    vocab = data / RCLIP_VOCAB
    vocab.parent.mkdir(parents=True)
    vocab.write_bytes(resources.files("clipdesk.model").joinpath("assets", vocab.name).read_bytes())
    for name in RCLIP_LEGAL:
        (data / name).write_text(
            "Stand-in for the file rclip's model download brings: these are random weights "
            "made by bench/peer_rclip.py for an offline benchmark.\n",
            encoding="utf-8",
        )
    facts = {
        "arch": ARCH,
        "seed": seed,
        "params_m": round(parameter_count(module) / 1e6, 2),
        "image_size": size,
        "act": cfg.vision.act,
        "hub": str(hub),
        "rclip_data": str(data),
        "onnx_vs_torch_max_abs_diff": diffs,
        "onnx_mb": {
            p.name: round(p.stat().st_size / 1e6, 1) for p in sorted(onnx_dir.glob("*.onnx"))
        },
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
    manifest.write_text(json.dumps(facts, indent=2), encoding="utf-8")
    return facts


class _Tower(torch.nn.Module):
    """One tower's features, unnormalised: rclip's ``_VisualWrapper`` (``model.visual``) or
    ``_TextualWrapper`` (``model.encode_text``)."""

    def __init__(self, module: ClipModule, which: str) -> None:
        super().__init__()
        self.module = module
        self.which = which

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tower = self.module.image_features if self.which == "image" else self.module.text_features
        feats: torch.Tensor = tower(x)  # [batch, embed_dim]
        return feats


def _export(wrapper: torch.nn.Module, dummy: torch.Tensor, path: Path) -> None:
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (dummy,),
            str(path),
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            opset_version=18,
            dynamo=False,
        )


def _check_onnx(module: ClipModule, folder: Path, size: int, context: int) -> dict[str, float]:
    """ONNX Runtime against the torch module at batch 2 (the batch axis really is dynamic), as
    rclip's ``convert_model.verify_onnx`` checks its own export."""
    import onnxruntime as ort

    gen = torch.Generator().manual_seed(1)
    pixels = torch.randn(2, 3, size, size, generator=gen)
    ids = torch.zeros(2, context, dtype=torch.long)
    ids[0, :3] = torch.tensor([49406, 320, 49407])  # <start> a <end>
    ids[1, :4] = torch.tensor([49406, 736, 1615, 49407])
    with torch.no_grad():
        want = {"visual": module.image_features(pixels), "textual": module.text_features(ids)}
    given = {"visual": pixels.numpy(), "textual": ids.numpy()}
    diffs = {}
    for name, inputs in given.items():
        session = ort.InferenceSession(
            str(folder / f"{name}.onnx"), providers=["CPUExecutionProvider"]
        )
        got = session.run(None, {"input": inputs})[0]
        diffs[name] = float(np.abs(got - want[name].numpy()).max())
        if not diffs[name] <= 1e-3:
            raise RuntimeError(f"{folder / name}.onnx differs from torch by {diffs[name]:.2e}")
    return diffs


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the random model for bench/peer_rclip.py")
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(json.dumps(build(args.out, args.seed)))
