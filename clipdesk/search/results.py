"""What a search is asked and what it answers: the filters and the ranked results (no torch, so
the faces can build requests before the model and the index are loaded)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clipdesk.library.dates import DateLike, taken_bound
from clipdesk.library.records import Photo, PhotoStatus

# What the store's part of a filter depends on: folders, taken-from and taken-to bounds.
SqlKey = tuple[tuple[str, ...] | None, str | None, str | None]


@dataclass(frozen=True)
class SearchFilters:
    # watched folders (ids or paths) or folders inside them (paths: with their subfolders);
    # a photo in any of them passes. None: all
    folders: Sequence[int | str | Path] | None = None
    date_from: DateLike | None = None  # inclusive; a date means from its first second
    date_to: DateLike | None = None  # inclusive; a date means up to its last second
    statuses: Sequence[str] = (PhotoStatus.OK.value,)
    allowed_ids: Iterable[int] | None = None  # e.g. photos with a tag (clipdesk.tags)
    min_score: float | None = None

    def sql_key(self) -> SqlKey:
        folders = tuple(str(f) for f in self.folders) if self.folders is not None else None
        return folders, taken_bound(self.date_from, end=False), taken_bound(self.date_to, end=True)


@dataclass(frozen=True)
class SearchResult:
    photo_id: int
    score: float
    photo: Photo | None = None  # filled in by :meth:`Searcher.resolve`

    def as_dict(self) -> dict[str, Any]:
        p = self.photo
        return {
            "id": self.photo_id,
            "score": round(self.score, 5),
            "path": str(p.path) if p else None,
            "taken_at": p.taken_at if p else None,
            "status": str(p.status) if p else None,
        }
