"""A synthetic world of coloured shapes with captions: training data for the demo model and
ground truth for tests that need real semantics ("does 'a red circle' find red circles?").

Vocabulary: 10 colours (:data:`COLOURS`), 12 shapes (:data:`SHAPES`: the demo-model issue's eight
plus oval, semicircle, trapezoid, arch), counts 1-3, sizes small/large,
positions (centre, left, right, top, bottom and the four corners) for single objects, backgrounds
plain / stripes / dots / gradient / noise in a pale or dark tint of a colour.

API::

    from clipdesk.model import synth

    spec = synth.SceneSpec(colour="red", shape="star", count=2, size="small",
                           position=None, background="stripes", bg_colour="green", seed=7)
    img = synth.render_scene(spec, 96)                 # PIL RGB, deterministic for a spec
    img = synth.render_scene(spec, (4000, 3000))       # any size, camera-like included
    text = synth.caption(spec, random.Random(0))       # "two small red stars on green stripes"

    specs = synth.sample_scenes(seed=0, n=100, split="test")      # held-out seeds, seen combos
    specs = synth.sample_scenes(0, 50, split="heldout", count=1)  # combos never in training
    synth.scene_at("eval", seed, i)                    # one scene, random access
    synth.SynthPairs(length, image_size, split, seed)[i]  # (PIL image, caption), for training

    photos = synth.write_photo_folder(tmp_path, n=20, seed=0)          # [(path, spec), ...]
    photos = synth.write_photo_folder(tmp_path, 3, size=(4000, 3000))   # camera-sized files

    synth.render_scene(spec.with_(shape="hexagon"), 96)  # shapes outside the vocabulary:
    synth.EXTRA_SHAPES                                   # hexagon pentagon octagon arrow crescent
    synth.register_shape("blob", drawer)                 # or your own

Splits (see :mod:`.world`): ``train`` never contains :data:`HELDOUT_COMBOS` (e.g. a purple star);
``test`` uses the same combinations with seeds training never draws; ``heldout`` only the held-out
combinations; ``eval`` both. Tests must evaluate on ``test``/``heldout``/``eval`` scenes only.
Zero-shot prompt ensembles for colour, shape and count: :func:`zero_shot_prompts`.
"""

from clipdesk.model.synth.captions import (
    COLOUR_TEMPLATES,
    COUNT_TEMPLATES,
    SHAPE_TEMPLATES,
    caption,
    caption_corpus,
    plural,
    zero_shot_prompts,
)
from clipdesk.model.synth.dataset import SynthPairs
from clipdesk.model.synth.photos import FORMATS, PhotoFile, write_photo, write_photo_folder
from clipdesk.model.synth.render import (
    EXTRA_SHAPES,
    colour_rgb,
    polygon_shape,
    register_shape,
    render_scene,
    shape_names,
)
from clipdesk.model.synth.world import (
    BACKGROUND_COLOURS,
    BACKGROUNDS,
    COLOURS,
    CORE_SHAPES,
    COUNTS,
    HELDOUT_COMBOS,
    POSITIONS,
    SHAPES,
    SIZES,
    SPLITS,
    SceneSpec,
    sample_scenes,
    scene_at,
)

__all__ = [
    "BACKGROUNDS",
    "BACKGROUND_COLOURS",
    "COLOURS",
    "COLOUR_TEMPLATES",
    "CORE_SHAPES",
    "COUNTS",
    "COUNT_TEMPLATES",
    "EXTRA_SHAPES",
    "FORMATS",
    "HELDOUT_COMBOS",
    "POSITIONS",
    "SHAPES",
    "SHAPE_TEMPLATES",
    "SIZES",
    "SPLITS",
    "PhotoFile",
    "SceneSpec",
    "SynthPairs",
    "caption",
    "caption_corpus",
    "colour_rgb",
    "plural",
    "polygon_shape",
    "register_shape",
    "render_scene",
    "sample_scenes",
    "scene_at",
    "shape_names",
    "write_photo",
    "write_photo_folder",
    "zero_shot_prompts",
]
