"""The library as a file: a backup taken while it is in use, and the user's decisions carried
from one library into another (``app.library_file``; ``clipdesk-cli library ...``).

Decisions travel as a decision file (:mod:`clipdesk.tags.decision_file`): each confirmed or
rejected tag with its photo's path and content hash. Importing matches each to a photo of this
library by content hash first (a photo found again after a move, a copy to a new disk, another
computer), then by path (the same file edited since); a hash several photos share (copies of
one picture) goes to the one at the same path, else to all of them. Categories the file has and
this library lacks are added from the file; a label missing from a category this library has is
not added (the user's category stays as it is): its decisions are counted as skipped. A decision
this library already holds on the same photo and label is kept unless ``replace``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clipdesk.library.backup import Backup, BackupError, backup_library
from clipdesk.library.folders import normalise_path
from clipdesk.tags.decision_file import DecisionFileError, read_decision_file, write_decision_file
from clipdesk.tags.records import TagState
from clipdesk.tags.store.decisions import (
    DecisionRow,
    LabelRef,
    labels_by_name,
    photos_by_hash,
    photos_by_path,
    user_decisions,
    write_decisions,
)

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecisionsExported:
    path: Path
    decisions: int
    photos: int
    categories: int
    size: int  # bytes


@dataclass(frozen=True)
class DecisionsImported:
    decisions: int  # in the file
    applied: int  # written into this library
    unchanged: int  # this library already had them
    kept: int  # this library's own different decision kept (see ``replace``)
    unmatched: int  # no photo of this library has the content or the path
    unknown_labels: int  # the label is not in this library's category of that name
    categories_added: list[str] = field(default_factory=list)
    unknown_examples: list[str] = field(default_factory=list)  # a few "Category|label"


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


class LibraryFileService:
    """``app.library_file``: backups and decision files of the library in use."""

    def __init__(self, app: ClipDeskServices) -> None:
        self.app = app

    def backup(self, dest: str | Path, *, overwrite: bool = False) -> Backup:
        """A consistent copy of the library at ``dest``, safe while the app runs."""
        done = backup_library(self.app.library, dest, overwrite=overwrite)
        log.info("library %s backed up to %s", self.app.library.path, done.path)
        return done

    def export_decisions(self, dest: str | Path, *, overwrite: bool = False) -> DecisionsExported:
        """Write every confirmed and rejected tag of the library to a decision file."""
        target = Path(normalise_path(dest))
        if target == Path(normalise_path(self.app.library.path)):
            raise BackupError(f"{target} is the library itself.", "Choose another file name.")
        if target.exists() and not overwrite:
            raise DecisionFileError(
                f"{target} already exists.",
                "Choose another file name, or allow replacing it.",
                cli_hint="Choose another file name, or pass --overwrite to replace it.",
            )
        rows = user_decisions(self.app.library)
        used = {_key(r.category) for r in rows}
        cats = [c for c in self.app.tags.store.categories() if _key(c.name) in used]
        size = write_decision_file(target, cats, rows)
        return DecisionsExported(target, len(rows), len({r.path for r in rows}), len(cats), size)

    def import_decisions(self, source: str | Path, *, replace: bool = False) -> DecisionsImported:
        """Read a decision file into this library (see the module docstring for the rules)."""
        parsed = read_decision_file(source)
        store = self.app.tags.store
        have = {_key(c.name) for c in store.categories()}
        added = [c for c in parsed.categories if _key(c.name) not in have]
        if added:
            store.import_categories(added)
        labels = labels_by_name(self.app.library)
        by_hash = photos_by_hash(
            self.app.library, (d.content_hash for d in parsed.decisions if d.content_hash)
        )
        by_path = photos_by_path(self.app.library, (d.path for d in parsed.decisions))
        chosen: dict[tuple[int, int], tuple[int, LabelRef, TagState]] = {}
        unmatched = 0
        unknown: Counter[str] = Counter()
        for d in parsed.decisions:
            label = labels.get((_key(d.category), _key(d.label)))
            if label is None:
                unknown[f"{d.category}|{d.label}"] += 1
                continue
            ids = _match(d, by_hash, by_path)
            if not ids:
                unmatched += 1
            for pid in ids:  # the file's last word on a photo and label wins within the file
                chosen[(pid, label.label_id)] = (pid, label, d.state)
        written = write_decisions(self.app.library, list(chosen.values()), replace=replace)
        self.app.after_changes()
        return DecisionsImported(
            decisions=len(parsed.decisions),
            applied=written.applied,
            unchanged=written.unchanged,
            kept=written.kept,
            unmatched=unmatched,
            unknown_labels=sum(unknown.values()),
            categories_added=[c.name for c in added],
            unknown_examples=[name for name, _ in unknown.most_common(5)],
        )


def _match(
    d: DecisionRow, by_hash: dict[str, list[tuple[int, str]]], by_path: dict[str, int]
) -> list[int]:
    """This library's photos a decision belongs to: by content hash, then by path."""
    same = by_hash.get(d.content_hash or "", [])
    if len(same) > 1:
        at_path = [pid for pid, path in same if path == d.path]
        return at_path or [pid for pid, _ in same]
    if same:
        return [same[0][0]]
    pid = by_path.get(d.path)
    return [] if pid is None else [pid]
