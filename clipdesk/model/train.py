"""Contrastive training and fine-tuning of a CLIP model — the demo model's trainer and the Train
tab's.

::

    trainer = ContrastiveTrainer.from_checkpoint("clipdesk-mini", TrainConfig(epochs=3))
    # or ContrastiveTrainer.from_scratch(clip_config, tokenizer, TrainConfig(steps=5000))
    result = trainer.fit(pairs, progress=callback, cancel=token, checkpoint_dir=work_dir)
    trainer.save(out_folder, name="my-model")        # a folder load_model reads

``pairs`` is any sequence of ``(PIL image, caption)`` (e.g. :class:`clipdesk.model.synth.SynthPairs`).
The objective is CLIP's symmetric cross-entropy with a learned temperature clamped to at most 100;
AdamW without weight decay on gains, biases, embeddings and the temperature; linear warm-up then
cosine decay; gradient clipping; bf16/fp16 autocast on GPUs, fp32 on the CPU. Batches are a pure
function of (seed, step), so a run resumed from its checkpoint continues exactly where it stopped.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from clipdesk.common.errors import CancelledError, CheckpointError
from clipdesk.common.progress import CancelToken, Progress, ProgressCallback, RateMeter
from clipdesk.model.checkpoint import finetunable, load_checkpoint, save_model_folder
from clipdesk.model.clip import ClipModule
from clipdesk.model.config import ClipConfig
from clipdesk.model.device import autocast_dtype, select_device
from clipdesk.model.losses import clip_loss
from clipdesk.model.preprocess import PreprocessConfig
from clipdesk.model.schedule import warmup_cosine
from clipdesk.model.tokenizer import ClipTokenizer
from clipdesk.model.train_data import PairBatches, PairSource

log = logging.getLogger(__name__)

MAX_LOGIT_SCALE = math.log(100.0)
STATE_FILE = "trainer_state.pt"
MODEL_SUBDIR = "model"


@dataclass(frozen=True)
class TrainConfig:
    steps: int | None = None  # total optimiser steps; None: derived from epochs
    epochs: float = 1.0  # passes over the data when steps is None
    batch_size: int = 64
    lr: float = 5e-4
    min_lr_ratio: float = 0.0  # the cosine ends at lr * min_lr_ratio
    warmup_steps: int | None = None  # None: 5% of the steps
    weight_decay: float = 0.1  # on weight matrices only
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    grad_clip: float | None = 1.0  # max global gradient norm; None: no clipping
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # "auto" (bf16/fp16 on GPU, fp32 on CPU), "fp32", "bf16", "fp16"
    freeze_image: bool = False
    freeze_text: bool = False
    num_workers: int = 0  # DataLoader processes decoding/rendering images
    shuffle: bool = True  # False: batch k is items k*batch_size.. (the source arranges batches)
    checkpoint_every: int = 0  # steps between resumable checkpoints (0: only at the end/cancel)
    progress_every: int = 1  # steps between progress reports

    def total_steps(self, n_pairs: int) -> int:
        if self.steps is not None:
            return max(1, self.steps)
        per_epoch = max(1, n_pairs // self.batch_size) if n_pairs >= self.batch_size else 1
        return max(1, math.ceil(self.epochs * per_epoch))


@dataclass(frozen=True)
class TrainProgress(Progress):
    """A Progress (done/total in steps) with the training figures."""

    step: int = 0
    loss: float = float("nan")
    lr: float = 0.0
    images_per_s: float = 0.0


@dataclass
class TrainResult:
    steps: int  # steps completed in total (including those before a resume)
    total_steps: int
    losses: list[float] = field(default_factory=list)  # one per step run in this call
    seconds: float = 0.0
    images_per_s: float = 0.0

    @property
    def final_loss(self) -> float:
        tail = self.losses[-20:]
        return sum(tail) / len(tail) if tail else float("nan")


def _is_decayed(name: str, p: torch.Tensor) -> bool:
    """Weight decay on weight matrices only: not gains, biases, embeddings or the temperature."""
    return p.ndim >= 2 and "embedding" not in name and name != "logit_scale"


class ContrastiveTrainer:
    def __init__(
        self,
        module: ClipModule,
        tokenizer: ClipTokenizer,
        config: TrainConfig,
        preprocess: PreprocessConfig | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.device = select_device(config.device, allow_fallback=True)
        self.module = module.to(self.device)
        self.tokenizer = tokenizer
        self.preprocess = preprocess or PreprocessConfig(size=module.cfg.vision.image_size)
        self.meta = dict(meta or {})
        self.step = 0
        if config.freeze_image and config.freeze_text:
            raise ValueError("cannot freeze both towers: nothing would be trained")
        for p in self.module.parameters():
            p.requires_grad_(True)
        if config.freeze_image:
            self.module.lock_tower("image")
        if config.freeze_text:
            self.module.lock_tower("text")
        named = [(n, p) for n, p in self.module.named_parameters() if p.requires_grad]
        groups = [
            {
                "params": [p for n, p in named if _is_decayed(n, p)],
                "weight_decay": config.weight_decay,
            },
            {"params": [p for n, p in named if not _is_decayed(n, p)], "weight_decay": 0.0},
        ]
        self.optimizer = torch.optim.AdamW(
            groups,
            lr=config.lr,
            betas=config.betas,
            eps=config.eps,
            fused=self.device.type == "cuda",
        )
        self._amp = self._amp_dtype()
        self._scaler = torch.amp.GradScaler(
            self.device.type, enabled=self._amp == torch.float16 and self.device.type == "cuda"
        )

    # --- construction ---

    @classmethod
    def from_scratch(
        cls, cfg: ClipConfig, tokenizer: ClipTokenizer, config: TrainConfig, **kw: Any
    ) -> ContrastiveTrainer:
        torch.manual_seed(config.seed)
        module = ClipModule(cfg)
        module.init_weights()
        return cls(module, tokenizer, config, **kw)

    @classmethod
    def from_checkpoint(
        cls, source: str | Path, config: TrainConfig, **kw: Any
    ) -> ContrastiveTrainer:
        """Start from anything :func:`clipdesk.model.load_model` reads (path or installed name)."""
        from clipdesk.model.manager import resolve_model

        ckpt = load_checkpoint(resolve_model(source))
        torch.manual_seed(config.seed)
        kw.setdefault("preprocess", ckpt.preprocess)
        module, tokenizer = finetunable(ckpt)
        return cls(module.float(), tokenizer, config, **kw)

    def _amp_dtype(self) -> torch.dtype | None:
        p = self.config.precision
        if p == "auto":
            return autocast_dtype(self.device) if self.device.type == "cuda" else None
        if p == "fp32":
            return None
        if p in ("bf16", "fp16"):
            if self.device.type == "cpu" and p == "fp16":
                raise ValueError("fp16 training needs a GPU; use fp32 or bf16 on the CPU")
            return torch.bfloat16 if p == "bf16" else torch.float16
        raise ValueError(f"unknown precision {p!r} (expected auto, fp32, bf16 or fp16)")

    # --- training ---

    def _set_lr(self, total: int) -> float:
        cfg = self.config
        warmup = cfg.warmup_steps if cfg.warmup_steps is not None else max(1, total // 20)
        lr = cfg.lr * warmup_cosine(self.step, total, min(warmup, total), cfg.min_lr_ratio)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def train_step(self, pixels: torch.Tensor, ids: torch.Tensor) -> float:
        """One optimiser step on a batch; returns the loss."""
        self.module.train()
        pixels = pixels.to(self.device, non_blocking=True)
        ids = ids.to(self.device, non_blocking=True)
        with torch.autocast(
            self.device.type, dtype=self._amp or torch.float32, enabled=self._amp is not None
        ):
            img, txt, scale = self.module(pixels, ids)
        loss = clip_loss(img, txt, scale)
        self.optimizer.zero_grad(set_to_none=True)
        self._scaler.scale(loss).backward()  # type: ignore[no-untyped-call]  # torch: unannotated
        if self.config.grad_clip:
            self._scaler.unscale_(self.optimizer)
            params = [p for p in self.module.parameters() if p.requires_grad]
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        self._scaler.step(self.optimizer)
        self._scaler.update()
        with torch.no_grad():  # the paper clamps the temperature so logits stay <= 100
            self.module.logit_scale.clamp_(0.0, MAX_LOGIT_SCALE)
        self.step += 1
        return float(loss.detach())

    def fit(
        self,
        pairs: PairSource,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        checkpoint_dir: str | Path | None = None,
    ) -> TrainResult:
        """Train until the configured number of steps (continuing from ``self.step``).

        With ``checkpoint_dir``, a resumable checkpoint is written every ``checkpoint_every``
        steps, at the end, and when cancelled; cancelling raises CancelledError after saving.
        """
        cfg = self.config
        if len(pairs) == 0:
            raise ValueError("no training pairs")
        total = cfg.total_steps(len(pairs))
        batches = PairBatches(
            pairs, self.tokenizer, self.preprocess, cfg.batch_size, cfg.seed, cfg.shuffle
        )
        meter = RateMeter(total)
        result = TrainResult(steps=self.step, total_steps=total)
        t0, images = time.monotonic(), 0
        try:
            for pixels, ids in batches.loader(self.step, total, cfg.num_workers):
                if cancel is not None and cancel.cancelled:
                    raise CancelledError("training cancelled")
                lr = self._set_lr(total)
                loss = self.train_step(pixels, ids)
                if not math.isfinite(loss):
                    raise FloatingPointError(
                        f"loss became {loss} at step {self.step}; lower the lr"
                    )
                result.losses.append(loss)
                images += pixels.shape[0]
                if (
                    checkpoint_dir
                    and cfg.checkpoint_every
                    and self.step % cfg.checkpoint_every == 0
                ):
                    self.save_checkpoint(checkpoint_dir)
                if progress and (self.step % cfg.progress_every == 0 or self.step == total):
                    p = meter.update(self.step)
                    elapsed = max(1e-9, time.monotonic() - t0)
                    progress(
                        TrainProgress(
                            done=self.step,
                            total=total,
                            rate=p.rate,
                            eta_s=p.eta_s,
                            message=f"step {self.step}/{total}  loss {loss:.4f}  lr {lr:.2e}",
                            step=self.step,
                            loss=loss,
                            lr=lr,
                            images_per_s=images / elapsed,
                        )
                    )
        except CancelledError:
            if checkpoint_dir:
                self.save_checkpoint(checkpoint_dir)
            raise
        result.steps = self.step
        result.seconds = time.monotonic() - t0
        result.images_per_s = images / max(1e-9, result.seconds)
        if checkpoint_dir:
            self.save_checkpoint(checkpoint_dir)
        return result

    # --- saving and resuming ---

    def save(self, folder: str | Path, name: str, meta: dict[str, Any] | None = None) -> Path:
        """The trained model as a folder :func:`clipdesk.model.load_model` reads."""
        self.module.eval()
        info = {**self.meta, "train_step": self.step, **(meta or {})}
        return save_model_folder(
            self.module, self.tokenizer, folder, name=name, preprocess=self.preprocess, meta=info
        )

    def save_checkpoint(self, checkpoint_dir: str | Path) -> Path:
        """Weights (safetensors, in the engine's folder format) and optimiser state, resumable."""
        root = Path(checkpoint_dir)
        root.mkdir(parents=True, exist_ok=True)
        self.save(root / MODEL_SUBDIR, name=str(self.meta.get("name", "training")))
        state = {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scaler": self._scaler.state_dict(),
            "config": json.dumps(asdict(self.config)),
        }
        tmp = root / (STATE_FILE + ".tmp")
        torch.save(state, tmp)
        tmp.replace(root / STATE_FILE)
        return root

    @classmethod
    def resume(
        cls, checkpoint_dir: str | Path, config: TrainConfig | None = None
    ) -> ContrastiveTrainer:
        """A trainer continuing a checkpoint; ``config`` defaults to the one it was started with."""
        root = Path(checkpoint_dir)
        state_path = root / STATE_FILE
        if not state_path.is_file():
            raise CheckpointError(f"{root}: no {STATE_FILE} — not a training checkpoint")
        try:
            # Our own file, and still read without unpickling code.
            state = torch.load(state_path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise CheckpointError(f"{state_path}: unreadable training state ({exc})") from exc
        saved = json.loads(state["config"])
        saved["betas"] = tuple(saved["betas"])
        config = config or TrainConfig(**saved)
        ckpt = load_checkpoint(root / MODEL_SUBDIR)
        if int(ckpt.meta.get("train_step", -1)) != int(state["step"]):
            raise CheckpointError(
                f"{root}: the weights (step {ckpt.meta.get('train_step')}) and the optimiser state "
                f"(step {state['step']}) do not match; the checkpoint was interrupted while saving"
            )
        meta = {k: v for k, v in ckpt.meta.items() if k not in ("format_version", "train_step")}
        module, tokenizer = finetunable(ckpt)
        trainer = cls(module.float(), tokenizer, config, ckpt.preprocess, meta)
        trainer.optimizer.load_state_dict(state["optimizer"])
        trainer._scaler.load_state_dict(state["scaler"])
        trainer.step = int(state["step"])
        return trainer
