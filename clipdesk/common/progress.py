"""One progress report type and one cancel token for every long job (index, re-embed, train)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from clipdesk.common.errors import CancelledError


@dataclass(frozen=True)
class Progress:
    done: int
    total: int | None
    rate: float = 0.0  # items per second, smoothed
    eta_s: float | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """Cooperative cancellation: the job polls it between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise CancelledError("cancelled")


class RateMeter:
    """Turns (done, total) counts into a Progress with a smoothed rate and an ETA."""

    def __init__(self, total: int | None, smoothing: float = 0.3) -> None:
        self.total = total
        self._smoothing = smoothing
        self._start = time.monotonic()
        self._last_t = self._start
        self._last_done = 0
        self._rate = 0.0

    def update(self, done: int, message: str = "") -> Progress:
        now = time.monotonic()
        dt = now - self._last_t
        if dt > 0 and done > self._last_done:
            inst = (done - self._last_done) / dt
            self._rate = (
                inst
                if self._rate == 0
                else (self._smoothing * inst + (1 - self._smoothing) * self._rate)
            )
            self._last_t, self._last_done = now, done
        eta = None
        if self.total is not None and self._rate > 0:
            eta = max(0.0, (self.total - done) / self._rate)
        return Progress(done=done, total=self.total, rate=self._rate, eta_s=eta, message=message)


def short_duration(seconds: float) -> str:
    """A duration as a progress line says it: "45 s", "12 min", "3 h 20 min" (at least 1 s)."""
    s = int(round(seconds))
    if s < 60:
        return f"{max(s, 1)} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    return f"{s // 3600} h {s % 3600 // 60} min"
