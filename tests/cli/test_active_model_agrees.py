"""After `clipdesk-cli train rollback`, every face names the same model: the shared settings,
`models list`, `status`, and an app started afterwards. The CLI runs as a subprocess (a user's
shell) over the library chosen in the app's settings, not one given with --library."""

from __future__ import annotations

import time
from functools import partial

import pytest

from clipdesk.common import config, paths
from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library
from clipdesk.model import load_model, synth
from clipdesk.model.testing import tiny_random_model
from clipdesk.services.app import ClipDeskServices
from clipdesk.services.settings import SettingsService
from clipdesk.tags.categories import Category, Label
from clipdesk.tags.store.tag_store import TagStore
from tests.support.cli_process import cli_json as run_cli_json

# fine-tuning runs inside one of these commands: a longer guard than the helper's default
cli_json = partial(run_cli_json, timeout=600)
N = 24


@pytest.fixture
def library(tmp_path, one_torch_thread):
    """A library of N generated photos embedded with 'tiny', 16 of them with a confirmed tag,
    chosen as the library in use in the shared settings (as the app's Settings would)."""
    tiny_random_model(paths.models_dir(), name="tiny")
    model = load_model("tiny", "cpu")
    path = tmp_path / "chosen" / "lib.sqlite3"
    path.parent.mkdir()
    root = tmp_path / "photos"
    scenes = synth.sample_scenes(0, N, split="test")
    files = [synth.write_photo(s, root / f"IMG_{i}.png", 40) for i, s in enumerate(scenes)]
    with Library(path) as lib:
        folder = lib.add_folder(root)
        facts = [FileFacts(p, p.stat().st_size, i, "png", f"h{i}") for i, p in enumerate(files)]
        ids = [pid for pid, _ in lib.add_or_update_photos(folder.id, facts)]
        lib.store_embeddings(
            model.id, ids, model.encode_images([synth.render_scene(s, 40) for s in scenes])
        )
        tags = TagStore(lib, install_starters=False)
        tags.add_category(Category("Kind", (Label("red thing"), Label("blue thing"))))
        label_ids = list(tags.label_ids("Kind").values())
        with lib.transaction() as conn:
            conn.executemany(
                "INSERT INTO photo_tags(photo_id, label_id, state, updated_at) VALUES(?,?,?,?)",
                [(ids[i], label_ids[i % 2], "confirmed", time.time()) for i in range(16)],
            )
    SettingsService().set_library_path(path)
    SettingsService().set_device("cpu")
    return path


def test_after_rollback_settings_models_list_status_and_the_app_agree(library):
    assert cli_json("models", "activate", "tiny")["active"] == "tiny"
    tuned = cli_json(
        "train", "finetune", "--source", "tags,folders", "--min-steps", "3", "--epochs", "0.1",
        "--batch-size", "8", "--lr", "1e-3", "--name", "tiny-mine", "--activate",
    )  # fmt: skip
    assert tuned["activation"] == {"active": "tiny-mine", "shared_vectors": N, "reembed": False}
    # indexing switches search over to the new version (and drops the old vectors): the state
    # in which `status` used to name the search model rather than the active one
    cli_json("index")
    assert cli_json("status")["search_model"].startswith("tiny-mine@")

    back = cli_json("train", "rollback")
    assert back["active"] == "tiny"

    listed = cli_json("models", "list")
    status = cli_json("status")
    with ClipDeskServices() as app:  # what the app opens on its next start
        started = (app.models.active(), app.model.name, str(app.library_path))
    assert config.load().model == "tiny"
    assert listed["active"] == "tiny"
    assert [m["name"] for m in listed["models"] if m["active"]] == ["tiny"]
    assert status["model"] == "tiny"
    assert status["library"] == str(library)  # the CLI used the app's library
    assert started == ("tiny", "tiny", str(library))
