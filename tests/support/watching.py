"""Waiting on a live Watcher in tests: until a condition holds, until the library equals the disk."""

from __future__ import annotations

import os
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
