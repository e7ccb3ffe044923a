"""The Train tab in the real app (tiny model, generated photos): teach a category and apply it;
start, cancel and finish a fine-tuning run with live plots; activate the new version."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from clipdesk.model import synth
from clipdesk.tags.categories import Category, Label
from clipdesk.tags.store.tag_store import TagStore
from clipdesk.ui.train_tab import TrainTab
from tests.ui.conftest import wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks", "one_torch_thread")


# every label of a category needs this many examples for held-out checks (folds) to run
PER_LABEL_FOR_FOLDS = 3


def _open_with_labels(
    qtbot, make_app, tiny_model, synth_photos, per_label: int = 0, label: str = "{}"
):
    """The app over the generated photos, each photo's colour confirmed in 'Colour' for the
    colours that have at least ``per_label`` photos (the category has those labels only, each
    named ``label.format(colour)``)."""
    root, photos = synth_photos
    controller, window = make_app(tiny_model)
    with qtbot.waitSignal(controller.jobs.finished, timeout=120_000):
        controller.add_folder(str(root))
    wait_idle(qtbot, controller)
    lib = controller.backend.services.library
    found = Counter(ph.spec.colour for ph in photos)
    colours = [c for c in synth.COLOURS if found[c] >= per_label]
    tags = TagStore(lib)  # the labels a user would have confirmed, written straight in
    tags.add_category(Category("Colour", tuple(Label(label.format(c)) for c in colours)))
    lid = {c: tags.label_ids("Colour")[label.format(c)] for c in colours}
    by_path = {str(p.path): p for p in lib.photos()}
    with lib.transaction() as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO photo_tags(photo_id, label_id, state, updated_at) "
            "VALUES(?, ?, 'confirmed', ?)",
            [
                (by_path[str(ph.path)].id, lid[ph.spec.colour], time.time())
                for ph in photos
                if ph.spec.colour in colours
            ],
        )
    window.show_page("Train")
    tab = window.train
    assert isinstance(tab, TrainTab)
    tab.refresh()
    return controller, window, tab


@pytest.fixture
def app_with_labels(qtbot, make_app, tiny_model, synth_photos):
    """Every photo's colour confirmed, in a category of all the colours."""
    return _open_with_labels(qtbot, make_app, tiny_model, synth_photos)


@pytest.fixture
def app_with_held_out_labels(qtbot, make_app, tiny_model, synth_photos):
    """Only the colours with enough photos for held-out checks, and their photos confirmed;
    label names as long as people write them (they must fit the tables too)."""
    return _open_with_labels(
        qtbot,
        make_app,
        tiny_model,
        synth_photos,
        PER_LABEL_FOR_FOLDS,
        label="{} shapes on a patterned background",
    )


def test_teach_tags_trains_shows_before_after_and_applies(
    qtbot, app_with_held_out_labels, synth_photos
):
    controller, _window, tab = app_with_held_out_labels
    heads = tab.heads
    found = Counter(ph.spec.colour for ph in synth_photos[1])
    labelled = sum(n for n in found.values() if n >= PER_LABEL_FOR_FOLDS)
    qtbot.waitUntil(lambda: heads.category.findText("Colour") >= 0, timeout=20_000)
    heads.category.setCurrentText("Colour")
    qtbot.waitUntil(lambda: heads.counts.rowCount() > 0, timeout=20_000)
    assert f"{labelled} labelled photos" in heads.status.text()
    heads.calibrate.setChecked(True)
    with qtbot.waitSignal(heads.trained, timeout=60_000):
        heads.train_button.click()
    assert [r[0] for r in heads.metrics.rows[:2]] == ["Accuracy", "Mean AP"]
    assert heads.metrics.rows[-1][0] == "Threshold (90.0% precision)"
    assert heads.compare.rowCount() > 0 and heads.apply_button.isEnabled()
    tags = controller.backend.services.tags

    def colour_scores() -> dict[tuple[int, str], float]:
        return {
            (t.photo_id, t.label): round(float(t.score or 0), 5)
            for pid in [p.id for p in controller.backend.services.library.photos()]
            for t in tags.tags_of(pid)
            if t.category == "Colour"
        }

    tags.apply(["Colour"])
    zero_shot = colour_scores()
    with qtbot.waitSignal(heads.applied, timeout=60_000):
        heads.apply_button.click()
    from clipdesk.tags.heads.store import applied_heads

    assert applied_heads(controller.backend.services.library) == [(controller.model.id, "Colour")]
    wait_idle(qtbot, controller)
    with_head = colour_scores()
    if not heads.report.head.is_zero_shot:  # (the tiny model's head may equal zero-shot)
        assert with_head != zero_shot  # retagged with the head at once
    tags.apply(["Colour"])
    assert colour_scores() == with_head  # and nothing was left for `tags apply` to change


