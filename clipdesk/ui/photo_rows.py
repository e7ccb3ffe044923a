"""The rows of one answer: every photo's id (and score) in order, its grid row read by page.

A search over 100,000 photos ranks them all (ids and scores are two numpy arrays, ~1 MB) but
the grid only ever paints a screenful, so :class:`PhotoRows` holds a :class:`PhotoItem` only
for the rows read so far, a page at a time (:meth:`PhotoRows.missing` says which pages a set of
rows needs, :meth:`PhotoRows.fill` takes a page's items). The reading itself is the caller's
(``read``, through the services, on a worker for the grid). Nothing here imports Qt, nor numpy
at import time: the window is built before numpy loads (it works on the arrays it is given, or
on plain lists of ids).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, overload

from clipdesk.common.fsnames import shown

if TYPE_CHECKING:
    import numpy as np

    Ids = np.ndarray | Sequence[int]
    Scores = np.ndarray | Sequence[float]

# Rows read at a time, at least: the search page reads a screenful of its grid at a time (40
# cells in a 1280 x 800 window, ~300 on a 4K monitor), never fewer than this.
PAGE = 64


@dataclass(frozen=True, slots=True)
class PhotoItem:
    id: int
    path: str
    score: float | None = None  # of the last query (cosine, or a match probability); None: browsed
    taken_at: float | None = None  # POSIX seconds (EXIF date, else file mtime)
    # why the search found it ("clip", "ocr", "name", "meta", "tags"); () when browsed
    matched_by: tuple[str, ...] = ()
    snippet: str | None = None  # the words around the first hit, matched ones in [brackets]
    # how many of its tags (of the grid's tag filter's, when it has one) are the model's
    # suggestions only, not confirmed: the thumbnail marks them (delegate.suggestion_mark)
    suggested: int = 0
    rating: int = 0  # -1 rejected, 0 none, 1-5 stars
    label: str | None = None  # colour label: "Red", "Yellow", "Green", "Blue", "Purple"

    @property
    def name(self) -> str:
        return shown(os.path.basename(self.path))


def _score(value: float) -> float | None:
    """A ranking's score, None for NaN: a photo found by its words that has no CLIP score."""
    score = float(value)
    return None if score != score else score


# (ids, scores or None) -> the grid rows of those photos, in that order; a photo the library no
# longer holds is left out. Blocking: the grid calls it on a worker, or for one page on demand.
Reader = Callable[[Any, Any], list[PhotoItem]]


