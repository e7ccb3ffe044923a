"""Test-wide set-up: offscreen Qt and a private ClipDesk home for every test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

# PySide6 6.12 on Python 3.11 frees None/True/False after enough signals: pin them first
# (clipdesk/ui/pyside_compat.py explains).
import clipdesk.ui  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """No test may touch the real user config, models or library."""
    home = tmp_path_factory.mktemp("clipdesk-home")
    monkeypatch.setenv("CLIPDESK_HOME", str(home))
    monkeypatch.delenv("CLIPDESK_LIBRARY", raising=False)
    # PyTorch unless a test asks for ONNX Runtime: the suite's numbers were written for it, and
    # an ONNX export per test home would cost seconds each (tests/model/test_runtime*.py test it).
    monkeypatch.setenv("CLIPDESK_RUNTIME", "torch")
    # No OCR unless a test asks for it (the `reading_text` fixture, or tests/ocr's readers):
    # reading every test photo's text would triple the time of every indexing test.
    monkeypatch.setenv("CLIPDESK_OCR", "off")
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    yield home


@pytest.fixture
def reading_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """OCR passes read in this test, as they do for users (the suite's default is off)."""
    monkeypatch.delenv("CLIPDESK_OCR", raising=False)


@pytest.fixture
def one_torch_thread():
    """Training tests run torch on one thread (steady numbers, the other core left to the rest),
    and give the thread count back so later tests are not slowed."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
