"""A cluster embedding job as the faces describe it, and what it did: plain records.

:class:`EmbedRequest` is everything ``clipdesk-cli cluster embed`` takes; :class:`EmbedSummary`
is its report: how many photos were embedded, skipped (already in the output) or failed, with
the reasons counted in the desktop's words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from clipdesk.common.progress import short_duration

MAX_REASONS = 1000  # distinct failure reasons counted; the rest are counted as one
MAX_EXAMPLES = 20  # failed photos named with their reason


@dataclass(frozen=True)
class EmbedRequest:
    """One run: what to embed, where to write the shards, and on what."""

    out: str  # the output folder (created; shared storage every worker writes to)
    inputs: tuple[str, ...] = ()  # folder trees, walked by the scanner's rules
    manifest: str | None = None  # or a file of one photo path a line
    root: str | None = None  # the manifest's root (default: its paths' common parent)
    path_map: tuple[str, ...] = ()  # "FROM=TO": workers read FROM/x at TO/x
    address: str | None = None  # None: a local Ray on this machine; "auto"; "ray://host:port"
    batch_size: int | None = None  # photos per model batch (None: 32 on CPUs, 256 on GPUs)
    concurrency: int | None = None  # model actors (None: every GPU, or half the CPUs)
    gpus_per_actor: float | None = None  # None: 1 when the cluster has GPUs, else 0
    cpus_per_actor: float | None = None  # a CPU actor's threads (None: see concurrency)
    model: str | None = None  # name or path (None: the active model)
    device: str | None = None  # None: cuda on GPU actors, cpu otherwise
    runtime: str | None = None  # auto, torch or onnx (None: the setting)


@dataclass
class EmbedSummary:
    """What a run did. ``embedded`` and ``errors`` are in the shards; ``failed`` photos could not
    be read and are in none (a rerun tries them again)."""

    out: str
    model_id: str = ""
    runtime_label: str = ""
    listed: int = 0  # photos the inputs hold
    embedded: int = 0
    errors: int = 0  # recorded in the shards with their reason (not images, damaged...)
    failed: int = 0  # not readable now: in no shard, tried again by the next run
    unchanged: int = 0  # skipped: the same path, size and mtime is in the output
    same_content: int = 0  # skipped: the same content is in the output (moved, copied, touched)
    shards: int = 0  # written by this run
    seconds: float = 0.0
    started_s: float = 0.0  # until the first batch came back: Ray, the model, the listing
    cancelled: bool = False
    actors: int = 0
    gpus_per_actor: float = 0.0
    batch_size: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # errors and failures, by reason
    examples: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    listing_problems: int = 0  # folders or manifest lines that could not be listed
    listing_examples: list[tuple[str, str]] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.embedded + self.errors + self.failed + self.unchanged + self.same_content

    @property
    def rate(self) -> float:
        """Photos embedded a second, start-up included."""
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    def count_reasons(self, reasons: dict[str, int], examples: Iterable[tuple[str, str]]) -> None:
        for reason, n in reasons.items():
            key = reason if reason in self.reasons or len(self.reasons) < MAX_REASONS else "other"
            self.reasons[key] += n
        for example in examples:
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append(example)

    def describe(self) -> str:
        """The report for people: one line of counts, then the top reasons."""
        state = "Stopped" if self.cancelled else "Embedded"
        lines = [
            f"{state} {self.embedded:,} of {self.listed:,} photos in {short_duration(self.seconds)}"
            f" ({self.rate:.1f}/s) with {self.model_id} ({self.runtime_label}) into {self.out}"
        ]
        skipped = self.unchanged + self.same_content
        if skipped:
            lines.append(
                f"skipped {skipped:,} already in the output ({self.unchanged:,} unchanged, "
                f"{self.same_content:,} with the same content under another path or date)"
            )
        if self.errors:
            lines.append(f"{self.errors:,} could not be embedded (recorded in the shards)")
        if self.failed:
            lines.append(f"{self.failed:,} could not be read (a rerun tries them again)")
        for reason, n in self.reasons.most_common(10):
            lines.append(f"  {n:>7,}  {reason}")
        if self.listing_problems:
            lines.append(f"{self.listing_problems:,} folders or entries could not be listed:")
            lines += [f"  {path}: {why}" for path, why in self.listing_examples[:10]]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "model_id": self.model_id,
            "runtime": self.runtime_label,
            "listed": self.listed,
            "embedded": self.embedded,
            "errors": self.errors,
            "failed": self.failed,
            "skipped_unchanged": self.unchanged,
            "skipped_same_content": self.same_content,
            "shards": self.shards,
            "seconds": round(self.seconds, 2),
            "photos_per_s": round(self.rate, 2),
            "started_s": round(self.started_s, 2),
            "cancelled": self.cancelled,
            "actors": self.actors,
            "gpus_per_actor": self.gpus_per_actor,
            "batch_size": self.batch_size,
            "reasons": dict(self.reasons.most_common()),
            "examples": [{"path": p, "reason": r} for p, r in self.examples],
            "listing_problems": self.listing_problems,
            "listing_examples": [{"path": p, "reason": r} for p, r in self.listing_examples],
        }
