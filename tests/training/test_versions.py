"""Activating a fine-tuned version shares the library's image vectors and tag heads when the image
towers match, and makes it the active model for both faces; rolling back returns to the base."""

from __future__ import annotations

import random

import numpy as np
import pytest

from clipdesk.common import config, paths
from clipdesk.common.errors import ModelError
from clipdesk.library.records import FileFacts
from clipdesk.model import load_model, manager, synth
from clipdesk.model.caption_data import CaptionPair
from clipdesk.model.finetune import FinetuneJob, FinetuneOptions
from clipdesk.model.testing import tiny_random_model
from clipdesk.services.app import ClipDeskServices
from clipdesk.tags.categories import Mode
from clipdesk.tags.heads import store as head_store
from clipdesk.tags.heads.fit import Head

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pairs(tmp_path, n: int, offset: int = 0) -> list[CaptionPair]:
    out = []
    for i, spec in enumerate(synth.sample_scenes(3, n, split="test")):
        path = synth.write_photo(spec, tmp_path / "photos" / f"p{offset + i}.png", 40)
        out.append(CaptionPair(offset + i, path, synth.caption(spec, random.Random(i)), "tags"))
    return out


def test_activate_shares_image_vectors_and_heads_and_rollback_returns_to_the_base(tmp_path):
    tiny_random_model(paths.models_dir(), name="tiny-base")
    train, val = _pairs(tmp_path, 8), _pairs(tmp_path, 4, offset=50)
    opts = FinetuneOptions(towers="text", min_steps=2, epochs=1, batch_size=4, lr=1e-3)
    result = FinetuneJob.create("tiny-base", train, val, opts, root=tmp_path / "jobs").run()

    base_model = load_model("tiny-base", "cpu")
    with ClipDeskServices(tmp_path / "lib.sqlite3", model="tiny-base", device="cpu") as app:
        lib = app.library
        folder = lib.add_folder(tmp_path / "photos")
        facts = [FileFacts(p.path, 1, i, "png", f"h{i}") for i, p in enumerate(train)]
        ids = [pid for pid, _ in lib.add_or_update_photos(folder.id, facts)]
        vecs = base_model.encode_images([synth.render_scene(synth.sample_scenes(9, 1)[0], 40)] * 8)
        lib.store_embeddings(base_model.id, ids, vecs)
        w = np.eye(2, 32, dtype=np.float32)
        head = Head(
            "Kind",
            Mode.SINGLE,
            ("a", "b"),
            base_model.id,
            "fp",
            w,
            np.zeros(2, np.float32),
            w,
            lam=0.1,
        )
        head_store.apply_head(lib, head)

        out = app.training.activate(result.model_name)
        assert out.to_json() == {"active": result.model_name, "shared_vectors": 8, "reembed": False}
        assert config.load().model == result.model_name == manager.get_active_model()
        new_id = load_model(result.model_name, "cpu").id
        assert app.model.id == new_id  # the running services switched over
        _, copied = lib.vectors_for(new_id, ids)
        np.testing.assert_array_equal(copied, vecs)
        # a head on the shared image vectors holds for the new model too
        moved = head_store.applied_head(lib, new_id, "Kind")
        assert moved is not None and (moved.weights == head.weights).all()
        [version] = app.training.versions()
        assert version.name == result.model_name and version.active

        lib.delete_embeddings(base_model.id)  # what the app does once search switched over
        back = app.training.rollback()
        assert (back.active, back.shared_vectors, back.reembed) == ("tiny-base", 8, False)
        assert config.load().model == "tiny-base" and app.model.id == base_model.id
        with pytest.raises(ModelError, match="not a fine-tuned version"):
            app.training.rollback("tiny-base")
        with pytest.raises(ModelError, match="no installed model"):
            app.training.activate("nope")


def test_a_both_towers_version_shares_nothing_and_needs_reembedding(tmp_path):
    tiny_random_model(paths.models_dir(), name="tiny-base")
    train, val = _pairs(tmp_path, 8), _pairs(tmp_path, 4, offset=50)
    opts = FinetuneOptions(towers="both", min_steps=2, epochs=1, batch_size=4, lr=1e-3)
    result = FinetuneJob.create("tiny-base", train, val, opts, root=tmp_path / "jobs").run()
    base_model = load_model("tiny-base", "cpu")
    with ClipDeskServices(tmp_path / "lib.sqlite3", model="tiny-base", device="cpu") as app:
        lib = app.library
        folder = lib.add_folder(tmp_path / "photos")
        facts = [FileFacts(p.path, 1, i, "png", f"h{i}") for i, p in enumerate(train)]
        ids = [pid for pid, _ in lib.add_or_update_photos(folder.id, facts)]
        lib.store_embeddings(base_model.id, ids, np.eye(8, base_model.dim, dtype=np.float32))
        out = app.training.activate(result.model_name)
        assert (out.shared_vectors, out.reembed) == (0, True)
        # search stays on the base model's vectors until the new ones are made
        assert app.reembedding and app.search_model().id == base_model.id
