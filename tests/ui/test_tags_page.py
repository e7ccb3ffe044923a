"""Tags: the category list model, editing with validation, review decisions that survive a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from clipdesk.services.records import Category, Label
from clipdesk.tags.xmp import sidecar as xmp
from clipdesk.ui.tags_page import CategoryListModel
from tests.support.cli_process import run_cli
from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_category_model_passes_qtmodeltester(qtmodeltester):
    model = CategoryListModel()
    qtmodeltester.check(model, force_py=True)
    model.set_categories([Category("Scene", (Label("beach"), Label("city")))])
    model.set_categories([])


def test_editor_shows_what_is_wrong_and_saves_nothing(qtbot, make_app, tiny_model):
    controller, window = make_app(tiny_model)
    page = window.tags
    qtbot.waitUntil(lambda: page.cats.rowCount() > 0, timeout=10_000)
    before = page.cats.rowCount()
    page._new()
    page.editor.labels.item(0, 0).setText("bad|label")
    page._save()
    assert "|" in page.problem.text()
    wait_idle(qtbot, controller)
    assert page.cats.rowCount() == before


def test_confirm_and_reject_persist_across_a_restart(
    qtbot, make_app, tiny_model, synth_photos, tmp_path
):
    root, _photos = synth_photos
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, str(root))
    window.show_page("Tags")
    window.tags.tabs.setCurrentWidget(window.tags.review)
    review = window.tags.review
    review.load()
    qtbot.waitUntil(lambda: len(review.queue) >= 2, timeout=30_000)
    first, second = review.queue[0], review.queue[1]
    review.setFocus()
    qtbot.keyClick(review, Qt.Key.Key_C)
    qtbot.keyClick(review, Qt.Key.Key_R)
    assert review.position == 2
    wait_idle(qtbot, controller)
    window.close()
    controller.shutdown()

    controller2, _window2 = make_app(tiny_model, library=tmp_path / "library.sqlite3")
    states = {}

    def record(key, details):
        states[key] = {(t.category, t.label): t.state for t in details.tags}

    for key, item in (("first", first), ("second", second)):
        controller2.call(
            lambda b, _t, i=item: b.tags.photo_details(i.photo.id), lambda d, k=key: record(k, d)
        )
    qtbot.waitUntil(lambda: len(states) == 2, timeout=10_000)
    assert states["first"][(first.category, first.label)] == "confirmed"
    assert states["second"][(second.category, second.label)] == "rejected"


def test_indexing_in_the_app_brings_in_keywords_other_tools_wrote(
    qtbot, make_app, tiny_model, tmp_path
):
    from clipdesk.tags.records import TagState
    from tests.support.xmp_helpers import folder_with_a_sidecar

    # a keyword of ours and one of the other tool's own
    tagged = folder_with_a_sidecar(tmp_path / "pics", 3, ["Scene|beach", "Trip|Rome"])
    controller, _window = make_app(tiny_model)
    add_and_index(qtbot, controller, str(tagged.parent))
    wait_idle(qtbot, controller)
    tags = controller.backend.services.tags
    (photo,) = [p for p in controller.backend.services.library.photos() if p.path == tagged]
    mine = {(t.category, t.label): t.state for t in tags.tags_of(photo.id)}
    assert mine[("Scene", "beach")] is TagState.IMPORTED  # the user's keyword, not a suggestion
    assert mine[("Keywords", "Trip|Rome")] is TagState.IMPORTED


def test_label_preview_shows_the_photos_of_that_label(qtbot, make_app, demo_model, colour_photos):
    from clipdesk.common.progress import CancelToken
    from clipdesk.tags.categories import Mode

    root, _paths = colour_photos  # 6 photos of each of 4 colours
    controller, _window = make_app(demo_model)
    add_and_index(qtbot, controller, str(root))
    wait_idle(qtbot, controller)
    draft = Category(
        "Colour", tuple(Label(c) for c in ("red", "blue", "green", "yellow")), Mode.SINGLE
    )
    items = controller.backend.tags.preview_label(draft, "green", 6, CancelToken())
    assert [it.name.split("-")[0] for it in items] == ["green"] * 6
    assert all(0.5 < it.score <= 1.0 for it in items)


# --- the two faces on one library: what is on disk must not depend on which one the user used ---


def sidecars(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.lower().endswith(".xmp"))


def user_keywords(services, photo) -> set[str]:
    """The photo's confirmed and imported tags, as keyword paths."""
    return {t.keyword for t in services.tags.tags_of(photo.id, ["confirmed", "imported"])}


def save_in_app(qtbot, controller, page, cat: Category) -> None:
    page._new()
    page.editor.set_category(cat)
    page._save()
    wait_idle(qtbot, controller)


