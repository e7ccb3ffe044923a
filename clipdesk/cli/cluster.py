"""``clipdesk-cli cluster embed``: embed an archive on a Ray cluster into Parquet shards.

    cluster embed INPUT... --out DIR              folders, walked as a scan walks them
    cluster embed --manifest FILE [--root DIR] --out DIR
                                                  or a file of one photo path a line
        [--map FROM=TO]...                        workers read FROM/x at TO/x
        [--address auto|ray://HOST:PORT]          a running cluster (default: Ray on this
                                                  machine, started and stopped by the run)
        [--batch-size N] [--concurrency N]        photos per model batch; model actors
        [--gpus-per-actor N|auto] [--cpus-per-actor N]

The global --model, --device and --runtime choose the model as for ``index``. The shards go to
DIR (``clipdesk-cli vectors import DIR`` merges them into a library); running the same command
again skips what DIR already holds, so an interrupted run (Ctrl+C, a crash, a lost node) just
carries on. Progress (photos/s, ETA) is drawn on stderr: a self-rewriting line on a terminal,
a line every :data:`LINE_EVERY_S` seconds elsewhere (a log file), nothing with --json.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import Progress

EXIT_INTERRUPTED = 130
LINE_EVERY_S = 30.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cluster",
        help="embed an archive on a Ray cluster (pip install 'clipdesk[cluster]')",
        description="Embedding a large archive with Ray: CPU workers read and decode the "
        "photos, model actors (a GPU each where there are GPUs) embed them and write Parquet "
        "shards that `clipdesk-cli vectors import` merges into a library.",
    )
    sub = parser.add_subparsers(dest="cluster_command", metavar="ACTION")
    sub.required = True
    embed = sub.add_parser(
        "embed",
        help="embed folders or a manifest of paths into shards in --out (resumable)",
        description="Embed photos into Parquet shards in --out. A rerun skips what --out "
        "already holds; Ctrl+C stops cleanly.",
    )
    embed.add_argument("inputs", nargs="*", metavar="INPUT", help="photo folders to walk")
    embed.add_argument("--manifest", metavar="FILE", help="a file of one photo path a line")
    embed.add_argument(
        "--root",
        metavar="DIR",
        help="the manifest's root: relative paths start there, and the shards name it as "
        "the photos' folder (default: the paths' common parent)",
    )
    embed.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FROM=TO",
        help="the workers read a path FROM/x at TO/x (the shards keep FROM/x); repeatable",
    )
    embed.add_argument("--out", required=True, metavar="DIR", help="the folder for the shards")
    embed.add_argument(
        "--address",
        metavar="ADDR",
        help="a running Ray cluster: auto (on its head node) or ray://HOST:10001 "
        "(default: a local Ray on this machine)",
    )
    embed.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="photos per model batch (default 32 on CPUs, 256 on GPUs)",
    )
    embed.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="model actors (default: one a GPU; on CPUs, half the cluster's cores' worth)",
    )
    embed.add_argument(
        "--gpus-per-actor",
        default="auto",
        metavar="N|auto",
        help="GPUs per model actor: auto (1 when the cluster has GPUs, else 0), or a number",
    )
    embed.add_argument(
        "--cpus-per-actor",
        type=float,
        metavar="N",
        help="CPUs (threads) per model actor (default: 1 with a GPU, else half a machine)",
    )
    embed.set_defaults(func=run_embed)


def _gpus(value: str) -> float | None:
    if value.strip().lower() == "auto":
        return None
    try:
        gpus = float(value)
    except ValueError:
        gpus = -1.0
    if gpus < 0:
        raise ClipDeskError(
            f"--gpus-per-actor {value!r} is not a number of GPUs.",
            "Give auto, 0 (CPU actors), 1, or a fraction such as 0.5.",
        )
    return gpus


def run_embed(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.cli.index import ProgressBar, _run_cancellable
    from clipdesk.services.cluster import ClusterService, EmbedRequest

    if bool(args.inputs) == bool(args.manifest):
        raise ClipDeskError(
            "Give photo folders or --manifest FILE (one of the two).",
            "clipdesk-cli cluster embed /archive --out /shared/vectors",
        )
    if args.root and not args.manifest:
        raise ClipDeskError("--root goes with --manifest.", "Leave it out for folders.")
    request = EmbedRequest(
        out=args.out,
        inputs=tuple(args.inputs),
        manifest=args.manifest,
        root=args.root,
        path_map=tuple(args.map),
        address=args.address,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        gpus_per_actor=_gpus(args.gpus_per_actor),
        cpus_per_actor=args.cpus_per_actor,
        model=args.model,
        device=args.device,
        runtime=args.runtime,
    )
    if args.json:
        bar: ProgressBar | ProgressLines | None = None
    elif sys.stderr.isatty():
        bar = ProgressBar()
    else:
        bar = ProgressLines()
    try:
        summary, interrupted = _run_cancellable(
            lambda token: ClusterService().embed(request, progress=bar, cancel=token)
        )
    finally:
        if bar is not None:
            bar.close()
    emit(args, summary.as_json(), summary.describe())
    return EXIT_INTERRUPTED if interrupted else 0


class ProgressLines:
    """Progress for a log file: a whole line every ``every_s`` seconds, and the last one."""

    def __init__(self, stream: TextIO | None = None, every_s: float = LINE_EVERY_S) -> None:
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self._last = 0.0
        self._message = ""

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if p.message == self._message and now - self._last < self.every_s:
            return
        self._last, self._message = now, p.message
        if p.total:
            eta = f", ETA {_duration(p.eta_s)}" if p.eta_s else ""
            line = f"{p.message}: {p.done:,}/{p.total:,} ({p.rate:.1f} photos/s{eta})"
        else:
            line = f"{p.message}: {p.done:,}" if p.done else f"{p.message}…"
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        pass


def _duration(seconds: float | None) -> str:
    from clipdesk.common.progress import short_duration

    return short_duration(seconds or 0.0)
