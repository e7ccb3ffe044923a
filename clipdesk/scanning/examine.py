"""Turn one file on disk into :class:`FileFacts`: fingerprint, type by content, metadata."""

from __future__ import annotations

import os

from clipdesk.common.regular_files import NotARegularFileError
from clipdesk.imaging.filetypes import classify, kind_from_extension
from clipdesk.library.records import FileFacts, PhotoMeta
from clipdesk.scanning.hashing import content_hash
from clipdesk.scanning.metadata import read_metadata


def examine(path: str, with_metadata: bool = True) -> FileFacts | None:
    """Facts about ``path``; None when it vanished meanwhile.

    A file that exists but cannot be read, is empty, or is not an image yields facts with
    ``error`` set (recorded on the photo, retried when the file changes); this never raises for
    a bad file.
    """
    name = os.path.basename(path)
    try:
        fp = content_hash(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        try:
            st = os.stat(path)
        except OSError:
            return None
        reason = exc.strerror or exc.__class__.__name__
        # swapped for a FIFO or device since the walk: say what it is, never block on it
        why = reason if isinstance(exc, NotARegularFileError) else f"cannot read the file: {reason}"
        return FileFacts(
            path=path,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            kind=kind_from_extension(name),
            content_hash=None,
            error=why,
        )
    kind, error = classify(name, fp.head)
    meta = read_metadata(path, kind) if (kind and with_metadata and not error) else PhotoMeta()
    return FileFacts(
        path=path,
        size=fp.size,
        mtime_ns=fp.mtime_ns,
        kind=kind,
        content_hash=fp.digest,
        meta=meta,
        error=error,
    )
