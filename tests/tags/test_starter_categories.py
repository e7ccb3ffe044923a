"""The starter categories fit the model: the demo model's set (colour, shape, the words of its
synthetic world) or the real-world set, chosen on the library's first use for tags, recorded,
and the other set added later without clashes."""

from __future__ import annotations

import pytest

from clipdesk.library.store import Library
from clipdesk.model import synth
from clipdesk.tags.categories import Category
from clipdesk.tags.category_file import starter_categories
from clipdesk.tags.store.tag_store import DEMO_SET, PHOTO_SET, STARTERS_SETTING, TagStore

REAL_WORLD = ["Scene", "Who", "Pets", "Subject"]


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "lib.sqlite3") as library:
        yield library


def test_the_demo_set_names_only_what_the_demo_model_knows() -> None:
    cats = {c.name: c for c in starter_categories(demo_model=True)}
    assert list(cats) == ["Colour", "Shape"]
    assert set(cats["Colour"].label_names) == set(synth.COLOURS)
    # every word it was trained on; nothing outside its world (no cat, no beach)
    assert set(cats["Shape"].label_names) == set(synth.SHAPES)


def test_a_library_first_tagged_with_the_demo_model_gets_the_demo_set(lib) -> None:
    store = TagStore(lib, demo_model=True)
    assert [c.name for c in store.categories()] == ["Colour", "Shape"]
    assert store.starter_set() == DEMO_SET


def test_a_library_first_tagged_with_a_real_model_gets_the_real_world_set(lib) -> None:
    store = TagStore(lib)
    assert [c.name for c in store.categories()] == REAL_WORLD
    assert store.starter_set() == PHOTO_SET


def test_the_first_set_stays_whatever_model_comes_later(lib) -> None:
    TagStore(lib, demo_model=True)
    assert [c.name for c in TagStore(lib).categories()] == ["Colour", "Shape"]


def test_a_library_from_before_the_demo_set_counts_as_having_the_real_world_set(lib) -> None:
    lib.set_setting(STARTERS_SETTING, True)  # what the app wrote before there were two sets
    assert TagStore(lib, install_starters=False).starter_set() == PHOTO_SET


def test_adding_the_real_world_set_later_keeps_the_demo_one_and_any_same_named_category(
    lib,
) -> None:
    store = TagStore(lib, demo_model=True)
    store.add_category(Category("Pets", ("hamster",)))  # the user's own, kept as it is
    added = store.add_starter_categories(demo_model=False)
    assert [c.name for c in added] == ["Scene", "Who", "Subject"]
    names = [c.name for c in store.categories()]
    assert names == ["Colour", "Shape", "Pets", "Scene", "Who", "Subject"]
    assert store.category("Pets").label_names == ["hamster"]
    assert store.starter_set() == PHOTO_SET
    assert store.add_starter_categories(demo_model=False) == []  # once is enough


def test_declining_the_real_world_set_is_remembered(lib) -> None:
    store = TagStore(lib, demo_model=True)
    assert not store.photo_starters_declined()
    store.decline_photo_starters()
    assert TagStore(lib).photo_starters_declined()
