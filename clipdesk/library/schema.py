"""The library's schema: a version number and the steps that lead to it.

The version lives in ``PRAGMA user_version``; ``PRAGMA application_id`` marks the file as a
ClipDesk library so another program's SQLite file is refused instead of being "migrated".

Adding a migration (e.g. the tags tables) is one function appended to :data:`MIGRATIONS`::

    def _v2_tags(db: sqlite_utils.Database) -> None:
        db.table("categories").create({...}, pk="id")
        ...

    MIGRATIONS.append(_v2_tags)      # never edit or reorder an existing step

Rules for a step: it receives a :class:`sqlite_utils.Database` on a connection that is already
inside one ``BEGIN IMMEDIATE`` transaction with foreign keys switched off (so ``table.transform()``
may rebuild tables that others reference); it must not commit, and must not depend on code that
may change later (write the columns out, do not import them). :func:`migrate` runs every step
above the file's version in that one transaction, checks foreign keys, then sets the new version:
either the file reaches the latest version or it stays exactly as it was.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a migration runs: an up-to-date library opens without it
    import sqlite_utils
    from sqlite_utils.db import ForeignKey

APPLICATION_ID = 0x434C4450  # "CLDP"

Migration = Callable[["sqlite_utils.Database"], None]


def _fk(table: str, column: str, other: str, on_delete: str = "CASCADE") -> ForeignKey:
    from sqlite_utils.db import ForeignKey

    return ForeignKey(
        table=table, column=column, other_table=other, other_column="id", on_delete=on_delete
    )


def _v1_library(db: sqlite_utils.Database) -> None:
    """Folders, photos, embeddings and settings."""
    db.table("folders").create(
        {
            "id": int,
            "path": str,  # absolute, as the user added it (no trailing separator)
            "status": str,  # ok | offline | error
            "error": str,  # why it is offline / in error, or subfolders that could not be read
            "added_at": float,  # unix seconds
            "last_scan": float,  # unix seconds of the last complete reconcile
        },
        pk="id",
        not_null=["path", "status", "added_at"],
        defaults={"status": "ok"},
    )
    db.table("folders").create_index(["path"], unique=True)

    db.table("photos").create(
        {
            "id": int,
            "folder_id": int,
            "path": str,  # absolute
            "kind": str,  # jpeg | png | webp | tiff | bmp | gif | heif | raw (by content)
            "size": int,  # bytes
            "mtime_ns": int,
            "content_hash": str,  # clipdesk.scanning.hashing.content_hash (hex)
            "width": int,  # after EXIF orientation
            "height": int,
            "taken_at": str,  # ISO 8601 from EXIF DateTimeOriginal, local time as recorded
            "camera_make": str,
            "camera_model": str,
            "gps_lat": float,
            "gps_lon": float,
            "status": str,  # pending | ok | error | missing | offline
            "prev_status": str,  # status to restore when a missing/offline photo returns
            "error": str,  # reason for status error
            "added_at": float,
            "updated_at": float,
            "indexed_at": float,
        },
        pk="id",
        foreign_keys=[_fk("photos", "folder_id", "folders")],
        not_null=["folder_id", "path", "status", "size", "mtime_ns", "added_at", "updated_at"],
        defaults={"status": "pending"},
    )
    db.table("photos").create_index(["path"], unique=True)
    db.table("photos").create_index(["folder_id", "status"])
    db.table("photos").create_index(["status"])
    db.table("photos").create_index(["content_hash"])

    db.table("embeddings").create(
        {
            "photo_id": int,
            "model_id": str,  # clipdesk.model Model.id (name@hash)
            "dim": int,
            "vector": bytes,  # float32 little-endian, L2-normalised, dim * 4 bytes
            "created_at": float,
        },
        pk=("photo_id", "model_id"),
        foreign_keys=[_fk("embeddings", "photo_id", "photos")],
        not_null=["dim", "vector", "created_at"],
    )
    db.table("embeddings").create_index(["model_id"])

    db.table("settings").create({"key": str, "value": str}, pk="key", not_null=["value"])


def _v2_tags(db: sqlite_utils.Database) -> None:
    """Tag categories, their labels, and tags per photo (clipdesk.tags.store.tag_store)."""
    db.execute(
        "CREATE TABLE categories ("
        " id INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
        " mode TEXT NOT NULL CHECK (mode IN ('single', 'multi')),"
        " threshold REAL NOT NULL,"
        " templates TEXT NOT NULL,"  # JSON list of prompt templates
        " auto INTEGER NOT NULL DEFAULT 1,"  # 0: manual keywords, never model-suggested
        " position INTEGER NOT NULL DEFAULT 0,"
        " updated_at REAL NOT NULL)"
    )
    db.execute(
        "CREATE TABLE labels ("
        " id INTEGER PRIMARY KEY,"
        " category_id INTEGER NOT NULL REFERENCES categories(id) ON DELETE CASCADE,"
        " name TEXT NOT NULL COLLATE NOCASE,"
        " prompts TEXT NOT NULL DEFAULT '[]',"  # JSON list of the label's own prompts
        " threshold REAL,"  # multi-label override of the category threshold
        " position INTEGER NOT NULL DEFAULT 0,"
        " UNIQUE (category_id, name))"
    )
    db.execute(
        "CREATE TABLE photo_tags ("
        " photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,"
        " label_id INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,"
        # suggested | candidate (near-miss, review only) | confirmed | rejected | imported
        " state TEXT NOT NULL,"
        " score REAL,"  # the model's latest score in [0, 1]; NULL if never scored
        " model_id TEXT,"  # the model that gave the score
        " updated_at REAL NOT NULL,"
        " PRIMARY KEY (photo_id, label_id)) WITHOUT ROWID"
    )
    # (photo_id, label_id) is the key; this serves "photos of a tag by score" and the review list
    db.execute("CREATE INDEX photo_tags_label ON photo_tags(label_id, state, score)")


def _v3_vectors_by_model(db: sqlite_utils.Database) -> None:
    """Index embeddings by (model, photo): loading a model's vectors in photo order becomes an
    index range scan instead of a sort of every vector BLOB in a temporary B-tree."""
    db.execute("DROP INDEX IF EXISTS idx_embeddings_model_id")
    db.table("embeddings").create_index(
        ["model_id", "photo_id"], index_name="idx_embeddings_model_photo"
    )


def _v4_steps_provenance_devices(db: sqlite_utils.Database) -> None:
    """What must follow a photo's embedding, where its keywords came from, and which device a
    folder's root lives on.

    - ``photo_steps``: work still owed to a photo after its vector was committed (imported
      keywords, zero-shot tags; later passes such as OCR add their own ``step`` names). A row is
      written in the same transaction as the vector and deleted in the transaction that does the
      step, so a crash, a lock or a full disk leaves the work pending, never dropped
      (clipdesk.library.steps).
    - ``keyword_sources``: each keyword seen in a photo's XMP (sidecar or embedded) with who wrote
      it: ``other`` (another tool; never rewritten, moved or split) or ``ours`` (ClipDesk wrote
      it, so ClipDesk may remove it).
    - ``folders.device`` and ``folder_drives``: ``st_dev`` of the folder's root, and of each drive
      mounted inside it, when it was last scanned online, so a root or subfolder that is now the
      bare mount point of an unplugged drive reads as offline (clipdesk.scanning.drives).
    """
    db.execute(
        "CREATE TABLE photo_steps ("
        " photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,"
        " step TEXT NOT NULL,"  # e.g. 'xmp_import', 'tag'
        " model_id TEXT,"  # the model whose vector the step needs, or NULL
        " attempts INTEGER NOT NULL DEFAULT 0,"
        " error TEXT,"  # why the last attempt failed, shown to the user
        " created_at REAL NOT NULL,"
        " updated_at REAL NOT NULL,"
        " PRIMARY KEY (photo_id, step)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX photo_steps_step ON photo_steps(step, photo_id)")
    db.execute(
        "CREATE TABLE keyword_sources ("
        " photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,"
        " field TEXT NOT NULL CHECK (field IN ('subject', 'hierarchy')),"
        " keyword TEXT NOT NULL,"  # exactly as found; 'a|b|c' in the hierarchy field
        " origin TEXT NOT NULL CHECK (origin IN ('other', 'ours')),"
        " updated_at REAL NOT NULL,"
        " PRIMARY KEY (photo_id, field, keyword)) WITHOUT ROWID"
    )
    db.execute("ALTER TABLE folders ADD COLUMN device INTEGER")
    db.execute(
        "CREATE TABLE folder_drives ("
        " folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,"
        " rel_path TEXT NOT NULL,"  # a mount point (or link to a drive) inside the folder
        " device INTEGER NOT NULL,"  # its st_dev when its photos were there
        " seen INTEGER,"  # st_dev the last scan found there; NULL: the directory was gone
        " PRIMARY KEY (folder_id, rel_path)) WITHOUT ROWID"
    )


def _v5_vector_runtimes(db: sqlite_utils.Database) -> None:
    """Which inference runtime and precision made each vector (``torch-fp32``, ``onnx-int8``;
    clipdesk.model.runtime.label), so a library only mixes vectors whose runtimes agree and a
    search can say what it compared. Rows from before stay NULL: every one of them came from
    torch in fp32. The index answers "which runtimes, how many vectors each" without reading a
    vector BLOB (a scan of the table reads every one of them)."""
    db.execute("ALTER TABLE embeddings ADD COLUMN runtime TEXT")
    db.execute("CREATE INDEX embeddings_model_runtime ON embeddings(model_id, runtime)")


# photo_tags states whose labels are the photo's words: the user's and other tools' keywords,
# never the model's guesses.
_WORD_TAG_STATES = "('confirmed', 'imported')"


def _v6_words(db: sqlite_utils.Database) -> None:
    """Words: the text recognised in each photo (OCR), its XMP title and description, and a
    full-text index over those, its path, its keywords and its confirmed and imported tags.

    - ``folders.ocr``: the folder's OCR switch (on by default).
    - ``photo_text``: per photo, the latest OCR result (text, mean confidence, the boxes as
      JSON, the engine, or why it failed) and the XMP ``dc:title`` / ``dc:description``.
    - ``photo_words``: FTS5, rowid = photo id, one row per photo, columns ``name`` (the watched
      folder's name, the subfolders and the file name), ``ocr``, ``meta`` (title, description,
      keywords) and ``tags``, as clipdesk.library.words makes them.
    - ``photo_words_due``: photos whose words changed in the running transaction. Triggers on
      every table the words come from add the photo here, in the statement that changes them;
      the library rewrites their ``photo_words`` rows before that transaction commits
      (clipdesk.library.words.flush_words). So the index changes with the rest or not at all,
      whoever writes: a trigger writing FTS5 itself would cost a flush of FTS5's pending
      index per statement (FTS5 syncs at every statement savepoint), several times the write
      it follows, and another program's write would fail on a function it lacks.
    - Every indexed photo is owed the ``ocr`` and ``xmp_text`` steps, so a library made before
      gets its text read like a new one.
    """
    from clipdesk.library.words import flush_words, register_functions

    now = time.time()
    db.execute("ALTER TABLE folders ADD COLUMN ocr INTEGER NOT NULL DEFAULT 1")
    db.execute(
        "CREATE TABLE photo_text ("
        " photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,"
        " ocr TEXT,"  # recognised lines joined by newlines; NULL: not read (or it failed)
        " ocr_confidence REAL,"  # mean confidence of the lines kept, in [0, 1]
        " ocr_boxes TEXT,"  # JSON [{"text", "confidence", "points": [[x, y] * 4]}], fractions
        " ocr_engine TEXT,"  # e.g. 'rapidocr 3.10.0 PP-OCRv6-small'
        " ocr_error TEXT,"  # why the last attempt failed
        " ocr_at REAL,"  # unix seconds of the last successful read
        " title TEXT,"  # XMP dc:title (x-default)
        " description TEXT,"  # XMP dc:description (x-default)
        " updated_at REAL NOT NULL)"
    )
    db.execute(
        "CREATE VIRTUAL TABLE photo_words USING fts5(name, ocr, meta, tags, "
        "tokenize = 'unicode61 remove_diacritics 2', prefix = '3')"
    )
    # no foreign key: a deleted photo stays due until its row is gone from the index
    db.execute("CREATE TABLE photo_words_due (photo_id INTEGER PRIMARY KEY)")
    for sql in _word_triggers():
        db.execute(sql)
    # The index is what the running ClipDesk's words say (a later change of them re-queues
    # every photo in a migration of its own); a connection not opened by store.Library (the
    # schema check's) has no functions yet.
    register_functions(db.conn)
    db.execute("INSERT INTO photo_words_due(photo_id) SELECT id FROM photos")
    flush_words(db.conn)
    db.execute(
        "INSERT OR IGNORE INTO photo_steps(photo_id, step, model_id, attempts, error, "
        "created_at, updated_at) SELECT p.id, s.step, NULL, 0, NULL, ?, ? "
        "FROM photos p, (SELECT 'ocr' AS step UNION ALL SELECT 'xmp_text') s "
        "WHERE p.status = 'ok'",
        [now, now],
    )


def _due(ids: str) -> str:
    """The trigger statement that queues the photos ``ids`` (a SELECT of distinct ``id``)."""
    # NOT IN rather than OR IGNORE: an upsert that fires the trigger (ON CONFLICT DO UPDATE)
    # makes SQLite override the trigger's conflict clause, and the duplicate fails.
    return (
        f"INSERT INTO photo_words_due(photo_id) SELECT id FROM ({ids}) "
        "WHERE id NOT IN (SELECT photo_id FROM photo_words_due);"
    )


def _word_triggers() -> list[str]:
    tagged_old = f"OLD.state IN {_WORD_TAG_STATES}"
    tagged_new = f"NEW.state IN {_WORD_TAG_STATES}"
    both = "SELECT OLD.photo_id AS id UNION SELECT NEW.photo_id"
    labelled = (
        "SELECT photo_id AS id FROM photo_tags "
        f"WHERE label_id = NEW.id AND state IN {_WORD_TAG_STATES}"
    )
    return [
        f"CREATE TRIGGER photos_words_insert AFTER INSERT ON photos BEGIN "
        f"{_due('SELECT NEW.id AS id')} END",
        # a rescan sets folder_id and the file's columns again without moving anything
        "CREATE TRIGGER photos_words_move AFTER UPDATE OF id, path, folder_id ON photos "
        "WHEN OLD.id IS NOT NEW.id OR OLD.path IS NOT NEW.path "
        "OR OLD.folder_id IS NOT NEW.folder_id BEGIN "
        f"{_due('SELECT OLD.id AS id UNION SELECT NEW.id')} END",
        "CREATE TRIGGER photos_words_delete AFTER DELETE ON photos BEGIN "
        f"{_due('SELECT OLD.id AS id')} END",
        # a relocated folder: each photo's words start with the folder's name
        "CREATE TRIGGER folders_words_move AFTER UPDATE OF path ON folders "
        "WHEN OLD.path IS NOT NEW.path BEGIN "
        f"{_due('SELECT id FROM photos WHERE folder_id = NEW.id')} END",
        "CREATE TRIGGER photo_text_words_insert AFTER INSERT ON photo_text BEGIN "
        f"{_due('SELECT NEW.photo_id AS id')} END",
        "CREATE TRIGGER photo_text_words_update "
        "AFTER UPDATE OF photo_id, ocr, title, description ON photo_text BEGIN "
        f"{_due(both)} END",
        "CREATE TRIGGER photo_text_words_delete AFTER DELETE ON photo_text BEGIN "
        f"{_due('SELECT OLD.photo_id AS id')} END",
        "CREATE TRIGGER keyword_sources_words_insert AFTER INSERT ON keyword_sources BEGIN "
        f"{_due('SELECT NEW.photo_id AS id')} END",
        "CREATE TRIGGER keyword_sources_words_update "
        "AFTER UPDATE OF photo_id, keyword ON keyword_sources BEGIN "
        f"{_due(both)} END",
        "CREATE TRIGGER keyword_sources_words_delete AFTER DELETE ON keyword_sources BEGIN "
        f"{_due('SELECT OLD.photo_id AS id')} END",
        # the model's suggestions and their scores change all the time and are no words
        f"CREATE TRIGGER photo_tags_words_insert AFTER INSERT ON photo_tags WHEN {tagged_new} "
        f"BEGIN {_due('SELECT NEW.photo_id AS id')} END",
        "CREATE TRIGGER photo_tags_words_update "
        "AFTER UPDATE OF photo_id, label_id, state ON photo_tags "
        f"WHEN ({tagged_old}) <> ({tagged_new}) OR ({tagged_new} "
        "AND (OLD.photo_id <> NEW.photo_id OR OLD.label_id <> NEW.label_id)) BEGIN "
        f"{_due(both)} END",
        f"CREATE TRIGGER photo_tags_words_delete AFTER DELETE ON photo_tags WHEN {tagged_old} "
        f"BEGIN {_due('SELECT OLD.photo_id AS id')} END",
        "CREATE TRIGGER labels_words_rename AFTER UPDATE OF name ON labels "
        "WHEN OLD.name IS NOT NEW.name COLLATE BINARY BEGIN "
        f"{_due(labelled)} END",
    ]


def _v7_vector_times(db: sqlite_utils.Database) -> None:
    """Index embeddings by (model, photo, created_at): what search compares with its index on
    every sync and every load of a saved ANN index (``vector_stamps``) is then read from the
    index alone, not from the rows, whose vector BLOBs make them 20 GB at ten million photos.
    It replaces v3's (model, photo) index, whose scans it serves as well."""
    db.table("embeddings").create_index(
        ["model_id", "photo_id", "created_at"], index_name="idx_embeddings_model_photo_time"
    )
    db.execute("DROP INDEX IF EXISTS idx_embeddings_model_photo")


