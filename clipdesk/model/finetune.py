"""Fine-tuning an installed CLIP model on the user's image-caption pairs, as a resumable job.

A thin layer over :class:`clipdesk.model.train.ContrastiveTrainer`: it adds what a user's run
needs — a job folder that survives a crash (``resume``), validation on held-out pairs during
training, a batch size that backs off when the GPU runs out of memory, the WiSE-FT blend with the
original weights, and a NEW model version folder with its metrics (the original is never touched).

Towers: ``"text"`` trains the text tower (and the temperature) only; the image tower is copied
bit for bit, so the new model's image vectors equal the original's and the library needs no
re-index (its metadata says so: ``image_vectors_from``). ``"both"`` trains everything; activating
that model re-embeds the library in the background.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import torch

from clipdesk.common import paths
from clipdesk.common.errors import CancelledError, ModelError
from clipdesk.common.progress import CancelToken, Progress, ProgressCallback
from clipdesk.model.caption_data import CaptionDataset, CaptionPair
from clipdesk.model.checkpoint import finetunable, load_checkpoint
from clipdesk.model.finetune_eval import RetrievalProbe, blend_state
from clipdesk.model.finetune_options import MIN_BATCH, FinetuneOptions, FinetuneResult
from clipdesk.model.finetune_save import save_version
from clipdesk.model.train import STATE_FILE, ContrastiveTrainer, TrainConfig, TrainProgress

log = logging.getLogger(__name__)

# {"loss": [[step, loss], ...], "val": [[step, {metric: value}], ...]}, for the live plots
History = dict[str, list[list[Any]]]
JOB_FILE = "job.json"
TUNED_FILE = "fine_tuned.pt"
SWEEP_ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"


def jobs_dir() -> Path:
    return paths.data_dir() / "finetune-jobs"


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


class FinetuneJob:
    """One fine-tuning run in its own folder: ``create`` it, ``run`` it, ``open`` it again after
    a crash or a cancel and ``run`` continues where it stopped."""

    def __init__(self, folder: Path, spec: dict[str, Any]) -> None:
        self.folder = folder
        self.spec = spec
        self.options = FinetuneOptions(**spec["options"]).validate()
        self.train_pairs = [CaptionPair(p[0], Path(p[1]), p[2], p[3]) for p in spec["train"]]
        self.val_pairs = [CaptionPair(p[0], Path(p[1]), p[2], p[3]) for p in spec["val"]]

    @classmethod
    def create(
        cls,
        base: str | Path,
        train: Sequence[CaptionPair],
        val: Sequence[CaptionPair],
        options: FinetuneOptions,
        root: Path | None = None,
        name: str | None = None,
    ) -> FinetuneJob:
        from clipdesk.model.manager import resolve_model

        options.validate()
        if len(train) < 2:
            raise ModelError(
                f"{len(train)} training pairs are too few to fine-tune",
                "choose more caption sources or confirm more tags",
            )
        base_path = resolve_model(base)
        folder = (root or jobs_dir()) / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        folder.mkdir(parents=True)
        spec = {
            "base": str(base_path),
            "base_name": base_path.name,
            "name": name,
            "options": asdict(options),
            "created": time.time(),
            "finished": None,
            "train": [[p.photo_id, str(p.path), p.caption, p.source] for p in train],
            "val": [[p.photo_id, str(p.path), p.caption, p.source] for p in val],
        }
        (folder / JOB_FILE).write_text(json.dumps(spec), encoding="utf-8")
        return cls(folder, spec)

    @classmethod
    def open(cls, folder: str | Path) -> FinetuneJob:
        folder = Path(folder)
        try:
            spec = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{folder}: not a readable fine-tuning job ({exc})") from exc
        return cls(folder, spec)

    @property
    def resumable(self) -> bool:
        return (self.folder / STATE_FILE).is_file() and not self.spec.get("finished")

    def _config(self, batch: int, n: int) -> TrainConfig:
        o = self.options
        steps = max(o.min_steps, math.ceil(o.epochs * max(1, n // batch)))
        return TrainConfig(
            steps=steps,
            batch_size=batch,
            lr=o.lr,
            seed=o.seed,
            device=o.device,
            precision=o.precision,
            freeze_image=o.towers == "text",
            checkpoint_every=max(10, steps // 10),
            weight_decay=0.0,
        )

    def _history(self) -> History:
        try:
            data = json.loads((self.folder / HISTORY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict):
            return {"loss": [], "val": []}
        return cast(History, data)

    def run(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        on_point: Callable[[str, int, dict[str, float]], None] | None = None,
        save_name: str | None = None,
    ) -> FinetuneResult:
        """Train (or continue), blend, save a new model version. ``on_point(kind, step, values)``
        receives ("loss", step, {"loss": ...}) every step and ("val", step, metrics) at each
        validation point, for live plots."""
        o = self.options
        base = load_checkpoint(self.spec["base"])
        base_module, base_tokenizer = finetunable(base)
        original = {k: v.detach().clone() for k, v in base_module.state_dict().items()}
        size = base.preprocess.size
        train_set = CaptionDataset(self.train_pairs, size)
        val_set = CaptionDataset(self.val_pairs, size)
        probe = None
        if len(val_set):
            imgs, caps = zip(*(val_set[i] for i in range(len(val_set))), strict=True)
            probe = RetrievalProbe(
                imgs,
                caps,
                base_tokenizer,
                base.preprocess,
                groups=[p.photo_id for p in self.val_pairs],
            )
        before = probe.measure(base_module) if probe else {}
        history = self._history()
        batch = int(self.spec.get("batch_size") or min(o.batch_size, len(train_set)))
        t0 = time.monotonic()
        while True:
            config = self._config(batch, len(train_set))
            if self.resumable:
                trainer = ContrastiveTrainer.resume(self.folder, config)
            else:
                torch.manual_seed(o.seed)
                trainer = ContrastiveTrainer(
                    base_module, base_tokenizer, config, preprocess=base.preprocess
                )
            total = config.steps or 1
            every = o.eval_every or max(1, total // 10)
            if probe and not history["val"]:
                history["val"].append([trainer.step, before])
                if on_point:
                    on_point("val", trainer.step, before)

            def tick(
                progressed: Progress,
                trainer: ContrastiveTrainer = trainer,
                every: int = every,
                history: History = history,
            ) -> None:
                p = cast(TrainProgress, progressed)  # the trainer reports TrainProgress
                history["loss"].append([p.step, p.loss])
                if on_point:
                    on_point("loss", p.step, {"loss": p.loss, "lr": p.lr})
                if probe and (p.step % every == 0 or p.step == p.total):
                    m = probe.measure(trainer.module)
                    history["val"].append([p.step, m])
                    if on_point:
                        on_point("val", p.step, m)
                if progress:
                    progress(p)

            try:
                result = trainer.fit(
                    train_set, progress=tick, cancel=cancel, checkpoint_dir=self.folder
                )
                break
            except CancelledError:
                self._save_history(history)
                raise
            except RuntimeError as exc:
                if not _is_oom(exc) or batch // 2 < MIN_BATCH:
                    raise
                del trainer
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                batch //= 2
                log.warning("out of memory; retrying with batch size %d", batch)
                self.spec["batch_size"] = batch
                (self.folder / STATE_FILE).unlink(missing_ok=True)
                history = {"loss": [], "val": []}
                base = load_checkpoint(self.spec["base"])
                base_module, base_tokenizer = finetunable(base)
        self._save_history(history)
        tuned = {k: v.detach().to("cpu").clone() for k, v in trainer.module.state_dict().items()}
        torch.save(tuned, self.folder / TUNED_FILE)  # kept for re-blending at another alpha
        fine_tuned = probe.measure(trainer.module) if probe else {}
        keep = ("visual.",) if o.towers == "text" else ()
        sweep: dict[str, dict[str, float]] = {}
        for a in SWEEP_ALPHAS if probe else ():  # what the blend slider trades, on validation
            trainer.module.load_state_dict(blend_state(original, tuned, a, keep))
            sweep[f"{a:g}"] = cast(RetrievalProbe, probe).measure(trainer.module)
        trainer.module.load_state_dict(blend_state(original, tuned, o.alpha, keep))
        after = probe.measure(trainer.module) if probe else {}
        name = save_name or self.spec.get("name") or self._version_name()
        result_obj = FinetuneResult(
            model_name=name,
            model_path=paths.models_dir() / name,
            alpha=o.alpha,
            before=before,
            after=after,
            fine_tuned=fine_tuned,
            steps=result.steps,
            batch_size=batch,
            seconds=time.monotonic() - t0,
            images_per_s=result.images_per_s,
            reembed_needed=o.towers == "both",
            sweep=sweep,
            history=history,
        )
        self.spec.update(
            base_id=f"{base.name}@{base.weights_hash[:12]}",
            base_meta=base.meta,
            result=result_obj.summary(),
        )
        save_version(
            trainer.module,
            trainer.tokenizer,
            trainer.preprocess,
            name,
            self.spec,
            o.alpha,
            result_obj.summary(),
        )
        self.spec["finished"] = time.time()
        self.spec["model"] = name
        self._write_spec()
        return result_obj

    def save_blend(self, alpha: float, name: str | None = None) -> Path:
        """Another version from this finished run at blend ``alpha`` (no retraining)."""
        if not self.spec.get("finished") or not (self.folder / TUNED_FILE).is_file():
            raise ModelError("this fine-tuning run has not finished; there is nothing to blend")
        base = load_checkpoint(self.spec["base"])
        base_module, base_tokenizer = finetunable(base)
        tuned = torch.load(self.folder / TUNED_FILE, map_location="cpu", weights_only=True)
        keep = ("visual.",) if self.options.towers == "text" else ()
        original = base_module.state_dict()
        base_module.load_state_dict(blend_state(original, tuned, alpha, keep))
        summary = dict(self.spec.get("result") or {})
        name = name or self._version_name()
        summary.update(
            model_name=name,
            model_path=str(paths.models_dir() / name),
            alpha=alpha,
            after=summary.get("sweep", {}).get(f"{alpha:g}", {}),
        )
        return save_version(
            base_module, base_tokenizer, base.preprocess, name, self.spec, alpha, summary
        )

    def _write_spec(self) -> None:
        (self.folder / JOB_FILE).write_text(json.dumps(self.spec, default=str), encoding="utf-8")

    def _version_name(self) -> str:
        from clipdesk.model.manager import free_name

        return free_name(f"{self.spec['base_name']}-ft-{time.strftime('%Y%m%d-%H%M')}")

    def _save_history(self, history: History) -> None:
        (self.folder / HISTORY_FILE).write_text(json.dumps(history), encoding="utf-8")


def pending_jobs(root: Path | None = None) -> list[FinetuneJob]:
    """Jobs that stopped before finishing (crash or cancel) and can be resumed, newest first."""
    root = root or jobs_dir()
    out = []
    for folder in sorted(root.glob("*"), reverse=True) if root.is_dir() else []:
        try:
            job = FinetuneJob.open(folder)
        except ModelError:
            continue
        if job.resumable:
            out.append(job)
    return out
