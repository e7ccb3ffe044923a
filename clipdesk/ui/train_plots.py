"""Live training plots (pyqtgraph): named series that grow point by point as a run reports."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

# Distinct, colour-blind-friendly pens (Okabe-Ito).
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9")


class LivePlot(QWidget):
    """A plot of ``series name -> [(x, y)]``; :meth:`add_point` appends and redraws that series."""

    def __init__(
        self, title: str, x_label: str, y_label: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(self)
        self.plot.setBackground(None)  # follow the window palette (light or dark)
        self.plot.setTitle(title)
        self.plot.setLabel("bottom", x_label)
        self.plot.setLabel("left", y_label)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.addLegend(offset=(-10, 10))
        self.plot.setMinimumHeight(160)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._data: dict[str, tuple[list[float], list[float]]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}

    def add_point(self, series: str, x: float, y: float) -> None:
        xs, ys = self._data.setdefault(series, ([], []))
        xs.append(float(x))
        ys.append(float(y))
        curve = self._curves.get(series)
        if curve is None:
            pen = pg.mkPen(_COLOURS[len(self._curves) % len(_COLOURS)], width=2)
            curve = self.plot.plot(
                xs,
                ys,
                pen=pen,
                name=series,
                symbol="o" if series.startswith("val") or "@" in series else None,
                symbolSize=5,
            )
            self._curves[series] = curve
        else:
            curve.setData(xs, ys)

    def points(self, series: str) -> list[tuple[float, float]]:
        xs, ys = self._data.get(series, ([], []))
        return list(zip(xs, ys, strict=True))

    def series(self) -> list[str]:
        return list(self._data)

    def clear(self) -> None:
        for curve in self._curves.values():
            self.plot.removeItem(curve)
        legend = self.plot.plotItem.legend
        if legend is not None:
            legend.clear()
        self._curves.clear()
        self._data.clear()