def test_finetune_start_cancel_then_finish_and_activate(qtbot, app_with_labels):
    controller, _window, tab = app_with_labels
    ft = tab.finetune
    tab.tabs.setCurrentWidget(ft)
    qtbot.waitUntil(lambda: "24 pairs" in ft.sources["tags"].text(), timeout=20_000)
    ft.sources["folders"].setChecked(True)
    ft.batch.setValue(8)
    ft.lr.setValue(1e-3)

    ft.epochs.setValue(100)  # long enough to cancel mid-run
    ft.start_button.click()
    assert ft.running and ft.cancel_button.isEnabled() and not ft.start_button.isEnabled()
    qtbot.waitUntil(lambda: len(ft.loss_plot.points("train loss")) >= 2, timeout=60_000)
    with qtbot.waitSignal(ft.cancelled, timeout=60_000):
        ft.cancel_button.click()
    assert not ft.running and ft.start_button.isEnabled()
    qtbot.waitUntil(lambda: ft.resume_button.isEnabled(), timeout=20_000)

    ft.epochs.setValue(0.1)  # the minimum number of steps
    with qtbot.waitSignal(ft.finished, timeout=120_000) as done:
        ft.start_button.click()
    result = done.args[0]
    assert result.steps == 20
    assert ft.progress.value() == ft.progress.maximum() == 20
    steps = [x for x, _ in ft.loss_plot.points("train loss")]
    assert steps == list(range(1, 21))
    val = ft.val_plot.points("t2i_recall@5")
    assert val[0][0] == 0 and val[-1][0] == 20
    assert ft.metrics.keys[:2] == ["t2i_recall@1", "t2i_recall@5"]
    assert [r[0] for r in ft.metrics.rows][:2] == ["Text → image R@1", "Text → image R@5"]
    assert ft.sweep.rowCount() == 5 and ft.save_blend_button.isEnabled()
    qtbot.waitUntil(lambda: ft.versions.rowCount() == 1, timeout=20_000)
    assert ft.versions.keys == [result.model_name]
    ft.alpha.setValue(25)
    ft.save_blend_button.click()
    qtbot.waitUntil(lambda: ft.versions.rowCount() == 2, timeout=30_000)
    ft.versions_view.clearSelection()

    ft.versions_view.selectRow(ft.versions.keys.index(result.model_name))
    with qtbot.waitSignal(controller.modelReady, timeout=60_000):
        ft.activate_button.click()
    # the shared settings name it: clipdesk-cli uses the same model now
    assert controller.shared_settings.model() == result.model_name
    assert controller.model.name == result.model_name
    wait_idle(qtbot, controller)


def _train_both(qtbot, tab) -> None:
    """A head training of Colour and a short fine-tuning run, as a user would start them."""
    heads, ft = tab.heads, tab.finetune
    qtbot.waitUntil(lambda: heads.category.findText("Colour") >= 0, timeout=20_000)
    heads.category.setCurrentText("Colour")
    qtbot.waitUntil(lambda: heads.counts.rowCount() > 0, timeout=20_000)
    heads.calibrate.setChecked(True)
    with qtbot.waitSignal(heads.trained, timeout=60_000):
        heads.train_button.click()
    tab.tabs.setCurrentWidget(ft)
    qtbot.waitUntil(lambda: " pairs" in ft.sources["tags"].text(), timeout=20_000)
    ft.sources["folders"].setChecked(True)
    ft.batch.setValue(8)
    ft.lr.setValue(1e-3)
    ft.epochs.setValue(0.1)
    with qtbot.waitSignal(ft.finished, timeout=120_000):
        ft.start_button.click()
    qtbot.waitUntil(lambda: ft.versions.rowCount() == 1, timeout=20_000)


def _sideways_scrollers(widget) -> list[str]:
    """The visible scroll areas under ``widget`` showing a horizontal scrollbar, and the tables
    whose columns do not fit (what a hidden scrollbar would hide)."""
    from PySide6.QtWidgets import QAbstractScrollArea

    from clipdesk.ui.train_tables import FitTable

    found = []
    for area in widget.findChildren(QAbstractScrollArea):
        if not area.isVisible():
            continue
        if area.horizontalScrollBar().isVisible():
            found.append(f"{type(area).__name__} {area.objectName()} scrolls sideways")
        if isinstance(area, FitTable) and not area.columns_fit():
            found.append(f"table {area.model().headers} is wider than its view")
    return found


