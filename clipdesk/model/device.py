"""Choosing the compute device: CUDA, then Apple MPS, then CPU, or what the user asks for."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch

from clipdesk.core.errors import DeviceError

log = logging.getLogger("clipdesk.model.device")


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # "cuda:0", "mps", "cpu"
    description: str


def available_devices() -> list[DeviceInfo]:
    """Every device this machine can run the model on, best first."""
    found = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            found.append(DeviceInfo(f"cuda:{i}", f"CUDA {torch.cuda.get_device_name(i)}"))
    if _mps_available():
        found.append(DeviceInfo("mps", "Apple Metal (MPS)"))
    found.append(DeviceInfo("cpu", f"CPU ({os.cpu_count() or 1} cores)"))
    return found


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def select_device(requested: str | None = "auto", allow_fallback: bool = False) -> torch.device:
    """Resolve "auto", "cpu", "cuda", "cuda:N" or "mps" to a usable device.

    An unavailable device raises DeviceError unless ``allow_fallback``, in which case the best
    available one is used and a warning logged.
    """
    req = (requested or "auto").strip().lower()
    if req == "auto":
        return torch.device(available_devices()[0].name)
    names = {d.name for d in available_devices()}
    if req == "cuda":
        req = "cuda:0"
    if req in names:
        return torch.device(req)
    if req not in ("cpu", "mps") and not req.startswith("cuda:"):
        raise DeviceError(
            f"unknown device {requested!r}", hint="use auto, cpu, cuda, cuda:N or mps"
        )
    best = available_devices()[0].name
    if allow_fallback:
        log.warning("device %s is not available here; using %s instead", requested, best)
        return torch.device(best)
    raise DeviceError(
        f"device {requested!r} is not available on this machine (available: {', '.join(sorted(names))})",
        hint="choose another device in Settings or pass --device auto",
    )


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Half precision on GPUs (bf16 where supported), none (fp32) on the CPU."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return None


def default_cpu_threads() -> int:
    """Leave one core to the GUI and the decoders on machines with a few cores."""
    n = os.cpu_count() or 1
    return max(1, n - 1) if n <= 8 else n - 2
