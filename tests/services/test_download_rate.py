"""How long a model download takes: the last download's measured speed, else an assumed one that
says it is assumed; what both faces show beside the catalog's sizes."""

from __future__ import annotations

import time

import pytest

from clipdesk.common.progress import Progress
from clipdesk.services import download_rate
from clipdesk.services.download_rate import ASSUMED_BYTES_PER_S, DownloadRate, RateRecorder
from clipdesk.services.model_catalog import FIRST_DOWNLOAD, CatalogTable
from clipdesk.services.models import ModelService


def test_with_no_download_yet_the_estimate_says_its_speed_is_assumed() -> None:
    rate = download_rate.current()
    assert rate == DownloadRate(ASSUMED_BYTES_PER_S) and not rate.measured
    assert rate.estimate(605_000_000) == "about 1 min at 10 MB/s"
    assert "assumed" in rate.describe()


def test_a_download_measures_the_speed_the_next_estimate_uses(monkeypatch) -> None:
    clock = iter([100.0, 104.0])  # 40 MB moved in 4 s
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    seen: list[Progress] = []
    recorder = RateRecorder(seen.append)
    recorder(Progress(done=10_000_000, total=50_000_000))  # resumed: 10 MB were on disk
    recorder(Progress(done=50_000_000, total=50_000_000))
    assert len(seen) == 2  # every report reaches the download's own progress line
    recorder.save()
    rate = download_rate.current()
    assert rate.bytes_per_s == pytest.approx(10e6) and rate.measured
    assert "last model download" in rate.describe()
    assert DownloadRate(2.5e6, "2025").estimate(600_000_000) == "about 4 min at 2.5 MB/s"


def test_a_transfer_too_short_to_tell_keeps_the_assumption(monkeypatch) -> None:
    clock = iter([0.0, 0.2])
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    recorder = RateRecorder()
    recorder(Progress(done=0, total=1000))
    recorder(Progress(done=1000, total=1000))
    recorder.save()
    assert not download_rate.current().measured


def test_a_damaged_rate_file_is_ignored() -> None:
    from clipdesk.common import paths

    path = paths.cache_dir() / download_rate.RATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json", encoding="utf-8")
    assert download_rate.current() == DownloadRate.assumed()


def test_the_catalog_table_gives_the_suggested_models_size_and_time() -> None:
    table = ModelService().catalog_table()
    assert isinstance(table, CatalogTable)
    row = table.suggested_download()
    assert row is not None and row.name == FIRST_DOWNLOAD and not row.installed
    assert table.download_text(row) == "~605 MB, about 1 min at 10 MB/s"
    assert table.to_json()["download_rate"] == {"bytes_per_s": 10_000_000, "measured": None}
