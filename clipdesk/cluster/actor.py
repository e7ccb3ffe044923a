"""The model side of a cluster run: the actor that embeds a batch and writes its shard.

- The model is loaded once per actor, from the path the driver resolved, with the runtime the
  probe settled on (:func:`probe`: one Ray task with an actor's resources, run first, whose
  facts name the job), and checked: an actor whose model, runtime or precision came out
  different from the probe's refuses to write anything.
- *A crash loses at most the batches in flight.* Each batch's shard is written atomically under
  a name derived from the batch's paths (:func:`batch_key`): Ray runs again a batch whose actor
  died, and the retry replaces the shard the dead attempt may have written, so every photo is in
  the output once however many times its batch ran.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clipdesk.cluster import prepare
from clipdesk.cluster.job import MAX_EXAMPLES
from clipdesk.cluster.shards import ShardError, ShardModel, ShardRow, write_shard
from clipdesk.model.preprocess import PreprocessConfig

if TYPE_CHECKING:
    from clipdesk.model.engine import ClipModel


@dataclass(frozen=True)
class ModelSpec:
    """The model as every worker loads it."""

    path: str
    device: str  # "cpu", "cuda", "cuda:1"...
    choice: str  # the runtime to ask for: the probe's "auto"/"torch"/"onnx", then the result
    threads: int | None  # CPU actors: intra-op threads (their Ray CPUs)

    def load(self) -> ClipModel:
        from clipdesk.model import load_model
        from clipdesk.model.device import THREADS_ENV

        if self.threads:
            os.environ[THREADS_ENV] = str(self.threads)  # both runtimes read it at load
        return load_model(self.path, device=self.device, runtime=self.choice)


@dataclass(frozen=True)
class ModelFacts:
    """What the probe found: the shards' model and the preprocessing the CPU tasks do."""

    shard_model: ShardModel
    preprocess: PreprocessConfig
    runtime: str


def probe(spec: ModelSpec) -> ModelFacts:
    """Load the model as an actor will (a Ray task with an actor's resources)."""
    model = spec.load()
    try:
        return ModelFacts(ShardModel.of(model), model.preprocessor.cfg, model.runtime)
    finally:
        model.close()


@dataclass(frozen=True)
class ActorSpec:
    model: ModelSpec
    expected: ShardModel
    preprocess: PreprocessConfig
    out: str  # the output folder as the workers see it
    roots: tuple[str, ...]


class ShardEmbedder:
    """A Ray Data actor: loads the model once, embeds each batch and writes its shard."""

    def __init__(self, spec: ActorSpec) -> None:
        self.spec = spec
        self.model = spec.model.load()
        got = ShardModel.of(self.model)
        diff = spec.expected.differences(got)
        if diff:
            raise ShardError(
                f"A worker loaded the model differently from the job: {'; '.join(diff)}.",
                "Give every worker the same ClipDesk, model files and runtime (--runtime torch "
                "is the same everywhere).",
            )
        self.out = Path(spec.out)

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        batch = table.to_pylist()
        counts: Counter[str] = Counter(row["state"] for row in batch)
        reasons: Counter[str] = Counter()
        examples: list[tuple[str, str]] = []
        rows: list[ShardRow] = []
        blobs: list[bytes] = []
        for row in batch:
            if row["state"] in (prepare.ERROR, prepare.FAILED):
                reasons[row["error"]] += 1
                if len(examples) < MAX_EXAMPLES:
                    examples.append((os.fsdecode(row["path"]), row["error"]))
            if row["state"] in (prepare.EMBED, prepare.ERROR):
                rows.append(self._shard_row(row))
                if row["state"] == prepare.EMBED:
                    blobs.append(row["pixels"])
        vectors = np.zeros((len(rows), self.model.dim), np.float32)
        if blobs:
            embedded = _encode(self.model, prepare.model_pixels(blobs, self.spec.preprocess))
            ok = [i for i, r in enumerate(rows) if r.error is None]
            vectors[ok] = embedded
        shards = 0
        if rows:
            self._write(batch, rows, vectors)
            shards = 1
        return pa.table(
            {
                "embedded": [counts[prepare.EMBED]],
                "errors": [counts[prepare.ERROR]],
                "failed": [counts[prepare.FAILED]],
                "unchanged": [counts[prepare.UNCHANGED]],
                "same_content": [counts[prepare.SAME_CONTENT]],
                "shards": [shards],
                "reasons": [json.dumps(dict(reasons))],
                "examples": [json.dumps(examples)],
            }
        )

    def _shard_row(self, row: dict[str, Any]) -> ShardRow:
        return ShardRow(
            path=os.fsdecode(row["path"]),
            root=self.spec.roots[row["root"]],
            size=row["size"],
            mtime_ns=row["mtime_ns"],
            content_hash=row["content_hash"],
            kind=row["kind"],
            meta=prepare.meta_of(row),
            error=row["error"] if row["state"] == prepare.ERROR else None,
        )

    def _write(self, batch: list[dict[str, Any]], rows: list[ShardRow], vectors: Any) -> None:
        """The batch's shard, named by its input: a retried batch replaces its own shard."""
        key = batch_key(batch)
        write_shard(self.out, self.spec.expected, rows, vectors, name=key)


def batch_key(batch: list[dict[str, Any]]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for row in batch:
        h.update(len(row["path"]).to_bytes(4, "little"))
        h.update(row["path"])
    return h.hexdigest()


def _encode(model: ClipModel, pixels: np.ndarray) -> np.ndarray:
    """Vectors of ``pixels``; out of GPU memory, the batch is halved (as the desktop does)."""
    try:
        return model.encode_pixels(pixels)
    except RuntimeError as exc:
        if "out of memory" not in str(exc).lower() or len(pixels) == 1:
            raise
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
        half = len(pixels) // 2
        return np.concatenate([_encode(model, pixels[:half]), _encode(model, pixels[half:])])
