"""Catalog speeds measured on a made-up machine, for the tests of the speed figures, the model
picker's table and the CLI's catalog: the real file is measured by bench/engine.py and changes
with every run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from clipdesk.model import speed

MACHINE = "Catalog CPU, 2 logical cores"


def catalog_speeds(archs: Mapping[str, speed.ArchSpeed]) -> speed.CatalogSpeeds:
    """``archs`` (architecture -> speed) as measured on the made-up catalog machine."""
    return speed.CatalogSpeeds(
        machine=MACHINE, device="cpu", threads=2, measured="2025-01-01", batch=8, archs=dict(archs)
    )


def use_catalog_speeds(
    monkeypatch: pytest.MonkeyPatch, path: Path, archs: Mapping[str, speed.ArchSpeed]
) -> speed.CatalogSpeeds:
    """The made-up catalog speeds saved to ``path`` and read from there instead of the real file."""
    speeds = catalog_speeds(archs)
    speed.save_catalog_speeds(speeds, path)
    monkeypatch.setattr(speed, "SPEEDS_FILE", path)
    return speeds
