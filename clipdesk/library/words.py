"""Words of photos (a mixin of :class:`clipdesk.library.store.Library`; see store.py for
threads): the text OCR read in each photo, its XMP title and description, and the full-text
index that finds photos by those, by their path, keywords and confirmed or imported tags.

The index (``photo_words``, schema v6) is never written by the methods here: triggers on
every table a photo's words come from queue the photo (``photo_words_due``) in the statement
that changes them, and :func:`flush_words` rewrites the queued photos' rows before the
transaction commits (``Library.transaction`` calls it). So a move, a rename, a deletion, new
OCR text, a keyword, a confirmed tag or a renamed label reaches the index in the same
transaction, a rollback takes both back, and no writer can forget the index. The text rules
are :mod:`clipdesk.library.word_text`'s; the SQL functions that apply them
(:func:`register_functions`) are on every library connection.

The OCR pass finds its work as the ``ocr`` step of ``photo_steps`` (:data:`OCR_STEP`), owed
from the vector commit like the other steps, and skipped in folders whose OCR is switched off.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clipdesk.common.fsnames import decode_sql_text
from clipdesk.library import stored_json
from clipdesk.library.base import LibraryBase
from clipdesk.library.errors import FolderError, LibraryLockedError, damaged
from clipdesk.library.photos import chunks, marks
from clipdesk.library.word_text import index_text, match_expression, path_words

if TYPE_CHECKING:  # numpy is imported where hits are made: the window's records come without it
    import numpy as np

OCR_STEP = "ocr"
XMP_TEXT_STEP = "xmp_text"

# bm25 weight of each photo_words column, in its order (name, ocr, meta, tags): a word in the
# file name or a keyword someone chose says more than one among a screenshot's hundred.
_WEIGHTS = (4.0, 1.0, 3.0, 3.0)
_TAG_STATES = ("confirmed", "imported")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OcrBox:
    """One line of text OCR found."""

    text: str
    confidence: float  # in [0, 1]
    points: tuple[tuple[float, float], ...]  # 4 corners, fractions of the oriented photo


@dataclass(frozen=True)
class PhotoText:
    """What the library knows of the text in and about a photo."""

    photo_id: int
    ocr: str | None  # the lines read, joined by newlines; None: not read, or it failed
    ocr_confidence: float | None
    boxes: tuple[OcrBox, ...]
    ocr_engine: str | None
    ocr_error: str | None  # why the last attempt failed
    ocr_at: float | None  # unix seconds of the last successful read
    title: str | None  # XMP dc:title
    description: str | None  # XMP dc:description


@dataclass(frozen=True)
class WordSources:
    """The text each index column was made of, as people read it (for snippets)."""

    name: str  # "Pictures/Trips 2019/astronaut.png" (word_text.path_words)
    ocr: str
    meta: str  # title, description and keywords, joined by " · "
    tags: str  # confirmed and imported labels, joined by ", "


@dataclass(frozen=True)
class WordHits:
    """Photos whose words matched a query."""

    ids: np.ndarray  # int64, best first
    scores: np.ndarray  # float32, higher is better (-bm25)


@dataclass(frozen=True)
class OcrCount:
    """The OCR pass's backlog. Counts photos indexed now (status ok); one that is missing or
    offline waits in the step table until it is back."""

    waiting: int  # owed OCR in folders with OCR on
    failed: int  # of them, photos whose last attempt failed
    done: int  # photos whose text was read
    off: int  # owed OCR, but their folder has OCR switched off
    # of ``waiting``, photos tried fewer than count_ocr's ``max_attempts`` times: the pass's work
    # (the others keep their reason and are not read again)
    readable: int = 0


# --- SQL functions ------------------------------------------------------------------------


def _text_arg(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):  # a damaged byte reads as U+FFFD: the rest is still words
        return value.decode("utf-8", "replace")
    return str(value)


def _sql_words(value: object) -> str:
    try:
        return index_text(_text_arg(value))
    except Exception:  # raising would fail the user's write (a rename, a keyword) with it
        log.warning("indexing the words %r failed", value, exc_info=True)
        return ""


def _sql_path_words(path: object, root: object) -> str:
    try:
        if path is None:
            return ""
        # as the text factory reads paths: a byte that is not UTF-8 as its surrogate
        name = decode_sql_text(path) if isinstance(path, bytes) else str(path)
        base = decode_sql_text(root) if isinstance(root, bytes) else root
        return index_text(path_words(name, None if base is None else str(base)))
    except Exception:  # a photo must be written even if its name cannot be made into words
        log.warning("indexing the path %r failed", path, exc_info=True)
        return ""


def register_functions(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the functions :func:`flush_words` indexes with (before any write)."""
    conn.create_function("clipdesk_words", 1, _sql_words, deterministic=True)
    conn.create_function("clipdesk_path_words", 2, _sql_path_words, deterministic=True)