def test_app_and_cli_leave_one_sidecar_per_photo_with_only_the_users_tags(
    qtbot, make_app, tiny_model, tmp_path, monkeypatch
):
    from PySide6.QtWidgets import QMessageBox

    from tests.support.xmp_helpers import folder_with_a_sidecar

    pics = tmp_path / "pics"
    folder_with_a_sidecar(pics, 4, ["Trip|Rome"], tagged=3)  # another tool's 3.png.xmp
    # the old app's default name, photo.xmp, with a tag the user had confirmed there
    (pics / "2.xmp").write_bytes(xmp.update_keywords(None, ["Scene|beach", "Trip|Rome"]))
    library = tmp_path / "library.sqlite3"
    controller, window = make_app(tiny_model, library=library)
    add_and_index(qtbot, controller, str(pics))
    services = controller.backend.services
    page = window.tags
    # every photo gets a suggestion of this category: none of them may reach a sidecar
    save_in_app(
        qtbot, controller, page, Category("Colour", (Label("red"), Label("green")), threshold=0.0)
    )
    photos = {p.path.name: p for p in controller.backend.services.library.photos()}
    assert all(
        any(t.state == "suggested" for t in services.tags.tags_of(p.id) if t.category == "Colour")
        for p in photos.values()
    )
    controller.call(
        lambda b, _t: b.tags.decide_tag(photos["0.png"].id, "Colour", "red", "confirmed")
    )
    wait_idle(qtbot, controller)

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda _w, _t, text: told.append(text))
    page._write_xmp()
    qtbot.waitUntil(lambda: bool(told), timeout=30_000)

    def check() -> None:
        # 2.xmp was merged into 2.png.xmp and is gone; photo 1 has no tag of the user's
        assert sidecars(pics) == ["0.png.xmp", "2.png.xmp", "3.png.xmp"]
        for name in ("0.png", "2.png", "3.png"):
            kw = xmp.read_sidecar_keywords(pics / f"{name}.xmp")
            assert set(kw.hierarchical) == user_keywords(services, photos[name]), name
        assert xmp.read_sidecar_keywords(pics / "0.png.xmp").hierarchical == ["Colour|red"]
        assert {"Scene|beach", "Trip|Rome"} <= set(
            xmp.read_sidecar_keywords(pics / "2.png.xmp").hierarchical
        )

    check()
    done = run_cli("--library", str(library), "--device", "cpu", "tags", "write-xmp")
    assert done.returncode == 0, done.stderr
    check()  # the CLI writes what the app wrote: same names, no guesses
    # and both read the same settings: a choice made once holds for the other face
    services.settings.set_xmp(write_suggestions=True)
    done = run_cli("--library", str(library), "--device", "cpu", "tags", "write-xmp")
    assert done.returncode == 0, done.stderr
    assert sidecars(pics) == [f"{i}.png.xmp" for i in range(4)]


def test_saving_a_category_in_the_cli_leaves_the_tags_saving_it_in_the_app_does(
    qtbot, make_app, tiny_model, tmp_path
):
    from tests.support.xmp_helpers import folder_with_a_sidecar

    pics = tmp_path / "pics"
    folder_with_a_sidecar(pics, 5, ["Trip|Rome"])
    library = tmp_path / "library.sqlite3"
    controller, window = make_app(tiny_model, library=library)
    add_and_index(qtbot, controller, str(pics))
    services = controller.backend.services
    cat = Category("Colour", (Label("red"), Label("green"), Label("blue")), threshold=0.3)

    def colour_tags() -> dict[tuple[int, str], tuple[str, float]]:
        return {
            (t.photo_id, t.label): (str(t.state), round(float(t.score or 0), 4))
            for t in services.tags.store.review_list("Colour", limit=10_000)
        }

    save_in_app(qtbot, controller, window.tags, cat)
    in_app = colour_tags()
    assert in_app  # the app tagged the library at once
    done = run_cli(
        "--library", str(library), "--device", "cpu", "tags", "categories", "remove", "Colour"
    )
    assert done.returncode == 0, done.stderr
    assert "Colour" not in [c.name for c in services.tags.categories()]  # tags gone with it
    done = run_cli(
        "--library",
        str(library),
        "--device",
        "cpu",
        "tags",
        "categories",
        "add",
        "Colour",
        "red",
        "green",
        "blue",
        "--threshold",
        "0.3",
    )
    assert done.returncode == 0, done.stderr
    assert "tagged 5 photos" in done.stdout and "tags apply" not in done.stdout
    assert colour_tags() == in_app  # at once, and the same tags as the app's
