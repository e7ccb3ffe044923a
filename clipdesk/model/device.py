"""Choosing the compute device: CUDA, then Apple MPS, then CPU, or what the user asks for."""

from __future__ import annotations

import logging
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clipdesk.common.errors import DeviceError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # "cuda:0", "mps", "cpu"
    description: str


def gpu_possible() -> bool:
    """Whether this machine may have a GPU torch could use, told without importing torch: an
    NVIDIA driver (Linux: its device nodes or /proc entry; Windows: its CUDA library) or Apple
    silicon. False means the CPU for certain, so a CPU-only runtime can serve without torch."""
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    if sys.platform.startswith("win"):
        system = Path(os.environ.get("SYSTEMROOT", r"C:\Windows")) / "System32"
        return (system / "nvcuda.dll").exists()
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()


def available_devices() -> list[DeviceInfo]:
    """Every device this machine can run the model on, best first."""
    import torch

    found = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            found.append(DeviceInfo(f"cuda:{i}", f"CUDA {torch.cuda.get_device_name(i)}"))
    if _mps_available():
        found.append(DeviceInfo("mps", "Apple Metal (MPS)"))
    found.append(DeviceInfo("cpu", f"CPU ({os.cpu_count() or 1} cores)"))
    return found


def device_names() -> list[str]:
    """The names of :func:`available_devices`, best first; without a GPU driver (or without
    torch, where ONNX Runtime serves on the CPU) just ``["cpu"]``, told without importing torch."""
    if not gpu_possible():
        return ["cpu"]
    try:
        return [d.name for d in available_devices()]
    except ImportError:
        return ["cpu"]


def check_device(requested: str) -> str:
    """``requested`` (auto, cpu, cuda, cuda:N or mps) if this machine has it, else the
    DeviceError that names the devices it has. Cheap for auto and cpu (torch is not imported)."""
    req = requested.strip().lower()
    if req in ("auto", "cpu"):
        return req
    names = device_names()
    found = ", ".join(names)
    if req not in ("cuda", "mps") and not (req.startswith("cuda:") and req[5:].isdigit()):
        raise DeviceError(
            f"Unknown device {requested!r}; this machine has: {found}.",
            hint="Choose auto, cpu, cuda, cuda:N or mps.",
            cli_hint=f"Pass --device auto, or one of: {found}.",
        )
    if req in names or (req == "cuda" and any(n.startswith("cuda:") for n in names)):
        return req
    raise DeviceError(
        f"Device {requested!r} is not available on this machine; it has: {found}.",
        hint="Choose another device in Settings.",
        cli_hint=f"Pass --device auto, or one of: {found}.",
    )


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def select_device(requested: str | None = "auto", allow_fallback: bool = False) -> torch.device:
    """Resolve "auto", "cpu", "cuda", "cuda:N" or "mps" to a usable device.

    An unavailable device raises DeviceError unless ``allow_fallback``, in which case the best
    available one is used and a warning logged.
    """
    import torch

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
        hint="choose another device in Settings",
        cli_hint="choose another device in Settings or pass --device auto",
    )


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Half precision on GPUs (bf16 where supported), none (fp32) on the CPU."""
    import torch

    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return None


THREADS_ENV = "CLIPDESK_THREADS"


def usable_cpus() -> int:
    """Cores this process may run on (a container's or ``taskset``'s limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def default_cpu_threads() -> int:
    """Intra-op threads for CPU inference: ``CLIPDESK_THREADS`` if set, else every usable core.

    Matrix products scale with cores and the GUI thread mostly waits on I/O, so reserving a core
    would cost a third to a half of the throughput on the 2-4 core laptops many users have; above
    8 cores one is left to the photo decoders, which run beside the model while indexing.
    """
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n >= 1:
            return n
        log.warning("%s=%r is not a positive integer; ignoring it", THREADS_ENV, value)
    n = usable_cpus()
    return n if n <= 8 else n - 1


def configure_cpu_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count (process-wide) and return it.

    Without ``n``: ``CLIPDESK_THREADS`` wins; otherwise torch's own choice is kept unless it
    oversubscribes the cores this process may use (torch counts the host's cores, a container
    may grant fewer), and a lower count someone set on purpose is left alone.
    """
    import torch

    if n is None:
        if os.environ.get(THREADS_ENV, "").strip() or torch.get_num_threads() > usable_cpus():
            n = default_cpu_threads()
        else:
            return torch.get_num_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
        log.info("using %d CPU threads", n)
    return n
