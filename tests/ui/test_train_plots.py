"""Training plots with honest axes: values drawn as they are (no SI-prefix rescaling), recall in
% on a fixed 0-100 axis, and the title and legend outside the plot area."""

from __future__ import annotations

from clipdesk.ui.train_plots import LivePlot


def test_values_below_one_are_labelled_as_they_are_without_an_si_prefix_scale(qtbot):
    # pyqtgraph's default turned recalls of 0.3-0.8 into ticks 300-800 and "recall (x0.001)"
    plot = LivePlot("Validation", "training step", "recall")
    qtbot.addWidget(plot)
    for step, y in enumerate((0.3, 0.55, 0.8)):
        plot.add_point("t2i_recall@5", step, y)
    plot.resize(400, 300)
    plot.show()
    qtbot.waitExposed(plot)
    axis = plot.plot.getAxis("left")
    qtbot.waitUntil(lambda: 0.8 <= axis.range[1] < 1.0)  # the view follows the curve
    assert axis.autoSIPrefixScale == 1.0
    assert "(x" not in axis.labelString()
    ticks = [v for _spacing, values in axis.tickValues(*axis.range, 200) for v in values]
    assert ticks and max(ticks) < 1.0


def test_recall_is_drawn_in_percent_on_a_fixed_axis_from_0_to_100(qtbot):
    plot = LivePlot(
        "Recall on held-out pairs", "training step", "recall (%)", y_scale=100, y_range=(0, 100)
    )
    qtbot.addWidget(plot)
    for step, r in enumerate((0.3, 0.55, 0.8)):
        plot.add_point("t2i_recall@5", step, r)
    plot.resize(400, 300)
    plot.show()
    qtbot.waitExposed(plot)
    assert plot.points("t2i_recall@5") == [(0, 0.3), (1, 0.55), (2, 0.8)]
    assert [round(y, 6) for _x, y in plot.drawn("t2i_recall@5")] == [30.0, 55.0, 80.0]
    low, high = plot.plot.getViewBox().viewRange()[1]
    assert -10 < low <= 0 and 100 <= high < 110  # the whole scale, not zoomed onto the curve
    assert "recall (%)" in plot.plot.getAxis("left").labelString()


def test_title_and_legend_are_labels_outside_the_plot_and_the_title_wraps(qtbot):
    names = {"t2i_recall@1": "Text → image R@1", "t2i_recall@5": "Text → image R@5"}
    plot = LivePlot("Recall on held-out pairs of your photos", "step", "recall (%)", names=names)
    qtbot.addWidget(plot)
    plot.add_point("t2i_recall@1", 0, 0.2)
    plot.add_point("t2i_recall@5", 0, 0.6)
    plot.resize(210, 260)
    plot.show()
    qtbot.waitExposed(plot)
    assert plot.plot.plotItem.legend is None  # nothing drawn over the curves
    assert "Text → image R@1" in plot.legend.text() and "Text → image R@5" in plot.legend.text()
    title = plot.title
    assert title.wordWrap() and title.height() >= title.heightForWidth(title.width())
    assert plot.legend.geometry().top() >= plot.plot.geometry().bottom()
    assert title.geometry().bottom() <= plot.plot.geometry().top()
    plot.clear()
    assert plot.series() == [] and "no points" in plot.legend.text()
