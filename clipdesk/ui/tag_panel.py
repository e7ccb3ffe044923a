"""The Search page's tag panel: every category › label with how many photos the user tagged with it
(✓) and the model suggests it for (?), from one grouped query; a click on a label filters the grid
to it, through the page's Tag filter (so the filter shows it, and "All photos" or "Any tag" there
clears it). Labels are few (hundreds, not photos): a tree widget holds them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHeaderView, QTreeWidget, QTreeWidgetItem

from clipdesk.services.records import LabelCount
from clipdesk.ui.controller import AppController, describe_error, error_sentence

_TAG = Qt.ItemDataRole.UserRole  # [category, label] on a label's row, as the Tag filter keeps it


class TagPanel(QTreeWidget):
    def __init__(self, controller: AppController, tag_filter: QComboBox, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.tag_filter = tag_filter
        self.setColumnCount(3)
        self.setHeaderLabels(["Tag", "✓", "?"])
        self.headerItem().setToolTip(1, "Photos you tagged (confirmed or imported)")
        self.headerItem().setToolTip(2, "Photos the model suggests it for")
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)
        self.setMinimumWidth(140)
        self.setAccessibleName("Tags")
        self.itemClicked.connect(self._clicked)
        tag_filter.currentIndexChanged.connect(lambda _i: self._follow_filter())
        controller.libraryChanged.connect(self.reload)
        self.reload()

    def reload(self) -> None:
        self.controller.call(
            lambda b, _t: b.services.tags.label_counts(),
            self.show_counts,
            self._failed,
            owner=self,
        )

    def show_counts(self, counts: list[LabelCount]) -> None:
        tops = self._tops()
        open_ = {t.text(0) for t in tops if t.isExpanded()}
        known = {t.text(0) for t in tops}
        self.clear()
        every = QTreeWidgetItem(["All photos", "", ""])
        every.setData(0, _TAG, None)
        self.addTopLevelItem(every)
        by_category: dict[str, QTreeWidgetItem] = {}
        totals: dict[str, list[int]] = {}
        for c in counts:
            parent = by_category.get(c.category)
            if parent is None:
                parent = by_category[c.category] = QTreeWidgetItem([c.category, "", ""])
                self.addTopLevelItem(parent)
                totals[c.category] = [0, 0]
            row = QTreeWidgetItem([c.label, _count(c.confirmed), _count(c.suggested)])
            row.setData(0, _TAG, [c.category, c.label])
            row.setToolTip(
                0,
                f"{c.category} › {c.label}: {c.confirmed:,} tagged by you, "
                f"{c.suggested:,} suggested by the model",
            )
            parent.addChild(row)
            totals[c.category][0] += c.confirmed
            totals[c.category][1] += c.suggested
        for name, item in by_category.items():
            item.setText(1, _count(totals[name][0]))
            item.setText(2, _count(totals[name][1]))
            # a category shown before stays as the user left it; a new one opens if it has tags
            item.setExpanded(name in open_ if name in known else any(totals[name]))
        for top in self._tops():
            for column in (1, 2):
                top.setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
        self._follow_filter()

    def label_item(self, category: str, label: str) -> QTreeWidgetItem | None:
        for top in self._tops():
            for j in range(top.childCount()):
                child = top.child(j)
                if child is not None and child.data(0, _TAG) == [category, label]:
                    return child
        return None

    def _tops(self) -> list[QTreeWidgetItem]:
        found = (self.topLevelItem(i) for i in range(self.topLevelItemCount()))
        return [item for item in found if item is not None]

    def _clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        if item.parent() is None and item.data(0, _TAG) is None and item.childCount():
            item.setExpanded(not item.isExpanded())  # a category: open or close it
            return
        tag = item.data(0, _TAG)
        combo = self.tag_filter
        index = 0 if tag is None else combo.findData(tag)
        if index < 0:  # a label the filter has not listed yet (added a moment ago)
            combo.addItem(f"{tag[0]}: {tag[1]}", tag)
            index = combo.count() - 1
        combo.setCurrentIndex(index)  # the Search page searches again

    def _follow_filter(self) -> None:
        """Highlight the label the Tag filter is on (set here or in the filter itself)."""
        tag = self.tag_filter.currentData()
        item = self.label_item(*tag) if tag else self.topLevelItem(0)
        self.blockSignals(True)
        if item is not None:
            self.setCurrentItem(item)
        else:
            self.clearSelection()
        self.blockSignals(False)

    def _failed(self, exc: BaseException) -> None:
        self.clear()
        why = error_sentence(*describe_error(exc))
        problem = QTreeWidgetItem([f"Tags could not be counted: {why}"])
        problem.setToolTip(0, why)
        problem.setFlags(Qt.ItemFlag.NoItemFlags)
        self.addTopLevelItem(problem)


def _count(n: int) -> str:
    return f"{n:,}" if n else ""