# The index row of each queued photo, from the tables its words come from. BLOBs: a file name
# (or a damaged byte) that is not UTF-8 reaches the function instead of failing the conversion
# to str, and with it the commit of the user's change.
_DUE_WORDS = (
    "INSERT INTO photo_words(rowid, name, ocr, meta, tags) SELECT p.id, "
    "clipdesk_path_words(CAST(p.path AS BLOB), "
    " (SELECT CAST(f.path AS BLOB) FROM folders f WHERE f.id = p.folder_id)), "
    "clipdesk_words(CAST(t.ocr AS BLOB)), "
    "clipdesk_words(CAST(coalesce(t.title, '') || ' ' || coalesce(t.description, '') || ' ' "
    " || coalesce((SELECT group_concat(k.keyword, ' ') FROM keyword_sources k "
    "  WHERE k.photo_id = p.id), '') AS BLOB)), "
    "clipdesk_words(CAST((SELECT group_concat(l.name, ' ') FROM photo_tags g "
    " JOIN labels l ON l.id = g.label_id "
    " WHERE g.photo_id = p.id AND g.state IN ('confirmed', 'imported')) AS BLOB)) "
    "FROM photos p LEFT JOIN photo_text t ON t.photo_id = p.id "
    "WHERE p.id IN (SELECT photo_id FROM photo_words_due)"
)


def flush_words(conn: sqlite3.Connection) -> int:
    """Rewrite the index rows of the photos queued in ``photo_words_due`` (a photo that is gone
    loses its row) and empty the queue; returns how many were queued. Runs inside the caller's
    write transaction, on a connection with :func:`register_functions`."""
    due = conn.execute("SELECT count(*) FROM photo_words_due").fetchone()[0]
    if due:
        conn.execute(
            "DELETE FROM photo_words WHERE rowid IN (SELECT photo_id FROM photo_words_due)"
        )
        conn.execute(_DUE_WORDS)
        conn.execute("DELETE FROM photo_words_due")
    return int(due)


# --- queries ------------------------------------------------------------------------------