class PhotoRows(Sequence[PhotoItem]):
    """One answer's rows. Indexing reads a missing row's page at once (``read`` blocks: one
    page, for a caller that needs that photo now, such as the photo view stepping on);
    :meth:`loaded` never reads."""

    def __init__(
        self,
        ids: Ids,
        scores: Scores | None = None,
        items: Sequence[PhotoItem] = (),
        read: Reader | None = None,
        page: int = PAGE,
        items_cover: int | None = None,
    ) -> None:
        """``ids`` (int64 array or list) and ``scores`` are kept as given, not copied;
        ``items``: the rows read with the ranking, those of the first ``items_cover`` rows
        (default: as many rows as items)."""
        self.ids = ids
        self.scores = scores
        self.page = max(1, int(page))
        self._read = read
        self._items: list[PhotoItem | None] = [None] * len(self.ids)
        self._rows: dict[int, int] = {}  # photo id -> row, for the rows read so far
        # pages holding rows carried over from an earlier answer (see carry): shown, and read
        # again when painted
        self._stale: set[int] = set()
        self._sorted: tuple[Any, Any] | None = None  # (ids sorted, their rows): see rows_of
        self.fill(0, len(items) if items_cover is None else items_cover, items)

    @classmethod
    def of(cls, items: Sequence[PhotoItem]) -> PhotoRows:
        """Rows whose every item is known already (a short list: a tag's preview)."""
        scores = [i.score for i in items]
        known = None if any(s is None for s in scores) else scores
        return cls([i.id for i in items], known, items)  # type: ignore[arg-type]

    # --- reading by page --------------------------------------------------------------------
    def loaded(self, row: int) -> PhotoItem | None:
        return self._items[row]

    def missing(self, rows: Iterable[int]) -> list[int]:
        """The pages (numbers) holding any of ``rows`` not read yet, or carried over."""
        stale = self._stale
        return sorted(
            {r // self.page for r in rows if self._items[r] is None or r // self.page in stale}
        )

    def is_stale(self, row: int) -> bool:
        """Whether ``row`` shows an item carried over from an earlier answer (see carry)."""
        return bool(self._stale) and row // self.page in self._stale

    def carry(self, old: PhotoRows) -> None:
        """Show the items ``old`` had read for photos these rows hold but have not read: the
        same query answered again after the library changed keeps its rows painted where the
        user looks (no placeholders), each page read again, fresh, once it is painted."""
        import numpy as np

        known = old._rows  # photo id -> row, of the rows old has read
        if not known or not len(self.ids):
            return
        pids = np.fromiter(known.keys(), dtype=np.int64, count=len(known))
        rows = self._find(pids)
        here = rows >= 0
        # one Python step a row carried (100k rows read: ~30 ms), nothing more per row
        mine, theirs, kept = self._items, old._items, self._rows
        stale: set[int] = set()
        for pid, row, was in zip(
            pids[here].tolist(),
            rows[here].tolist(),
            np.fromiter(known.values(), dtype=np.int64, count=len(known))[here].tolist(),
            strict=True,
        ):
            if mine[row] is None:
                mine[row] = theirs[was]
                kept[pid] = row
                stale.add(row // self.page)
        if self._read is not None:  # rows that cannot be read keep what they were given
            self._stale |= stale

    def span(self, page: int) -> tuple[int, int]:
        start = page * self.page
        return start, min(start + self.page, len(self.ids))

    def page_of(self, page: int) -> tuple[Ids, Scores | None]:
        """(ids, scores) of one page: what ``read`` is given for it."""
        start, stop = self.span(page)
        scores = None if self.scores is None else self.scores[start:stop]
        return self.ids[start:stop], scores

    @property
    def readable(self) -> bool:
        """Whether missing rows can be read (rows made from a list have none missing)."""
        return self._read is not None

    def read_only(self, page: int) -> list[PhotoItem]:
        """One page's items, read now (blocking; any thread) but not kept: :meth:`fill` keeps
        them, on the thread that owns these rows."""
        return [] if self._read is None else self._read(*self.page_of(page))

    def read_page(self, page: int) -> list[PhotoItem]:
        """Read one page now (blocking) and keep it; returns its items."""
        items = self.read_only(page)
        if self._read is not None:
            self.fill(*self.span(page), items)
        return items

    def fill(self, start: int, stop: int, items: Iterable[PhotoItem]) -> None:
        """Keep the items read for rows ``start`` to ``stop``; a photo of those rows that
        ``items`` lacks has left the library since the search, and gets a row that paints as
        unreadable."""
        by_id = {item.id: item for item in items}
        stop = min(stop, len(self.ids))
        if self._stale:  # pages read whole are fresh again
            first = -(-start // self.page)
            self._stale.difference_update(
                p for p in range(first, stop // self.page + 1) if self.span(p)[1] <= stop
            )
        for row in range(start, stop):
            pid = int(self.ids[row])
            item = by_id.get(pid)
            if item is None:
                score = None if self.scores is None else _score(self.scores[row])
                item = PhotoItem(pid, "", score)  # gone from the library since the search
            self._items[row] = item
            self._rows[pid] = row

    # --- lookups ----------------------------------------------------------------------------
    def row_of(self, photo_id: int) -> int | None:
        row = self._rows.get(photo_id)
        if row is not None:
            return row
        if isinstance(self.ids, list | tuple):
            return self.ids.index(photo_id) if photo_id in self.ids else None
        import numpy as np

        hits = np.flatnonzero(np.asarray(self.ids) == photo_id)
        return int(hits[0]) if len(hits) else None

    def rows_of(self, photo_ids: Sequence[int] | np.ndarray) -> list[int]:
        """The row of each of ``photo_ids`` (-1 for a photo these rows do not hold), found
        without reading any rows: one sort of the ids, kept for the next call."""
        return self._find(photo_ids).tolist()

    def _find(self, photo_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        import numpy as np

        if self._sorted is None:
            ids = np.asarray(self.ids, dtype=np.int64)
            order = np.argsort(ids, kind="stable")
            self._sorted = (ids[order], order)
        ordered, order = self._sorted
        want = np.asarray(photo_ids, dtype=np.int64)
        if not len(ordered) or not len(want):
            return np.full(len(want), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(ordered, want), len(ordered) - 1)
        return np.where(ordered[at] == want, order[at], -1)

    def change(self, photo_ids: Iterable[int], **fields: Any) -> list[int]:
        """Give the read items of ``photo_ids`` new values of their ``fields`` (a rating just
        set); the rows changed. A row not read yet gets them when it is read."""
        rows = []
        for pid in photo_ids:
            row = self._rows.get(int(pid))
            item = self._items[row] if row is not None else None
            if row is not None and item is not None:
                self._items[row] = replace(item, **fields)
                rows.append(row)
        return rows

    def loaded_row_of(self, photo_id: int) -> int | None:
        """The row of a photo whose item was read (a thumbnail that arrives repaints it)."""
        return self._rows.get(photo_id)

    def without(self, photo_ids: set[int]) -> PhotoRows:
        """These rows less some photos (the items read so far kept)."""
        kept = [row for row in range(len(self.ids)) if int(self.ids[row]) not in photo_ids]
        ids = [int(self.ids[row]) for row in kept]
        scores = None if self.scores is None else [float(self.scores[row]) for row in kept]
        rest = PhotoRows(ids, scores, read=self._read, page=self.page)
        for new, old in enumerate(kept):
            item = self._items[old]
            if item is not None:
                rest._items[new] = item
                rest._rows[item.id] = new
                if old // self.page in self._stale:
                    rest._stale.add(new // rest.page)
        return rest

    # --- Sequence ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, row: int) -> PhotoItem: ...

    @overload
    def __getitem__(self, row: slice) -> list[PhotoItem]: ...

    def __getitem__(self, row: int | slice) -> PhotoItem | list[PhotoItem]:
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        item = self._items[row]
        if item is None:
            self.read_page(row // self.page)
            item = self._items[row]
        if item is None:  # nothing to read with
            score = None if self.scores is None else _score(self.scores[row])
            item = PhotoItem(int(self.ids[row]), "", score)
        return item

    def __iter__(self) -> Iterator[PhotoItem]:
        for row in range(len(self)):
            yield self[row]

    def __contains__(self, item: object) -> bool:
        return isinstance(item, PhotoItem) and self.row_of(item.id) is not None

    def index(self, item: object, start: int = 0, stop: int | None = None) -> int:
        """The row of ``item``'s photo, found by id (without reading any rows)."""
        row = self.row_of(item.id) if isinstance(item, PhotoItem) else None
        if row is None or row < start or (stop is not None and row >= stop):
            raise ValueError(f"{item!r} is not in these rows")
        return row
