"""Ray itself for a cluster run: imported on first use, started or joined, kept quiet.

A local Ray (``ray.init()``) is started and stopped by the run unless the caller has one
already, or ``address`` names a cluster (``auto`` on its head node, ``ray://HOST:10001`` from
elsewhere). The workers get the driver's ``CLIPDESK_*`` variables (its home folder, threads).
Ray starts its processes bound to the thread that started them (Linux kills them when it ends),
so a run starts and stops Ray in the thread it runs in. Failures raised by a worker reach the
run as themselves when they are ClipDesk's, and as a ClipDeskError that says the shards so far
are kept when they are Ray's (a worker that died too often, a lost node).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from clipdesk.common.errors import ClipDeskError

INSTALL_HINT = "Install ClipDesk's cluster extra: pip install 'clipdesk[cluster]'."
_LOG_HINT = "Ray's worker logs are under /tmp/ray/session_latest/logs on each machine."


def ray_module() -> Any:
    """``ray`` with Ray Data, or a ClipDeskError that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (the pipeline's engine; ray alone is not enough)
    except ImportError as exc:
        if getattr(sys, "frozen", False):
            # Ray's workers run ClipDesk from a Python install, never from this bundle.
            raise ClipDeskError(
                "The packaged app does not include Ray, so it cannot embed on a cluster.",
                "Run clipdesk-cli cluster embed from a Python install of ClipDesk: "
                "pip install 'clipdesk[cluster]'.",
            ) from exc
        raise ClipDeskError(
            "Embedding on a Ray cluster needs Ray (ray[data]), which is not installed.",
            INSTALL_HINT,
        ) from exc
    return ray


def worker_env() -> dict[str, str]:
    """The driver's ClipDesk settings the workers run with (home folder, threads, runtime)."""
    return {k: v for k, v in os.environ.items() if k.startswith("CLIPDESK_")}


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[Any]:
    """Ray, initialised: the caller's if already, else a local one or ``address``'s (and shut
    down afterwards)."""
    ray = ray_module()
    if ray.is_initialized():
        yield ray
        return
    # Ray's notices (its own warnings included) stay in its logs; what fails reaches the run
    options: dict[str, Any] = {"runtime_env": {"env_vars": worker_env()}}
    options["logging_level"] = logging.ERROR
    try:
        if address and address.startswith("ray://"):
            ray.init(address, **options)
        elif address:
            ray.init(address=address, log_to_driver=False, **options)
        else:
            ray.init(include_dashboard=False, log_to_driver=False, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "this machine"
        raise ClipDeskError(
            f"Ray could not start or connect on {where}: {exc}",
            "For a cluster, run `ray start --head` on its head node and pass --address auto "
            "there (or --address ray://HEAD:10001); leave out --address for a local one.",
        ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def unwrap(ray: Any, job: Any) -> Any:
    """``job()``, with a ClipDeskError raised by a worker re-raised as itself, and Ray's own
    failures (a worker that died too often, a lost node) as a ClipDeskError that says the shards
    written so far are kept."""
    try:
        return job()
    except ClipDeskError:
        raise
    except Exception as exc:
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ClipDeskError):
                raise cause from exc
            inner = getattr(cause, "cause", None)
            cause = inner if isinstance(inner, BaseException) else cause.__cause__
        if isinstance(exc, ray.exceptions.RayError):
            raise ClipDeskError(
                f"The cluster run failed: {_first_line(exc)}",
                "The shards written so far are kept: run the same command again to go on. "
                + _LOG_HINT,
            ) from exc
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


@contextlib.contextmanager
def quiet_ray() -> Iterator[None]:
    """Ray's and Ray Data's own progress lines and notices off the user's terminal while we
    draw ours (their failures still reach the run as exceptions; the logs keep everything)."""
    ray_module()  # importing Ray sets its loggers' levels: set ours after
    loggers = [logging.getLogger(name) for name in ("ray", "ray.data")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
