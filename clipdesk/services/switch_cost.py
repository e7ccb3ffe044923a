"""What switching the active model costs the open library, for both faces: how many photos are
embedded again and about how long that takes on this computer.

The library knows a model by its id, ``name@<hash of its weights>``. Hashing weights reads
gigabytes, so the cost is worked out in two steps: :func:`switch_cost` gathers everything that
is cheap (the photo counts and stored-vector counts, the models' names and image-vector sources
from their ``clipdesk.json``, the hashes the model loader cached); :func:`identify` hashes only
the weights that decide the answer and are not cached yet, with a cancel token and progress, in
a thread that may wait (the app runs it in its jobs pool, never the database thread). Usually
nothing needs hashing: a model whose name the library has no vectors of has none of them, and
one the library has vectors of was loaded, so its hash is cached.

The answer mirrors what activation does (:func:`clipdesk.training.versions.share_vectors`):
vectors of a model with the same image tower are copied, not recomputed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clipdesk.common.errors import ModelError
from clipdesk.common.progress import CancelToken, Progress, ProgressCallback

if TYPE_CHECKING:
    from clipdesk.library.store import Library
    from clipdesk.model.manager import ModelInfo
    from clipdesk.model.speed import SpeedEstimate


@dataclass(frozen=True)
class ReembedEstimate:
    model: str
    photos: int  # photos that get a vector of the new model (0: nothing to do)
    shared: bool  # the new model takes the current image vectors as they are
    images_per_s: float | None
    seconds: float | None  # None: no speed known for this model
    indexed: int = 0  # photos in the library that have or will get a vector

    def describe(self) -> str:
        if self.shared:
            return f"{self.model} uses the same image vectors as your library has: nothing to re-embed."
        if self.photos == 0:
            why = (
                "every photo has its vector already"
                if self.indexed
                else "no photos are indexed yet"
            )
            return f"Switching to {self.model} re-embeds nothing: {why}."
        n = f"{self.photos:,} photo{'s' if self.photos != 1 else ''}"
        if self.seconds is None or self.images_per_s is None:
            time_text = "how long is not known (no speed measured for this model)"
        else:
            time_text = (
                f"about {duration_text(self.seconds)} on this computer "
                f"(~{self.images_per_s:.1f} photos/s)"
            )
        return (
            f"Switching to {self.model} embeds {n} again: {time_text}. Search keeps using the "
            "current model until it is done."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "photos": self.photos,
            "shared": self.shared,
            "images_per_s": None if self.images_per_s is None else round(self.images_per_s, 2),
            "seconds": None if self.seconds is None else round(self.seconds),
            "indexed": self.indexed,
        }


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return "a minute or less"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = seconds / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def _name_of(model_id: str) -> str:
    return model_id.rpartition("@")[0]


@dataclass(frozen=True)
class ModelIds:
    """How the library knows an installed model, as far as small files tell."""

    folder: Path
    name: str  # the name part of its id
    id: str | None  # ``name@hash``; None: its weights were never hashed on this computer
    vectors_from: str | None  # the model whose image vectors it makes (a text-only fine-tune)

    @property
    def key(self) -> str | None:
        """The id of the model whose image vectors it produces."""
        return self.vectors_from or self.id


def model_ids(folder: Path, cache: Mapping[str, Any] | None = None) -> ModelIds:
    """``folder``'s ids from its clipdesk.json and the weight-hash cache; no weights are read.
    ``cache``: as :func:`clipdesk.model.checkpoint.read_hash_cache` gave it."""
    from clipdesk.model.versions import cached_model_id_of, model_name_of
    from clipdesk.services.model_catalog import read_meta

    vectors_from = read_meta(folder).get("image_vectors_from")
    return ModelIds(
        folder=folder,
        name=model_name_of(folder),
        # None also for a folder that is not loadable: identify() says why, if its id matters
        id=cached_model_id_of(folder, cache),
        vectors_from=str(vectors_from) if vectors_from else None,
    )


@dataclass(frozen=True)
class SwitchCost:
    """Everything the estimate needs but the hashes :meth:`unknown` lists."""

    model: str  # the name the user chose
    target: ModelIds
    others: tuple[ModelIds, ...]  # the other installed models
    indexed: int  # photos that have or will get a vector (ok and pending)
    vectors: Mapping[str, int]  # {model id: vectors stored in the library}
    speed: SpeedEstimate | None

    def unknown(self) -> tuple[ModelIds, ...]:
        """The models whose ids the answer depends on and no small file gives."""
        names = {_name_of(m) for m, n in self.vectors.items() if n}
        t = self.target
        out = []
        # Its own vectors are counted by id; a name the library has no vectors of has none.
        # Without a vector source of its own, a fine-tune made from it may share vectors with
        # it: compared by its id.
        if t.id is None and (
            t.name in names
            or (
                t.vectors_from is None
                and any(
                    o.vectors_from and _name_of(o.vectors_from) == t.name and o.name in names
                    for o in self.others
                )
            )
        ):
            out.append(t)
        for o in self.others:
            # Only a fine-tune's id maps to another key than itself, and only if the library
            # has vectors under its name, and only when it could be the target's image tower.
            if o.id is not None or o.vectors_from is None or o.name not in names:
                continue
            same = (
                o.vectors_from == t.vectors_from
                if t.vectors_from
                else _name_of(o.vectors_from) == t.name
            )
            if same:
                out.append(o)
        return tuple(out)

    def estimate(self) -> ReembedEstimate:
        """The cost, once :meth:`unknown` is empty (after :func:`identify`)."""
        if self.unknown():
            raise RuntimeError("identify() the models first")  # a caller's bug
        t = self.target
        done = self.vectors.get(t.id, 0) if t.id else 0
        photos = max(0, self.indexed - done)
        rate = self.speed.images_per_s if self.speed else None
        if photos and not done and self._shares_vectors():
            return ReembedEstimate(self.model, 0, True, rate, 0.0, self.indexed)
        seconds = self.speed.seconds_for(photos) if self.speed else None
        return ReembedEstimate(self.model, photos, False, rate, seconds, self.indexed)

    def _shares_vectors(self) -> bool:
        # As share_vectors: a stored model's key is its own id unless an installed fine-tune
        # has that id (then the key is the fine-tune's vector source).
        t = self.target
        keys = {o.id: o.key for o in self.others if o.id is not None}
        key = t.key
        return key is not None and any(
            n and m != t.id and keys.get(m, m) == key for m, n in self.vectors.items()
        )


def switch_cost(
    library: Library,
    name: str,
    folder: Path,
    installed: Sequence[ModelInfo],
    speed: SpeedEstimate | None,
) -> SwitchCost:
    """The cheap part: two counting queries and small files (on the database thread)."""
    from clipdesk.model.checkpoint import read_hash_cache

    cache = read_hash_cache()
    counts = library.counts()
    return SwitchCost(
        model=name,
        target=model_ids(folder, cache),
        others=tuple(model_ids(m.path, cache) for m in installed if m.path != folder),
        indexed=int(counts.get("ok", 0)) + int(counts.get("pending", 0)),
        vectors=dict(library.embedding_models()),
        speed=speed,
    )


def identify(
    cost: SwitchCost,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> SwitchCost:
    """``cost`` with the ids it lacks, by hashing those weights (cached for the next time).
    Cancelled while reading any model's weights; a model other than the target whose weights
    cannot be read shares nothing (as in share_vectors)."""
    from clipdesk.model.checkpoint import weights_hash
    from clipdesk.model.families import weight_files
    from clipdesk.model.versions import model_id

    todo = cost.unknown()
    if not todo:
        return cost
    files = {}
    for m in todo:
        try:
            files[m.folder] = weight_files(m.folder)
        except (ModelError, OSError):
            if m.folder == cost.target.folder:
                raise
    sizes = {k: sum(f.stat().st_size for f in v) for k, v in files.items()}
    total, done = sum(sizes.values()), 0
    found: dict[Path, str | None] = {}
    for m in todo:
        if cancel is not None:
            cancel.raise_if_cancelled()
        if m.folder not in files:
            found[m.folder] = None
            continue
        message = f"Reading the weights of {m.name} to identify it"
        if progress is not None:  # also when its hash turns out cached: nothing else reports
            progress(Progress(done, total, message=message))

        def report(read: int, _size: int, before: int = done, message: str = message) -> None:
            if progress is not None:
                progress(Progress(before + read, total, message=message))

        try:
            digest = weights_hash(files[m.folder], cancel=cancel, progress=report)
            found[m.folder] = model_id(m.name, digest)
        except OSError:
            if m.folder == cost.target.folder:
                raise
            found[m.folder] = None
        done += sizes[m.folder]
    if cancel is not None:
        cancel.raise_if_cancelled()

    def known(m: ModelIds) -> ModelIds:
        return replace(m, id=found[m.folder]) if m.folder in found else m

    unreadable = {folder for folder, mid in found.items() if mid is None}
    others = tuple(known(o) for o in cost.others if o.folder not in unreadable)
    return replace(cost, target=known(cost.target), others=others)