def test_train_page_fits_1280_by_800_without_sideways_scrolling_and_reflows_at_800(
    qtbot, app_with_held_out_labels
):
    controller, window, tab = app_with_held_out_labels
    _train_both(qtbot, tab)
    wait_idle(qtbot, controller)
    heads, ft = tab.heads, tab.finetune
    assert heads.compare.rowCount() > 0 and ft.metrics.rowCount() > 0 and ft.sweep.rowCount()

    window.resize(1280, 800)
    for page in (heads, ft):
        tab.tabs.setCurrentWidget(page)
        qtbot.waitUntil(lambda p=page: p.isVisible() and p.width() > 900)
        qtbot.wait(50)  # (one event loop pass: the layouts settle)
        assert _sideways_scrollers(tab) == []
    assert heads.tables.wide and ft.columns.wide  # side by side at 1280 px
    for plot in (ft.loss_plot, ft.val_plot):
        assert plot.title.height() >= plot.title.heightForWidth(plot.title.width())

    # the window's narrowest: stacked, scrolling vertically if it must, never sideways
    assert tab.minimumSizeHint().width() <= 800 - window.nav.width()
    window.resize(800, 600)
    for page in (heads, ft):
        tab.tabs.setCurrentWidget(page)
        qtbot.waitUntil(lambda p=page: p.isVisible() and p.width() <= 800 - window.nav.width())
        qtbot.wait(50)
        assert _sideways_scrollers(tab) == []
    assert not heads.tables.wide and not ft.columns.wide
    for page in (heads, ft):
        content = page.scroll_area.widget()
        assert content.width() <= page.scroll_area.viewport().width()  # nothing cut off


def test_held_out_examples_are_thumbnails_made_off_the_gui_thread(
    qtbot, app_with_held_out_labels, monkeypatch
):
    import threading

    from PySide6.QtCore import Qt
    from PySide6.QtGui import QIcon

    from clipdesk.ui import thumbnails

    made_on = []
    real = thumbnails.load_or_make

    def recording(path, px=thumbnails.THUMB_PX):
        made_on.append(threading.current_thread() is threading.main_thread())
        return real(path, px)

    monkeypatch.setattr(thumbnails, "load_or_make", recording)
    _controller, _window, tab = app_with_held_out_labels
    heads = tab.heads
    qtbot.waitUntil(lambda: heads.category.findText("Colour") >= 0, timeout=20_000)
    heads.category.setCurrentText("Colour")
    qtbot.waitUntil(lambda: heads.counts.rowCount() > 0, timeout=20_000)
    with qtbot.waitSignal(heads.trained, timeout=60_000):
        heads.train_button.click()
    model = heads.compare
    assert model.rowCount() > 0
    first = model.index(0, 0)
    assert model.data(first) == ""  # a picture, not a file name
    assert model.data(first, Qt.ItemDataRole.ToolTipRole).endswith((".jpg", ".png"))

    def thumbnail():
        icon = model.data(first, Qt.ItemDataRole.DecorationRole)
        return isinstance(icon, QIcon) and not icon.isNull()

    qtbot.waitUntil(thumbnail, timeout=20_000)
    assert made_on and not any(made_on)


def test_last_results_of_both_trainings_are_shown_again_after_a_restart(
    qtbot, app_with_held_out_labels, make_app, tiny_model, tmp_path
):
    controller, window, tab = app_with_held_out_labels
    _train_both(qtbot, tab)
    wait_idle(qtbot, controller)
    heads, ft = tab.heads, tab.finetune
    before = {
        "metrics": heads.metrics.rows,
        "compare": heads.compare.keys,
        "ft_metrics": ft.metrics.rows,
        "loss": ft.loss_plot.points("train loss"),
        "recall": ft.val_plot.points("t2i_recall@5"),
        "sweep": ft.sweep.rows,
    }
    assert before["metrics"] and before["compare"] and before["loss"] and before["recall"]
    window.close()
    controller.shutdown()

    controller2, window2 = make_app(tiny_model, library=tmp_path / "library.sqlite3")
    window2.show_page("Train")
    tab2 = window2.train
    tab2.refresh()
    heads2, ft2 = tab2.heads, tab2.finetune
    qtbot.waitUntil(lambda: heads2.category.findText("Colour") >= 0, timeout=20_000)
    heads2.category.setCurrentText("Colour")
    qtbot.waitUntil(lambda: heads2.metrics.rows == before["metrics"], timeout=20_000)
    assert heads2.compare.keys == before["compare"]
    assert "last training" in heads2.status.text()
    tab2.tabs.setCurrentWidget(ft2)
    qtbot.waitUntil(lambda: ft2.metrics.rows == before["ft_metrics"], timeout=20_000)
    assert ft2.loss_plot.points("train loss") == before["loss"]
    assert ft2.val_plot.points("t2i_recall@5") == before["recall"]
    assert ft2.sweep.rows == before["sweep"] and ft2.save_blend_button.isEnabled()
    assert "Last run" in ft2.eta.text()

    # the kept head is the real thing: it can be applied after the restart
    assert heads2.apply_button.isEnabled()
    with qtbot.waitSignal(heads2.applied, timeout=60_000):
        heads2.apply_button.click()
    from clipdesk.tags.heads.store import applied_heads

    assert applied_heads(controller2.backend.services.library) == [(controller2.model.id, "Colour")]
    wait_idle(qtbot, controller2)