def _v8_ratings_labels(db: sqlite_utils.Database) -> None:
    """Ratings and colour labels, as Lightroom, digiKam and darktable keep them in XMP.

    - ``photos.rating``: -1 (rejected), 0 (no stars, said so), 1-5; NULL: nothing known.
    - ``photos.color_label``: "Red", "Yellow", "Green", "Blue" or "Purple"; NULL: none.
    - ``photos.marks_pending``: bits of what the user set in ClipDesk that the photo's XMP does
      not say yet (1 rating, 2 label): only those are written, so a rating another tool wrote
      since it was read is never overwritten with a stale one.
    - Partial indexes: a filter by rating or label reads only the rated or labelled photos, and
      writing XMP finds the pending ones without a scan of the table.
    - Every indexed photo is owed the ``xmp_marks`` step, so a library made before gets the
      ratings and labels of its photos' XMP read like a new one.
    """
    now = time.time()
    db.execute("ALTER TABLE photos ADD COLUMN rating INTEGER")
    db.execute("ALTER TABLE photos ADD COLUMN color_label TEXT")
    db.execute("ALTER TABLE photos ADD COLUMN marks_pending INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX photos_rating ON photos(rating) WHERE rating IS NOT NULL")
    db.execute(
        "CREATE INDEX photos_color_label ON photos(color_label) WHERE color_label IS NOT NULL"
    )
    db.execute("CREATE INDEX photos_marks_pending ON photos(id) WHERE marks_pending <> 0")
    db.execute(
        "INSERT OR IGNORE INTO photo_steps(photo_id, step, model_id, attempts, error, "
        "created_at, updated_at) SELECT id, 'xmp_marks', NULL, 0, NULL, ?, ? "
        "FROM photos WHERE status = 'ok'",
        [now, now],
    )


