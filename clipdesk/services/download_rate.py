"""How long a model download takes here, for both faces: the rate of this computer's last
model download, else a stated assumption (:data:`ASSUMED_BYTES_PER_S`), never a guess passed
off as a measurement.

:class:`RateRecorder` wraps a download's progress callback and, when the download succeeds,
stores its bytes per second in the user's cache folder; :func:`current` reads it back.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from clipdesk.common import paths
from clipdesk.common.progress import Progress, ProgressCallback, short_duration

log = logging.getLogger(__name__)

ASSUMED_BYTES_PER_S = 10e6  # 80 Mbit/s: a common home connection
RATE_FILE = "download_rate.json"  # in the user's cache folder
# A transfer shorter than this says more about the connection's start-up than its speed.
MIN_SAMPLE_BYTES = 5_000_000
MIN_SAMPLE_S = 1.0


def _mb_per_s(rate: float) -> str:
    mb = rate / 1e6
    return f"{mb:.0f} MB/s" if mb >= 10 else f"{mb:.1f} MB/s"


@dataclass(frozen=True)
class DownloadRate:
    """Bytes per second a download is expected to reach, and where that figure comes from."""

    bytes_per_s: float
    measured: str = ""  # when this computer's last download measured it ("": assumed)

    @classmethod
    def assumed(cls) -> DownloadRate:
        return cls(ASSUMED_BYTES_PER_S)

    def seconds(self, n_bytes: int) -> float:
        return n_bytes / self.bytes_per_s

    def estimate(self, n_bytes: int) -> str:
        """How long ``n_bytes`` take, e.g. "about 1 min at 10 MB/s" ("" for an unknown size)."""
        if n_bytes <= 0:
            return ""
        return f"about {short_duration(self.seconds(n_bytes))} at {_mb_per_s(self.bytes_per_s)}"

    @property
    def basis(self) -> str:
        """Where the rate comes from, in words."""
        if self.measured:
            return f"the speed of the last model download here ({self.measured[:10]})"
        return "an assumed connection speed: no model was downloaded here yet"

    def describe(self) -> str:
        """The rate and where it comes from, e.g. "10 MB/s, an assumed connection speed: …"."""
        return f"{_mb_per_s(self.bytes_per_s)}, {self.basis}"

    def to_json(self) -> dict[str, object]:
        return {"bytes_per_s": round(self.bytes_per_s), "measured": self.measured or None}


def current() -> DownloadRate:
    """The last download's rate here, else the assumed one."""
    path = paths.cache_dir() / RATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rate = float(data["bytes_per_s"])
        measured = str(data["measured"])
    except FileNotFoundError:
        return DownloadRate.assumed()
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return DownloadRate.assumed()
    return DownloadRate(rate, measured) if rate > 0 else DownloadRate.assumed()


def save(bytes_per_s: float) -> DownloadRate:
    """Store a measured rate (atomically: a half-written file is never read back)."""
    rate = DownloadRate(bytes_per_s, datetime.now(UTC).isoformat(timespec="seconds"))
    path = paths.cache_dir() / RATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rate.to_json(), indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return rate


class RateRecorder:
    """A download's progress callback that also times the bytes it reports (a resumed
    download's bytes already on disk do not count), passing every report on to ``inner``."""

    def __init__(self, inner: ProgressCallback | None = None) -> None:
        self._inner = inner
        self._first: tuple[float, int] | None = None
        self._last: tuple[float, int] | None = None

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = (now, p.done)
        self._last = (now, p.done)
        if self._inner is not None:
            self._inner(p)

    def rate(self) -> float | None:
        """Bytes per second over the reported transfer; None for one too short to tell."""
        if self._first is None or self._last is None:
            return None
        seconds = self._last[0] - self._first[0]
        moved = self._last[1] - self._first[1]
        if seconds < MIN_SAMPLE_S or moved < MIN_SAMPLE_BYTES:
            return None
        return moved / seconds

    def save(self) -> None:
        """Keep the rate for the next estimate; a cache that cannot be written only logs."""
        rate = self.rate()
        if rate is None:
            return
        try:
            save(rate)
        except OSError as exc:
            log.warning("could not keep the download rate: %s", exc)
