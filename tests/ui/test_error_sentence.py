"""A failure and its hint shown as one sentence: one full stop, never two (issue #19: "…in
'+ -- +0.5'.. Write one weight…" in the search page's summary)."""

from __future__ import annotations

import pytest

from clipdesk.search.query import Query
from clipdesk.ui.controller import describe_error, error_sentence


def test_a_query_syntax_error_reads_as_one_sentence_before_its_hint():
    with pytest.raises(Exception) as err:
        Query.parse("+ -- +0.5")
    said = error_sentence(*describe_error(err.value))
    assert said == (
        "Two weights in a row ('--') in '+ -- +0.5'. "
        "Write one weight before each phrase: beach +0.5 sunset."
    )


@pytest.mark.parametrize(
    ("message", "hint", "said"),
    [
        ("The disk is full", "Free some space.", "The disk is full. Free some space."),
        ("Is the drive connected?", "", "Is the drive connected?"),
        ("Not found: x.jpg.", "", "Not found: x.jpg."),
    ],
)
def test_a_message_gets_exactly_one_full_stop(message, hint, said):
    assert error_sentence(message, hint) == said
