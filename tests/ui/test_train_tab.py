"""The Train tab in the real app (tiny model, generated photos): teach a category and apply it;
start, cancel and finish a fine-tuning run with live plots; activate the new version."""

from __future__ import annotations

import time

import pytest

from clipdesk.model import synth
from clipdesk.tags.categories import Category, Label
from clipdesk.tags.store.tag_store import TagStore
from clipdesk.ui.train_tab import TrainTab
from clipdesk.ui.train_widgets import RowsModel
from tests.ui.conftest import wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks", "one_torch_thread")


def test_rows_model_passes_qtmodeltester(qtmodeltester):
    model = RowsModel(["a", "b"])
    qtmodeltester.check(model, force_py=True)
    model.set_rows([["x", 0.5], ["y", None]], keys=[1, 2], tips=["p1", "p2"])
    qtmodeltester.check(model, force_py=True)


@pytest.fixture
def app_with_labels(qtbot, make_app, tiny_model, synth_photos):
    """The app over the generated photos, with every photo's colour confirmed in 'Colour'."""
    root, photos = synth_photos
    controller, window = make_app(tiny_model)
    with qtbot.waitSignal(controller.jobs.finished, timeout=120_000):
        controller.add_folder(str(root))
    wait_idle(qtbot, controller)
    lib = controller.backend.services.library
    tags = TagStore(lib)  # the labels a user would have confirmed, written straight in
    tags.add_category(Category("Colour", tuple(Label(c) for c in synth.COLOURS)))
    lid = tags.label_ids("Colour")
    by_path = {str(p.path): p for p in lib.photos()}
    with lib.transaction() as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO photo_tags(photo_id, label_id, state, updated_at) "
            "VALUES(?, ?, 'confirmed', ?)",
            [(by_path[str(ph.path)].id, lid[ph.spec.colour], time.time()) for ph in photos],
        )
    window.show_page("Train")
    tab = window.train
    assert isinstance(tab, TrainTab)
    tab.refresh()
    return controller, window, tab


def test_teach_tags_trains_shows_before_after_and_applies(qtbot, app_with_labels):
    controller, _window, tab = app_with_labels
    heads = tab.heads
    qtbot.waitUntil(lambda: heads.category.findText("Colour") >= 0, timeout=20_000)
    heads.category.setCurrentText("Colour")
    qtbot.waitUntil(lambda: heads.counts.rowCount() == len(synth.COLOURS), timeout=20_000)
    assert "24 labelled photos" in heads.status.text()
    heads.calibrate.setChecked(True)
    with qtbot.waitSignal(heads.trained, timeout=60_000):
        heads.train_button.click()
    assert [r[0] for r in heads.metrics.rows[:2]] == ["Accuracy", "Mean AP"]
    assert heads.metrics.rows[-1][0] == "Threshold (precision 0.90)"
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
    if not heads.result.head.is_zero_shot:  # (the tiny model's head may equal zero-shot)
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
    assert [r[0] for r in ft.metrics.rows][:2] == ["t2i_recall@1", "t2i_recall@5"]
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
