"""Structured results for ``bench/run_all.py`` (optional for a benchmark; plain output still works).

A benchmark keeps printing its side-by-side table for humans and may also call::

    from _report import record          # bench/ is the script's own directory
    record(metrics={"ClipDesk / peer": 0.31},
           series=[{"title": "Search latency vs library size", "x_label": "photos",
                    "y_label": "ms", "log_x": True,
                    "lines": {"ClipDesk": [[1000, 0.2], [100000, 4.1]], "numpy": [...]}}])

When run by run_all, ``CLIPDESK_BENCH_JSON`` names the file to write; otherwise nothing happens.
Several calls merge (metrics update, series append). ``quick()`` says whether run_all asked for
a short run (``CLIPDESK_BENCH_QUICK=1``) so a benchmark can shrink its sizes.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

JSON_ENV = "CLIPDESK_BENCH_JSON"
QUICK_ENV = "CLIPDESK_BENCH_QUICK"


def quick() -> bool:
    return os.environ.get(QUICK_ENV) == "1"


def record(
    *, metrics: dict[str, float | str] | None = None, series: list[dict[str, Any]] | None = None
) -> None:
    target = os.environ.get(JSON_ENV)
    if not target:
        return
    path = Path(target)
    data: dict[str, Any] = {"metrics": {}, "series": []}
    if path.exists():
        with contextlib.suppress(ValueError):
            data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("metrics", {}).update(metrics or {})
    data.setdefault("series", []).extend(series or [])
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
