"""Semantic search end to end with the bundled demo model (ClipDesk-Mini) on generated photos.

A folder of synthetic photos (held-out evaluation scenes, never training images; JPEG/PNG/WebP,
some with EXIF rotation) is scanned and indexed through the services; then a text query finds
the photos it describes and an image query finds the photo of the same scene.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from clipdesk.model import manager, synth
from clipdesk.services.app import ClipDeskServices

DEMO = manager.find_model(manager.DEMO_MODEL)
pytestmark = [
    pytest.mark.timeout(900),  # indexing a folder on a busy 2-core machine
]


def test_the_demo_model_is_bundled():
    assert DEMO is not None, "the bundled demo model models/clipdesk-mini is missing"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("semantic")
    photos = synth.write_photo_folder(root / "Pictures", n=48, seed=11, split="eval", count=1)
    for i, (bg, bg_colour) in enumerate(
        [("plain", "grey"), ("stripes", "blue"), ("dots", "green")]
    ):
        spec = synth.SceneSpec(
            colour="red", shape="circle", background=bg, bg_colour=bg_colour, seed=900_001 + i
        )
        path = synth.write_photo(
            spec, root / "Pictures" / "extra" / f"red_{i}.jpg", size=(320, 240)
        )
        photos.append(synth.PhotoFile(path, spec))
    app = ClipDeskServices(root / "lib.sqlite3", model=str(DEMO), device="cpu")
    app.folders.add(root / "Pictures")
    report = app.index()
    assert report.embedded == len(photos) and report.failed == 0
    yield app, photos
    app.close()


def _query_for(colour: str, shape: str) -> str:
    return f"a {colour} {shape}"


def test_text_query_finds_the_described_photos(library) -> None:
    app, photos = library
    combos = Counter((p.spec.colour, p.spec.shape) for p in photos)
    colours = Counter(p.spec.colour for p in photos)
    checked, colour_hits, exact_hits = 0, 0, 0
    for (colour, shape), n in combos.most_common(8):
        results = app.search(_query_for(colour, shape), k=n)
        by_path = {p.path: p.spec for p in photos}
        specs = [by_path[r.photo.path] for r in results]
        checked += len(specs)
        colour_hits += sum(s.colour == colour for s in specs)
        exact_hits += sum(s.colour == colour and s.shape == shape for s in specs)
        assert colours[colour] >= n
    # Chance would be ~1/10 for the colour and ~1/80 for colour and shape.
    assert colour_hits / checked >= 0.8, (colour_hits, checked)
    assert exact_hits / checked >= 0.5, (exact_hits, checked)


def test_red_circles_rank_first(library) -> None:
    app, photos = library
    wanted = {p.path for p in photos if p.spec.colour == "red" and p.spec.shape == "circle"}
    results = app.search("a red circle", k=len(wanted))
    # Three or more red circles among ~50 photos: at least two of them in the top places.
    assert len({r.photo.path for r in results} & wanted) >= 2, [r.photo.path for r in results]


def test_image_query_finds_the_same_scene(library, tmp_path: Path) -> None:
    app, photos = library
    found = 0
    for photo in photos[:12]:
        # The same scene, rendered again at another size and saved as another format.
        query = synth.render_scene(photo.spec, (500, 375))
        path = tmp_path / (photo.path.stem + ".png")
        query.save(path)
        top = app.search_image(path, k=3)
        found += photo.path in [r.photo.path for r in top]
    assert found >= 10, found


def test_negative_weight_moves_away(library) -> None:
    app, photos = library
    by_path = {p.path: p.spec for p in photos}
    colour = Counter(p.spec.colour for p in photos).most_common(1)[0][0]
    shapes = Counter(p.spec.shape for p in photos if p.spec.colour == colour)
    shape = shapes.most_common(1)[0][0]
    plain = app.search(f"a {colour} shape", k=10)
    minus = app.search(f"a {colour} shape -{shape}", k=10)
    n_plain = sum(by_path[r.photo.path].shape == shape for r in plain)
    n_minus = sum(by_path[r.photo.path].shape == shape for r in minus)
    assert n_minus <= n_plain
