"""The bundled demo model (ClipDesk-Mini) for semantic tests; they skip until it is built."""

from __future__ import annotations

import pytest


def load_demo_model():
    from clipdesk.model import load_model, manager

    path = manager.find_model("clipdesk-mini")
    if path is None:
        pytest.fail(
            "the bundled demo model models/clipdesk-mini is missing "
            "(rebuild: python3 models/train_mini.py)"
        )
    return load_model(path, device="cpu")
