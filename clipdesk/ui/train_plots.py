"""Live training plots (pyqtgraph): named series that grow point by point as a run reports.

Honest axes: values are drawn as they are (pyqtgraph's automatic SI prefix, which turned recalls
of 0.3-0.8 into "300-800 (x0.001)", is off), a plot may scale them to a unit its axis names
(recall in %) and fix the range (0-100 %), and the title and the legend are Qt labels above and
below the plot: a title is never clipped, a legend never covers a curve."""

from __future__ import annotations

import html
from collections.abc import Mapping

import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

# Distinct, colour-blind-friendly pens (Okabe-Ito).
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9")


class LivePlot(QWidget):
    """A plot of ``series name -> [(x, y)]``; :meth:`add_point` appends and redraws that series.
    ``y_scale`` multiplies what is drawn (e.g. 100 for a fraction shown in %), ``y_range`` fixes
    the vertical axis, ``names`` are the legend's words for the series keys."""

    def __init__(
        self,
        title: str,
        x_label: str,
        y_label: str,
        parent: QWidget | None = None,
        *,
        y_scale: float = 1.0,
        y_range: tuple[float, float] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.title = QLabel(f"<b>{html.escape(title)}</b>", self)
        self.title.setWordWrap(True)
        self.plot = pg.PlotWidget(self)
        self.plot.setBackground(None)  # follow the window palette (light or dark)
        self.plot.setLabel("bottom", x_label)
        self.plot.setLabel("left", y_label)
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setMinimumSize(200, 160)
        self.y_scale = y_scale
        self.y_range = y_range
        if y_range is not None:
            self.plot.setYRange(*y_range, padding=0.06)  # the top tick's label must fit
            self.plot.enableAutoRange(axis="y", enable=False)
            self.plot.setLimits(yMin=y_range[0] - 5, yMax=y_range[1] + 5)
        self.legend = QLabel(self)
        self.legend.setWordWrap(True)
        self.names = dict(names or {})
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.legend)
        self._data: dict[str, tuple[list[float], list[float]]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._show_legend()

    def add_point(self, series: str, x: float, y: float) -> None:
        xs, ys = self._data.setdefault(series, ([], []))
        xs.append(float(x))
        ys.append(float(y))
        drawn = [v * self.y_scale for v in ys]
        curve = self._curves.get(series)
        if curve is None:
            pen = pg.mkPen(self.colour(series), width=2)
            curve = self.plot.plot(
                xs,
                drawn,
                pen=pen,
                symbol="o" if series.startswith("val") or "@" in series else None,
                symbolSize=5,
                symbolBrush=self.colour(series),
            )
            self._curves[series] = curve
            self._show_legend()
        else:
            curve.setData(xs, drawn)

    def set_series(self, series: str, points: list[tuple[float, float]]) -> None:
        """A whole series at once (a finished run's curves, shown again after a restart)."""
        for x, y in points:
            self.add_point(series, x, y)

    def colour(self, series: str) -> str:
        known = list(self._curves)
        at = known.index(series) if series in known else len(known)
        return _COLOURS[at % len(_COLOURS)]

    def points(self, series: str) -> list[tuple[float, float]]:
        """The points as reported (before ``y_scale``)."""
        xs, ys = self._data.get(series, ([], []))
        return list(zip(xs, ys, strict=True))

    def drawn(self, series: str) -> list[tuple[float, float]]:
        """The points as drawn, in the axis' unit."""
        curve = self._curves.get(series)
        if curve is None:
            return []
        xs, ys = curve.getData()
        return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]

    def series(self) -> list[str]:
        return list(self._data)

    def clear(self) -> None:
        for curve in self._curves.values():
            self.plot.removeItem(curve)
        self._curves.clear()
        self._data.clear()
        self._show_legend()

    def _show_legend(self) -> None:
        if not self._curves:
            self.legend.setText("<i>no points yet</i>")
            return
        self.legend.setText(
            " &nbsp; ".join(
                f'<span style="color:{self.colour(s)}">&#9632;</span>&nbsp;'
                f"{html.escape(self.names.get(s, s))}"
                for s in self._curves
            )
        )
