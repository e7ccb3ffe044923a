"""The examples the app suggests with the demo model are ones it answers: each phrase's matches
rank first on its world's pictures (while "kids on a beach at sunset", a real-world example,
finds random shapes at about the score of a real match: the reason the examples switch)."""

from __future__ import annotations

import pytest

from clipdesk.services.app import ClipDeskServices
from clipdesk.ui.query_examples import DEMO, DEMO_PHRASES, PHOTOS

pytestmark = pytest.mark.timeout(600)  # indexing with the demo model on a busy 2-core machine

# What each phrase asks for, as (colour, shape) of the colour_photos fixture's file names.
WANTED = {
    "a red circle": ("red", "circle"),
    "blue star": ("blue", "star"),
    "two green squares": ("green", "square"),
}


@pytest.fixture
def demo_app(tmp_path, demo_model, colour_photos):
    root, _paths = colour_photos  # 4 colours x 3 shapes x 2 photos
    app = ClipDeskServices(tmp_path / "lib.sqlite3", model=str(demo_model), device="cpu")
    app.folders.add(root)
    app.index()
    yield app
    app.close()


def test_every_demo_example_ranks_its_own_matches_first(demo_app) -> None:
    assert set(WANTED) == set(DEMO_PHRASES)
    scores = {}
    for phrase, (colour, shape) in WANTED.items():
        top = demo_app.search(phrase, k=3)
        names = [r.photo.path.stem.rsplit("-", 1)[0] for r in top]
        assert names[:2] == [f"{colour}-{shape}"] * 2, (phrase, names)
        scores[phrase] = top[0].score
    # a real-world phrase scores well below the demo's own words: its examples must not be it
    beach = demo_app.search(PHOTOS.phrases[0], k=1)[0].score
    assert beach < min(scores.values()) - 0.1, (beach, scores)


def test_the_demo_syntax_examples_are_queries_the_app_accepts() -> None:
    from clipdesk.search.query import Query

    for query, _what in (*DEMO.syntax, *PHOTOS.syntax):
        Query.parse(query)  # a QueryError would mean a broken example in the "?" help
