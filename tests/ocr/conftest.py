"""Readers shared by the OCR tests: loading the models costs about a second, so once."""

from __future__ import annotations

import pytest

from clipdesk.ocr import TextReader


@pytest.fixture(scope="session")
def reader():
    """The defaults the app uses, on two threads."""
    made = TextReader(threads=2)
    yield made
    made.close()


@pytest.fixture(scope="session")
def permissive():
    """Keeps every line it recognises, however small or unsure: what the filters drop."""
    made = TextReader(threads=2, min_confidence=0.0, min_text_height=0.0)
    yield made
    made.close()
