"""The Train tab's tables: column widths that always fit (no horizontal scrollbar at any width),
headers that wrap at spaces, compact figures, and the rows model's thumbnails."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QWidget

from clipdesk.ui.train_layout import Reflow, scrolled
from clipdesk.ui.train_tables import FitTable, RowsModel, fit_widths, table
from clipdesk.ui.train_widgets import delta, metric_value, pct


def test_rows_model_passes_qtmodeltester(qtmodeltester):
    model = RowsModel(["a", "b"])
    qtmodeltester.check(model, force_py=True)
    model.set_rows([["x", 0.5], ["y", None]], keys=[1, 2], tips=["p1", "p2"])
    qtmodeltester.check(model, force_py=True)


def test_columns_that_fit_keep_their_width_and_the_name_column_takes_the_rest():
    assert fit_widths([100, 50, 60], 400) == [290, 50, 60]
    assert fit_widths([100, 50, 60], 400, stretch=None) == [164, 113, 123]


def test_columns_too_wide_together_cut_the_widest_first_and_sum_to_the_width():
    widths = fit_widths([500, 60, 70], 300)
    assert sum(widths) == 300
    assert widths[1:] == [60, 70]  # the numbers stay whole, the long name gives way
    widths = fit_widths([500, 400, 70], 300)
    assert sum(widths) == 300 and widths[2] == 70 and abs(widths[0] - widths[1]) <= 1


@pytest.mark.parametrize("width", [700, 320, 160])
def test_a_table_of_long_names_never_scrolls_sideways(qtbot, width):
    model = RowsModel(["Version", "Towers", "R@5 before", "R@5 after"])
    model.set_rows(
        [
            [f"a-very-long-model-version-name-ft-2026112{i}-1700", "text", "93.8%", "97.1%"]
            for i in range(5)
        ]
    )
    view = table(model)
    qtbot.addWidget(view)
    view.resize(width, 200)
    view.show()
    qtbot.waitExposed(view)
    assert view.columns_fit()
    assert not view.horizontalScrollBar().isVisible()
    if width >= 320:  # room for the figures: only the name is elided
        header = view.horizontalHeader()
        assert header.sectionSize(2) >= view.sizeHintForColumn(2)


def test_a_header_wraps_so_a_column_needs_only_its_longest_word(qtbot):
    model = RowsModel(["Name", "Change (points)"])
    model.set_rows([["x", "+1.0"]])
    view = FitTable(model)
    qtbot.addWidget(view)
    header = view.horizontalHeader()
    fm = header.fontMetrics()
    hint = header.sectionSizeFromContents(1)
    assert hint.width() < fm.horizontalAdvance("Change (points)")
    assert hint.height() >= 2 * fm.height()


def test_figures_read_as_percentages_and_points():
    assert pct(0.9375) == "93.8%" and pct(None) == "–"
    assert delta(0.80, 0.85) == "+5.0" and delta(None, 0.5) == "–"
    assert metric_value("t2i_recall@5", 0.5) == "50.0%"
    assert metric_value("loss", 2.3456) == "2.35"


def test_reflow_stands_columns_side_by_side_when_wide_and_stacks_them_when_narrow(qtbot):
    parts = [QWidget() for _ in range(4)]
    for part in parts:
        part.setMinimumSize(250, 120)
    flow = Reflow([parts[:2], parts[2:]], wide_at=600)
    area = scrolled(flow)
    qtbot.addWidget(area)
    area.resize(900, 300)
    area.show()
    qtbot.waitExposed(area)

    def at(part: QWidget) -> QPoint:
        return part.mapTo(flow, QPoint(0, 0))

    assert flow.wide and at(parts[2]).x() > at(parts[0]).x()
    area.resize(400, 300)
    qtbot.waitUntil(lambda: not flow.wide and at(parts[2]).x() == at(parts[0]).x())
    assert at(parts[2]).y() > at(parts[1]).y()
    assert not area.horizontalScrollBar().isVisible()
    qtbot.waitUntil(lambda: area.verticalScrollBar().isVisible())  # 4 x 120 px in 300
