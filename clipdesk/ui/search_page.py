"""The Search page: search box, filters, sort, minimum-score slider and the results grid.

Every change of query or filter submits one search through a :class:`LatestOnly` on the model
pool, so a query typed while an older one runs cancels the older one and only the newest result
reaches the grid. With no text and no image the grid shows the library, newest first.
A search hands the grid every match's id and score and the rows of its first screen; the grid
reads the other rows a page at a time, on the same pool, as they are scrolled to, each row with
why it matched (CLIP, or the words found in it: shown in its tooltip and under its thumbnail).
A search of ``text:`` phrases only runs before the model has loaded: it needs none.
When the Min score hides matches, the summary says how many (the same search without it, counted
in the background) with a link that resets it; a failed search empties the grid, so the photos
of the query before never stand under its error.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import partial
from typing import cast

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from clipdesk.common.progress import CancelToken
from clipdesk.ui.controller import AppController
from clipdesk.ui.drops import QueryImage
from clipdesk.ui.flow_layout import FlowLayout
from clipdesk.ui.folder_filter import FolderFilter
from clipdesk.ui.marks import LABELS, Mark, apply_mark
from clipdesk.ui.photo_grid import PhotoGrid
from clipdesk.ui.photo_model import PhotoItem
from clipdesk.ui.photo_rows import PAGE, PhotoRows
from clipdesk.ui.rows import FolderRow, SearchRequest, tag_focus
from clipdesk.ui.search_box import SearchBox
from clipdesk.ui.tag_panel import TagPanel
from clipdesk.ui.workers import LatestOnly

log = logging.getLogger(__name__)

SLIDER_SCALE = 200  # slider units per 1.0 of score (cosine, or a sigmoid model's probability)


def _to_date(qdate: QDate) -> date:
    # PySide6's stubs type QDate.toPython() as object; for a QDate it returns a datetime.date.
    return cast(date, qdate.toPython())


def _piece(parent: QWidget, *widgets: QWidget) -> QWidget:
    """Widgets that belong together (a label and its filter) as one unit of the filter row."""
    piece = QWidget(parent)
    row = QHBoxLayout(piece)
    row.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        row.addWidget(w)
    return piece


class SearchPage(QWidget):
    resultsShown = Signal(int)  # number of photos in the grid after a search
    searchFailed = Signal(str)

    def __init__(self, controller: AppController, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._search = LatestOnly(controller.workers, controller.workers.model)
        # Which query the grid shows: bumped by every new query (text, image, filter, model),
        # not by a library change, whose answer updates the grid in place instead.
        self._asked = 0
        self._shown: tuple[int, object] | None = None  # (query number, library) in the grid

        self.box = SearchBox(self)
        self.box.queryChanged.connect(lambda _t, _i: self._new_query())
        self.grid = PhotoGrid(controller.thumbs, self)
        self.grid.photos.background = self._read_rows

        self.folder = FolderFilter(self)  # the folders as a tree, subfolders and counts
        self.folder.folderChanged.connect(lambda _folder: self.refresh())
        self.folder.treeWanted.connect(self._load_folder_tree)
        self.tag = QComboBox(self)
        self.tag.setToolTip("Only photos with this tag")
        self.dates = QCheckBox("Taken between", self)
        self.date_from = QDateEdit(QDate.currentDate().addYears(-1), self)
        self.date_to = QDateEdit(QDate.currentDate(), self)
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
            edit.dateChanged.connect(lambda _d: self.refresh())
        self.dates.toggled.connect(self._dates_toggled)
        self.sort = QComboBox(self)
        self.sort.addItem("Best match", "relevance")
        self.sort.addItem("Newest first", "newest")
        self.sort.addItem("Oldest first", "oldest")
        self.sort.addItem("Highest rated", "rating")
        self.rating = QComboBox(self)
        self.rating.setToolTip("Only photos rated at least this (keys 0-5 rate the selection)")
        self.rating.addItem("Any rating", None)
        for stars in range(1, 6):
            self.rating.addItem("★" * stars + ("+" if stars < 5 else ""), stars)
        self.label = QComboBox(self)
        self.label.setToolTip("Only photos with this colour label (keys 6-9 label the selection)")
        self.label.addItem("Any label", None)
        for name in LABELS:
            self.label.addItem(name, name)
        self.min_score = QSlider(Qt.Orientation.Horizontal, self)
        self.min_score.setRange(0, SLIDER_SCALE)
        self.min_score.setValue(round(controller.settings.min_score * SLIDER_SCALE))
        self.min_score.setFixedWidth(120)
        self.min_score.setToolTip(
            "Hide CLIP's matches scoring below this: cosine similarity, or with a sigmoid model "
            "(SigLIP) and a text query, the probability that photo and text match. Photos "
            "found by the words in or around them stay whatever their score."
        )
        self.min_label = QLabel(self)
        self.min_score.valueChanged.connect(self._min_changed)
        self._min_changed(self.min_score.value(), search=False)
        self.summary = QLabel(self)
        self.summary.setObjectName("ResultSummary")
        self.summary.linkActivated.connect(lambda _link: self.min_score.setValue(0))
        self._hidden = LatestOnly(controller.workers, controller.workers.model)  # _count_hidden
        for combo in (self.tag, self.sort, self.rating, self.label):
            combo.currentIndexChanged.connect(lambda _i: self.refresh())

        # A long tag must not widen the row (the folder filter elides its own text).
        self.tag.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.tag.setMinimumContentsLength(16)
        # Each filter with its label is one piece that wraps to the next line as a whole, so a
        # narrow window (half a 1920-px screen) shows them on two lines instead of forcing width.
        filters = FlowLayout()
        for piece in (
            (QLabel("Folder"), self.folder),
            (QLabel("Tag"), self.tag),
            (self.rating, self.label),
            (self.dates, self.date_from, QLabel("and"), self.date_to),
            (QLabel("Min score"), self.min_score, self.min_label),
            (self.sort,),
        ):
            filters.addWidget(_piece(self, *piece))
        layout = QVBoxLayout(self)
        layout.addWidget(self.box)
        layout.addLayout(filters)
        layout.addWidget(self.summary)
        # the tag panel beside the grid: a click on a label filters through self.tag
        self.tag_panel = TagPanel(controller, self.tag, self)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.tag_panel)
        split.addWidget(self.grid)
        split.setStretchFactor(1, 1)
        split.setSizes([180, 620])
        self.tag_panel.setVisible(controller.settings.tag_panel_shown)  # View › Tag panel
        layout.addWidget(split, 1)

        self.grid.moreLikeThis.connect(self.more_like_this)
        self.grid.markRequested.connect(self.mark_photos)
        controller.libraryChanged.connect(self._library_changed)
        controller.modelReady.connect(lambda _m: self.refresh())
        controller.modelReady.connect(lambda m: self.box.suit_model(m.is_demo))
        self._fill_filters([], [])

    # --- queries ---------------------------------------------------------------------------
    def set_query_image(self, image: QueryImage) -> None:
        self.box.set_image(image)

    def more_like_this(self, item: PhotoItem) -> None:
        self.box.clear_image()
        self.box.line.clear()
        self.box.set_image(QueryImage.like_photo(item.id, item.name, item.path))

    def _new_query(self) -> None:
        self.refresh()

    def mark_photos(self, photo_ids: list[int], mark: Mark) -> None:
        """Rate or label photos (the grid's keys 0-9): their thumbnails show it at once, and a
        grid filtered or sorted by ratings and labels is asked again in place."""

        def done(fields: dict[str, object]) -> None:
            self.grid.photos.change_items(photo_ids, **fields)
            req = self.request()
            if req.min_rating is not None or req.label is not None or req.sort == "rating":
                self.refresh(in_place=True)

        apply_mark(self.controller, photo_ids, mark, done)

    def request(self) -> SearchRequest:
        image = self.box.image()
        like = image.photo_id if image is not None else None  # a library photo: its vector
        tag = self.tag.currentData()
        return SearchRequest(
            text=self.box.text(),
            image=image if like is None else None,
            like_photo_id=like,
            folder=self.folder.current(),
            tag=tuple(tag) if tag else None,
            date_from=_to_date(self.date_from.date()) if self.dates.isChecked() else None,
            date_to=_to_date(self.date_to.date()) if self.dates.isChecked() else None,
            min_score=self.min_score.value() / SLIDER_SCALE,
            min_rating=self.rating.currentData(),
            label=self.label.currentData(),
            sort=self.sort.currentData(),
        )

    def refresh(self, in_place: bool = False) -> None:
        """Search again: a new query (the grid starts at its top) or, ``in_place``, the same
        query over a library that changed (the grid keeps what the user looks at)."""
        if not in_place:
            self._asked += 1
        if self.controller.backend is None:  # opening, or none could be opened
            self.grid.photos.set_items([])  # never the photos of a library no longer open
            self.summary.setText(self.controller.library_state)
            return
        req = self.request()
        if req.needs_model and self.controller.model is None:
            self.summary.setText(
                "The model is still loading; your search runs as soon as it is ready."
            )
            return
        backend = self.controller.backend
        asked = (self._asked, backend)
        if not in_place:
            self.summary.setText("Searching…")
        page = max(PAGE, self.grid.screenful())

        def run(token: CancelToken) -> tuple[PhotoRows, str]:
            answer = backend.search(req, token, first=page)
            rows = PhotoRows(
                answer.ids,
                answer.scores,
                answer.first,
                # the answering library's rows, never another's, with this answer's reasons
                read=partial(backend.photo_items, matches=answer.matches, focus=tag_focus(req)),
                page=page,
                items_cover=answer.covered,
            )
            return rows, backend.search_runtime() if req.needs_model else ""

        self._search.submit(run, lambda found: self._show(found[0], found[1], asked), self._failed)

    def _show(
        self, rows: PhotoRows, runtime: str = "", asked: tuple[int, object] | None = None
    ) -> None:
        # The same query over the same library: photos come and go around what the user looks
        # at (the first visible photo, the current one and the selection stay).
        in_place = asked is not None and asked == self._shown and self.grid.photos.rowCount() > 0
        self._shown = asked
        if in_place:
            self.grid.photos.update_rows(rows)
        else:
            self.grid.photos.set_rows(rows)
        req = self.request()
        one = len(rows) == 1
        what = ("match" if one else "matches") if req.is_search else ("photo" if one else "photos")
        # int8 and fp32 rank a little differently: say which runtime(s) this ranking came from
        summary = f"{len(rows):,} {what}" + (f" · {runtime}" if runtime else "")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setText(summary)
        self._count_hidden(req, len(rows), what, runtime)
        if not in_place and self.grid.photos.rowCount():
            self.grid.scrollToTop()
        self.resultsShown.emit(len(rows))

    def _read_rows(
        self,
        work: Callable[[], list[PhotoItem]],
        done: Callable[[list[PhotoItem]], None],
        failed: Callable[[BaseException], None],
    ) -> object:
        # The model pool: a page read for an answer waits for nothing but the search after it.
        workers = self.controller.workers
        return workers.run(workers.model, lambda _t: work(), done, failed, owner=self.grid)

    def _count_hidden(self, req: SearchRequest, shown: int, what: str, runtime: str) -> None:
        """With a Min score on a CLIP search, count the same search without it (in the
        background); when it hid matches, the summary says how many, with a reset link."""
        self._hidden.cancel()
        backend = self.controller.backend
        if req.min_score <= 0 or backend is None or not req.needs_model:
            return
        unfiltered = replace(req, min_score=0.0)
        summary = self.summary.text()

        def counted(total: int) -> None:
            hidden = total - shown
            if hidden <= 0 or self.summary.text() != summary:  # nothing hidden, or superseded
                return
            more = "more " if shown else ""
            self.summary.setTextFormat(Qt.TextFormat.RichText)
            self.summary.setText(
                f"{shown:,} {what} above {req.min_score:.2f}, {hidden:,} {more}below it — "
                '<a href="reset-min-score">show all (reset Min score)</a>'
                + (f" · {html.escape(runtime)}" if runtime else "")
            )

        self._hidden.submit(
            lambda token: len(backend.search(unfiltered, token, first=0)),
            counted,
            # the answer stands; only its explanation is missing
            lambda exc: log.warning("could not count what the Min score hid: %s", exc),
        )

    def _failed(self, exc: BaseException) -> None:
        from clipdesk.ui.controller import describe_error, error_sentence

        self._hidden.cancel()
        self.grid.photos.set_items([])  # the query before's photos must not stand under its error
        message, hint = describe_error(exc)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setText("Search failed: " + error_sentence(message, hint))
        self.searchFailed.emit(message)

    # --- filters ---------------------------------------------------------------------------
    def _min_changed(self, value: int, search: bool = True) -> None:
        score = value / SLIDER_SCALE
        self.min_label.setText(f"{score:.2f}")
        self.controller.settings.min_score = score
        if search:
            self.refresh()

    def _dates_toggled(self, on: bool) -> None:
        self.date_from.setEnabled(on)
        self.date_to.setEnabled(on)
        self.refresh()

    def _library_changed(self) -> None:
        self.controller.call(
            lambda b, _t: (b.folders(), b.tags.tag_choices()), lambda r: self._fill_filters(*r)
        )
        self.refresh(in_place=True)

    def _load_folder_tree(self) -> None:
        """The folder filter's subfolders with their counts (db pool: one grouped query)."""
        from clipdesk.ui.controller import describe_error, error_sentence

        ticket = self.controller.call(
            lambda b, _t: b.folder_tree(),
            self.folder.set_tree,
            lambda exc: self.folder.tree_failed(error_sentence(*describe_error(exc))),
            owner=self.folder,
        )
        if ticket is None:  # no library open: nothing to count
            self.folder.set_tree([])

    def _fill_filters(self, folders: list[FolderRow], tags) -> None:
        self.folder.set_folders(folders)
        for combo, first, entries in (
            (self.tag, "Any tag", [(f"{c}: {lab}", [c, lab]) for c, lab in tags]),
        ):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(first, None)
            for text, data in entries:
                combo.addItem(str(text), data)
            index = combo.findData(current) if current is not None else 0
            combo.setCurrentIndex(max(0, index))
            combo.blockSignals(False)
