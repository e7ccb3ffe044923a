"""How fast each catalog architecture embeds: measured on the catalog machine, scaled to this one.

``bench/engine.py --catalog`` times every architecture with random weights (:func:`time_architecture`)
and writes ``assets/catalog_speeds.json`` with the machine's description and the date. On a user's
machine a short probe times one small reference architecture the same way, once, and caches the
result; every catalog speed is then scaled by the ratio of the two reference timings. The scaling
is an estimate (a GPU speeds up large models more than small ones), and the picker says which
figures are scaled and which were measured.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clipdesk.common import paths
from clipdesk.common.progress import CancelToken
from clipdesk.model.catalog import ARCHITECTURES, Architecture

log = logging.getLogger(__name__)

SPEEDS_FILE = Path(__file__).with_name("assets") / "catalog_speeds.json"
PROBE_FILE = "speed_probe.json"  # in the user's cache folder
REFERENCE = "ViT-B-32-quickgelu"  # the probe's architecture: small, and in every catalog
BATCH = 8  # images per forward pass, as indexing feeds the model


@dataclass(frozen=True)
class ArchSpeed:
    images_per_s: float  # at BATCH images per forward pass
    text_ms: float  # one search phrase through the text tower (median)
    iterations: int  # timed image batches (few for the large models on a CPU)
    params: int  # parameters of the built module


@dataclass(frozen=True)
class CatalogSpeeds:
    machine: str
    device: str
    threads: int
    measured: str  # ISO date
    batch: int
    archs: dict[str, ArchSpeed]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["archs"] = {k: asdict(v) for k, v in sorted(self.archs.items())}
        return data


def machine_description() -> str:
    """The CPU model and core count (and the GPU, where torch sees one)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()}"


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def time_architecture(
    arch: Architecture,
    *,
    device: str = "cpu",
    batch: int = BATCH,
    min_iterations: int = 2,
    min_seconds: float = 2.0,
    cancel: CancelToken | None = None,
) -> ArchSpeed:
    """Images per second at ``batch`` and one phrase's text latency of ``arch`` with random
    weights: one warm-up pass, then at least ``min_iterations`` batches and ``min_seconds``."""
    import torch

    from clipdesk.model.architectures import build, parameter_count

    def check() -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()

    built = build(arch)
    check()
    module = built.module.to(device)
    pixels = torch.randn(batch, 3, arch.image_size, arch.image_size, generator=None).to(device)
    ids = built.text_ids.to(device)
    with torch.inference_mode():
        module.encode_image(pixels[:1])  # warm-up: kernels, allocator
        _sync(device)
        check()
        n, start = 0, time.perf_counter()
        while n < min_iterations or time.perf_counter() - start < min_seconds:
            module.encode_image(pixels)
            _sync(device)
            n += 1
            check()
        images_per_s = batch * n / (time.perf_counter() - start)
        module.encode_text(ids)
        times: list[float] = []
        text_start = time.perf_counter()
        while len(times) < 3 or (len(times) < 50 and time.perf_counter() - text_start < 1.0):
            t0 = time.perf_counter()
            module.encode_text(ids)
            _sync(device)
            times.append(time.perf_counter() - t0)
            check()
    return ArchSpeed(
        round(images_per_s, 3),
        round(statistics.median(times) * 1e3, 2),
        n,
        parameter_count(module),
    )


def load_catalog_speeds(path: Path | None = None) -> CatalogSpeeds | None:
    """The speeds measured on the catalog machine (None: not measured yet)."""
    path = path or SPEEDS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return CatalogSpeeds(
            machine=str(data["machine"]),
            device=str(data["device"]),
            threads=int(data["threads"]),
            measured=str(data["measured"]),
            batch=int(data["batch"]),
            archs={k: ArchSpeed(**v) for k, v in data["archs"].items() if k in ARCHITECTURES},
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return None


def save_catalog_speeds(speeds: CatalogSpeeds, path: Path | None = None) -> None:
    (path or SPEEDS_FILE).write_text(
        json.dumps(speeds.to_json(), indent=2) + "\n", encoding="utf-8"
    )


# --- the probe on the user's machine --------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """The reference architecture timed on this machine."""

    fingerprint: str  # machine, device and threads it was measured with
    reference: str
    images_per_s: float
    text_ms: float
    measured: str  # ISO timestamp

    def ratio(self, catalog: CatalogSpeeds) -> float | None:
        """How much faster this machine is than the catalog's (None: not comparable)."""
        ref = catalog.archs.get(self.reference)
        return self.images_per_s / ref.images_per_s if ref and ref.images_per_s > 0 else None


def fingerprint(device: str) -> str:
    import torch

    return f"{machine_description()} | {device} | {torch.get_num_threads()} threads"


def cached_probe(device: str = "cpu") -> Probe | None:
    """The probe measured earlier on this machine with this device, if any."""
    path = paths.cache_dir() / PROBE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        probe = Probe(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return None
    return probe if probe.fingerprint == fingerprint(device) else None


def run_probe(
    device: str = "cpu",
    cancel: CancelToken | None = None,
    timer: Callable[..., ArchSpeed] | None = None,
) -> Probe:
    """Time the reference architecture here (a few seconds on a laptop CPU) and cache it."""
    speed = (timer or time_architecture)(
        ARCHITECTURES[REFERENCE], device=device, min_iterations=2, min_seconds=1.0, cancel=cancel
    )
    probe = Probe(
        fingerprint=fingerprint(device),
        reference=REFERENCE,
        images_per_s=speed.images_per_s,
        text_ms=speed.text_ms,
        measured=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    path = paths.cache_dir() / PROBE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(probe), indent=2), encoding="utf-8")
    os.replace(tmp, path)
    log.info("speed probe: %s at %.1f images/s on %s", REFERENCE, speed.images_per_s, device)
    return probe


@dataclass(frozen=True)
class SpeedEstimate:
    images_per_s: float
    text_ms: float
    scaled: bool  # True: the catalog machine's figure scaled by this machine's probe

    def seconds_for(self, photos: int) -> float:
        return photos / self.images_per_s if self.images_per_s > 0 else float("inf")


def estimate(
    arch_key: str, catalog: CatalogSpeeds | None, probe: Probe | None
) -> SpeedEstimate | None:
    """The speed of ``arch_key`` on this machine: the catalog's figure scaled by the probe's
    ratio (the catalog machine's own figure, unscaled, before the probe has run)."""
    if catalog is None or arch_key not in catalog.archs:
        return None
    base = catalog.archs[arch_key]
    ratio = probe.ratio(catalog) if probe is not None else None
    if ratio is None:
        return SpeedEstimate(base.images_per_s, base.text_ms, scaled=False)
    text_ratio = (
        catalog.archs[REFERENCE].text_ms / probe.text_ms if probe and probe.text_ms else ratio
    )
    return SpeedEstimate(base.images_per_s * ratio, base.text_ms / text_ratio, scaled=True)
