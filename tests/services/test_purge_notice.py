"""The purge rule, worked out once (services) and said the same way by both faces."""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from clipdesk.scanning.scanner import PURGE_SETTING
from clipdesk.services.app import ClipDeskServices
from clipdesk.services.purge_notice import DAY_S, notice, purge_days, rule_text
from tests.support.photofiles import make_photo


@pytest.fixture
def app(tmp_path: Path):
    svc = ClipDeskServices(tmp_path / "lib.sqlite3", device="cpu")
    yield svc
    svc.close()


def test_missing_photos_say_when_they_will_be_removed(app, tmp_path):
    root = tmp_path / "Pictures"
    for i in range(4):
        make_photo(root / f"p{i}.jpg", seed=i)
    app.folders.add(root)
    os.remove(root / "p0.jpg")
    os.remove(root / "p1.jpg")
    app.folders.scan()
    (record,) = app.folders.list()
    _, since, _ = app.library.missing_since()[record.id]
    day = datetime.fromtimestamp(since + 30 * DAY_S).date().isoformat()
    assert record.purge.text == f"2 photos missing for 30 days will be removed on {day}"
    assert app.folders.get(record.id).purge == record.purge
    assert "30 days" in app.folders.purge_rule() and "offline" in app.folders.purge_rule()

    shutil.move(root, tmp_path / "unplugged")
    app.folders.scan()
    (record,) = app.folders.list()
    assert record.purge.text == (
        "2 photos missing, kept while the folder is offline; "
        "2 photos offline are kept until the drive is back or you remove the folder"
    )
    app.library.set_setting(PURGE_SETTING, None)
    shutil.move(tmp_path / "unplugged", root)
    app.folders.scan()
    assert "turned off" in app.folders.list()[0].purge.text
    assert "until you remove them" in app.folders.purge_rule()


def test_the_notice_dates_a_range_and_an_overdue_removal_today():
    today = date(2026, 12, 1)
    noon = datetime(2026, 12, 4, 12).timestamp()
    span = notice((12, noon, noon + 17 * DAY_S), 0, 30.0, False, today)
    assert (
        span.text == "12 photos missing for 30 days will be removed from 2027-01-03 to 2027-01-20"
    )
    overdue = notice((1, noon - 90 * DAY_S, noon - 90 * DAY_S), 0, 30.0, False, today)
    assert overdue.text == "1 photo missing for 30 days will be removed on 2026-12-01"
    assert notice(None, 0, 30.0, False, today) is None
    assert [purge_days(v) for v in (30, 0.5, None, -1, "30", True)] == [
        30.0,
        0.5,
        None,
        None,
        None,
        None,
    ]
    assert rule_text(1.0).startswith("Photos missing for 1 day are removed")
