"""What the library holds, what is left to index, what went wrong, and which models are in play.

One report for every face: ``clipdesk-cli status`` prints it, ``clipdesk-cli doctor`` names the
same active model, and the app's status bar shows the same photo count. Two models are named,
because they can differ: the *active* model (what the settings say - the one ``models list``
marks - or ``--model``) and the *search* model, whose vectors search uses; they differ while the
library is being embedded again for a newly activated model. Nothing here loads torch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clipdesk.library.health import library_file_health
from clipdesk.library.records import Folder, FolderStatus, PhotoStatus
from clipdesk.library.store import SEARCH_MODEL_KEY
from clipdesk.model import manager
from clipdesk.services.folders import PhotoProblem

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusReport:
    library: str
    schema_version: int
    folders: tuple[Folder, ...]
    photos: dict[str, int]  # {status: number}, every status present
    active_model: str | None  # the model the user chose (settings or --model); None: default
    default_model: str  # what runs when none is chosen (the bundled demo model)
    search_model: str | None  # id of the model whose vectors search uses (None: none yet)
    vectors: dict[str, int]  # {model id: stored vectors}
    pending: dict[str, int]  # {model id: photos still to embed}, for the models in play
    errors: tuple[PhotoProblem, ...]  # the first photos in error, with reasons
    # work photos are owed after their embedding ({step: photos}: XMP keywords, tags) and why
    # it is not done yet (a locked library, a full disk, a step's error), in one sentence
    waiting: dict[str, int] = field(default_factory=dict)
    waiting_note: str = ""
    # what serves the active model here (runtime label, whether it is prepared for ONNX
    # Runtime), from small files; empty when the model cannot be found
    model_runtime: dict[str, Any] = field(default_factory=dict)
    # reading the text in photos: its switch, counts and cost (OcrBacklog.as_json), and the
    # sentence both faces show ("reading text: 120 photos waiting, ~1 s each (about 2 min)")
    ocr: dict[str, Any] = field(default_factory=dict)
    ocr_note: str = ""

    @property
    def photo_count(self) -> int:
        """Photos whose files are there (every status but missing): the app's count."""
        return _present(self.photos)

    @property
    def model_in_use(self) -> str:
        return self.active_model or self.default_model

    @property
    def search_model_is_active(self) -> bool:
        """False while search still answers from a previous model's vectors."""
        return self.search_model is None or _belongs(self.search_model, self.model_in_use)

    def as_json(self) -> dict[str, Any]:
        """The shape ``clipdesk-cli status --json`` prints."""
        return {
            "library": self.library,
            "schema_version": self.schema_version,
            "folders": {
                "total": len(self.folders),
                "offline": [
                    {"path": str(f.path), "reason": f.error}
                    for f in self.folders
                    if f.status is not FolderStatus.OK
                ],
                "problems": [
                    {"path": str(f.path), "reason": f.error}
                    for f in self.folders
                    if f.status is FolderStatus.OK and f.error
                ],
            },
            "photos": {"total": sum(self.photos.values()), **self.photos},
            "model": self.active_model,
            "default_model": self.default_model,
            "search_model": self.search_model,
            "vectors": self.vectors,
            "pending": self.pending,
            "errors": [{"id": e.id, "path": e.path, "reason": e.reason} for e in self.errors],
            "waiting": self.waiting,
            "waiting_note": self.waiting_note,
            "model_runtime": self.model_runtime,
            "ocr": self.ocr,
        }


def _present(counts: dict[str, int]) -> int:
    return sum(n for status, n in counts.items() if status != PhotoStatus.MISSING.value)


def _belongs(model_id: str, model: str) -> bool:
    """Whether a vector model id (``name@fingerprint``) is of the model named ``model``."""
    return (
        model_id == model
        or model_id.split("@")[0] == model
        or model_id.split("@")[0] == (Path(model).name)
    )


class StatusService:
    """``app.status_report``: the status of the library and the models, for both faces."""

    def __init__(self, app: ClipDeskServices) -> None:
        self.app = app

    def active_model(self) -> str | None:
        """The model the user chose: ``--model`` (or the app's choice), else the active one of
        the settings (the one ``clipdesk-cli models list`` marks); None means the default."""
        return self.app.model_source or manager.get_active_model()

    def default_model(self) -> str:
        return manager.DEMO_MODEL

    def search_model(self) -> str | None:
        """The id of the model whose vectors search uses, as the library records it."""
        record = self.app.library.get_setting(SEARCH_MODEL_KEY)
        return str(record["id"]) if isinstance(record, dict) and record.get("id") else None

    def photo_counts(self) -> dict[str, int]:
        """{photo status: number}, every status present."""
        counts: dict[str, int] = self.app.library.counts()
        return counts

    def photo_count(self) -> int:
        """Photos whose files are there (the app's status bar)."""
        return _present(self.photo_counts())

    def report(self, max_errors: int = 20) -> StatusReport:
        """Everything at once (opens, and if needed creates, the library)."""
        lib = self.app.library
        active = self.active_model()
        in_use = active or self.default_model()
        searching = self.search_model()
        vectors = lib.embedding_models()
        in_play = [m for m in vectors if _belongs(m, in_use) or m == searching]
        pending = {m: lib.count_pending(m) for m in (in_play or list(vectors))}
        errors = tuple(
            PhotoProblem(p.id, str(p.path), p.error or "unreadable")
            for p in lib.errors(limit=max_errors)
        )
        owed = self.app.steps.backlog()
        ocr = self.app.ocr.backlog()
        return StatusReport(
            library=str(lib.path),
            schema_version=int(lib.version),
            folders=tuple(lib.folders()),
            photos=lib.counts(),
            active_model=active,
            default_model=self.default_model(),
            search_model=searching,
            vectors=vectors,
            pending=pending,
            errors=errors,
            waiting=owed.waiting,
            waiting_note=owed.describe(),
            model_runtime=self.model_runtime(active),
            ocr=ocr.as_json(),
            ocr_note=ocr.describe(),
        )

    def model_runtime(self, model: str | None) -> dict[str, Any]:
        """What serves ``model`` (None: the default) here, told from small files."""
        from clipdesk.common.errors import ClipDeskError

        try:
            path = manager.resolve_model(model)
            return self.app.runtimes.describe_models([path])[path].to_json()
        except (ClipDeskError, OSError) as exc:
            log.info("no runtime to tell for %s: %s", model, exc)
            return {}

    def library_health(self, *, quick: bool = False) -> dict[str, object]:
        """The library file's health, read-only: never creates, migrates or locks it (doctor)."""
        return library_file_health(Path(self.app.library_path), quick=quick)
