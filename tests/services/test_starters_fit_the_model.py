"""Starter categories that fit the model, through the services both faces use: the demo model's
library is tagged with colours and shapes it knows (a red circle is "Colour: red", "Shape:
circle", never "Pets: cat"), and once a real model is active the real-world set is offered until
it is added or declined."""

from __future__ import annotations

from collections import Counter

import pytest

from clipdesk.model import manager, synth
from clipdesk.model.testing import tiny_random_model
from clipdesk.services.app import ClipDeskServices

DEMO = manager.find_model(manager.DEMO_MODEL)
REAL_WORLD = ("Scene", "Who", "Pets", "Subject")
pytestmark = pytest.mark.timeout(600)  # indexing with the demo model on a busy 2-core machine


@pytest.fixture(scope="module")
def demo_library(tmp_path_factory):
    """24 photos of 4 colours x 3 shapes, indexed (and so tagged) with the demo model."""
    assert DEMO is not None, "the bundled demo model models/clipdesk-mini is missing"
    root = tmp_path_factory.mktemp("starters")
    specs = [
        synth.SceneSpec(colour=c, shape=s, seed=seed)
        for c in ("red", "blue", "green", "yellow")
        for s in ("circle", "square", "star")
        for seed in (1, 2)
    ]
    for spec in specs:
        name = f"{spec.colour}-{spec.shape}-{spec.seed}.jpg"
        synth.write_photo(spec, root / "photos" / name, (320, 240))
    app = ClipDeskServices(root / "lib.sqlite3", model=str(DEMO), device="cpu")
    app.folders.add(root / "photos")
    assert app.index().embedded == len(specs)
    yield app
    app.close()


def _suggested(app: ClipDeskServices, photo_id: int) -> dict[str, str]:
    return {t.category: t.label for t in app.tags.tags_of(photo_id) if t.state.value == "suggested"}


def test_the_demo_model_tags_red_circles_with_its_own_words_not_pets(demo_library) -> None:
    app = demo_library
    assert [c.name for c in app.tags.categories()] == ["Colour", "Shape"]
    hits: Counter[str] = Counter()
    photos = app.library.photos()
    for photo in photos:
        colour, shape, _seed = photo.path.stem.split("-")
        tags = _suggested(app, photo.id)
        assert set(tags) <= {"Colour", "Shape"}, tags  # no Pets: cat, no Subject: document
        hits["colour"] += tags.get("Colour") == colour
        hits["shape"] += tags.get("Shape") == shape
        if (colour, shape) == ("red", "circle"):
            assert tags == {"Colour": "red", "Shape": "circle"}, (photo.path.name, tags)
    # the model card: colour 0.999, shape 0.94 zero-shot with these templates
    assert hits["colour"] == len(photos) and hits["shape"] >= 0.9 * len(photos), hits


def test_the_demo_library_is_not_offered_the_real_world_set_while_the_demo_is_active(
    demo_library,
) -> None:
    assert demo_library.models.active_is_demo()
    assert demo_library.tags.starter_offer() is None


@pytest.fixture
def switched(tmp_path):
    """A library that started on the demo model, then the user chose a real one."""
    app = ClipDeskServices(tmp_path / "lib.sqlite3", device="cpu")  # the default: the demo
    assert app.models.active_is_demo()
    assert [c.name for c in app.tags.categories()] == ["Colour", "Shape"]
    real = tiny_random_model(tmp_path / "models", name="real")
    app.models.activate(str(real))
    yield app
    app.close()


def test_a_real_model_is_offered_the_real_world_set_and_adding_it_ends_the_offer(
    switched,
) -> None:
    offer = switched.tags.starter_offer()
    assert offer is not None and offer.names == REAL_WORLD
    added, _report = switched.tags.add_starters()  # the active (real) model's set
    assert [c.name for c in added] == list(REAL_WORLD)
    assert [c.name for c in switched.tags.categories()] == ["Colour", "Shape", *REAL_WORLD]
    assert switched.tags.starter_offer() is None


def test_declining_the_real_world_set_ends_the_offer_for_both_faces(switched) -> None:
    switched.tags.decline_starters()
    assert switched.tags.starter_offer() is None
    assert [c.name for c in switched.tags.categories()] == ["Colour", "Shape"]
