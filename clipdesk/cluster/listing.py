"""What a cluster run embeds: the photo paths of folder trees or of a manifest, listed to disk.

A folder is walked by the scanner's rules (:mod:`clipdesk.scanning.walk`: hidden and
housekeeping folders skipped, each real folder entered once, only the extensions ClipDesk
indexes); a manifest is a text file of one path a line (``#`` starts a comment; a relative path
is relative to ``--root``, else to the manifest's folder). Nothing is opened or even stat'ed on
the driver: the workers do that, in parallel, next to the disks.

The listing must fit 10 million paths on a driver with little memory, so it is never a list in
memory: paths are sorted in runs of :data:`RUN_ROWS` written to Parquet, then merged run by run
into the final files (an external merge sort). Sorting gives two things for free: a path named
twice (a manifest's repeat, overlapping inputs) is embedded once, and photos of one folder are
read together, which is what a spinning disk or a NAS wants.

``--map FROM=TO`` (:class:`~clipdesk.common.path_map.PathMap`): a worker reads the recorded path ``FROM/x`` at ``TO/x``,
where the archive is mounted elsewhere on the workers than on the driver; shards keep the
recorded path.
"""

from __future__ import annotations

import heapq
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.regular_files import not_regular_reason
from clipdesk.imaging.filetypes import is_candidate
from clipdesk.scanning.walk import skipped

RUN_ROWS = 200_000  # paths sorted in memory at a time (~30 MB of names)
PART_ROWS = 100_000  # paths per final listing file (one Ray read task each)
REPORT_EVERY = 10_000  # paths between two progress reports
MAX_PROBLEMS = 50  # problems kept with their reasons; the rest are only counted
_INSTALL_HINT = "Install ClipDesk's cluster extra: pip install 'clipdesk[cluster]'."


