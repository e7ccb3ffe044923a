"""Fine-tuning, for both faces: caption pairs per source, a run (new or resumed), the model versions
it made, activating one and rolling back. Written once here; ``clipdesk-cli train ...`` and the
Train tab both call it.

A run trains on image-caption pairs from the library (:mod:`clipdesk.training.captions`) and saves
a NEW model version (:class:`clipdesk.model.finetune.FinetuneJob`); activating a version shares
the library's image vectors and tag heads where the image towers match
(:mod:`clipdesk.training.versions`), then makes it the active model through
:meth:`clipdesk.services.models.ModelService.activate`, so the settings, ``models list``,
``status`` and the app all name it. A run's new version is prepared for ONNX Runtime before the
run returns (:meth:`clipdesk.services.runtimes.RuntimeService.try_prepare`: its failure or
cancel leaves the version on PyTorch, never undoes it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clipdesk.common.errors import CancelledError, ClipDeskError, ModelError
from clipdesk.common.progress import CancelToken, ProgressCallback
from clipdesk.model.finetune_options import FinetuneOptions, FinetuneResult
from clipdesk.services.models import Activation
from clipdesk.services.runtimes import Preparation
from clipdesk.training.captions import SOURCE_TITLES, SOURCES

if TYPE_CHECKING:
    from clipdesk.model.versions import VersionInfo
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.services.training_results import RunReport

log = logging.getLogger(__name__)

__all__ = [
    "CAPTION_SOURCES",
    "CAPTION_SOURCE_TITLES",
    "FinetuneOptions",
    "FinetuneResult",
    "FinetuneRun",
    "FinetuneStopped",
    "PairSummary",
    "TrainingService",
]

# The caption sources a run can draw on, and how the faces name them (light to import: the CLI
# builds its help from them).
CAPTION_SOURCES: tuple[str, ...] = SOURCES
CAPTION_SOURCE_TITLES: dict[str, str] = SOURCE_TITLES

PointCallback = Callable[[str, int, dict[str, float]], None]
RESUME_LAST = "last"


@dataclass(frozen=True)
class PairSummary:
    """How many image-caption pairs each source gives."""

    counts: dict[str, int]  # pairs per source
    pairs: int
    photos: int  # distinct photos with at least one pair

    def to_json(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "photos": self.photos, "by_source": dict(self.counts)}


@dataclass(frozen=True)
class FinetuneRun:
    """A finished run: the new version's result, the data it was trained on, its job folder."""

    job_folder: Path
    result: FinetuneResult
    data: dict[str, Any] = field(default_factory=dict)  # pairs, photos, train, validation
    activation: Activation | None = None  # set when the run was asked to activate its version
    runtime: Preparation | None = None  # the new version's preparation for ONNX Runtime

    def to_json(self) -> dict[str, Any]:
        out = {**self.result.summary(), "data": dict(self.data), "job": str(self.job_folder)}
        if self.activation is not None:
            out["activation"] = self.activation.to_json()
        if self.runtime is not None:
            out["runtime"] = self.runtime.to_json()
        return out


class FinetuneStopped(CancelledError):
    """A run was cancelled; it is saved in ``job_folder`` and can be resumed from there."""

    def __init__(self, job_folder: Path) -> None:
        super().__init__(f"fine-tuning stopped; resume {job_folder}")
        self.job_folder = job_folder


