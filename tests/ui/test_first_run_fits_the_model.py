"""A first run that fits the model: with the demo model the search box and the first-run page
suggest words it knows and say that real photos need a real model (with the suggested model's
size and download time); with a real model, real-world examples; a Min score that hides matches
explains itself with a one-click reset; a failed search leaves no stale photos; switching from
the demo model to a real one offers the real-world starter categories."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from clipdesk.common import paths
from clipdesk.model.testing import tiny_random_model
from clipdesk.services import download_rate
from clipdesk.ui.controller import AppController
from clipdesk.ui.model_panel import ModelPanel
from clipdesk.ui.photo_model import Role
from clipdesk.ui.query_examples import DEMO_NOTE
from clipdesk.ui.search_page import SLIDER_SCALE
from clipdesk.ui.settings import AppSettings
from clipdesk.ui.welcome import WelcomePage
from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")

B32 = "clip-vit-base-patch32"
B32_COST = "~605 MB, about 1 min at 10 MB/s"


def _names(window) -> list[str]:
    model = window.search.grid.photos
    return [
        str(model.index(r, 0).data(Role.Path)).rsplit("/", 1)[-1] for r in range(model.rowCount())
    ]


def _search(qtbot, window, text: str) -> None:
    with qtbot.waitSignal(window.search.resultsShown, timeout=30_000):
        window.search.box.set_text(text)


def test_with_the_demo_model_the_search_box_suggests_its_words_and_the_min_score_explains_itself(
    qtbot, make_app, demo_model, colour_photos
):
    root, _paths = colour_photos  # 4 colours x 3 shapes x 2
    controller, window = make_app(demo_model)
    box = window.search.box
    assert "a red circle" in box.line.placeholderText()
    assert "beach" not in box.line.placeholderText() and DEMO_NOTE in box.help_html
    add_and_index(qtbot, controller, str(root))
    page = window.search

    page.min_score.setValue(round(0.95 * SLIDER_SCALE))
    _search(qtbot, window, "a red circle")
    qtbot.waitUntil(lambda: "show all" in page.summary.text(), timeout=30_000)
    assert "0 matches above 0.95, 24 below it" in page.summary.text()
    assert page.grid.photos.rowCount() == 0
    with qtbot.waitSignal(page.resultsShown, timeout=30_000):
        page.summary.linkActivated.emit("reset-min-score")  # the link's click
    assert page.min_score.value() == 0 and page.grid.photos.rowCount() == 24
    assert "show all" not in page.summary.text()
    assert set(_names(window)[:2]) == {"red-circle-1.jpg", "red-circle-2.jpg"}

    # fewer than it would: the red circles pass, the rest is counted below the line
    with qtbot.waitSignal(page.resultsShown, timeout=30_000):
        page.min_score.setValue(round(0.65 * SLIDER_SCALE))
    qtbot.waitUntil(lambda: "show all" in page.summary.text(), timeout=30_000)
    assert "2 matches above 0.65, 22 more below it" in page.summary.text()

    # a failed search empties the grid: the photos of the query before do not stay
    with qtbot.waitSignal(page.searchFailed, timeout=30_000):
        box.set_text("+ -- +0.5")
    assert page.grid.photos.rowCount() == 0
    assert page.summary.text().startswith("Search failed")
    wait_idle(qtbot, controller)


def test_with_a_real_model_the_search_box_gives_real_world_examples(qtbot, make_app, tiny_model):
    _controller, window = make_app(tiny_model)
    box = window.search.box
    assert "kids on a beach" in box.line.placeholderText()
    assert DEMO_NOTE not in box.help_html and "a red circle" not in box.help_html


def test_switching_from_the_demo_to_a_real_model_offers_the_real_world_categories(
    qtbot, make_app, demo_model, tiny_model
):
    controller, window = make_app(demo_model)
    qtbot.waitUntil(lambda: window.tags.cats.row_of("Shape") is not None, timeout=30_000)
    assert window.tags.cats.row_of("Pets") is None  # the demo's own set
    offer = window.tags.starters
    assert offer.box is None
    with qtbot.waitSignal(controller.modelReady, timeout=60_000):
        controller.activate_model(str(tiny_model))
    qtbot.waitUntil(lambda: offer.box is not None, timeout=30_000)
    assert "Scene, Who, Pets, Subject" in offer.box.text()
    offer.box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: window.tags.cats.row_of("Pets") is not None, timeout=60_000)
    assert window.tags.cats.row_of("Shape") is not None  # the demo's set stays
    wait_idle(qtbot, controller)
    assert controller.backend.services.tags.starter_offer() is None


@pytest.fixture
def panel(qtbot, workers):
    widget = ModelPanel(workers)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitUntil(lambda: widget.model.row_of(B32) >= 0, timeout=30_000)
    yield widget
    widget.close()


def test_the_demo_chosen_the_panel_says_what_it_knows_and_offers_a_real_model_with_its_cost(
    qtbot, panel, monkeypatch
):
    qtbot.waitUntil(lambda: not panel.demo_note.isHidden(), timeout=10_000)
    assert DEMO_NOTE in panel.demo_note.text()
    assert panel.suggest_button.text() == f"Download OpenAI ViT-B/32 ({B32_COST})…"
    assert "assumed" in panel.suggest_button.toolTip()
    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda *a, **k: (asked.append(a[2]), QMessageBox.StandardButton.No)[1],
    )
    panel.suggest_button.click()
    assert B32_COST in asked[0] and "assumed connection speed" in asked[0]
    assert panel.current_row().name == B32
    assert panel.download_button.text() == f"Download OpenAI ViT-B/32 ({B32_COST})…"
    assert panel.demo_note.isHidden()  # a catalog row is current, not the demo


def test_a_measured_download_speed_replaces_the_assumed_one(qtbot, workers):
    download_rate.save(2.5e6)  # the last download here
    widget = ModelPanel(workers)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitUntil(lambda: not widget.suggest_button.isHidden(), timeout=30_000)
    assert (
        widget.suggest_button.text()
        == "Download OpenAI ViT-B/32 (~605 MB, about 4 min at 2.5 MB/s)…"
    )
    assert "last model download" in widget.suggest_button.toolTip()
    widget.close()


def test_with_a_real_model_installed_no_download_is_pushed(qtbot, workers):
    tiny_random_model(paths.models_dir(), name="my-model")
    widget = ModelPanel(workers)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitUntil(lambda: widget.model.row_of("my-model") >= 0, timeout=30_000)
    assert widget.select("clipdesk-mini")
    assert not widget.demo_note.isHidden() and widget.suggest_button.isHidden()
    widget.close()


def test_the_first_run_hints_follow_the_model_chosen(qtbot, workers, tmp_path):
    tiny_random_model(paths.models_dir(), name="my-model")
    controller = AppController(AppSettings(tmp_path / "ui.ini"), workers)
    page = WelcomePage(controller)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.models.model.row_of("my-model") >= 0, timeout=30_000)
    qtbot.waitUntil(lambda: "a red circle" in page.note.text(), timeout=10_000)  # the demo
    assert "Real photos need a real model" in page.note.text()
    assert page.models.select("my-model")
    assert "kids on a beach at sunset" in page.note.text() and "red circle" not in page.note.text()
    page.close()
