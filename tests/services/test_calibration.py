"""Calibrating thresholds on the user's decisions through the services (both faces' one call):
the threshold a known set of decisions gives, applying it changes the category's threshold and
the suggestions as the calibration said, an applied head gets the thresholds instead, and XMP
sidecars get the user's tags only unless suggestions are asked for."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipdesk.common.errors import ClipDeskError
from clipdesk.library.records import FileFacts
from clipdesk.services.app import ClipDeskServices
from clipdesk.tags.categories import Category, Mode
from clipdesk.tags.heads import store as head_store
from clipdesk.tags.heads.fit import zero_shot_head
from clipdesk.tags.records import TagState
from clipdesk.tags.tagger import Tagger
from clipdesk.tags.xmp import sidecar as xmp
from tests.support.fake_text_model import DIM, FakeLoadedModel, word_vector

N = 12
COLOUR = Category("Colour", ("red", "green"), Mode.MULTI, 0.5)


@pytest.fixture
def app(tmp_path):
    """12 photos from all red (p0) to all green (p11); the fake model's scores for "red" fall
    from 0.98 to 0.03 along them (logit scale 8: graded, not saturated)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    services = ClipDeskServices(
        tmp_path / "lib.sqlite3", model=FakeLoadedModel(logit_scale=8.0), device="cpu"
    )
    lib = services.library
    f = lib.add_folder(folder)
    facts = []
    for i in range(N):
        p = folder / f"p{i}.jpg"
        Image.new("RGB", (4, 4)).save(p)
        facts.append(FileFacts(p, p.stat().st_size, p.stat().st_mtime_ns, "jpeg", f"h{i}"))
    ids = [pid for pid, _ in lib.add_or_update_photos(f.id, facts)]
    red = np.linspace(1.0, 0.0, N)[:, None]
    v = red * word_vector("red") + (1 - red) * word_vector("green")
    v[:, DIM - 1] = 0.5
    lib.store_embeddings("fake@1", ids, (v / np.linalg.norm(v, axis=1, keepdims=True)))
    services.tags.add_category(COLOUR)
    yield services
    services.close()


def ids(app) -> list[int]:
    return [p.id for p in sorted(app.library.photos(), key=lambda p: int(p.path.stem[1:]))]


def red_scores(app) -> np.ndarray:
    clf = app.tags.tagger().classifier(app.tags.category("Colour"))
    _, vectors = app.library.vectors_for("fake@1", ids(app))
    return clf.scores(vectors)[:, 0]


def decide_red(app) -> list[int]:
    """From the reddest down: yes, yes, no, yes, yes, -, no, no (p5 and p8.. undecided)."""
    pid = ids(app)
    for i in (0, 1, 3, 4):
        app.tags.decide([pid[i]], "Colour", "red", "confirmed")
    for i in (2, 6, 7):
        app.tags.decide([pid[i]], "Colour", "red", "rejected")
    return pid


def red_state(app, photo_id: int) -> TagState | None:
    return next(
        (t.state for t in app.tags.tags_of(photo_id) if (t.category, t.label) == ("Colour", "red")),
        None,
    )


def test_calibration_on_known_decisions_gives_the_expected_threshold(app):
    decide_red(app)
    s = red_scores(app)
    cal = app.heads.calibrate("Colour", 0.8)
    red, green = cal.rows
    # decided scores from the top: p0 y, p1 y, p2 n, p3 y, p4 y: 4/5 = 80% at p4's score
    assert red.threshold == pytest.approx(float(s[4]), abs=1e-6)
    assert red.precision == pytest.approx(0.8) and red.recall == pytest.approx(1.0)
    assert (red.decisions, red.positives) == (7, 4)
    # undecided photos: only p5 (0.67) reaches today's 0.5; none reaches p4's 0.82
    assert (red.suggested_now, red.would_suggest) == (1, 0)
    assert green.threshold is None and green.decisions == 0 and green.proposed == 0.5
    assert cal.method == "zero-shot" and not cal.in_sample and cal.changes == 1


