"""Fixtures the CLI tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from clipdesk.model.testing import tiny_random_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP checkpoint, one per test module."""
    return tiny_random_model(tmp_path_factory.mktemp("models"))
