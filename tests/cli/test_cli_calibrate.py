"""`clipdesk-cli tags calibrate`: the same calibration as the Tags page's panel (one services
call), its known answer on a set of decisions, and --apply setting the thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipdesk.cli import main
from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library
from clipdesk.model import load_model
from clipdesk.services.app import ClipDeskServices
from clipdesk.tags.categories import Category, Mode


@pytest.fixture
def library(tmp_path: Path, model_dir: Path) -> Path:
    """8 photos with vectors of the tiny model; a multi-label category; the 3 photos the model
    scores highest for "red" confirmed, the other 5 rejected."""
    path = tmp_path / "library.sqlite3"
    folder = tmp_path / "photos"
    folder.mkdir()
    model = load_model(model_dir, device="cpu")
    with Library(path) as lib:
        f = lib.add_folder(folder)
        facts = []
        for i in range(8):
            p = folder / f"p{i}.jpg"
            Image.new("RGB", (8, 8), (30 * i, 0, 0)).save(p)
            facts.append(FileFacts(p, p.stat().st_size, p.stat().st_mtime_ns, "jpeg", f"h{i}"))
        ids = [pid for pid, _ in lib.add_or_update_photos(f.id, facts)]
        vecs = np.random.default_rng(3).standard_normal((8, model.dim)).astype(np.float32)
        lib.store_embeddings(model.id, ids, vecs / np.linalg.norm(vecs, axis=1, keepdims=True))
    with ClipDeskServices(path, model=str(model_dir), device="cpu") as app:
        app.tags.add_category(Category("Colour", ("red", "green"), Mode.MULTI, 0.5))
    return path


def run(capsys, *argv: str) -> tuple[int, object]:
    code = main(["--json", *argv])
    out, _ = capsys.readouterr()
    return code, json.loads(out) if code == 0 else out


def test_calibrate_prints_the_threshold_of_the_users_decisions_and_apply_sets_it(
    capsys, library, model_dir
):
    with ClipDeskServices(library, model=str(model_dir), device="cpu") as app:
        cat = app.tags.category("Colour")
        ids, vectors = app.library.load_vectors(app.tags.model().id)
        red = app.tags.tagger().classifier(cat).scores(vectors)[:, 0]
        order = np.argsort(-red)
        app.tags.decide(ids[order[:3]].tolist(), "Colour", "red", "confirmed")
        app.tags.decide(ids[order[3:]].tolist(), "Colour", "red", "rejected")
        expected = app.heads.calibrate("Colour", 1.0).to_json()
    base = ["--library", str(library), "--model", str(model_dir), "--device", "cpu", "tags"]
    code, data = run(capsys, *base, "calibrate", "Colour", "--precision", "1")
    assert code == 0 and isinstance(data, dict)
    assert {k: v for k, v in data.items() if k != "applied"} == expected  # the panel's figures
    red_row = data["rows"][0]
    # every confirmed photo above every rejected one: 100% at the third-highest score
    assert red_row["threshold"] == pytest.approx(float(red[order[2]]), abs=1e-4)
    assert (red_row["precision"], red_row["recall"], red_row["decisions"]) == (1.0, 1.0, 8)
    assert data["rows"][1]["threshold"] is None and data["applied"] is False
    code, data = run(capsys, *base, "calibrate", "Colour", "--precision", "1", "--apply")
    assert code == 0 and isinstance(data, dict) and data["applied"] is True
    with ClipDeskServices(library, model=str(model_dir), device="cpu") as app:
        threshold = app.tags.category("Colour").labels[0].threshold
    assert threshold == pytest.approx(float(red[order[2]]), abs=1e-4)


def test_a_precision_out_of_range_is_a_usage_error(capsys, library):
    with pytest.raises(SystemExit) as exc:
        main(["--library", str(library), "tags", "calibrate", "Colour", "--precision", "1.5"])
    assert exc.value.code == 2
    assert "precision above 0 and at most 1" in capsys.readouterr().err
