"""Thresholds calibrated on the user's decisions (no training): known answers per label and for
a single-choice category, and what a label that cannot reach the target keeps."""

from __future__ import annotations

import numpy as np
import pytest

from clipdesk.tags.categories import Mode
from clipdesk.tags.heads.calibration import calibrate_thresholds, precision_recall_at
from clipdesk.tags.heads.fit import label_data
from clipdesk.tags.zero_shot import Decisions

# one label, six decided photos: yes, yes, no, yes, no, no from the highest score down
SCORES = np.array([[0.9], [0.8], [0.7], [0.6], [0.5], [0.4]], np.float32)
YES = np.array([True, True, False, True, False, False])
LIBRARY = np.array([[0.95], [0.65], [0.55], [0.3]], np.float32)


def multi_data():
    dec = Decisions(np.arange(6), np.zeros(6, np.int64), YES)
    return label_data(Mode.MULTI, np.arange(6), np.zeros((6, 2), np.float32), dec, 1)


def test_a_label_gets_the_lowest_threshold_reaching_the_target_precision():
    (row,) = calibrate_thresholds(
        Mode.MULTI, ["red"], multi_data(), SCORES, LIBRARY, np.ones((4, 1), bool), [0.5], 0.75
    )
    # cut-offs: 0.9 -> 1/1, 0.8 -> 2/2, 0.7 -> 2/3, 0.6 -> 3/4: the lowest with 75% and 3 yes
    assert row.threshold == pytest.approx(0.6)
    assert row.precision == pytest.approx(0.75) and row.recall == pytest.approx(1.0)
    assert (row.decisions, row.positives) == (6, 3)
    assert (row.current_precision, row.current_recall) == (pytest.approx(0.6), 1.0)
    assert (row.suggested_now, row.would_suggest) == (3, 2)  # 0.95, 0.65, 0.55 vs 0.95, 0.65
    assert row.proposed == pytest.approx(0.6) and row.reason is None


def test_a_label_that_cannot_reach_the_target_keeps_its_threshold_and_says_why():
    (row,) = calibrate_thresholds(
        Mode.MULTI, ["red"], multi_data(), SCORES, LIBRARY, np.ones((4, 1), bool), [0.5], 0.9
    )
    assert row.threshold is None and row.proposed == 0.5
    assert row.would_suggest == row.suggested_now == 3
    assert row.reason is not None and "90%" in row.reason and "75%" in row.reason


def test_cells_the_user_decided_are_not_counted_as_suggestions():
    undecided = np.array([[False], [True], [True], [True]])
    (row,) = calibrate_thresholds(
        Mode.MULTI, ["red"], multi_data(), SCORES, LIBRARY, undecided, [0.5], 0.75
    )
    assert (row.suggested_now, row.would_suggest) == (2, 1)


def test_a_single_choice_category_gets_one_threshold_on_its_best_label():
    # photos 0-3 confirmed label 0; the model's best label is right for 0, 1, 3 and wrong for 2
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], np.float32)
    dec = Decisions(np.arange(4), np.zeros(4, np.int64), np.ones(4, bool))
    data = label_data(Mode.SINGLE, np.arange(4), np.zeros((4, 2), np.float32), dec, 2)
    library = np.array([[0.65, 0.35], [0.45, 0.55]], np.float32)
    (row,) = calibrate_thresholds(
        Mode.SINGLE, ["a", "b"], data, scores, library, np.ones((2, 2), bool), [0.5], 0.75
    )
    assert row.label is None
    # best-label probabilities 0.9 r, 0.8 r, 0.7 w, 0.6 r: 3/4 at 0.6
    assert row.threshold == pytest.approx(0.6) and row.precision == pytest.approx(0.75)
    assert (row.suggested_now, row.would_suggest) == (2, 1)


def test_no_decisions_say_where_to_make_them():
    empty = label_data(
        Mode.MULTI, np.zeros(0, np.int64), np.zeros((0, 2), np.float32), Decisions.none(), 1
    )
    (row,) = calibrate_thresholds(
        Mode.MULTI, ["red"], empty, np.zeros((0, 1)), LIBRARY, np.ones((4, 1), bool), [0.5], 0.9
    )
    assert row.threshold is None and row.decisions == 0 and "Review" in (row.reason or "")


def test_precision_and_recall_are_none_where_undefined():
    assert precision_recall_at(np.array([0.1]), np.array([True]), 0.5) == (None, 0.0)
    assert precision_recall_at(np.array([0.9]), np.array([False]), 0.5) == (0.0, None)


def test_a_target_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="target precision"):
        calibrate_thresholds(
            Mode.MULTI, ["red"], multi_data(), SCORES, LIBRARY, np.ones((4, 1), bool), [0.5], 1.5
        )
