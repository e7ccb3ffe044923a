"""Only regular files are ever opened: a FIFO, socket or device named ``*.jpg`` is refused.

Opening a FIFO for reading blocks until a writer comes (forever, holding whatever lock the caller
holds); ``/dev/zero`` never ends; a socket cannot be opened at all. Checking the name's ``stat``
first is not enough - the file may be swapped between the check and the open - so
:func:`open_regular` opens without blocking and checks the opened descriptor.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

_KINDS = (
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISDIR, "folder"),
)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX; Windows has no FIFOs to block on
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)


class NotARegularFileError(OSError):
    """The path names a FIFO, socket, device or folder; ``strerror`` says which."""


def special_kind(mode: int) -> str | None:
    """What a non-regular file is ("FIFO", "socket", ...), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "special file")


def not_regular_reason(mode: int) -> str | None:
    """The reason recorded for a file that is skipped, e.g. ``not a regular file (FIFO)``."""
    kind = special_kind(mode)
    return None if kind is None else f"not a regular file ({kind})"


def _refuse(path: str | os.PathLike[str], mode: int) -> NotARegularFileError:
    return NotARegularFileError(errno.EINVAL, not_regular_reason(mode), os.fspath(path))


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``open(path, "rb")`` for a regular file (symlinks followed); NotARegularFileError (an
    OSError) for anything else, without ever blocking on it."""
    try:
        st = os.stat(path)
    except OSError:
        st = None  # let the open say why (not found, denied)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise _refuse(path, st.st_mode)  # a socket cannot even be opened: say what it is
    fd = os.open(path, _OPEN_FLAGS | _NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped for a FIFO or device since the stat
            raise _refuse(path, mode)
        if _NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
