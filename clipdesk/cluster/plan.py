"""How a cluster run uses the cluster: model actors, their CPUs and GPUs, the batch size.

GPU actors where the cluster has GPUs (one GPU each, one actor a GPU, batches of 256); CPU
actors otherwise, with half of a machine's cores each and half of the cluster's cores for them
all, the rest reading and decoding (as the desktop shares its cores). Whatever is asked for is
checked against what the cluster has, so a run never waits forever for resources that are not
there.
"""

from __future__ import annotations

from dataclasses import dataclass

from clipdesk.cluster.job import EmbedRequest
from clipdesk.common.errors import ClipDeskError

CPU_BATCH, GPU_BATCH = 32, 256


@dataclass(frozen=True)
class Plan:
    """How the run uses the cluster."""

    actors: int
    cpus_per_actor: float
    gpus_per_actor: float
    batch_size: int
    device: str


def plan(request: EmbedRequest, resources: dict[str, float], node_cpus: float) -> Plan:
    """Actors, resources and batch size from the request and what the cluster has."""
    cpus, gpus_total = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
    gpus = request.gpus_per_actor
    if gpus is None:
        gpus = 1.0 if gpus_total >= 1 else 0.0
    if gpus < 0 or (gpus and gpus > gpus_total):
        raise ClipDeskError(
            f"The actors would need {gpus:g} GPU each; the cluster has {gpus_total:g}.",
            "Leave out --gpus-per-actor (auto: one GPU each where there are GPUs), or add "
            "machines with GPUs.",
        )
    device = (request.device or "auto").strip().lower()
    if gpus:
        device = "cuda" if device == "auto" else device
        if not device.startswith("cuda"):
            raise ClipDeskError(
                f"The actors get a GPU each but the device is {request.device}.",
                "Pass --gpus-per-actor 0 for CPU actors, or --device cuda.",
            )
        cpus_per_actor = request.cpus_per_actor or 1.0
        actors = request.concurrency or max(1, int(gpus_total // gpus))
        batch = request.batch_size or GPU_BATCH
    else:
        device = "cpu" if device == "auto" else device
        if device != "cpu":
            raise ClipDeskError(
                f"The device is {request.device} but the cluster has no GPU for the actors.",
                "Leave out --device (CPU actors), or start the Ray workers on machines with GPUs.",
            )
        # Half of a machine's cores for the model, half for decoding, as on the desktop.
        cpus_per_actor = request.cpus_per_actor or max(1.0, float(int(node_cpus // 2)))
        actors = request.concurrency or max(1, int(cpus // 2 // cpus_per_actor))
        batch = request.batch_size or CPU_BATCH
    if batch < 1 or actors < 1 or cpus_per_actor <= 0:
        raise ClipDeskError(
            "--batch-size, --concurrency and --cpus-per-actor must be positive.",
            "Leave them out for the defaults.",
        )
    if actors * cpus_per_actor + 1 > cpus:
        raise ClipDeskError(
            f"{actors} actors of {cpus_per_actor:g} CPUs leave none of the cluster's {cpus:g} "
            "CPUs to read and decode photos.",
            "Lower --concurrency or --cpus-per-actor, or add workers.",
        )
    return Plan(actors, cpus_per_actor, gpus, batch, device)
