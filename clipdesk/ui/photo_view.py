"""Photo view: a large preview, the photo's metadata and tags, its words (XMP title and
description, the text OCR read, with its boxes on the photo on request), and ways to hand it on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from clipdesk.ui import desktop
from clipdesk.ui.controller import AppController, describe_error
from clipdesk.ui.keyword_field import KeywordField
from clipdesk.ui.marks import KEYS_HELP, Mark, apply_mark, describe_marks, mark_of_key
from clipdesk.ui.photo_model import PhotoItem, PhotoRows
from clipdesk.ui.photo_text import PhotoTextPanel, TextBoxOverlay
from clipdesk.ui.rows import PhotoDetails
from clipdesk.ui.tag_list import fill_tag_list, tag_of

if TYPE_CHECKING:  # the window is built before numpy and the library code load
    from clipdesk.services.records import PhotoText

PREVIEW_PX = 1600


def load_preview(path: str, px: int = PREVIEW_PX) -> QImage:
    """Worker-side: decode at reduced scale where the format allows it, upright."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)  # EXIF orientation
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > px:
        reader.setScaledSize(size.scaled(QSize(px, px), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():  # HEIF, RAW and what Qt cannot read: the model's decoder can
        from clipdesk.services.images import decode_for_display
        from clipdesk.ui.drops import pil_to_qimage

        image = pil_to_qimage(decode_for_display(path, px))
    return image


class PhotoView(QDialog):
    tagsChanged = Signal(int)  # photo id
    marksChanged = Signal(list, dict)  # photo ids, the PhotoItem fields set (rating, label)
    moreLikeThis = Signal(object)  # PhotoItem

    def __init__(
        self,
        controller: AppController,
        item: PhotoItem,
        parent=None,
        siblings: Sequence[PhotoItem] | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.item = item
        self._siblings = siblings or [item]  # Left / Right walk through the grid's photos
        self.resize(1100, 760)
        self.preview = QLabel("Loading…", self)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.preview.setMinimumSize(400, 300)
        self._image = QImage()
        self.boxes = TextBoxOverlay(self.preview)
        self.words = PhotoTextPanel(self)
        self.words.show_boxes.toggled.connect(self.boxes.setVisible)
        QShortcut(QKeySequence("T"), self, self._toggle_boxes)

        side = QWidget(self)
        side.setFixedWidth(320)
        self.meta = QFormLayout()
        self.tags = QListWidget(self)
        self.tags.setToolTip("C confirms, R rejects the selected tag")
        confirm = QPushButton("Confirm", self)
        reject = QPushButton("Reject", self)
        confirm.clicked.connect(lambda: self._decide("confirmed"))
        reject.clicked.connect(lambda: self._decide("rejected"))
        QShortcut(QKeySequence("C"), self, lambda: self._decide("confirmed"))
        QShortcut(QKeySequence("R"), self, lambda: self._decide("rejected"))
        decide = QHBoxLayout()
        decide.addWidget(confirm)
        decide.addWidget(reject)
        actions = QHBoxLayout()
        for text, fn in (
            ("Open", lambda: self.hand_on(desktop.open_in_default_app)),
            ("Show in folder", lambda: self.hand_on(desktop.reveal_in_file_manager)),
            ("Copy path", lambda: desktop.copy_path(self.item.path)),
            ("More like this", self._more_like_this),
        ):
            button = QPushButton(text, self)
            button.clicked.connect(fn)
            actions.addWidget(button)
        side_layout = QVBoxLayout(side)
        self.marks = QLabel(self)  # rating and colour label: keys 0-5 and 6-9
        self.marks.setToolTip(KEYS_HELP)
        side_layout.addWidget(self.marks)
        side_layout.addLayout(self.meta)
        side_layout.addWidget(self.words.caption)
        side_layout.addWidget(QLabel("Tags"))
        side_layout.addWidget(self.tags, 1)
        side_layout.addLayout(decide)
        self.keywords = KeywordField(controller, lambda: self.item.id, self)  # Enter adds a tag
        self.keywords.added.connect(self.tagsChanged.emit)
        self.keywords.added.connect(lambda _pid: self.reload())
        side_layout.addWidget(self.keywords)
        side_layout.addWidget(self.words, 1)
        top = QHBoxLayout()
        top.addWidget(self.preview, 1)
        top.addWidget(side)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addLayout(actions)

        # Keys belong to the dialog, not to whichever button has focus: Space must close the
        # preview, not press "Confirm".
        for button in self.findChildren(QPushButton):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setAutoDefault(False)
        self.preview.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.preview.setFocus()
        QShortcut(QKeySequence("Left"), self, lambda: self.step(-1))
        QShortcut(QKeySequence("Right"), self, lambda: self.step(1))
        # OCR runs after indexing: a photo shown before its text was read gets it when it lands
        # (the pass reports each photo it reads as a progress line)
        self._text_asked: set[int] = set()  # photos whose text is being read from the library
        controller.libraryChanged.connect(self._text_may_have_changed)
        controller.stateChanged.connect(self._text_may_have_changed)
        self.show_item(item)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space:
            self.accept()  # Space toggles the preview, as in the grid
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.hand_on(desktop.open_in_default_app)
        elif (mark := mark_of_key(event)) is not None:
            self._mark(mark)
        else:
            super().keyPressEvent(event)

    def _mark(self, mark: Mark) -> None:
        """Rate or label the photo shown (keys 0-9, as in the grid)."""
        pid = self.item.id

        def done(fields: dict[str, object]) -> None:
            if self.item.id == pid:
                self.item = replace(self.item, **fields)  # type: ignore[arg-type]
                self._show_marks()
            self.marksChanged.emit([pid], fields)

        apply_mark(self.controller, [pid], mark, done)

    def _show_marks(self) -> None:
        self.marks.setText(describe_marks(self.item.rating, self.item.label))

    def hand_on(self, how: Callable[[str], desktop.HandOnProblem | None]) -> None:
        """Open or show the photo with the desktop; a failure is said here, over the view (and
        in the status bar), with what to do."""
        problem = how(self.item.path)
        if problem is None:
            return
        self.controller.noticeRaised.emit(problem.message)
        box = QMessageBox(QMessageBox.Icon.Warning, "ClipDesk", problem.message, parent=self)
        box.setInformativeText(problem.hint)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def show_item(self, item: PhotoItem) -> None:
        self.item = item
        self.setWindowTitle(item.name)
        self._show_marks()
        self._image = QImage()
        self.preview.setText("Loading…")
        workers = self.controller.workers
        workers.run(
            workers.thumbs,
            lambda _t: load_preview(item.path),
            lambda image: self._show_image(item, image),
            lambda exc: self.preview.setText(f"{exc}\nThe file may be missing or damaged."),
            owner=self,
        )
        self.reload()
        self.words.show_loading()
        self.boxes.set_boxes(())
        self.load_text()

    def load_text(self) -> None:
        pid = self.item.id

        def show(text: PhotoText | None) -> None:
            self._text_asked.discard(pid)
            if pid == self.item.id:
                self.words.show_text(text)
                self.boxes.set_boxes(text.boxes if text is not None else ())

        def failed(exc: BaseException) -> None:
            self._text_asked.discard(pid)
            if pid == self.item.id:
                self.words.show_problem(describe_error(exc)[0])

        ticket = self.controller.call(
            lambda b, _t: b.services.ocr.text_of(pid), show, failed, owner=self
        )
        if ticket is not None:
            self._text_asked.add(pid)

    def _text_may_have_changed(self) -> None:
        # progress lines come often during a pass: one read in flight at a time is enough
        if self.words.pending and self.isVisible() and self.item.id not in self._text_asked:
            self.load_text()

    def _toggle_boxes(self) -> None:
        if self.words.show_boxes.isEnabled():
            self.words.show_boxes.toggle()

    def step(self, delta: int) -> None:
        row = _row_of(self._siblings, self.item.id)
        if row is not None and 0 <= row + delta < len(self._siblings):
            self.show_item(self._siblings[row + delta])

    def reload(self) -> None:
        pid = self.item.id
        self.controller.call(
            lambda b, _t: b.tags.photo_details(pid),
            lambda d: self._show_details(d) if pid == self.item.id else None,
            owner=self,
        )

    def _more_like_this(self) -> None:
        self.moreLikeThis.emit(self.item)
        self.accept()

    def _show_image(self, item: PhotoItem, image: QImage) -> None:
        if item.id == self.item.id:  # not a photo the user has already stepped past
            self._image = image
            self._fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._image.isNull():
            return
        ratio = self.devicePixelRatioF()
        target = self.preview.size() * ratio
        pixmap = QPixmap.fromImage(
            self._image.scaled(
                target,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
        pixmap.setDevicePixelRatio(ratio)
        self.preview.setPixmap(pixmap)
        self.boxes.update()

    def _show_details(self, details: PhotoDetails) -> None:
        while self.meta.rowCount():
            self.meta.removeRow(0)
        for label, value in details.fields():
            text = QLabel(value, self)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            text.setWordWrap(True)
            self.meta.addRow(label, text)
        fill_tag_list(self.tags, details.tags)  # suggestions apart from the user's tags

    def _decide(self, decision: str) -> None:
        tag = tag_of(self.tags.currentItem())
        if tag is None:
            return
        pid = self.item.id

        def done(_r) -> None:
            self.tagsChanged.emit(pid)
            self.reload()

        self.controller.call(
            lambda b, _t: b.tags.decide_tag(pid, tag.category, tag.label, decision),
            done,
            owner=self,
        )


def _row_of(items: Sequence[PhotoItem], photo_id: int) -> int | None:
    # A grid's rows find a photo by id without reading any, and read a neighbour's page only
    # when it is stepped on; a plain list is searched.
    if isinstance(items, PhotoRows):
        return items.row_of(photo_id)
    return next((row for row, item in enumerate(items) if item.id == photo_id), None)
