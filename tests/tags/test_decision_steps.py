"""Decision steps and undo (``app.tags.decide_many`` / ``decide_batch`` / ``undo``): each step is
one transaction, and undoing it restores every tag it changed exactly as it was."""

from __future__ import annotations

import pytest

from clipdesk.common.errors import ClipDeskError
from clipdesk.tags.categories import Category, Mode
from clipdesk.tags.records import TagState
from tests.tags import test_tag_service
from tests.tags.test_tag_service import COLOUR

app = test_tag_service.app  # the same library of four photos
MULTI = Category("Mood", ("calm", "busy"), Mode.MULTI, 0.0)


def rows(app) -> set[tuple]:
    """Every photo_tags row, all columns: what "exactly as it was" compares."""
    return {
        tuple(r)
        for r in app.library.query(
            "SELECT photo_id, label_id, state, score, model_id, updated_at FROM photo_tags"
        )
    }


def ids(app) -> list[int]:
    return [p.id for p in app.library.photos()]


def count_transactions(app) -> list[str]:
    """The write transactions begun on this thread's connection from now on."""
    begun: list[str] = []
    app.library.connection().set_trace_callback(
        lambda sql: begun.append(sql) if sql.startswith("BEGIN IMMEDIATE") else None
    )
    return begun


def test_undoing_a_confirm_in_a_single_choice_category_restores_every_label_exactly(app):
    app.tags.add_category(COLOUR)
    pid = ids(app)[0]  # suggested "red"; green and blue are near-miss candidates or absent
    app.tags.decide([pid], "Colour", "blue", "confirmed")  # an earlier decision, then:
    before = rows(app)
    step = app.tags.decide_many([pid], "Colour", "green", "confirmed")
    states = {t.label: t.state for t in app.tags.tags_of(pid) if t.category == "Colour"}
    assert states["green"] is TagState.CONFIRMED and states["blue"] is TagState.REJECTED
    assert step.photo_ids == (pid,) and step.count("confirmed") == 1
    assert app.tags.undo(step) >= 2
    assert rows(app) == before


def test_several_steps_undone_last_first_restore_the_suggestions_exactly(app):
    app.tags.add_category(COLOUR)
    app.tags.add_category(MULTI)
    original = rows(app)
    photos = ids(app)
    steps = [
        app.tags.decide_many([photos[0]], "Colour", "red", "confirmed"),
        app.tags.decide_many([photos[1]], "Colour", "green", "rejected"),
        app.tags.decide_many(photos[:3], "Mood", "calm", "rejected"),
        app.tags.decide_many([photos[0]], "Colour", "red", "rejected"),  # changed its mind
    ]
    middle = None
    for n, step in enumerate(reversed(steps)):
        app.tags.undo(step)
        if n == 0:  # the first undo gives back the earlier decision, not the suggestion
            tag = next(t for t in app.tags.tags_of(photos[0]) if t.label == "red")
            assert tag.state is TagState.CONFIRMED
            middle = rows(app)
    assert middle is not None and middle != original
    assert rows(app) == original


def test_a_batch_is_one_transaction_and_its_undo_is_one_more(app):
    app.tags.add_category(COLOUR)
    photos = ids(app)
    original = rows(app)
    begun = count_transactions(app)
    step = app.tags.decide_batch(
        "Colour", "red", {"confirmed": photos[:3], TagState.REJECTED: photos[3:]}
    )
    assert len(begun) == 1
    assert step.count("confirmed") == 3 and step.count("rejected") == 1
    assert step.describe() == "confirmed Colour|red on 3 photos, rejected it on 1 photo"
    red = {f.photo.id: f.tag.state for f in app.tags.photos_with_tag("Colour", "red")}
    assert red == dict.fromkeys(photos[:3], TagState.CONFIRMED)
    app.tags.undo(step)
    assert len(begun) == 2
    assert rows(app) == original


def test_a_tag_decided_again_since_keeps_the_later_decision(app):
    app.tags.add_category(MULTI)
    photos = ids(app)
    step = app.tags.decide_many(photos[:2], "Mood", "busy", "confirmed")
    app.tags.decide([photos[1]], "Mood", "busy", "rejected")  # in the photo view, say
    assert app.tags.undo(step) == 1
    busy = {t.photo_id: t.state for t in app.tags.tags_of(photos[1]) if t.label == "busy"}
    assert busy == {photos[1]: TagState.REJECTED}
    assert app.tags.undo(step) == 0  # twice is harmless


def test_a_photo_given_two_decisions_in_one_batch_is_refused_and_nothing_is_written(app):
    app.tags.add_category(COLOUR)
    photos = ids(app)
    before = rows(app)
    with pytest.raises(ClipDeskError, match="both"):
        app.tags.decide_batch("Colour", "red", {"confirmed": photos[:2], "rejected": photos[1:]})
    with pytest.raises(ClipDeskError, match="not a decision"):
        app.tags.decide_many(photos, "Colour", "red", "suggested")
    assert rows(app) == before
