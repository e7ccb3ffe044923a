"""The photo library: one SQLite file holding folders, photos, embeddings and settings.

Threads: a :class:`Library` may be shared by any number of threads. Each thread gets its own
SQLite connection (created on first use, all closed by :meth:`Library.close`), so GUI workers read
while the indexer writes: WAL gives readers a consistent snapshot without blocking the writer.
Writes take the database write lock up front (``BEGIN IMMEDIATE``) and wait up to ``timeout``
seconds for another writer, so two threads (or two processes) never deadlock on a lock upgrade.
A connection must not be carried to another thread; ask the Library again on that thread.

Errors: every public method raises a :mod:`clipdesk.library.errors` subclass of
``LibraryError`` (with a hint) for the known failures - locked, read-only, disk full, corrupt,
not a library, too new - and rolls back the change it was making, so the file is never half
written. Anything else is a bug and propagates unchanged.

The queries live in mixins by table (:mod:`clipdesk.library.folders`,
:mod:`clipdesk.library.photos`, :mod:`clipdesk.library.vectors`, :mod:`clipdesk.library.words`
and others); this module owns the connections, transactions, schema check and settings.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from clipdesk.common import paths
from clipdesk.common.fsnames import decode_sql_text
from clipdesk.library import probe, schema, schema_check, stored_json
from clipdesk.library.errors import (
    LibraryClosedError,
    LibraryOpenError,
    LibraryTooNewError,
    NotALibraryError,
    translate,
)
from clipdesk.library.folders import FolderQueries
from clipdesk.library.imports import ImportQueries
from clipdesk.library.marks import MarkQueries
from clipdesk.library.photos import PhotoQueries
from clipdesk.library.relocation import RelocationQueries
from clipdesk.library.steps import StepQueries
from clipdesk.library.vectors import VectorQueries
from clipdesk.library.words import WordQueries, flush_words, register_functions

# Settings key of the model whose vectors search uses: {"id": model id, "source": name or path}.
# Written by the services; read by status and doctor without loading torch.
SEARCH_MODEL_KEY = "search_model"

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
PAGE_SIZE = 16384


class _Connection(sqlite3.Connection):
    """A plain connection that can be weakly referenced."""


class Library(
    FolderQueries,
    PhotoQueries,
    VectorQueries,
    RelocationQueries,
    StepQueries,
    WordQueries,
    ImportQueries,
    MarkQueries,
):
    """Open (creating or migrating if needed) the library at ``path``.

    ``path`` defaults to :func:`clipdesk.common.paths.default_library_path`. ``timeout`` is how
    long a write waits for another writer before :class:`LibraryLockedError`.
    """

    def __init__(self, path: str | Path | None = None, *, timeout: float = DEFAULT_TIMEOUT_S):
        self.path = Path(path).expanduser() if path is not None else paths.default_library_path()
        self.timeout = timeout
        self._local = threading.local()
        # weak: a connection goes (and is closed) with its thread, e.g. an expired pool worker
        self._all: weakref.WeakSet[sqlite3.Connection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._watch: sqlite3.Connection | None = None  # change_stamp's, shared by every thread
        self._closed = False
        # Before any read-write connection, which would switch another program's file to WAL.
        probe.library_version(self.path, self.timeout)
        self.version = self._open_and_migrate()

    # --- connections -----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryOpenError(
                f"Cannot create the folder for the library {self.path}: {exc.strerror}.",
                "Choose a library location you can write to.",
                cli_hint="Choose a library location you can write to (--library PATH).",
            ) from exc
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.timeout,
                isolation_level=None,
                check_same_thread=False,
                factory=_Connection,
            )
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc
        conn.row_factory = sqlite3.Row
        # Paths are stored as the file system's bytes (clipdesk.common.fsnames): a name that is
        # not UTF-8 comes back as the str that opens the file, not as a failed query.
        conn.text_factory = decode_sql_text
        # Before anything runs on it (the migration included): every commit indexes the words
        # of the photos it changed with these (words.flush_words).
        register_functions(conn)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            # Only takes effect on a new file. 16 KiB pages hold seven 512-d float32 vectors;
            # the 4 KiB default holds one, doubling the file and the I/O of a full load.
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("library %s: journal mode %s (WAL unavailable)", self.path, mode)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        # The first statement parses the schema: a damaged one can fail to decode as UTF-8.
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            conn.close()
            raise self._translated(exc) from exc
        log.debug(
            "library %s: connection opened for %s", self.path, threading.current_thread().name
        )
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode; use :meth:`transaction` for changes)."""
        if self._closed:
            raise LibraryClosedError(f"The library {self.path} is closed.")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._all.add(conn)
        return conn

    def change_stamp(self) -> int:
        """A number that changes whenever anyone commits to the file - any thread of this
        process, any other program - for caches of what the file holds. Read on a connection of
        its own that never writes (SQLite's data_version counts the commits of the others)."""
        with self._lock:
            if self._closed:
                raise LibraryClosedError(f"The library {self.path} is closed.")
            if self._watch is None:
                self._watch = self._connect()
                self._all.add(self._watch)
            try:
                return int(self._watch.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as exc:
                raise self._translated(exc) from exc

    def close(self) -> None:
        """Close every thread's connection. Further use raises LibraryClosedError."""
        with self._lock:
            self._closed = True
            conns, self._all = list(self._all), weakref.WeakSet()
            self._watch = None
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:  # closing a broken connection: nothing left to save
                log.debug("closing a connection failed", exc_info=True)
        self._local = threading.local()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transactions ----------------------------------------------------------------------

    def _translated(self, exc: sqlite3.Error | UnicodeDecodeError) -> Exception:
        mapped = translate(exc, self.path)
        if mapped is None and schema_check.is_schema_error(exc):
            mapped = schema_check.damaged_schema(self.path)
        return mapped or exc

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all of it is committed, or none of it.

        Nested use joins the outer transaction through a savepoint, so a helper that opens its
        own transaction can be called inside a bigger one. Known SQLite failures come out as
        LibraryError subclasses, after the rollback.
        """
        conn = self.connection()
        depth = getattr(self._local, "depth", 0)
        try:
            if depth:
                conn.execute(f"SAVEPOINT sp{depth}")
            else:
                conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc
        self._local.depth = depth + 1
        try:
            yield conn
            if not depth:
                # the words of the photos this transaction changed, before it commits
                flush_words(conn)
        except BaseException as exc:
            self._local.depth = depth
            if conn.in_transaction:
                try:
                    if depth:
                        conn.execute(f"ROLLBACK TO sp{depth}")
                        conn.execute(f"RELEASE sp{depth}")
                    else:
                        conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.debug("rollback failed", exc_info=True)
            if isinstance(exc, sqlite3.Error):
                raise self._translated(exc) from exc
            raise
        self._local.depth = depth
        try:
            conn.execute(f"RELEASE sp{depth}" if depth else "COMMIT")
        except sqlite3.Error as exc:
            if not depth and conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._translated(exc) from exc

    def in_write_transaction(self) -> bool:
        """Whether this thread is inside :meth:`transaction`."""
        return getattr(self._local, "depth", 0) > 0

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read snapshot: several queries see the same state of the file."""
        conn = self.connection()
        own = not conn.in_transaction
        try:
            if own:
                conn.execute("BEGIN")
            yield conn
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc
        finally:
            if own and conn.in_transaction:
                conn.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        """Rows of one read on this thread's connection, known SQLite failures translated to
        LibraryErrors: for the library's own parts and the tag store, the two homes of SQL."""
        try:
            return self.connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc

    # --- schema ----------------------------------------------------------------------------

    def _open_and_migrate(self) -> int:
        conn = self.connection()
        try:
            version, app_id = schema.read_version(conn)
            if version == 0:
                tables = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
                ).fetchone()[0]
                if tables:
                    raise self._not_ours()
            elif app_id != schema.APPLICATION_ID:
                raise self._not_ours()
            if version > schema.latest_version():
                raise self._too_new(version)
            if version < schema.latest_version():
                log.info(
                    "library %s: schema v%d -> v%d", self.path, version, schema.latest_version()
                )
                version = schema.migrate(conn)
            return version
        except schema.SchemaTooNew as exc:
            self.close()
            raise self._too_new(exc.version) from exc
        except sqlite3.Error as exc:
            self.close()
            raise self._translated(exc) from exc
        except BaseException:
            self.close()
            raise

    def _not_ours(self) -> NotALibraryError:
        return probe.not_ours(self.path)

    def _too_new(self, version: int) -> LibraryTooNewError:
        return probe.too_new(self.path, version)

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` or the problems found."""
        rows = self.query("PRAGMA integrity_check")
        return "\n".join(str(r[0]) for r in rows)

    # --- settings --------------------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default``."""
        rows = self.query("SELECT value FROM settings WHERE key = ?", (key,))
        if not rows:
            return default
        return stored_json.loads(rows[0]["value"], self.path, f"the setting {key!r}")

    def set_setting(self, key: str, value: Any) -> None:
        """Store any JSON-serialisable ``value`` under ``key`` (replacing the old one)."""
        text = json.dumps(value)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO settings(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, text),
            )

    def delete_setting(self, key: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM settings WHERE key = ?", (key,))