def test_applying_a_calibration_changes_the_threshold_and_the_suggestions(app):
    pid = decide_red(app)
    assert red_state(app, pid[5]) is TagState.SUGGESTED
    cal = app.heads.calibrate("Colour", 0.8)
    app.heads.apply_calibration(cal)
    cat = app.tags.category("Colour")
    assert cat.labels[0].threshold == pytest.approx(cal.rows[0].threshold)
    assert cat.labels[1].threshold is None  # green reached nothing: it keeps the category's
    assert red_state(app, pid[5]) is TagState.CANDIDATE  # no longer suggested
    assert red_state(app, pid[0]) is TagState.CONFIRMED  # the user's decisions stay
    again = app.heads.calibrate("Colour", 0.8)
    assert again.rows[0].suggested_now == cal.rows[0].would_suggest
    assert again.changes == 0


def test_an_applied_head_gets_the_calibrated_thresholds(app):
    decide_red(app)
    cat = app.tags.category("Colour")
    clf = app.tags.tagger().classifier(cat)
    head_store.apply_head(app.library, replace(zero_shot_head(clf), method="logistic"))
    cal = app.heads.calibrate("Colour", 0.8)
    assert cal.in_sample and cal.method == "logistic"
    app.heads.apply_calibration(cal)
    head = app.heads.applied("Colour")
    assert head is not None and head.thresholds is not None
    assert head.thresholds[0] == pytest.approx(cal.rows[0].threshold)
    assert app.tags.category("Colour").labels[0].threshold is None  # the category is unchanged


def test_a_calibration_of_a_category_changed_since_is_refused(app):
    decide_red(app)
    cal = app.heads.calibrate("Colour", 0.8)
    app.tags.save_category(Category("Colour", ("red", "green", "blue"), Mode.MULTI, 0.5))
    with pytest.raises(ClipDeskError, match="changed since"):
        app.heads.apply_calibration(cal)


def test_a_target_that_is_no_share_and_a_manual_category_are_refused(app):
    with pytest.raises(ClipDeskError, match="between 0 and 1"):
        app.heads.calibrate("Colour", 0.0)
    app.tags.add_category(Category("Trips", ("Rome",), auto=False))
    with pytest.raises(ClipDeskError, match="manual"):
        app.heads.calibrate("Trips", 0.9)


def sidecar_keywords(path: Path) -> list[str]:
    side = xmp.sidecar_path(path, "fullname")
    return xmp.read_sidecar_keywords(side).hierarchical if side.exists() else []


def test_xmp_sidecars_get_only_the_users_tags_unless_suggestions_are_asked_for(app):
    pid = decide_red(app)
    path = next(p.path for p in app.library.photos() if p.id == pid[5])  # red only suggested
    assert red_state(app, pid[5]) is TagState.SUGGESTED
    app.tags.write_xmp([pid[5]])  # the services' default (the settings': confirmed only)
    assert "Colour|red" not in sidecar_keywords(path)
    Tagger(app.library, None, app.tags.store).write_xmp([pid[5]])  # the domain's default too
    assert "Colour|red" not in sidecar_keywords(path)
    app.tags.write_xmp([pid[5]], include_suggestions=True)
    assert "Colour|red" in sidecar_keywords(path)


def test_a_page_of_photos_gets_how_many_of_its_tags_are_suggestions_only(app):
    pid = decide_red(app)
    page = pid[:6]
    counts = app.tags.suggested_counts(page)
    # p0 red confirmed (green is a near-miss), p5 red suggested, p2 red rejected
    assert pid[0] not in counts and pid[2] not in counts
    assert counts.get(pid[5]) == 1
    # a grid filtered by a tag counts that tag's suggestions only
    assert app.tags.suggested_counts(page, ["Colour|green"]) == {}
    assert app.tags.suggested_counts(page, ["Colour|red"]) == {pid[5]: 1}
    assert app.tags.suggested_counts(page, ["!Colour|red"]) == {}
