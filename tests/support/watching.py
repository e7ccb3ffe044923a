"""A live Watcher in tests: a burst of file changes, and waiting until a condition holds or the
library equals the disk."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

from clipdesk.library.store import Library
from clipdesk.scanning.watcher import Watcher
from tests.support.photofiles import present_paths


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def disk_files(*roots: Path) -> set[str]:
    return {os.path.join(d, f) for r in roots for d, _dirs, fs in os.walk(r) for f in fs}


def settle(
    lib: Library, watcher: Watcher, *roots: Path, quiet_s: float = 1.5, timeout: float = 60.0
) -> None:
    """Wait until the watcher is idle and the library equals the disk, and both stay so for
    ``quiet_s`` (watchdog reports an unpaired move's source as a delete only ~0.5 s later)."""
    deadline = time.monotonic() + timeout
    calm_since: float | None = None
    while time.monotonic() < deadline:
        if watcher.idle() and present_paths(lib) == disk_files(*roots):
            calm_since = calm_since or time.monotonic()
            if time.monotonic() - calm_since >= quiet_s:
                return
        else:
            calm_since = None
        time.sleep(0.05)
    raise AssertionError(
        f"the watcher did not settle: idle={watcher.idle()}, "
        f"only in library {sorted(present_paths(lib) - disk_files(*roots))}, "
        f"only on disk {sorted(disk_files(*roots) - present_paths(lib))}"
    )


def random_burst(
    root: Path,
    template: bytes,
    rng: random.Random,
    events: int,
    before_event: Callable[[int], object] | None = None,
) -> list[Path]:
    """``events`` creates (half), renames and deletes of photos in 20 folders under ``root``,
    each created file of unique content; returns the files left on disk."""
    live: list[Path] = []
    for n in range(events):
        if before_event is not None:
            before_event(n)
        op = rng.random()
        if op < 0.5 or len(live) < 10:
            path = root / f"d{rng.randrange(20)}" / f"f{n}.jpg"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(template + n.to_bytes(4, "little"))
            live.append(path)
        elif op < 0.8:
            src = live.pop(rng.randrange(len(live)))
            dst = root / f"d{rng.randrange(20)}" / f"r{n}.jpg"
            dst.parent.mkdir(exist_ok=True)
            os.rename(src, dst)
            live.append(dst)
        else:
            os.remove(live.pop(rng.randrange(len(live))))
    return live
