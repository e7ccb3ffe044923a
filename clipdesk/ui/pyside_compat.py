"""Keep PySide6 6.12 from freeing ``None``/``True``/``False`` on Python 3.11.

PySide6 6.12 (abi3 wheels) drops a reference to ``True`` on every signal emission and to ``None``
on every call of a void Qt method, as if they were immortal objects - which they are from Python
3.12 on (PEP 683), so there the release is a no-op. On 3.11 each one takes a real reference away:
``True`` starts with a few hundred, so after a few hundred signals the interpreter aborts with
"Fatal Python error: bool_dealloc" (or "none_dealloc"). Measured here: 50 emits -> refcount(True)
- 50; 50 ``setObjectName`` calls -> refcount(None) - 50.

The fix gives these singletons what 3.12 gives them: a reference count so large it never reaches
zero (they are static objects that are never freed anyway, so nothing else changes). It must run
before the app makes Qt calls; ``clipdesk.ui`` runs it on import.
"""

from __future__ import annotations

import ctypes
import sys

_PINNED = 1 << 40  # ~1e12 references: centuries of signal emissions
_done = False


def _singletons() -> tuple[object, ...]:
    return (None, True, False, Ellipsis, NotImplemented, (), "", b"", *range(-5, 257))


def pin_singletons() -> bool:
    """Make the interpreter's singletons effectively immortal on Python < 3.12; True if applied."""
    global _done
    if _done or sys.version_info >= (3, 12) or hasattr(sys, "getobjects"):  # debug builds differ
        return False
    for obj in _singletons():
        # ob_refcnt is the first field of every PyObject (Include/object.h), a Py_ssize_t.
        ctypes.c_ssize_t.from_address(id(obj)).value += _PINNED
    _done = True
    return True
