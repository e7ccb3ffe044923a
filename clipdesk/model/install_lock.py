"""A lock file that says "a live process is writing this", across processes.

The operating system drops the lock when its holder dies, kill -9 included, so a lock that can
be taken means whatever it guarded was abandoned. The holder removes the file when it is done;
a taker checks that the file it locked is still the one at the path (the previous holder may have
removed it in between), the usual protocol for lock files that do not pile up.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class FileLock:
    """An exclusive, non-blocking lock on ``path`` (created if absent)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False if a live process holds it."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                os.close(fd)
                return False
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                    os.write(fd, str(os.getpid()).encode())
                self._fd = fd
                return True
            os.close(fd)  # locked a file its holder had just removed: try the new one

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # Windows cannot remove an open file; harmless
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def holder_pid(path: Path) -> int | None:
    """The process id the holder wrote into the lock file, if any (for messages only)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def try_holding(path: Path) -> Iterator[bool]:
    """``with try_holding(p) as got:`` holds the lock for the block when ``got`` is True."""
    lock = FileLock(path)
    got = lock.acquire()
    try:
        yield got
    finally:
        lock.release()
