"""`clipdesk-cli train`: heads with a JSON summary, apply/revert, pairs per source, a fine-tune
that makes a new version, activate and roll back."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from clipdesk.cli import main
from clipdesk.common import paths
from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library
from clipdesk.model import load_model, manager, synth
from clipdesk.model.testing import tiny_random_model
from clipdesk.services.training_results import last_run
from clipdesk.tags.categories import Category, Label
from clipdesk.tags.heads.selection import title
from clipdesk.tags.heads.store import applied_heads
from clipdesk.tags.store.tag_store import TagStore

N = 40


@pytest.fixture
def setup(tmp_path, one_torch_thread):
    tiny_random_model(paths.models_dir(), name="tiny")
    model = load_model("tiny", "cpu")
    lib_path = tmp_path / "lib.sqlite3"
    rng = np.random.default_rng(0)
    protos = rng.normal(size=(2, model.dim))
    y = np.arange(N) % 2
    x = protos[y] + 0.5 * rng.normal(size=(N, model.dim))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    with Library(lib_path) as lib:
        root = tmp_path / "photos"
        folder = lib.add_folder(root)
        files = [
            synth.write_photo(s, root / ("beach" if i % 2 else "city") / f"IMG_{i}.png", 40)
            for i, s in enumerate(synth.sample_scenes(0, N, split="test"))
        ]
        facts = [FileFacts(p, p.stat().st_size, i, "png", f"h{i}") for i, p in enumerate(files)]
        ids = [pid for pid, _ in lib.add_or_update_photos(folder.id, facts)]
        lib.store_embeddings(model.id, ids, x)
        tags = TagStore(lib, install_starters=False)
        tags.add_category(Category("Kind", (Label("red thing"), Label("blue thing"))))
        lid = list(tags.label_ids("Kind").values())
        with lib.transaction() as conn:
            conn.executemany(
                "INSERT INTO photo_tags(photo_id, label_id, state, updated_at) VALUES(?,?,?,?)",
                [(ids[i], lid[y[i]], "confirmed", time.time()) for i in range(30)],
            )
    return lib_path, model, ids


def _run(capsys, *argv: str) -> dict:
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_train_heads_reports_metrics_applies_and_suggests(setup, capsys):
    lib_path, model, ids = setup
    base = ["--library", str(lib_path), "--model", "tiny", "--device", "cpu", "--json"]
    d = _run(
        capsys,
        *base,
        "train",
        "heads",
        "kind",
        "--apply",
        "--suggest",
        "5",
        "--target-precision",
        "0.9",
    )
    assert d["examples"] == 30 and d["applied"]
    assert d["evaluation"]["after"]["accuracy"] >= 0.9
    assert d["evaluation"]["after"]["accuracy"] > d["evaluation"]["before"]["accuracy"]
    assert len(d["suggest"]) == 5 and all(s["photo_id"] in ids[30:] for s in d["suggest"])
    with Library(lib_path) as lib:
        assert applied_heads(lib) == [(model.id, "Kind")]
    d = _run(capsys, *base, "train", "heads", "Kind", "--revert")
    assert d["category"] == "Kind" and d["reverted"] is True
    assert d["retagged"]["photos"] == N  # back to zero-shot tags at once
    assert main([*base, "train", "heads", "Nope"]) == 1
    assert "no category" in capsys.readouterr().err


def test_train_heads_says_which_head_it_chose_with_figures_and_why(setup, capsys):
    """`--json train heads` names the method, whether zero-shot was kept, the held-out figures
    of the best trained head against the head in use (mean ± SE over the folds) and the reason;
    trained again after --apply, the applied head is the one in use a new head must beat."""
    lib_path, _model, _ids = setup
    base = ["--library", str(lib_path), "--model", "tiny", "--device", "cpu"]
    d = _run(capsys, *base, "--json", "train", "heads", "Kind")
    assert d["method"] != "zero-shot" and d["zero_shot_kept"] is False and d["kept"] is False
    fig = d["figures"]
    assert fig["metric"] == "accuracy" and fig["folds"] == 5
    assert fig["in_use"]["method"] == "zero-shot" and fig["trained"]["method"] == d["method"]
    assert fig["gain"]["mean"] > fig["gain"]["se"] >= 0
    assert fig["text"] == (
        f"{title(d['method'])} head: {fig['trained']['mean']:.2f} ± {fig['trained']['se']:.2f} "
        f"vs zero-shot {fig['in_use']['mean']:.2f} ± {fig['in_use']['se']:.2f}"
    )
    assert fig["text"] in d["reason"] and "replaces zero-shot" in d["reason"]
    assert set(d["selection"]["candidates"]) >= {"zero-shot", "probe", "cache", "logistic"}
    assert main([*base, "train", "heads", "Kind"]) == 0
    text = capsys.readouterr().out
    assert f"head: {d['method']}" in text and "replaces zero-shot" in text and " ± " in text
    _run(capsys, *base, "--json", "train", "heads", "Kind", "--apply")
    again = _run(capsys, *base, "--json", "train", "heads", "Kind")
    assert again["selection"]["in_use"] == d["method"]  # the applied head, not zero-shot


def test_train_pairs_finetune_activate_rollback(setup, capsys):
    lib_path, model, ids = setup
    base = ["--library", str(lib_path), "--model", "tiny", "--device", "cpu", "--json"]
    d = _run(capsys, *base, "train", "pairs", "--source", "tags,folders")
    assert d["by_source"] == {"tags": 30, "folders": N} and d["photos"] == N
    d = _run(
        capsys,
        *base,
        "train",
        "finetune",
        "--source",
        "tags,folders",
        "--min-steps",
        "3",
        "--epochs",
        "0.1",
        "--batch-size",
        "8",
        "--lr",
        "1e-3",
        "--val-fraction",
        "0.2",
        "--name",
        "tiny-mine",
        "--activate",
    )
    assert d["model_name"] == "tiny-mine" and d["steps"] == 3
    assert d["data"]["validation"] > 0 and "t2i_recall@5" in d["after"]
    assert d["activation"] == {"active": "tiny-mine", "shared_vectors": N, "reembed": False}
    assert manager.get_active_model() == "tiny-mine"
    with Library(lib_path) as lib:  # kept for the Train tab: the last run made from tiny
        kept = last_run(lib, "tiny")
    assert kept is not None and kept.result.model_name == "tiny-mine"
    assert len(kept.result.history["loss"]) == 3
    listed = _run(capsys, *base, "train", "versions")
    assert [v["name"] for v in listed] == ["tiny-mine"] and listed[0]["active"]
    d = _run(capsys, *base, "train", "rollback")
    assert d["active"] == "tiny" and manager.get_active_model() == "tiny"
    assert main([*base, "train", "finetune", "--resume"]) == 1  # nothing interrupted


def _kind_tags(lib_path) -> dict[tuple[int, str], tuple[str, float]]:
    with Library(lib_path) as lib:
        store = TagStore(lib, install_starters=False)
        return {
            (t.photo_id, t.label): (t.state.value, round(t.score or 0.0, 5))
            for t in store.review_list("Kind", limit=10_000)
        }


def test_train_heads_apply_retags_at_once(setup, capsys):
    """`train heads --apply` says tagging uses the head: the tags must already be the head's,
    with no `tags apply` left to run (the CLI used to leave the zero-shot tags in place)."""
    lib_path, _model, _ids = setup
    base = ["--library", str(lib_path), "--model", "tiny", "--device", "cpu", "--json"]
    _run(capsys, *base, "tags", "apply", "--category", "Kind")
    zero_shot = _kind_tags(lib_path)
    d = _run(capsys, *base, "train", "heads", "Kind", "--apply")
    assert d["applied"] and d["retagged"]["photos"] == N
    with_head = _kind_tags(lib_path)
    assert with_head != zero_shot  # the head's scores, at once
    _run(capsys, *base, "tags", "apply", "--category", "Kind")
    assert _kind_tags(lib_path) == with_head  # nothing was left stale
    code = main([*base[:-1], "train", "heads", "Kind", "--apply"])
    assert code == 0 and "retagged 40 photos now" in capsys.readouterr().out
    _run(capsys, *base, "train", "heads", "Kind", "--revert")
    assert _kind_tags(lib_path) == zero_shot  # and back, at once too


def test_train_heads_last_shows_the_kept_training_until_the_labels_change(setup, capsys):
    lib_path, _model, _ids = setup
    base = ["--library", str(lib_path), "--model", "tiny", "--device", "cpu", "--json"]
    none_yet = _run(capsys, *base, "train", "heads", "Kind", "--last")
    assert none_yet == {"category": "Kind", "trained_at": None}
    trained = _run(capsys, *base, "train", "heads", "Kind", "--suggest", "3")
    last = _run(capsys, *base, "train", "heads", "kind", "--last")
    for key in ("evaluation", "method", "examples", "suggest", "trained_at"):
        assert last[key] == trained[key], key
    assert last["applied"] is False
    assert main([*base[:-1], "train", "heads", "Kind", "--last"]) == 0
    assert "last training, " in capsys.readouterr().out
    with Library(lib_path) as lib:  # the labels edited: those figures were of another category
        TagStore(lib, install_starters=False).rename_label("Kind", "blue thing", "navy thing")
    assert _run(capsys, *base, "train", "heads", "Kind", "--last")["trained_at"] is None
