"""Embedding an archive with Ray Data: listing → CPU tasks → model actors that write shards.

::

    driver: list the inputs to Parquet (listing.py)        one probe task loads the model where
            ─ the listing files ─┐                          the actors will run: its facts name
                                 ▼                          the job (clipdesk-job.json)
    read listing ──> repartition (one batch of rows a block) ──> prepare (CPU tasks, prepare.py:
    stat, hash, skip what is done, type, EXIF, decode, crop) ──> ShardEmbedder actors (actor.py;
    GPU when there are GPUs): embed the batch, write ITS shard, return one summary row ──>
    driver: counts, photos/s, ETA

- *A crash loses at most the batches in flight* (see :mod:`clipdesk.cluster.actor`): Ray
  restarts a dead actor and runs its batches again (:data:`TASK_RETRIES` times), CPU tasks too.
- *Resumable.* A rerun into the same folder skips, before reading a byte, every path whose size
  and mtime it already holds, and after hashing every content it already holds
  (:mod:`clipdesk.cluster.resume`); a rerun with another model is refused
  (:func:`~clipdesk.cluster.shards.check_job`); one run at a time writes into a folder (a lock
  file), and what a killed run left (half-written shards, its listing) is swept by the next.
- Ray: :mod:`clipdesk.cluster.ray_session`; how the cluster is used: :mod:`clipdesk.cluster.plan`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from clipdesk.cluster import prepare
from clipdesk.cluster.actor import ActorSpec, ModelFacts, ModelSpec, ShardEmbedder, probe
from clipdesk.cluster.job import EmbedRequest, EmbedSummary
from clipdesk.cluster.listing import Listing, write_listing
from clipdesk.cluster.plan import Plan, plan
from clipdesk.cluster.ray_session import connected, quiet_ray, ray_module, unwrap
from clipdesk.cluster.resume import Done, done_in
from clipdesk.cluster.shards import ShardError, check_job, sweep_partial, write_job
from clipdesk.common.errors import CancelledError, ClipDeskError
from clipdesk.common.path_map import PathMap
from clipdesk.common.progress import CancelToken, Progress, ProgressCallback, RateMeter
from clipdesk.model.install_lock import FileLock, holder_pid

LOCK_FILE = ".clipdesk-embed.lock"
_LISTING_PREFIX = ".listing-"
TASK_RETRIES = 3  # a batch (or a CPU task) whose worker dies is run again this many times

# --- the CPU stages (Ray tasks) ------------------------------------------------------------

_done_cache: dict[str, Done] = {}  # per worker process: the run's keys, read once


def _read_listing(batch: Any) -> Any:
    """One listing file's rows (the files are named as the workers see them)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(f) for f in batch.column("file").to_pylist()]
    return pa.concat_tables(tables) if tables else batch


def _prepare(batch: Any, settings: prepare.PrepareSettings, done_ref: Any) -> Any:
    key = done_ref.hex()
    if key not in _done_cache:
        import ray

        _done_cache.clear()
        _done_cache[key] = ray.get(done_ref)
    return prepare.prepare_rows(batch, settings, _done_cache[key])


def run(
    request: EmbedRequest,
    model_path: str,
    choice: str,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> EmbedSummary:
    """The whole run (see the module's docstring). ``choice``: the runtime to ask for."""
    cancel = cancel or CancelToken()
    start = time.monotonic()
    out = Path(request.out).expanduser().absolute()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClipDeskError(
            f"The output folder {out} cannot be created: {exc.strerror or exc}.",
            "Give a folder on storage every worker can write to.",
        ) from exc
    ray_module()  # before anything is written: say at once that Ray is missing
    lock = FileLock(out / LOCK_FILE)
    if not lock.acquire():
        pid = holder_pid(out / LOCK_FILE)
        raise ShardError(
            f"Another cluster run is writing into {out}" + (f" (process {pid})." if pid else "."),
            "Wait for it to finish, or give another output folder.",
        )
    try:
        _sweep(out)
        with quiet_ray(), connected(request.address) as ray:
            return _run(ray, request, out, model_path, choice, progress, cancel, start)
    finally:
        lock.release()


def _run(
    ray: Any,
    request: EmbedRequest,
    out: Path,
    model_path: str,
    choice: str,
    progress: ProgressCallback | None,
    cancel: CancelToken,
    start: float,
) -> EmbedSummary:
    node_cpus = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=0)
    how = plan(request, ray.cluster_resources(), node_cpus)
    threads = None if how.gpus_per_actor else max(1, math.floor(how.cpus_per_actor))
    spec = ModelSpec(model_path, how.device, choice, threads)
    path_map = PathMap.parse(request.path_map)
    remote = ray.remote(num_cpus=how.cpus_per_actor, num_gpus=how.gpus_per_actor, max_retries=1)
    if progress:
        progress(Progress(0, None, message="Loading the model on a worker"))
    facts: ModelFacts = unwrap(ray, lambda: ray.get(remote(probe).remote(spec)))
    check_job(out, facts.shard_model)
    summary = EmbedSummary(
        str(out),
        model_id=facts.shard_model.model_id,
        runtime_label=facts.shard_model.runtime_label,
        actors=how.actors,
        gpus_per_actor=how.gpus_per_actor,
        batch_size=how.batch_size,
    )
    given = list(request.inputs) or [str(request.manifest)]
    write_job(out, facts.shard_model, [os.path.abspath(p) for p in given])
    done = done_in(out)
    try:
        listing = _list(request, out, progress, cancel)
    except CancelledError:
        summary.cancelled = True
        summary.seconds = time.monotonic() - start
        return summary
    try:
        summary.listed = listing.count
        summary.listing_problems = listing.problem_count
        summary.listing_examples = list(listing.problems)
        if listing.count and not cancel.cancelled:
            actor = ActorSpec(
                ModelSpec(model_path, how.device, facts.runtime, threads),
                facts.shard_model,
                facts.preprocess,
                path_map(str(out)),
                tuple(listing.roots),
            )
            settings = prepare.PrepareSettings(facts.preprocess, path_map)
            results = _dataset(ray, listing, path_map, how, actor, settings, ray.put(done))
            unwrap(ray, lambda: _collect(results, summary, progress, cancel, start))
    finally:
        listing.remove()
    summary.cancelled = cancel.cancelled
    summary.seconds = time.monotonic() - start
    if progress:
        message = "Cancelled" if cancel.cancelled else "Finished"
        progress(Progress(summary.done, summary.listed, summary.rate, 0.0, message))
    return summary


