"""``clipdesk-cli vectors import DIR [--map FROM=TO ...]``: the summary in words and in JSON,
refusals as errors with hints, Ctrl+C between shards, and the imported photos searched and
listed by the other commands (issue #20, item 2)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from clipdesk.cli import index as cli_index
from clipdesk.cluster.shards import ShardModel
from clipdesk.model.synth import SceneSpec, write_photo
from tests.support.cli_process import cli
from tests.support.demo_model import load_demo_model
from tests.support.vector_shards import embed_files, photo_shard


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, list[Path], ShardModel, np.ndarray]:
    """Three photos and their vectors by the bundled demo model (the CLI's default here)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIPDESK_RUNTIME", "torch")
        demo = load_demo_model()
    root = tmp_path_factory.mktemp("photos")
    specs = {"red-circle": ("red", "circle"), "blue-square": ("blue", "square")}
    specs["green-triangle"] = ("green", "triangle")
    paths = [
        write_photo(SceneSpec(c, s, bg_colour="grey", seed=i), root / f"{n}.jpg", size=128)
        for i, (n, (c, s)) in enumerate(specs.items())
    ]
    return root, paths, ShardModel.of(demo), embed_files(demo, paths)


def _out(tmp_path, made, recorded=None, model=None) -> Path:
    root, paths, demo, vectors = made
    out = tmp_path / "out"
    for i in range(len(paths)):  # a shard a photo: three transactions
        photo_shard(out, model or demo, paths[i : i + 1], root, vectors[i : i + 1], recorded)
    return out


def test_import_prints_a_summary_and_search_and_folders_see_the_photos(tmp_path, made, capsys):
    root = made[0]
    lib = str(tmp_path / "lib.sqlite3")
    out = _out(tmp_path, made, recorded="/cluster/photos")
    code, said, err = cli(
        capsys, "--library", lib, "vectors", "import", str(out), "--map", f"/cluster/photos={root}"
    )
    assert code == 0, err
    assert said.startswith("Imported 3 photos from 3 of 3 shards in ")
    assert f"Added the folder {root}" in said and "PyTorch fp32" in said
    code, said, _ = cli(capsys, "--library", lib, "--json", "search", "a red circle", "-k", "1")
    assert code == 0 and Path(json.loads(said)["results"][0]["path"]).name == "red-circle.jpg"
    code, said, _ = cli(capsys, "--library", lib, "--json", "folders", "list")
    [folder] = json.loads(said)
    assert folder["path"] == str(root) and folder["by_status"] == {"ok": 3}
    code, said, _ = cli(capsys, "--library", lib, "--json", "vectors", "import", str(out),
                        "--map", f"/cluster/photos={root}")  # fmt: skip
    again = json.loads(said)
    assert code == 0 and (again["added"], again["unchanged"], again["shards"]) == (0, 3, 3)
    assert again["model"].startswith("clipdesk-mini@") and again["runtime"] == "torch-fp32"
    assert again["bad_shards"] == [] and again["refused"] == 0


def test_another_models_shards_are_an_error_with_a_hint_and_nothing_is_written(
    tmp_path, made, capsys
):
    other = ShardModel("other@0123456789ab", "0" * 64, "torch", "fp32", made[2].dim)
    lib = str(tmp_path / "lib.sqlite3")
    code, said, err = cli(capsys, "--library", lib, "vectors", "import", str(_out(tmp_path, made, model=other)))  # fmt: skip
    assert code == 1 and said == ""
    assert err.startswith("error: The shard ") and "(weights differ)" in err
    assert "hint: Import them with --model set to the model that made them" in err
    code, said, _ = cli(capsys, "--library", lib, "--json", "folders", "list")
    assert json.loads(said) == []


def test_a_bad_map_and_an_unreadable_shard_are_said(tmp_path, made, capsys):
    lib = str(tmp_path / "lib.sqlite3")
    out = _out(tmp_path, made)
    code, _, err = cli(capsys, "--library", lib, "vectors", "import", str(out), "--map", "nope")
    assert code == 1 and "error: --map 'nope' is not FROM=TO." in err
    (out / "shard-zz-damaged.parquet").write_bytes(b"\0" * 64)
    code, said, _ = cli(capsys, "--library", lib, "--json", "vectors", "import", str(out))
    data = json.loads(said)
    assert code == 1 and data["added"] == 3
    [bad] = data["bad_shards"]
    assert bad["shard"].endswith("shard-zz-damaged.parquet") and "Parquet" in bad["reason"]


def test_ctrl_c_stops_between_shards_and_a_rerun_finishes(tmp_path, made, capsys, monkeypatch):
    lib = str(tmp_path / "lib.sqlite3")
    out = _out(tmp_path, made)
    shown = cli_index.ProgressBar.__call__

    def interrupted_after_the_first(self, p):
        shown(self, p)
        if p.done == 1:
            signal.raise_signal(signal.SIGINT)  # the user's Ctrl+C, as the first shard is in
            # the main thread handles it within a join's 0.2 s; until then the import would
            # be a shard further than a real Ctrl+C at this moment had left it
            waited = time.monotonic()
            while signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
                assert time.monotonic() - waited < 5, "the CLI never saw the Ctrl+C"
                time.sleep(0.01)

    monkeypatch.setattr(cli_index.ProgressBar, "__call__", interrupted_after_the_first)
    code, said, _ = cli(capsys, "--library", lib, "--json", "vectors", "import", str(out))
    data = json.loads(said)
    assert code == 130 and data["cancelled"] and data["imported"] == 1 and data["added"] == 1
    monkeypatch.undo()
    code, said, _ = cli(capsys, "--library", lib, "vectors", "import", str(out))
    assert code == 0 and "2 new, 0 given their vectors, 1 already here" in said


def test_an_import_that_takes_the_library_past_the_threshold_builds_its_search_index(
    tmp_path, made, capsys
):
    from tests.support.ann_library import THRESHOLD
    from tests.support.vector_shards import fake_files

    demo = made[2]
    lib = str(tmp_path / "lib.sqlite3")
    out = tmp_path / "out"
    fake_files(tmp_path / "archive", THRESHOLD + 100, demo.dim, demo, out, per_shard=200)
    assert cli(capsys, "--library", lib, "ann", "threshold", str(THRESHOLD))[0] == 0
    code, said, err = cli(
        capsys, "--library", lib, "--json", "vectors", "import", str(out), "--no-ocr"
    )
    assert code == 0, err
    done = json.loads(said)
    assert done["added"] == THRESHOLD + 100
    assert done["ann"]["action"] == "built" and done["ann"]["vectors"] == THRESHOLD + 100
