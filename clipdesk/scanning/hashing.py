"""A content fingerprint that is fast enough to take for every file of a large library.

``content_hash`` = BLAKE2b-128 over the file size, the first 64 KiB and the last 64 KiB (the whole
file when it is 128 KiB or smaller). That costs two small reads per file whatever its size, so a
first scan of 100,000 camera files reads ~13 GB less than full hashing would.

Trade-off: two different files of the same size whose first and last 64 KiB are identical hash
the same. For photos that is rare - JPEG/HEIF headers carry EXIF timestamps and thumbnails, and
edits change size or the tail - and the hash is used only to recognise a moved/renamed file
(to keep its vector and tags), never to skip reading a changed file: a change is detected by
(size, mtime). The worst case is a moved file inheriting the vector of its near-twin.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from clipdesk.common.regular_files import open_regular

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fingerprint:
    digest: str  # hex
    head: bytes  # the first bytes, for type sniffing without a second read
    size: int  # as fstat saw it when the file was opened
    mtime_ns: int


def content_hash(path: str | os.PathLike[str]) -> Fingerprint:
    """Fingerprint the file at ``path``. Raises OSError when it cannot be read, and
    NotARegularFileError (an OSError) for a FIFO, socket or device instead of blocking on it."""
    with open_regular(path) as fh:
        st = os.fstat(fh.fileno())
        size = st.st_size
        h = hashlib.blake2b(digest_size=16)
        h.update(size.to_bytes(8, "little"))
        head = fh.read(CHUNK)
        h.update(head)
        if size > 2 * CHUNK:
            fh.seek(-CHUNK, os.SEEK_END)
            h.update(fh.read(CHUNK))
        elif size > CHUNK:
            h.update(fh.read(CHUNK))  # the rest, bounded even if the file grew since fstat
    return Fingerprint(h.hexdigest(), head[:64], size, st.st_mtime_ns)