@dataclass
class Listing:
    """The listed photos: final Parquet files (columns ``path`` bytes, ``root`` int32: an index
    into ``roots``), how many, and what could not be listed."""

    folder: Path
    files: list[str]
    count: int
    roots: list[str]
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), the first
    problem_count: int = 0

    def note(self, path: str, reason: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((path, reason))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def walk_photos(root: str, listing: Listing) -> Iterator[str]:
    """Every candidate photo under ``root``, as the scanner's walk finds them, one at a time
    (the walk itself keeps a dict of them all; a cluster's archive may not fit one)."""
    seen: set[tuple[int, int]] = set()  # real folders entered: one entry per folder, not file
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            info = os.stat(directory)
            if (info.st_dev, info.st_ino) in seen:
                listing.note(directory, "symlink loop or repeated folder (skipped)")
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            listing.note(directory, exc.strerror or type(exc).__name__)
            continue
        for entry in entries:
            if skipped(entry.name, entry):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    stack.append(entry.path)
                elif is_candidate(entry.name):
                    # d_type says what it is without a stat; a FIFO named *.jpg is never opened
                    if entry.is_file(follow_symlinks=True):
                        yield entry.path
                    else:
                        why = not_regular_reason(entry.stat(follow_symlinks=True).st_mode)
                        listing.note(entry.path, why or "not a regular file")
            except OSError as exc:  # vanished, broken link, denied: noted, the walk goes on
                if not isinstance(exc, FileNotFoundError):
                    listing.note(entry.path, exc.strerror or type(exc).__name__)


def manifest_paths(manifest: str, base: str, listing: Listing) -> Iterator[str]:
    """The photo paths a manifest names (absolute, normalised), one line at a time."""
    try:
        fh = open(  # noqa: SIM115 - held open while the caller consumes the lines
            manifest, encoding="utf-8", errors="surrogateescape", newline="\n"
        )
    except OSError as exc:
        raise ClipDeskError(
            f"The manifest {manifest} cannot be read: {exc.strerror or exc}.",
            "Give a text file of one photo path a line.",
        ) from exc
    with fh:
        for number, line in enumerate(fh, 1):
            text = line.rstrip("\r\n")
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            if "\x00" in text:
                listing.note(f"{manifest}:{number}", "a path with a NUL character")
                continue
            path = os.path.normpath(os.path.join(base, text))
            if is_candidate(path):
                yield path
            else:
                listing.note(path, "not a photo type ClipDesk indexes")


def check_inputs(inputs: Sequence[str]) -> list[str]:
    """The input folders, absolute and checked: existing folders, none inside another (its
    photos would be listed under two roots)."""
    roots = []
    for given in inputs:
        path = os.path.abspath(os.path.expanduser(given))
        if not os.path.isdir(path):
            what = "does not exist" if not os.path.exists(path) else "is not a folder"
            raise ClipDeskError(
                f"The input {given} {what}.",
                "Give folders of photos, or a list of paths with --manifest FILE.",
            )
        roots.append(path)
    real = {r: os.path.realpath(r) for r in roots}
    for a in roots:
        for b in roots:
            if a != b and (real[b] + os.sep).startswith(real[a].rstrip(os.sep) + os.sep):
                raise ClipDeskError(
                    f"The input {b} is inside the input {a}.",
                    f"Give {a} alone: its photos are listed with everything under it.",
                )
    return list(dict.fromkeys(roots))


def write_listing(
    folder: Path,
    inputs: Sequence[str] = (),
    manifest: str | None = None,
    root: str | None = None,
    listed: Callable[[int], None] | None = None,
) -> Listing:
    """List the photos of ``inputs`` (folders) or of ``manifest`` into Parquet files under
    ``folder`` (created), sorted by path, each path once. ``listed(n)`` is called every
    :data:`REPORT_EVERY` paths (it may raise to stop)."""
    pa, pq = _pyarrow()
    folder.mkdir(parents=True, exist_ok=True)
    listing = Listing(folder, [], 0, [])
    runs: list[Path] = []
    buffer: list[tuple[bytes, int]] = []

    def flush() -> None:
        if buffer:
            buffer.sort()
            runs.append(_write_rows(pa, pq, folder / f"run-{len(runs):05d}.parquet", buffer))
            buffer.clear()

    seen = 0

    def add(paths: Iterable[str], root_index: int) -> None:
        nonlocal seen
        for path in paths:
            buffer.append((os.fsencode(path), root_index))
            seen += 1
            if len(buffer) >= RUN_ROWS:
                flush()
            if listed is not None and seen % REPORT_EVERY == 0:
                listed(seen)

    if manifest is not None:
        base = os.path.abspath(root or os.path.dirname(os.path.abspath(manifest)))
        found: list[str] = []

        def tracked() -> Iterator[str]:
            common: str | None = None
            for path in manifest_paths(manifest, base, listing):
                parent = os.path.dirname(path)
                common = parent if common is None else os.path.commonpath([common, parent])
                yield path
            found.append(common or base)

        add(tracked(), 0)
        listing.roots = [os.path.abspath(root) if root else (found[0] if found else base)]
    else:
        listing.roots = check_inputs(inputs)
        for i, top in enumerate(listing.roots):
            add(walk_photos(top, listing), i)
    flush()
    _merge(pa, pq, runs, listing)
    for run in runs:
        run.unlink(missing_ok=True)
    return listing


def _merge(pa: Any, pq: Any, runs: list[Path], listing: Listing) -> None:
    """The sorted runs merged into the final parts, each path once (the first root wins)."""
    part: list[tuple[bytes, int]] = []
    last: bytes | None = None

    def flush() -> None:
        if part:
            name = listing.folder / f"part-{len(listing.files):05d}.parquet"
            listing.files.append(str(_write_rows(pa, pq, name, part)))
            part.clear()

    for path, root in heapq.merge(*(_read_rows(pq, run) for run in runs)):
        if path == last:
            continue
        last = path
        part.append((path, root))
        listing.count += 1
        if len(part) >= PART_ROWS:
            flush()
    flush()


def _write_rows(pa: Any, pq: Any, path: Path, rows: list[tuple[bytes, int]]) -> Path:
    table = pa.table(
        {
            "path": pa.array([r[0] for r in rows], type=pa.binary()),
            "root": pa.array([r[1] for r in rows], type=pa.int32()),
        }
    )
    pq.write_table(table, path, compression="zstd")
    return path


def _read_rows(pq: Any, path: Path) -> Iterator[tuple[bytes, int]]:
    with pq.ParquetFile(path) as fh:
        for batch in fh.iter_batches(batch_size=8192):
            yield from zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True)


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ClipDeskError(
            "Listing photos for a cluster run needs pyarrow.", _INSTALL_HINT
        ) from exc
    return pa, pq