def _boxes_json(boxes: Sequence[OcrBox]) -> str:
    return json.dumps(
        [
            {
                "text": b.text,
                "confidence": round(float(b.confidence), 4),
                "points": [[round(float(x), 5), round(float(y), 5)] for x, y in b.points],
            }
            for b in boxes
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _readable_keyword(keyword: str) -> str:
    return " › ".join(part.strip() for part in keyword.split("|") if part.strip())


class WordQueries(LibraryBase):
    # --- writing ---------------------------------------------------------------------------

    def _write_text(self, photo_id: int, values: dict[str, Any]) -> bool:
        """Upsert ``values`` into the photo's photo_text row; False when the photo is gone
        (deleted while its text was being read)."""
        now = time.time()
        columns = [*values, "updated_at"]
        params = [*values.values(), now]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
        with self.transaction() as conn:
            cur = conn.execute(
                f"INSERT INTO photo_text(photo_id, {', '.join(columns)}) "
                f"SELECT ?, {marks(len(columns))} WHERE EXISTS (SELECT 1 FROM photos WHERE id = ?) "
                f"ON CONFLICT(photo_id) DO UPDATE SET {updates}",
                (int(photo_id), *params, int(photo_id)),
            )
            return cur.rowcount > 0

    def save_ocr(
        self,
        photo_id: int,
        text: str,
        confidence: float | None,
        boxes: Sequence[OcrBox],
        engine: str,
    ) -> bool:
        """Store what OCR read in the photo (replacing any earlier reading; ``text`` may be
        empty: nothing legible), indexed at once. Joins the caller's transaction, so the OCR
        step can be finished in the same one. False when the photo is gone."""
        return self._write_text(
            photo_id,
            {
                "ocr": text,
                "ocr_confidence": confidence,
                "ocr_boxes": _boxes_json(boxes),
                "ocr_engine": engine,
                "ocr_error": None,
                "ocr_at": time.time(),
            },
        )

    def save_ocr_failure(self, photo_id: int, reason: str, engine: str) -> bool:
        """OCR could not read the photo: keep why. An earlier reading is dropped with it (the
        file may have changed since: text shown must be the current file's); the photo stays
        found by CLIP and by its other words. False when the photo is gone."""
        return self._write_text(
            photo_id,
            {
                "ocr": None,
                "ocr_confidence": None,
                "ocr_boxes": None,
                "ocr_engine": engine,
                "ocr_error": reason,
                "ocr_at": None,
            },
        )

    def set_xmp_text(self, photo_id: int, title: str | None, description: str | None) -> bool:
        """The photo's XMP title and description (None or blank: it has none). False when the
        photo is gone."""
        return self._write_text(
            photo_id,
            {
                "title": (title or "").strip() or None,
                "description": (description or "").strip() or None,
            },
        )

    def set_folder_ocr(self, folder_id: int, on: bool) -> None:
        """Switch OCR on or off for a folder's photos. Text already read stays searchable."""
        with self.transaction() as conn:
            cur = conn.execute("UPDATE folders SET ocr = ? WHERE id = ?", (int(on), folder_id))
        if cur.rowcount == 0:
            raise FolderError(
                f"Folder {folder_id} is not a folder of this library.",
                "List them with `clipdesk-cli folders list`.",
            )

    # --- reading ---------------------------------------------------------------------------

    def photo_text(self, photo_id: int) -> PhotoText | None:
        """The photo's text, or None when nothing was read or imported for it."""
        rows = self.query(
            "SELECT photo_id, ocr, ocr_confidence, ocr_boxes, ocr_engine, ocr_error, ocr_at, "
            "title, description FROM photo_text WHERE photo_id = ?",
            (int(photo_id),),
        )
        if not rows:
            return None
        r = rows[0]
        return PhotoText(
            photo_id=int(r["photo_id"]),
            ocr=r["ocr"],
            ocr_confidence=r["ocr_confidence"],
            boxes=self._boxes(int(photo_id), r["ocr_boxes"]),
            ocr_engine=r["ocr_engine"],
            ocr_error=r["ocr_error"],
            ocr_at=r["ocr_at"],
            title=r["title"],
            description=r["description"],
        )

    def _boxes(self, photo_id: int, text: str | None) -> tuple[OcrBox, ...]:
        if text is None:
            return ()
        what = f"the OCR boxes of photo {photo_id}"
        items = stored_json.loads_list(text, self.path, what)
        try:
            return tuple(
                OcrBox(
                    str(b["text"]),
                    float(b["confidence"]),
                    tuple((float(x), float(y)) for x, y in b["points"]),
                )
                for b in items
            )
        except (KeyError, TypeError, ValueError):
            raise damaged(self.path, f"{what} are not as ClipDesk writes them") from None

    def match_words(
        self, include: Sequence[str], exclude: Sequence[str] = (), limit: int | None = None
    ) -> WordHits:
        """Photos (any status) holding every word of ``include`` and no phrase of ``exclude``
        (word_text.match_expression), best first by bm25 with the name weighted 4, keywords,
        titles and tags 3, OCR text 1. Nothing to match (no word in ``include``): no hits."""
        import numpy as np

        expression = match_expression(include, exclude)
        found: list[tuple[int, float]] = []
        if expression is not None:
            self._flush_due()
            sql = (
                f"SELECT rowid, bm25(photo_words, {', '.join(map(str, _WEIGHTS))}) AS score "
                "FROM photo_words WHERE photo_words MATCH ? ORDER BY score, rowid"
            )
            if limit is not None:
                sql += f" LIMIT {max(int(limit), 0)}"
            with self.reading() as conn:  # known SQLite failures come out translated
                cursor = conn.cursor()
                cursor.row_factory = None  # plain tuples: a common word can match most photos
                found = cursor.execute(sql, (expression,)).fetchall()

        ids = np.fromiter((r[0] for r in found), np.int64, len(found))
        scores = np.fromiter((-r[1] for r in found), np.float32, len(found))
        return WordHits(ids, scores)

    def _flush_due(self) -> None:
        """Index what is still queued before searching: this transaction's own changes, or
        (rarely) what another program wrote without the library's commit. A search never
        waits for or fails on that: with the file locked by a writer it answers from the rows
        as they are (the queued photos' words as before), and the next commit catches up."""
        conn = self.connection()
        if conn.in_transaction and not self.in_write_transaction():
            return  # a read snapshot cannot write; the next commit catches up
        if self.query("SELECT 1 FROM photo_words_due LIMIT 1"):
            try:
                with self.transaction() as conn:
                    flush_words(conn)
            except LibraryLockedError:
                log.info(
                    "library locked: searching the words without %s's queued changes", self.path
                )

    def word_sources(self, ids: Sequence[int]) -> dict[int, WordSources]:
        """The readable text of each photo's index columns (photos that are gone are left
        out), for a snippet of why it matched."""
        wanted = sorted({int(i) for i in ids})
        base: dict[int, tuple[str, str, list[str]]] = {}
        keywords: dict[int, list[str]] = {}
        tags: dict[int, list[str]] = {}
        for part in chunks(wanted):
            in_part = marks(len(part))
            for r in self.query(
                "SELECT p.id, p.path, f.path AS root, t.ocr, t.title, t.description "
                "FROM photos p LEFT JOIN folders f ON f.id = p.folder_id "
                f"LEFT JOIN photo_text t ON t.photo_id = p.id WHERE p.id IN ({in_part})",
                part,
            ):
                root = None if r["root"] is None else str(r["root"])
                texts = [s for s in (r["title"], r["description"]) if s]
                base[int(r["id"])] = (path_words(str(r["path"]), root), r["ocr"] or "", texts)
            for r in self.query(
                "SELECT photo_id, keyword FROM keyword_sources "
                f"WHERE photo_id IN ({in_part}) ORDER BY photo_id, field DESC, keyword",
                part,
            ):
                keywords.setdefault(int(r[0]), []).append(str(r[1]))
            for r in self.query(
                "SELECT g.photo_id, l.name FROM photo_tags g JOIN labels l ON l.id = g.label_id "
                f"WHERE g.state IN ({marks(len(_TAG_STATES))}) AND g.photo_id IN ({in_part}) "
                "ORDER BY g.photo_id, l.name",
                (*_TAG_STATES, *part),
            ):
                tags.setdefault(int(r[0]), []).append(str(r[1]))
        out: dict[int, WordSources] = {}
        for pid, (name, ocr, texts) in base.items():
            meta, seen = list(texts), set()
            for keyword in keywords.get(pid, []):
                shown = _readable_keyword(keyword)
                if shown and shown.casefold() not in seen:
                    seen.add(shown.casefold())
                    meta.append(shown)
            out[pid] = WordSources(name, ocr, " · ".join(meta), ", ".join(tags.get(pid, [])))
        return out

    def pending_ocr(self, limit: int, after_id: int = 0, max_attempts: int = 3) -> list[int]:
        """Ids of photos the OCR pass should read next, by id, at most ``limit`` (page with
        ``after_id``): owed the OCR step, indexed (status ok), in a folder with OCR on, and
        tried fewer than ``max_attempts`` times."""
        rows = self.query(
            "SELECT s.photo_id FROM photo_steps s JOIN photos p ON p.id = s.photo_id "
            "JOIN folders f ON f.id = p.folder_id "
            "WHERE s.step = ? AND s.photo_id > ? AND s.attempts < ? AND p.status = 'ok' "
            "AND f.ocr = 1 ORDER BY s.photo_id LIMIT ?",
            (OCR_STEP, int(after_id), int(max_attempts), max(int(limit), 0)),
        )
        return [int(r[0]) for r in rows]

    def count_ocr(self, max_attempts: int = 3) -> OcrCount:
        """The OCR backlog (see :class:`OcrCount`), counted in SQL: a status line at 100,000
        photos reads no ids."""
        with self.reading() as conn:
            owed = conn.execute(
                "SELECT coalesce(sum(f.ocr = 1), 0), "
                "coalesce(sum(f.ocr = 1 AND s.attempts > 0), 0), coalesce(sum(f.ocr = 0), 0), "
                "coalesce(sum(f.ocr = 1 AND s.attempts < ?), 0) "
                "FROM photo_steps s JOIN photos p ON p.id = s.photo_id "
                "JOIN folders f ON f.id = p.folder_id WHERE s.step = ? AND p.status = 'ok'",
                (int(max_attempts), OCR_STEP),
            ).fetchone()
            done = conn.execute(
                "SELECT count(*) FROM photo_text WHERE ocr_at IS NOT NULL"
            ).fetchone()[0]
        return OcrCount(int(owed[0]), int(owed[1]), int(done), int(owed[2]), int(owed[3]))
