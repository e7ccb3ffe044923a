"""The app says what writing sidecars did, in the same words as the CLI: how many were written,
and which photos got their full name because another file owns their basename sidecar."""

from __future__ import annotations

from clipdesk.common.progress import CancelToken
from clipdesk.tags.categories import Category, Mode
from clipdesk.ui.tag_views import TagViews
from tests.support.xmp_library import library_of


def test_the_app_tells_the_user_a_pair_got_full_names(tmp_path):
    app, ids = library_of(tmp_path, ["p.jpg", "p.png"])
    try:
        app.tags.add_category(Category("Colour", ("red", "blue"), Mode.SINGLE, 0.0))
        app.tags.decide([ids["p.jpg"]], "Colour", "red", "confirmed")
        app.tags.decide([ids["p.png"]], "Colour", "blue", "confirmed")
        told = TagViews(app).write_xmp(CancelToken(), naming="basename")
        assert told == (
            "Wrote 2 sidecars, 0 already up to date; 1 photo shares a name with another file, "
            "so its sidecar is named in full (p.png.xmp)."
        )
        again = TagViews(app).write_xmp(CancelToken(), naming="basename")
        assert again.startswith("Wrote 0 sidecars, 2 already up to date; 1 photo shares")
    finally:
        app.close()
