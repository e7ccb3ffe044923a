"""``clipdesk-cli ann status|build|threshold`` and the index run that builds the approximate
search index at its end when one is due (issue #20, item 3)."""

from __future__ import annotations

import json
from pathlib import Path

from clipdesk.services.app import ClipDeskServices
from tests.support.ann_library import THRESHOLD, vectors_library
from tests.support.cli_process import cli


def _library(tmp_path: Path, model_dir: Path, n: int = 400) -> str:
    library = tmp_path / "lib.sqlite3"
    with ClipDeskServices(library, model=str(model_dir), device="cpu") as app:
        vectors_library(app, tmp_path, {"pics": n})
    return str(library)


def test_status_threshold_and_build_say_what_search_does(tmp_path, model_dir, capsys) -> None:
    library = _library(tmp_path, model_dir)
    base = ("--library", library, "--model", str(model_dir))
    code, out, _ = cli(capsys, *base, "ann", "status")
    assert code == 0 and out.startswith("search: exact search of 400 photos (approximate from ")
    code, out, _ = cli(capsys, *base, "ann", "threshold", f"{THRESHOLD:,}")
    assert code == 0 and out.startswith("Approximate search from 300 photos.")
    assert "`clipdesk-cli index` or `ann build` builds the index" in out
    assert "not built yet; `clipdesk-cli ann build` builds it" in out
    code, out, _ = cli(capsys, *base, "--json", "ann", "build")
    built = json.loads(out)
    assert code == 0 and built["action"] == "built" and built["vectors"] == 400
    assert built["status"]["built"] == 400 and not built["status"]["due"]
    code, out, _ = cli(capsys, *base, "ann", "status")
    assert "search: approximate index of 400 photos" in out and "nprobe" in out
    code, out, _ = cli(capsys, *base, "--json", "ann", "threshold", "auto")
    assert json.loads(out)["automatic"] and not json.loads(out)["wanted"]


def test_a_threshold_that_is_no_number_is_refused(tmp_path, model_dir, capsys) -> None:
    library = _library(tmp_path, model_dir, n=10)
    code, _, err = cli(capsys, "--library", library, "ann", "threshold", "lots")
    assert code == 1 and "'lots' is not a number of photos" in err and "auto" in err


def test_index_builds_the_index_at_its_end_when_one_is_due(tmp_path, model_dir, capsys) -> None:
    library = _library(tmp_path, model_dir)
    base = ("--library", library, "--model", str(model_dir))
    cli(capsys, *base, "ann", "threshold", str(THRESHOLD))
    code, out, _ = cli(capsys, *base, "--json", "index", "--no-ocr")
    done = json.loads(out)
    assert code == 0 and done["ann"]["action"] == "built" and done["ann"]["vectors"] == 400
    code, out, _ = cli(capsys, *base, "--json", "index", "--no-ocr")
    assert json.loads(out)["ann"]["action"] == "current"  # nothing new: nothing written
    code, out, _ = cli(capsys, *base, "index", "--no-ocr")
    assert "approximate search index" not in out  # said only when something happened
