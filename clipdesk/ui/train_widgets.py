"""Small pieces the Train tab's panels share: the worker-to-GUI relay and how figures read
(fractions as percentages, changes in points, metric keys in words, time left)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

# How the validation metrics of a fine-tuning run (clipdesk.model.finetune_eval) are named.
METRIC_NAMES = {
    "t2i_recall@1": "Text → image R@1",
    "t2i_recall@5": "Text → image R@5",
    "t2i_recall@10": "Text → image R@10",
    "i2t_recall@1": "Image → text R@1",
    "i2t_recall@5": "Image → text R@5",
    "i2t_recall@10": "Image → text R@10",
    "loss": "Loss (nats)",
}


class Relay(QObject):
    """Signals a worker thread emits and the GUI thread receives (queued across threads)."""

    progress = Signal(object)  # clipdesk.common.progress.Progress
    point = Signal(str, int, object)  # (kind, step, {series: value}) for live plots
    stopped = Signal()  # the run ended by cancel (its checkpoint is saved)
    # a run cancelled while its saved version was being prepared for ONNX Runtime: the version
    # stands, and the result is delivered through here (a cancelled task's never is)
    saved = Signal(object)


def metric_name(key: str) -> str:
    return METRIC_NAMES.get(key, key)


def pct(v: float | None) -> str:
    """A fraction (accuracy, precision, recall) as a percentage: 0.9375 -> "93.8%"."""
    return "–" if v is None else f"{100 * v:.1f}%"


def metric_value(key: str, v: float | None) -> str:
    """A fine-tuning metric as it reads: recalls in %, the loss as a number."""
    if v is None:
        return "–"
    return f"{v:.2f}" if key == "loss" else pct(v)


def delta(before: float | None, after: float | None) -> str:
    """The change of a fraction in percentage points: 0.80 -> 0.85 gives "+5.0"."""
    if before is None or after is None:
        return "–"
    return f"{100 * (after - before):+.1f}"


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"about {s} s left"
    if s < 3600:
        return f"about {s // 60} min {s % 60:02d} s left"
    return f"about {s // 3600} h {s % 3600 // 60:02d} min left"