# Append-only. Index i upgrades version i to version i + 1.
MIGRATIONS: list[Migration] = [
    _v1_library,
    _v2_tags,
    _v3_vectors_by_model,
    _v4_steps_provenance_devices,
    _v5_vector_runtimes,
    _v6_words,
    _v7_vector_times,
    _v8_ratings_labels,
]


def latest_version() -> int:
    return len(MIGRATIONS)


def read_version(conn: sqlite3.Connection) -> tuple[int, int]:
    """(user_version, application_id) of an open database."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    return int(version), int(app_id)


def migrate(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Bring ``conn``'s database to ``target`` (default: latest); returns the version reached.

    ``conn`` must be in autocommit mode (``isolation_level=None``) and outside a transaction.
    Raises :class:`SchemaTooNew` when the file is newer than this code. Any error inside a step
    rolls everything back.
    """
    target = latest_version() if target is None else target
    conn.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction, so set it first
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current, _ = read_version(
                conn
            )  # re-read under the write lock: another process may have won
            if current > latest_version():
                raise SchemaTooNew(current)
            if current < target:
                import sqlite_utils

                db = sqlite_utils.Database(conn)
                for version in range(current, target):
                    MIGRATIONS[version](db)
            if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise sqlite3.IntegrityError("foreign key violations after migration")
            if target > current:
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={int(target)}")
            conn.execute("COMMIT")
            return max(current, target)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("PRAGMA foreign_keys=ON")


class SchemaTooNew(Exception):
    """The file was written by a newer ClipDesk (store.py turns this into a LibraryError)."""

    def __init__(self, version: int) -> None:
        super().__init__(f"library schema version {version} > supported {latest_version()}")
        self.version = version