def _list(
    request: EmbedRequest, out: Path, progress: ProgressCallback | None, cancel: CancelToken
) -> Listing:
    def listed(n: int) -> None:
        if progress:
            progress(Progress(n, None, message="Listing photos"))
        cancel.raise_if_cancelled()

    folder = out / f"{_LISTING_PREFIX}{uuid.uuid4().hex}"
    try:
        return write_listing(folder, request.inputs, request.manifest, request.root, listed)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _dataset(
    ray: Any,
    listing: Listing,
    path_map: PathMap,
    how: Plan,
    actor: ActorSpec,
    settings: prepare.PrepareSettings,
    done_ref: Any,
) -> Any:
    data = ray.data
    context = data.DataContext.get_current()
    context.enable_progress_bars = False  # the face draws its own
    context.print_on_execution_start = False
    files = [{"file": path_map(f)} for f in listing.files]
    with warnings.catch_warnings():
        # Ray 2.60 deprecates passing retries as keyword arguments without a replacement for
        # them: the warning is for Ray's own API, not for the user.
        warnings.simplefilter("ignore")
        ds = data.from_items(files, override_num_blocks=len(files))
        ds = ds.map_batches(_read_listing, batch_format="pyarrow", batch_size=1, num_cpus=0.5)
        ds = ds.repartition(target_num_rows_per_block=how.batch_size)
        ds = ds.map_batches(
            _prepare,
            fn_kwargs={"settings": settings, "done_ref": done_ref},
            batch_format="pyarrow",
            batch_size=None,
            num_cpus=1,
            max_retries=TASK_RETRIES,
        )
        return ds.map_batches(
            ShardEmbedder,
            fn_constructor_kwargs={"spec": actor},
            compute=data.ActorPoolStrategy(size=how.actors),
            batch_size=how.batch_size,
            batch_format="pyarrow",
            num_cpus=how.cpus_per_actor,
            num_gpus=how.gpus_per_actor,
            max_restarts=-1,  # a lost node's actors come back elsewhere
            max_task_retries=TASK_RETRIES,
        )


def _collect(
    results: Any,
    summary: EmbedSummary,
    progress: ProgressCallback | None,
    cancel: CancelToken,
    start: float,
) -> None:
    meter = RateMeter(summary.listed)
    batches = results.iter_batches(batch_size=None, batch_format="pyarrow")
    try:
        for table in batches:
            for row in table.to_pylist():
                summary.embedded += row["embedded"]
                summary.errors += row["errors"]
                summary.failed += row["failed"]
                summary.unchanged += row["unchanged"]
                summary.same_content += row["same_content"]
                summary.shards += row["shards"]
                summary.count_reasons(
                    json.loads(row["reasons"]), [tuple(e) for e in json.loads(row["examples"])]
                )
            if not summary.started_s:
                summary.started_s = time.monotonic() - start
            if progress:
                progress(meter.update(summary.done, "Embedding photos"))
            if cancel.cancelled:
                break
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # stops the streaming execution: nothing more is embedded after a cancel


def _sweep(out: Path) -> None:
    """What a killed run left: half-written shards, its listing."""
    sweep_partial(out)
    for entry in os.scandir(out):
        if entry.name.startswith(_LISTING_PREFIX) and entry.is_dir():
            shutil.rmtree(entry.path, ignore_errors=True)
