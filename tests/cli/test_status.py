"""``clipdesk-cli status``: counts, vectors per model, errors with reasons."""

from __future__ import annotations

import json

import numpy as np

from clipdesk.cli import main
from clipdesk.library.store import SEARCH_MODEL_KEY, Library
from clipdesk.scanning.scanner import Scanner
from tests.support.photofiles import make_photo


def test_status_of_an_empty_library(tmp_path, capsys):
    Library(tmp_path / "new.sqlite3").close()  # status reads a library; it never creates one
    code = main(["--library", str(tmp_path / "new.sqlite3"), "status"])
    out = capsys.readouterr().out
    assert code == 0 and "photos: 0" in out and "not chosen yet" in out


def test_status_reports_model_progress_and_limits_errors(tmp_path, capsys):
    root = tmp_path / "P"
    for i in range(4):
        make_photo(root / f"p{i}.jpg", seed=i)
    for i in range(3):
        (root / f"bad{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    path = tmp_path / "lib.sqlite3"
    with Library(path) as lib:
        Scanner(lib).add_folder(root)
        work = lib.pending_photos("mini@abc")
        good = [p for p in work if p.path.suffix == ".jpg"][:3]
        lib.store_embeddings("mini@abc", [p.id for p in good], np.ones((3, 4)))
        for p in work:
            if p.path.suffix == ".png":
                lib.mark_error(p.id, "truncated PNG")
        lib.set_setting(SEARCH_MODEL_KEY, {"id": "mini@abc", "source": "mini"})
    code = main(["--library", str(path), "--json", "status", "--errors", "2"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    # No model chosen in the settings: the default runs; search uses the recorded vectors.
    assert data["model"] is None and data["default_model"] == "clipdesk-mini"
    assert data["search_model"] == "mini@abc" and data["vectors"] == {"mini@abc": 3}
    assert data["pending"] == {"mini@abc": 1}
    assert data["photos"]["error"] == 3 and len(data["errors"]) == 2
    assert data["errors"][0]["reason"] == "truncated PNG"
    main(["--library", str(path), "status"])
    text = capsys.readouterr().out
    assert "vectors for mini@abc: 3, 1 to go" in text and "errors (3 of 3)" in text