class TrainingService:
    def __init__(self, app: ClipDeskServices) -> None:
        self.app = app

    # --- the data -------------------------------------------------------------------------------
    def pair_counts(
        self,
        sources: Iterable[str] = SOURCES,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PairSummary:
        """Image-caption pairs each chosen source gives for the library's indexed photos."""
        from clipdesk.training.captions import caption_pairs

        found = caption_pairs(self.app.library, sources, progress=progress, cancel=cancel)
        return PairSummary(dict(found.counts), len(found.pairs), found.photos)

    # --- a run ----------------------------------------------------------------------------------
    def pending_job(self) -> Path | None:
        """The most recent run that stopped before finishing (crash or cancel), if any."""
        from clipdesk.model.finetune import pending_jobs

        pending = pending_jobs()
        return pending[0].folder if pending else None

    def finetune(
        self,
        sources: Sequence[str] = ("tags",),
        options: FinetuneOptions | None = None,
        *,
        val_fraction: float = 0.1,
        name: str | None = None,
        base: str | Path | None = None,
        resume: str | Path | None = None,
        activate: bool = False,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        on_point: PointCallback | None = None,
    ) -> FinetuneRun:
        """Fine-tune ``base`` (default: the app's model) on the pairs of ``sources`` into a new
        model version, or continue the run in ``resume`` (a job folder, or ``"last"``).

        ``on_point(kind, step, values)`` receives the loss every step and the validation metrics
        at each validation point (live plots). A cancelled run raises :class:`FinetuneStopped`
        naming its folder, to resume later. The new version is then prepared for ONNX Runtime
        (``progress`` reports its steps too; a cancel then stops only that: the version is
        saved, and runs on PyTorch until it is prepared)."""
        from clipdesk.model.finetune import FinetuneJob

        if resume is not None:
            job = self._job_to_resume(resume)
            data: dict[str, Any] = {"pairs": len(job.train_pairs) + len(job.val_pairs)}
        else:
            from clipdesk.training.captions import caption_pairs, split_pairs

            opts = (options or FinetuneOptions()).validate()
            found = caption_pairs(self.app.library, sources, cancel=cancel)
            train, val = split_pairs(found.pairs, val_fraction, opts.seed)
            source = Path(base) if base is not None else self.app.models.source()
            job = FinetuneJob.create(source, train, val, opts, name=name)
            data = {**found.summary(), "train": len(train), "validation": len(val)}
        try:
            result = job.run(progress=progress, cancel=cancel, on_point=on_point)
        except CancelledError as exc:
            raise FinetuneStopped(job.folder) from exc
        from clipdesk.services.training_results import note_run

        # the job folder holds the figures and curves; the library, which run was the last
        note_run(
            self.app.library,
            job.folder,
            str(job.spec["base_name"]),
            result.model_name,
            float(job.spec.get("finished") or time.time()),
        )
        prepared = self.app.runtimes.try_prepare(
            result.model_path, progress=progress, cancel=cancel
        )
        if prepared.outcome in ("failed", "cancelled"):
            log.warning("%s", prepared.note)
        activation = self.activate(result.model_name) if activate else None
        return FinetuneRun(job.folder, result, data, activation, prepared)

    def last_run(self) -> RunReport | None:
        """The last finished run made from the app's model (or the run that made it), with its
        figures and curves: what the Train tab shows again after a restart."""
        from clipdesk.services.training_results import last_run

        return last_run(self.app.library, self.app.models.source().name)

    def _job_to_resume(self, resume: str | Path) -> Any:
        from clipdesk.model.finetune import FinetuneJob, pending_jobs

        if str(resume) != RESUME_LAST:
            return FinetuneJob.open(resume)
        jobs = pending_jobs()
        if not jobs:
            raise ClipDeskError("there is no interrupted fine-tuning run to resume")
        return jobs[0]

    def save_blend(self, job_folder: str | Path, alpha: float, name: str | None = None) -> Path:
        """Another version from a finished run at blend ``alpha`` (no retraining)."""
        from clipdesk.model.finetune import FinetuneJob

        return FinetuneJob.open(job_folder).save_blend(alpha, name)

    # --- versions -------------------------------------------------------------------------------
    def versions(self, base: str | None = None) -> list[VersionInfo]:
        """Installed fine-tuned versions (of ``base`` if given), newest first."""
        from clipdesk.model.versions import finetuned_versions

        return finetuned_versions(base)

    def activate(self, name: str) -> Activation:
        """Make the installed model ``name`` active for both faces, sharing the library's image
        vectors (and tag heads) with it when the image towers match, so no re-embedding is
        needed; otherwise the photos are embedded again (in the background in the app)."""
        from clipdesk.model.manager import find_model

        if find_model(name) is None:
            raise ModelError(f"no installed model named {name!r}", "see `clipdesk-cli models list`")
        return self.app.models.activate(name)

    def rollback(self, name: str | None = None) -> Activation:
        """Back to the model the fine-tuned version ``name`` (default: the active model) was
        made from."""
        from clipdesk.training.versions import rollback_target

        return self.activate(rollback_target(name or self.app.models.active()))
