"""The synthetic world: determinism, held-out splits, captions, rendering truth, photo files."""

from __future__ import annotations

import random
from collections import deque

import numpy as np
import pytest
from PIL import Image, ImageOps

from clipdesk.model import synth
from clipdesk.model.synth import SceneSpec, render_scene, sample_scenes, scene_at


def _object_mask(img: Image.Image, spec: SceneSpec, tol: float = 60.0) -> np.ndarray:
    arr = np.asarray(img, dtype=np.float32)
    return np.linalg.norm(arr - np.asarray(synth.colour_rgb(spec.colour), np.float32), axis=2) < tol


def _components(mask: np.ndarray, min_pixels: int = 30) -> int:
    seen = np.zeros_like(mask)
    h, w = mask.shape
    found = 0
    for y, x in zip(*np.nonzero(mask), strict=True):
        if seen[y, x]:
            continue
        size, queue = 0, deque([(y, x)])
        seen[y, x] = True
        while queue:
            cy, cx = queue.popleft()
            size += 1
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
        found += size >= min_pixels
    return found


def test_rendering_and_sampling_are_deterministic():
    assert sample_scenes(3, 50, "train") == sample_scenes(3, 50, "train")
    assert sample_scenes(3, 50, "train") != sample_scenes(4, 50, "train")
    spec = scene_at("test", 0, 7)
    a, b = render_scene(spec, 96), render_scene(spec, 96)
    assert a.size == (96, 96) and a.mode == "RGB"
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert render_scene(spec, (400, 300)).size == (400, 300)


def test_training_split_never_holds_the_heldout_combinations():
    train = sample_scenes(0, 4000, "train")
    assert not {s.combo for s in train} & synth.HELDOUT_COMBOS
    # every other combination, every background, count, size and position does occur
    assert len({s.combo for s in train}) == 10 * len(synth.SHAPES) - len(synth.HELDOUT_COMBOS)
    assert {s.background for s in train} == set(synth.BACKGROUNDS)
    assert {s.count for s in train} == {1, 2, 3}
    assert {s.position for s in train if s.count == 1} == set(synth.POSITIONS)
    assert ("purple", "star") in synth.HELDOUT_COMBOS


def test_evaluation_splits_use_seeds_training_never_draws():
    train_seeds = {s.seed for s in sample_scenes(0, 3000, "train")}
    for split in ("test", "heldout", "eval"):
        specs = sample_scenes(0, 500, split)
        assert not {s.seed for s in specs} & train_seeds
    assert {s.combo for s in sample_scenes(0, 300, "heldout")} == set(synth.HELDOUT_COMBOS)
    assert {s.combo for s in sample_scenes(0, 300, "test")}.isdisjoint(synth.HELDOUT_COMBOS)
    with pytest.raises(ValueError, match="unknown split"):
        scene_at("validation", 0, 0)


def test_pinned_attributes_and_background_never_matches_object():
    specs = sample_scenes(1, 200, "eval", count=1, colour="purple", shape="star")
    assert all(s.combo == ("purple", "star") and s.count == 1 for s in specs)
    assert all(s.bg_colour != s.colour for s in sample_scenes(2, 500, "train"))
    with pytest.raises(ValueError):
        scene_at("train", 0, 0, colour="purple", shape="star")


def test_render_shows_the_object_in_its_colour_and_position():
    for position, side in (("left", "x<"), ("right", "x>"), ("top", "y<"), ("bottom", "y>")):
        spec = SceneSpec("red", "square", 1, "large", position, "plain", "blue", seed=5)
        mask = _object_mask(render_scene(spec, 128), spec)
        ys, xs = np.nonzero(mask)
        assert mask.mean() > 0.08, position
        value = xs.mean() if side[0] == "x" else ys.mean()
        assert (value < 64) if side[1] == "<" else (value > 64), position
    # the background's tint keeps every object visible, white on white included
    spec = SceneSpec("white", "circle", 1, "large", "centre", "noise", "yellow", seed=1)
    assert _object_mask(render_scene(spec, 128), spec, tol=40).mean() > 0.1


