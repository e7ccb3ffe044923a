"""Leaving the process once the app has shut down, without the interpreter's teardown.

When the event loop returns, the controller has cancelled and joined every job and pool and
closed the library (its last batch committed, the WAL checkpointed), the single-instance lock is
released and the window's settings are written. What a normal interpreter exit still does is a
full garbage collection and then freeing, one object at a time, a heap of a gigabyte or more
(torch, the model, Qt's wrappers), then the libraries' static destructors: 1.1-2.4 s measured on
a two-core machine, for nothing that is kept. So the app's entry point ends with ``os._exit``,
after the parts of a normal exit that do keep something: Qt's own teardown (on X11 the clipboard
is handed to the clipboard manager, so a copied path outlives the app), the ``atexit`` handlers
(logging flushed, temporary files removed), standard output and error flushed.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import logging
import os
import sys
from typing import NoReturn

import shiboken6
from PySide6.QtCore import QCoreApplication

log = logging.getLogger(__name__)


def leave(app: QCoreApplication, code: int) -> NoReturn:
    """End the process with ``code`` after the event loop of ``app`` has returned."""
    gc.freeze()  # no collection of the whole heap from here on (Qt's teardown re-enables gc)
    try:
        shiboken6.delete(app)
    except RuntimeError:  # already deleted: nothing of Qt's left to tear down
        log.debug("the application object was already gone", exc_info=True)
    _run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # a GUI app on Windows may have none
            with contextlib.suppress(OSError, ValueError):  # closed, or its pipe gone
                stream.flush()
    os._exit(code)


def _run_exit_handlers() -> None:
    # CPython runs these at exit; os._exit would skip them. Without that hook (another Python),
    # logging is what must not be lost.
    run = getattr(atexit, "_run_exitfuncs", None)
    if run is not None:
        run()
    else:
        logging.shutdown()
