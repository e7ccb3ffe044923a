"""Vectors made elsewhere, merged into the library: ``app.vectors`` (``clipdesk-cli vectors
import DIR``).

A cluster run (``clipdesk-cli cluster embed``, :mod:`clipdesk.cluster.shards`) leaves a folder of
Parquet shards: each photo's scan facts and its vector. :meth:`VectorService.import_shards`
merges them without embedding anything:

- *The model must be the library's.* A shard whose weights, runtime or precision differ from
  the library's vectors of its active model (or, when it has none yet, from the runtime that
  model runs on here) is refused with both sides named, before anything of it is written; the
  import stops there. Vectors of two runtimes are never ranked side by side unchecked.
- *One transaction per shard* (:meth:`clipdesk.library.imports.ImportQueries.import_photos`):
  folder and photo rows, vectors with their runtime label and the steps each photo is owed
  next, as the indexing pipeline records them. A crash loses at most the shard in hand; a
  rerun changes nothing that is there already.
- *Paths are this machine's.* ``--map FROM=TO`` rewrites a recorded ``FROM/x`` to ``TO/x``
  (the longest FROM that applies). A photo inside a watched folder joins it; otherwise its
  shard's root becomes a folder, checked like ``folders add`` checks one: a root that is not
  here stops the import with the hint to map it. The disk is read no further: the next scan
  reconciles the rows like any others, and embeds nothing whose file is as the cluster saw it.
- *A shard is data from elsewhere.* One that is not a whole shard of ours (not Parquet, another
  version, a bad dimension, a value that is not finite) is skipped and named in the summary;
  a row whose path is not absolute, not a photo file type, in a folder scans skip, or whose
  content hash is not ClipDesk's is refused with its reason, and so is a path whose file here
  has other content than the one embedded.

Afterwards the search index takes the new vectors and the owed steps run (XMP keywords, tags),
as after an index run; the faces then run the OCR pass (:attr:`ClipDeskServices.ocr`).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clipdesk.cluster.shards import (
    Shard,
    ShardError,
    ShardModel,
    read_shard,
    shard_files,
    shard_model,
)
from clipdesk.common.errors import ClipDeskError
from clipdesk.common.path_map import PathMap
from clipdesk.common.progress import CancelToken, ProgressCallback, RateMeter
from clipdesk.imaging.filetypes import EXTENSION_KINDS, is_candidate
from clipdesk.library.folders import is_inside
from clipdesk.library.imports import OUTSIDE_ROOT, ImportedPhoto, ImportOutcome
from clipdesk.library.records import FileFacts
from clipdesk.scanning.scanner import check_folder
from clipdesk.scanning.walk import is_skipped_path
from clipdesk.services.runtimes import describe
from clipdesk.services.steps import retry_while_locked

if TYPE_CHECKING:
    from clipdesk.library.records import Folder
    from clipdesk.model.engine import ClipModel
    from clipdesk.services.app import ClipDeskServices

log = logging.getLogger(__name__)

_HASH = re.compile(r"[0-9a-f]{32}")  # scanning.hashing: BLAKE2b-128, hex
_KINDS = frozenset(EXTENSION_KINDS.values())
_EXAMPLES = 20  # refused rows kept by path for the summary (their reasons are all counted)
_MAP_HINT = "Give --map FROM=TO for each prefix that differs here (repeatable)."


@dataclass(frozen=True)
class ImportSummary:
    """What one import did."""

    folder: Path  # the shards' folder
    shards: int  # shards found
    imported: int  # of them, read and written (a shard all of whose photos were here counts)
    added: int  # new photos, with their vectors
    failed: int  # new photos the cluster could not read, recorded with its reason
    updated: int  # photos already here that got their vector (or the cluster's reason)
    unchanged: int  # already here with a vector of the model: left as they were
    refused: dict[str, int]  # {reason: photos refused for it}
    refused_examples: list[tuple[str, str]]  # (path, reason), the first few
    bad_shards: list[tuple[str, str]]  # (shard, why it was skipped)
    folders_added: list[str]  # folders made for shard roots no watched folder held
    model_id: str
    runtime: str  # the vectors' runtime label
    seconds: float
    cancelled: bool
    waiting: dict[str, int] = field(default_factory=dict)  # owed steps left, by step
    waiting_note: str = ""  # in words (app.steps' backlog)

    @property
    def photos(self) -> int:
        """Every shard row read."""
        return self.added + self.failed + self.updated + self.unchanged + sum(self.refused.values())

    @property
    def rate(self) -> float:
        """Shard rows a second."""
        return self.photos / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "shards": self.shards,
            "imported": self.imported,
            "photos": self.photos,
            "added": self.added,
            "failed": self.failed,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": sum(self.refused.values()),
            "refused_reasons": dict(self.refused),
            "refused_examples": [{"path": p, "reason": r} for p, r in self.refused_examples],
            "bad_shards": [{"shard": s, "reason": r} for s, r in self.bad_shards],
            "folders_added": list(self.folders_added),
            "model": self.model_id,
            "runtime": self.runtime,
            "seconds": round(self.seconds, 2),
            "photos_per_s": round(self.rate, 1),
            "cancelled": self.cancelled,
            "waiting": dict(self.waiting),
            "waiting_note": self.waiting_note,
        }

    def describe(self) -> str:
        """The summary both faces print, a few lines."""
        lines = [
            f"Imported {self.photos:,} photo{_s(self.photos)} from {self.imported:,} of "
            f"{self.shards:,} shard{_s(self.shards)} in {self.seconds:.1f} s "
            f"({self.rate:,.0f} photos/s, {describe(self.runtime)}): {self.added:,} new, "
            f"{self.updated:,} given their vectors, {self.unchanged:,} already here."
        ]
        if self.failed:
            lines.append(
                f"  {self.failed:,} new photo{_s(self.failed)} could not be read by the cluster: "
                "recorded with the reasons, as an index run would."
            )
        refused = sum(self.refused.values())
        if refused:
            top = "; ".join(f"{n:,} {why}" for why, n in Counter(self.refused).most_common(3))
            lines.append(f"  Refused {refused:,} photo{_s(refused)}: {top}.")
            lines += [f"    {path}: {why}" for path, why in self.refused_examples[:5]]
        for path in self.folders_added:
            lines.append(f"  Added the folder {path} (a scan reconciles it with the disk).")
        for shard, why in self.bad_shards:
            lines.append(f"  Skipped {shard}: {why}")
        if self.waiting_note:
            lines.append(f"Still to do: {self.waiting_note}; the next index run does it.")
        if self.cancelled:
            lines.append(
                "Stopped between shards; a rerun carries on (what is imported stays as it is)."
            )
        return "\n".join(lines)


class VectorService:
    """``app.vectors``: vectors from elsewhere into the library."""

    def __init__(self, app: ClipDeskServices) -> None:
        self.app = app

    def import_shards(
        self,
        folder: str | os.PathLike[str],
        maps: Sequence[tuple[str, str]] = (),
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ImportSummary:
        """Merge every shard of ``folder`` into the library (see the module's docstring).
        ``maps``: (FROM, TO) prefixes (:func:`clipdesk.common.path_map.parse_pair`). Stops between shards
        when ``cancel`` is set. Raises ShardError for a folder that holds no shards and for a
        shard of another model, runtime or precision (what came before it stays imported),
        ClipDeskError for a root that is not here."""
        start = time.monotonic()
        where = Path(folder)
        files = shard_files(where)
        if not files:
            raise ShardError(
                f"{where} holds no vector shards (shard-*.parquet).",
                "Give the output folder of a cluster embedding run.",
                cli_hint="Give the output folder of `clipdesk-cli cluster embed`.",
            )
        model = self.app.model
        mine, labels = self._library_model(model)
        work = _Totals()
        pmap = PathMap(maps)
        for path in files:  # every shard's model first: a foreign one stops the import unwritten
            try:
                theirs = shard_model(path)
            except ShardError:
                continue  # skipped and named when its turn comes
            self._check_model(theirs, path, mine, labels, 0)
        meter = RateMeter(len(files))
        if progress is not None:
            progress(meter.update(0, "Importing vectors"))
        try:
            for n, path in enumerate(files):
                if cancel is not None and cancel.cancelled:
                    work.cancelled = True
                    break
                try:
                    shard = read_shard(path)
                except ShardError as exc:
                    log.warning("vector import skips %s: %s", path, exc.message)
                    work.bad_shards.append((str(path), exc.message))
                    continue
                self._check_model(shard.model, path, mine, labels, work.imported)
                photos = self._photos(shard, pmap, work)
                self._check_roots(photos, shard)
                work.add(self._write(photos, model.id, shard.model.runtime_label))
                work.runtime = shard.model.runtime_label
                if progress is not None:
                    progress(
                        meter.update(
                            n + 1, f"Importing vectors ({work.rows:,} photos, {n + 1:,} shards)"
                        )
                    )
        finally:
            if work.embedded:
                self.app.after_changes()  # a loaded search index takes the new vectors
        backlog = self.app.steps.run(cancel=cancel)
        return ImportSummary(
            folder=where,
            shards=len(files),
            imported=work.imported,
            added=work.added,
            failed=work.failed,
            updated=work.updated,
            unchanged=work.unchanged,
            refused=dict(work.refused),
            refused_examples=work.examples,
            bad_shards=work.bad_shards,
            folders_added=[str(f.path) for f in work.folders],
            model_id=model.id,
            runtime=work.runtime or mine.runtime_label,
            seconds=time.monotonic() - start,
            cancelled=work.cancelled or bool(cancel and cancel.cancelled),
            waiting=dict(backlog.waiting),
            waiting_note=backlog.describe(),
        )

    def _write(self, photos: list[ImportedPhoto], model_id: str, runtime: str) -> ImportOutcome:
        """One shard's photos in one transaction, retried while another writer holds the
        library past its busy timeout."""
        lib, steps = self.app.library, self.app.steps

        def write() -> ImportOutcome:
            return lib.import_photos(
                photos,
                model_id=model_id,
                runtime=runtime,
                steps=steps.names,
                vector_free=steps.vector_free,
            )

        return retry_while_locked(write, lib.timeout, "vector import")

    # --- the checks --------------------------------------------------------------------------

    def _library_model(self, model: ClipModel) -> tuple[ShardModel, set[str]]:
        """The library's side: its model, and the runtime labels its vectors of it were made
        with (those the model runs on here when it has none yet); the first names the most."""
        stored = self.app.library.vector_runtimes(model.id)
        label = max(stored, key=lambda k: stored[k]) if stored else model.runtime_label
        runtime, _, precision = label.partition("-")
        mine = ShardModel(model.id, model.weights_hash, runtime, precision, model.dim)
        return mine, set(stored) or {label}

    def _check_model(
        self, theirs: ShardModel, path: Path, mine: ShardModel, labels: set[str], done: int
    ) -> None:
        if (
            theirs.weights_hash == mine.weights_hash
            and theirs.dim == mine.dim
            and theirs.runtime_label in labels
        ):
            return
        diff = "; ".join(theirs.differences(mine))
        before = (
            f" What came before it stays imported ({done:,} shard{_s(done)}; a rerun skips it)."
            if done
            else " Nothing was imported."
        )
        message = (
            f"The shard {path} holds vectors this library cannot search beside its own: "
            f"{diff} (the shard's first, the library's second).{before}"
        )
        if theirs.weights_hash != mine.weights_hash or theirs.dim != mine.dim:
            raise ShardError(
                message,
                "Import them into a library whose active model is the one that made them, or "
                "embed the photos again with this library's model.",
                cli_hint=f"Import them with --model set to the model that made them "
                f"({theirs.model_id}), or embed the photos again with {mine.model_id}.",
            )
        again = f"embed the photos again with {describe(mine.runtime_label)}"
        if self.app.library.vector_runtimes(mine.model_id):
            hint = f"This library's vectors were made with {describe(mine.runtime_label)}: {again}."
            raise ShardError(message, hint)
        device = " --device cuda" if theirs.precision in ("fp16", "bf16") else ""
        raise ShardError(
            message,
            f"Import them where the model runs on {describe(theirs.runtime_label)}, or {again}.",
            cli_hint=f"Import with --runtime {theirs.runtime}{device} (what made them), or "
            f"{again}.",
        )

    def _photos(self, shard: Shard, pmap: PathMap, work: _Totals) -> list[ImportedPhoto]:
        """The shard's rows with this machine's paths; rows that cannot be photos of a library
        are refused here (counted in ``work``) with their reasons."""
        positions, vectors = shard.vectors()
        row_of = {int(p): i for i, p in enumerate(positions.tolist())}
        out = []
        for i, row in enumerate(shard.rows()):
            path, root = pmap(row.path), pmap(row.root)
            reason = _row_problem(path, root, row.content_hash, row.kind, row.error)
            if reason is not None:
                work.refuse(path, reason)
                continue
            facts = FileFacts(
                path=path,
                size=row.size,
                mtime_ns=row.mtime_ns,
                kind=row.kind,
                content_hash=row.content_hash,
                meta=row.meta,
                error=row.error,
            )
            vector = vectors[row_of[i]] if row.error is None else None
            out.append(ImportedPhoto(facts, root, vector))
        return out

    def _check_roots(self, photos: list[ImportedPhoto], shard: Shard) -> None:
        """Every root that must become a folder is one ``folders add`` would take; else
        ClipDeskError, before anything of the shard is written."""
        watched = [str(f.path) for f in self.app.library.folders()]
        roots = {
            p.root for p in photos if not any(is_inside(str(p.facts.path), w) for w in watched)
        }
        for root in sorted(roots):
            if os.path.dirname(root) == root:
                raise ClipDeskError(
                    f"The shard {shard.path} has photos whose folder is {root}, a whole drive: "
                    "ClipDesk does not watch one.",
                    "Add the folders that hold the photos to the library first, then import.",
                    cli_hint="Add the folders that hold the photos first "
                    "(clipdesk-cli folders add PATH), or map the prefix with --map FROM=TO.",
                )
            try:
                check_folder(root)
            except ClipDeskError as exc:
                raise ClipDeskError(
                    f"The shard {shard.path} has photos in {root}: {exc.message}",
                    "The photos must be reachable here: map the start of the paths the shards "
                    "recorded to where the photos are on this machine.",
                    cli_hint=f"{_MAP_HINT} The photos must be reachable here.",
                ) from exc


def _row_problem(
    path: str, root: str, content_hash: str, kind: str | None, error: str | None
) -> str | None:
    """Why a shard row cannot be a photo of the library (None: it can)."""
    if "\0" in path or "\0" in root:
        return "not a path (it holds a NUL character)"
    if not os.path.isabs(path) or not os.path.isabs(root):
        return "not an absolute path"
    if path == root or not is_inside(path, root):
        return OUTSIDE_ROOT
    if not is_candidate(os.path.basename(path)):
        return "not a photo file type ClipDesk indexes"
    if is_skipped_path(path, root):
        return "in a folder scans skip (hidden or system)"
    if not _HASH.fullmatch(content_hash):
        return "its content hash is not one ClipDesk takes"
    if (kind is None and error is None) or (kind is not None and kind not in _KINDS):
        return f"unknown file type {kind!r}"
    return None


class _Totals:
    """The import's counts, shard after shard."""

    def __init__(self) -> None:
        self.imported = self.added = self.failed = self.updated = self.unchanged = 0
        self.refused: Counter[str] = Counter()
        self.examples: list[tuple[str, str]] = []
        self.bad_shards: list[tuple[str, str]] = []
        self.folders: list[Folder] = []
        self.embedded = 0
        self.cancelled = False
        self.runtime = ""  # the imported vectors' runtime label

    @property
    def rows(self) -> int:
        n = self.added + self.failed + self.updated + self.unchanged
        return n + sum(self.refused.values())

    def refuse(self, path: str, reason: str) -> None:
        self.refused[reason] += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append((path, reason))

    def add(self, outcome: ImportOutcome) -> None:
        self.imported += 1
        self.added += len(outcome.added)
        self.failed += len(outcome.failed)
        self.updated += len(outcome.updated)
        self.unchanged += outcome.unchanged
        self.embedded += len(outcome.embedded)
        self.folders += outcome.folders
        for path, reason in outcome.refused:
            self.refuse(path, reason)


def _s(n: int) -> str:
    return "" if n == 1 else "s"
