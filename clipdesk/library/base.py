"""What the query mixins (folders, photos, vectors) build on: the library's connection primitives.

:class:`~clipdesk.library.store.Library` implements them (store.py explains threads and
transactions); they are only declared here, so that each mixin is a typed class of its own
instead of a bag of functions that assume a ``Library`` for ``self``.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any


def inserted_id(cursor: sqlite3.Cursor) -> int:
    """The rowid the INSERT just run on ``cursor`` created."""
    rowid = cursor.lastrowid
    if rowid is None:  # sqlite3 sets it after every successful INSERT; never None here
        raise sqlite3.InterfaceError("no row was inserted")
    return rowid


class LibraryBase:
    path: Path

    if TYPE_CHECKING:  # defined once, in store.Library; declared for the type checker only

        def connection(self) -> sqlite3.Connection: ...

        def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def reading(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def in_write_transaction(self) -> bool: ...

        def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]: ...

        def change_stamp(self) -> int: ...
