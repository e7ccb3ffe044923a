"""One tag action on many photos (the grid's selection, ``tags add``): which photos change, one
transaction, the undo step, typed keywords, and the tag panel's counts."""

from __future__ import annotations

import pytest

from clipdesk.common.errors import ClipDeskError
from clipdesk.tags.categories import KEYWORDS_CATEGORY, Category, CategoryError, Mode
from clipdesk.tags.records import TagState
from clipdesk.tags.store.tag_store import TagStore
from tests.support.small_libraries import services_over_colours

COLOUR = Category("Colour", ("red", "green", "blue"), Mode.SINGLE, 0.0)


@pytest.fixture
def app(tmp_path):
    """Services over 4 photos whose vectors say red, green, blue, red; Colour suggests each."""
    services = services_over_colours(tmp_path)
    services.tags.add_category(COLOUR)
    yield services
    services.close()


def ids(app) -> list[int]:
    return [p.id for p in app.library.photos()]


def state(app, pid: int, category: str, label: str) -> TagState | None:
    for t in app.tags.tags_of(pid):
        if (t.category, t.label) == (category, label):
            return t.state
    return None


def test_adding_a_new_keyword_confirms_it_on_every_photo_and_undo_takes_it_back(app):
    p = ids(app)
    first = app.tags.tag_photos(p[:3], KEYWORDS_CATEGORY, "beach", "add")
    assert first.created and first.changed == 3 and first.unchanged == 0
    assert [state(app, i, KEYWORDS_CATEGORY, "beach") for i in p] == [TagState.CONFIRMED] * 3 + [
        None
    ]
    again = app.tags.tag_photos(p, KEYWORDS_CATEGORY, "Beach", "add")  # any case: the same label
    assert not again.created and again.step.photo_ids == (p[3],)
    assert again.describe() == "added Keywords|beach to 1 photo (3 had it already)"
    app.tags.undo(again.step)
    assert state(app, p[3], KEYWORDS_CATEGORY, "beach") is None
    assert state(app, p[0], KEYWORDS_CATEGORY, "beach") is TagState.CONFIRMED


def test_remove_rejects_the_tag_wherever_a_photo_carries_it_and_nowhere_else(app):
    p = ids(app)  # red, green, blue, red: Colour suggests red on p0 and p3
    app.tags.decide([p[3]], "Colour", "red", "confirmed")
    done = app.tags.tag_photos(p, "Colour", "red", "remove")
    assert sorted(done.step.photo_ids) == [p[0], p[3]] and done.unchanged == 2
    assert state(app, p[0], "Colour", "red") is TagState.REJECTED
    assert state(app, p[3], "Colour", "red") is TagState.REJECTED
    assert state(app, p[1], "Colour", "green") is TagState.SUGGESTED  # another label: untouched
    app.tags.undo(done.step)
    assert state(app, p[0], "Colour", "red") is TagState.SUGGESTED
    assert state(app, p[3], "Colour", "red") is TagState.CONFIRMED


def test_confirm_and_reject_change_only_the_models_suggestions(app):
    p = ids(app)
    app.tags.decide([p[3]], "Colour", "red", "rejected")  # the user said no: stays no
    confirmed = app.tags.tag_photos(p, "Colour", "red", "confirm")
    assert confirmed.step.photo_ids == (p[0],)
    assert state(app, p[3], "Colour", "red") is TagState.REJECTED
    rejected = app.tags.tag_photos(p, "Colour", "green", "reject")
    assert rejected.step.photo_ids == (p[1],)
    assert "(3 had no suggestion of it)" in rejected.describe()


def test_a_failure_midway_writes_nothing_not_even_the_new_label(app, monkeypatch):
    p = ids(app)
    real = TagStore.set_decision

    def write_then_fail(self, *args, **kwargs):
        real(self, *args, **kwargs)  # the rows are written ...
        raise RuntimeError("disk gone")  # ... and then the action fails

    monkeypatch.setattr(TagStore, "set_decision", write_then_fail)
    with pytest.raises(RuntimeError):
        app.tags.tag_photos(p, KEYWORDS_CATEGORY, "sunset", "add")
    monkeypatch.undo()
    assert all(state(app, i, KEYWORDS_CATEGORY, "sunset") is None for i in p)
    assert KEYWORDS_CATEGORY not in [c.name for c in app.tags.categories()]


def test_a_label_the_model_category_lacks_is_refused_with_a_way_forward(app):
    with pytest.raises(CategoryError) as err:
        app.tags.tag_photos(ids(app), "Colour", "purple", "add")
    assert "has no label 'purple'" in err.value.message and "Tags page" in err.value.hint
    with pytest.raises(CategoryError):
        app.tags.tag_photos(ids(app), KEYWORDS_CATEGORY, "never-added", "remove")
    with pytest.raises(ClipDeskError, match="no photos"):
        app.tags.tag_photos([], "Colour", "red", "add")
    with pytest.raises(ClipDeskError, match="not a tag action"):
        app.tags.tag_photos(ids(app), "Colour", "red", "toggle")


def test_typed_keywords_name_an_existing_tag_or_a_keyword_of_the_users_own(app):
    k = app.tags.keyword_tag
    assert k("red") == ("Colour", "red")
    assert k("colour › Blue") == ("Colour", "Blue")
    assert k("Colour|green") == ("Colour", "green")
    assert k("  sunny   day ") == (KEYWORDS_CATEGORY, "sunny day")
    assert k("Places › France") == (KEYWORDS_CATEGORY, "Places|France")
    app.tags.add_category(Category("Paint", ("red",), auto=False))
    with pytest.raises(CategoryError, match="several categories"):
        k("red")
    with pytest.raises(CategoryError, match="empty"):
        k(" › ")


def test_label_counts_give_confirmed_and_suggested_per_label_in_order(app):
    p = ids(app)
    app.tags.tag_photos(p[:2], KEYWORDS_CATEGORY, "beach", "add")
    app.tags.decide([p[0]], "Colour", "red", "confirmed")
    counts = {(c.category, c.label): (c.confirmed, c.suggested) for c in app.tags.label_counts()}
    assert counts[("Colour", "red")] == (1, 1)
    assert counts[("Colour", "green")] == (0, 1)
    assert counts[(KEYWORDS_CATEGORY, "beach")] == (2, 0)
    order = [(c.category, c.label) for c in app.tags.label_counts()]
    assert order.index(("Colour", "blue")) < order.index((KEYWORDS_CATEGORY, "beach"))
