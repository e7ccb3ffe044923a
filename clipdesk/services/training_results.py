"""The last result of each kind of training, kept in the library, so that the Train tab shows it
again after a restart and ``clipdesk-cli train heads CATEGORY --last`` prints the same.

- A head training: one library setting per category and tagging model (keyed as applied heads
  are, :mod:`clipdesk.tags.heads.store`) with the held-out figures (``TeachResult.summary()``),
  the held-out photos the head changed, the photos to label next, and the head itself, so it can
  still be applied after a restart.
- A fine-tuning run: its job folder already holds its summary (``job.json``) and its curves
  (``history.json``); the library keeps only which run was the last one per base model, and the
  figures are read from the folder, never copied.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from clipdesk.model.finetune_options import FinetuneResult
from clipdesk.tags.heads.examples import Comparison
from clipdesk.tags.heads.fit import Head
from clipdesk.tags.heads.store import head_from_json, head_to_json

log = logging.getLogger(__name__)

__all__ = [
    "HeadReport",
    "RunReport",
    "load_head_report",
    "last_run",
    "note_run",
    "save_head_report",
]

_HEAD_PREFIX = "train.last_head"
_RUN_KEY = "train.last_finetune"
FORMAT_VERSION = 1
# the files of a fine-tuning job folder (clipdesk.model.finetune writes them); named here so that
# reading a finished run's figures does not load the engine (torch)
_JOB_FILE = "job.json"
_HISTORY_FILE = "history.json"


class SettingsStore(Protocol):
    """What keeping results needs from the library (clipdesk.library.store.Library fits)."""

    def get_setting(self, key: str, default: Any = None) -> Any: ...

    def set_setting(self, key: str, value: Any) -> None: ...


@dataclass(frozen=True)
class HeadReport:
    """One head training, as the Train tab shows it."""

    summary: dict[str, Any]  # TeachResult.summary(): figures, calibration, method, seconds
    head: Head  # what "Apply" makes the category's classifier
    compare: tuple[Comparison, ...]  # held-out photos where the head changed the answer first
    next_up: tuple[tuple[int, float], ...]  # (photo id, uncertainty): label these next
    missing_vectors: int  # labelled photos left out because they are not indexed yet
    trained_at: float  # time.time()

    @property
    def category(self) -> str:
        return self.head.category

    @property
    def model_id(self) -> str:
        return self.head.model_id

    @property
    def photo_ids(self) -> list[int]:
        """Every photo the report shows (comparisons first), for their paths and thumbnails."""
        return [c.photo_id for c in self.compare] + [pid for pid, _ in self.next_up]

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "summary": self.summary,
            "head": head_to_json(self.head),
            "compare": [
                [c.photo_id, c.truth, c.before, c.before_score, c.after, c.after_score]
                for c in self.compare
            ],
            "next_up": [[pid, u] for pid, u in self.next_up],
            "missing_vectors": self.missing_vectors,
            "trained_at": self.trained_at,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HeadReport:
        if d.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unknown result format {d.get('format_version')!r}")
        return cls(
            summary=dict(d["summary"]),
            head=head_from_json(d["head"]),
            compare=tuple(
                Comparison(int(pid), truth, before, float(bs), after, float(a_s))
                for pid, truth, before, bs, after, a_s in d["compare"]
            ),
            next_up=tuple((int(pid), float(u)) for pid, u in d["next_up"]),
            missing_vectors=int(d.get("missing_vectors", 0)),
            trained_at=float(d["trained_at"]),
        )


def _head_key(model_id: str, category: str) -> str:
    return f"{_HEAD_PREFIX}|{model_id}|{category.casefold()}"


def save_head_report(store: SettingsStore, report: HeadReport) -> None:
    """Keep ``report`` as the last training of its category and model (replacing the one before)."""
    store.set_setting(_head_key(report.model_id, report.category), report.to_json())


def load_head_report(store: SettingsStore, model_id: str, category: str) -> HeadReport | None:
    """The last training of ``category`` with ``model_id``; None when there was none, or when it
    was written by a newer version or damaged (logged: the user trains again, nothing breaks)."""
    raw = store.get_setting(_head_key(model_id, category))
    if raw is None:
        return None
    try:
        return HeadReport.from_json(raw)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("ignoring the last training kept for %s (%s): %s", category, model_id, exc)
        return None


@dataclass(frozen=True)
class RunReport:
    """The last finished fine-tuning run made from a model: its figures and curves."""

    job_folder: Path
    result: FinetuneResult  # with its history: the plots' points
    base_name: str  # the model it was made from
    finished_at: float


def note_run(
    store: SettingsStore, job_folder: Path, base_name: str, model_name: str, finished_at: float
) -> None:
    """Remember ``job_folder`` as the last finished run made from ``base_name``."""
    runs = dict(store.get_setting(_RUN_KEY) or {})
    runs[base_name] = {"job": str(job_folder), "model": model_name, "finished": finished_at}
    store.set_setting(_RUN_KEY, runs)


def last_run(store: SettingsStore, model_name: str) -> RunReport | None:
    """The last finished run made from ``model_name``, else the run that made ``model_name`` (a
    fine-tuned version just activated shows the run it came from). None when there is none, or
    when its job folder is gone or unreadable (logged)."""
    runs: dict[str, dict[str, Any]] = store.get_setting(_RUN_KEY) or {}
    base_name = model_name
    if base_name not in runs:
        made = [(e.get("finished", 0), b) for b, e in runs.items() if e.get("model") == model_name]
        if not made:
            return None
        base_name = max(made)[1]
    entry = runs[base_name]
    folder = Path(entry["job"])
    try:
        spec = json.loads((folder / _JOB_FILE).read_text(encoding="utf-8"))
        summary = dict(spec["result"])
        history = _history(folder)
        result = _result(summary, history)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        log.warning("the last fine-tuning run %s cannot be read: %s", folder, exc)
        return None
    return RunReport(folder, result, base_name, float(entry.get("finished") or 0.0))


def _history(folder: Path) -> dict[str, list[list[Any]]]:
    try:
        data = json.loads((folder / _HISTORY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"loss": [], "val": []}  # the figures stand without the curves
    return data if isinstance(data, dict) else {"loss": [], "val": []}


def _result(summary: dict[str, Any], history: dict[str, list[list[Any]]]) -> FinetuneResult:
    known = {f.name for f in fields(FinetuneResult)}
    values = {k: v for k, v in summary.items() if k in known}
    values["model_path"] = Path(values["model_path"])
    values["history"] = history
    return FinetuneResult(**values)
