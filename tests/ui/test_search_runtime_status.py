"""The search page's status line names the runtime that ranked the matches."""

from __future__ import annotations

import pytest

from tests.ui.conftest import add_and_index

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_the_status_line_says_which_runtime_ranked_the_matches(
    qtbot, make_app, tiny_model, synth_photos
):
    root, photos = synth_photos
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, root)
    page = window.search
    with qtbot.waitSignal(page.resultsShown, timeout=30_000):
        page.box.set_text("a red star")
    assert page.summary.text() == f"{len(photos)} matches · PyTorch fp32"
    with qtbot.waitSignal(page.resultsShown, timeout=30_000):
        page.box.set_text("")  # browsing ranks nothing: no runtime to name
    assert page.summary.text() == f"{len(photos)} photos"