@pytest.mark.parametrize("count", [1, 2, 3])
def test_render_draws_count_separate_objects(count):
    for seed in range(4):
        spec = SceneSpec(
            "blue",
            "circle",
            count,
            "small",
            None if count > 1 else "centre",
            "stripes",
            "yellow",
            seed=seed,
        )
        assert _components(_object_mask(render_scene(spec, 256), spec)) == count


def test_shapes_differ_and_new_shapes_render():
    masks = {}
    for shape in synth.SHAPES:
        spec = SceneSpec("black", shape, 1, "large", "centre", "plain", "white", seed=3)
        masks[shape] = _object_mask(render_scene(spec, 96), spec)
    for a in synth.SHAPES:
        for b in synth.SHAPES:
            if a < b:
                # share of the two outlines' union that only one covers
                assert (masks[a] != masks[b]).sum() / (masks[a] | masks[b]).sum() > 0.15, (a, b)
    assert masks["ring"][48, 48] == 0 and masks["circle"][48, 48] == 1  # a ring has a hole
    for shape in synth.EXTRA_SHAPES:
        spec = SceneSpec("green", shape, 2, "large", None, "dots", "pink", seed=1)
        assert _object_mask(render_scene(spec, 96), spec).mean() > 0.03, shape
    with pytest.raises(ValueError, match="unknown shape"):
        render_scene(SceneSpec("red", "dodecahedron"), 64)


def test_register_shape_adds_a_renderable_shape():
    synth.register_shape(
        "bar", synth.polygon_shape([(-0.9, -0.2), (0.9, -0.2), (0.9, 0.2), (-0.9, 0.2)])
    )
    assert "bar" in synth.shape_names()
    spec = SceneSpec("orange", "bar", 1, "large", "centre", "plain", "blue", seed=0)
    mask = _object_mask(render_scene(spec, 100), spec)
    ys, xs = np.nonzero(mask)
    assert np.ptp(xs) > 2 * np.ptp(ys)  # wide and flat


def test_captions_vary_and_name_what_is_drawn():
    spec = SceneSpec("red", "triangle", 2, "small", None, "stripes", "green", seed=9)
    texts = [synth.caption(spec, random.Random(i)) for i in range(300)]
    assert len(set(texts)) > 100
    assert sum("red" in t for t in texts) > 240 and sum("triangle" in t for t in texts) > 240
    assert any("two" in t for t in texts) and any("striped" in t or "stripes" in t for t in texts)
    assert not any("circle" in t or "blue" in t or "three" in t for t in texts)
    assert any(t.startswith("red triangles, two of them") for t in texts)
    single = SceneSpec("orange", "cross", 1, "large", "top left", "plain", "grey", seed=1)
    texts = [synth.caption(single, random.Random(i)) for i in range(300)]
    assert any("top left" in t for t in texts)
    assert any(t.startswith("an orange") for t in texts) and not any(
        " a orange" in t for t in texts
    )
    assert synth.plural("cross") == "crosses" and synth.plural("star") == "stars"
    assert synth.plural("arch") == "arches"


def test_zero_shot_prompts_cover_the_vocabulary():
    colours = synth.zero_shot_prompts("colour")
    assert list(colours) == list(synth.COLOURS) and all(len(p) >= 3 for p in colours.values())
    assert set(synth.zero_shot_prompts("shape")) == set(synth.SHAPES)
    assert list(synth.zero_shot_prompts("count")) == ["one", "two", "three"]


def test_synth_pairs_are_reproducible_training_items():
    pairs = synth.SynthPairs(100, 48, split="train", seed=2)
    img, text = pairs[5]
    img2, text2 = pairs[5]
    assert (
        img.size == (48, 48) and text == text2 and np.array_equal(np.asarray(img), np.asarray(img2))
    )
    assert pairs.spec(5).combo not in synth.HELDOUT_COMBOS
    with pytest.raises(IndexError):
        pairs[100]


def test_synth_pairs_can_arrange_hard_negative_batches():
    pairs = synth.SynthPairs(256, 32, split="train", seed=0, colour_groups=(64, 4))
    for batch in range(4):
        colours = [pairs.spec(batch * 64 + j).colour for j in range(64)]
        assert len(set(colours)) == 4 and all(colours.count(c) == 16 for c in set(colours))
    assert len({pairs.spec(j).shape for j in range(64)}) >= 6
    assert not {pairs.spec(j).combo for j in range(256)} & synth.HELDOUT_COMBOS


def test_shape_contrast_groups_differ_only_in_shape():
    from clipdesk.model.synth.world import shape_contrast_group

    for group in range(30):
        specs = shape_contrast_group("train", 0, group)
        assert len(specs) == len(synth.SHAPES)
        assert len({(s.colour, s.count, s.size, s.background, s.bg_colour) for s in specs}) == 1
        assert len({s.shape for s in specs}) >= len(synth.SHAPES) - 1  # one held-out slot refilled
        assert not {s.combo for s in specs} & synth.HELDOUT_COMBOS
        assert all(s.seed % 2 == 0 for s in specs)  # training seed stream
    pairs = synth.SynthPairs(64, 32, shape_groups=True)
    n = len(synth.SHAPES)
    assert [pairs.spec(i) for i in range(n)] == shape_contrast_group("train", 0, 0)
    assert [pairs.spec(n + i) for i in range(n)] == shape_contrast_group("train", 0, 1)


def test_photo_folder_has_formats_nesting_and_exif_orientation(tmp_path):
    photos = synth.write_photo_folder(tmp_path, 24, seed=4, exif_fraction=0.6)
    assert len(photos) == 24
    assert {p.path.suffix for p in photos} == {".jpg", ".png", ".webp"}
    assert len({p.path.parent for p in photos}) > 2 and any(
        len(p.path.relative_to(tmp_path).parts) > 2 for p in photos
    )
    rotated = 0
    for path, spec in photos:
        with Image.open(path) as im:
            orientation = im.getexif().get(0x0112, 1)
            upright = ImageOps.exif_transpose(im).convert("RGB")
        rotated += orientation != 1
        reference = np.asarray(render_scene(spec, upright.size), dtype=np.float32)
        assert np.abs(np.asarray(upright, dtype=np.float32) - reference).mean() < 6, path
    assert rotated >= 2


def test_photo_folder_writes_camera_sized_files(tmp_path):
    ((path, spec),) = synth.write_photo_folder(
        tmp_path, 1, seed=1, size=(4000, 3000), formats=("jpg",)
    )
    with Image.open(path) as im:
        assert im.size == (4000, 3000) and im.format == "JPEG"
    with pytest.raises(ValueError, match="unsupported photo format"):
        synth.write_photo_folder(tmp_path, 1, formats=("gif",))


def test_core_shapes_limit_evaluation_scenes_to_the_issues_eight():
    from clipdesk.model.synth.evaluate import balanced_scenes, shape_prompts, single_object_scenes

    assert len(synth.CORE_SHAPES) == 8 and set(synth.CORE_SHAPES) < set(synth.SHAPES)
    assert "oval" in synth.SHAPES and "oval" not in synth.CORE_SHAPES
    assert {s.shape for s in single_object_scenes("test", 300)} == set(synth.CORE_SHAPES)
    assert {s.shape for s in single_object_scenes("test", 300, shapes=synth.SHAPES)} == set(
        synth.SHAPES
    )
    assert len({s.combo for s in balanced_scenes(80)}) == 80
    assert list(shape_prompts()) == list(synth.CORE_SHAPES)
    with pytest.raises(ValueError, match="no scenes of"):
        synth.scene_at("heldout", 0, 0, shapes=("oval",))
