"""`clipdesk-cli tags add / remove / confirm --suggested / counts`: the grid's tag action on many
photos, from the command line (photos by id, path or piped on stdin)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clipdesk.cli import build_parser, main
from tests.support.small_libraries import tiny_model_library

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def library(tmp_path: Path, model_dir: Path) -> tuple[str, list[Path]]:
    """A library of 5 photos with vectors of the tiny model (random directions)."""
    path, files = tiny_model_library(tmp_path, model_dir, 5)
    return str(path), files


def run(capsys, *argv: str) -> tuple[int, object, str]:
    code = main(["--json", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and out.strip() else out), err


def test_the_parser_knows_add_remove_counts_and_confirm_of_suggestions():
    parser = build_parser()
    args = parser.parse_args(["tags", "add", "picnic", "1", "2"])
    assert (args.action, args.tag, args.photos) == ("add", "picnic", ["1", "2"])
    assert parser.parse_args(["tags", "remove", "Pets|dog", "-"]).photos == ["-"]
    assert parser.parse_args(["tags", "confirm", "Pets|dog", "3", "--suggested"]).suggested
    assert parser.parse_args(["tags", "counts"]).reads_only
    with pytest.raises(SystemExit):
        parser.parse_args(["tags", "clear", "Pets|dog", "3", "--suggested"])


def test_add_remove_and_counts_change_many_photos_at_once(capsys, library, model_dir):
    lib, files = library
    code, data, _ = run(capsys, "--library", lib, "--model", str(model_dir), "tags", "add",
                        "picnic", "1", "2", str(files[2]))  # fmt: skip
    assert code == 0 and data["tag"] == "Keywords|picnic" and data["created"]
    assert sorted(data["changed"]) == [1, 2, 3] and data["unchanged"] == 0
    code, data, _ = run(capsys, "--library", lib, "tags", "add", "Keywords|picnic", "1", "4")
    assert data["changed"] == [4] and data["unchanged"] == 1 and not data["created"]
    code, data, _ = run(capsys, "--library", lib, "tags", "remove", "picnic", "2", "5")
    assert data["changed"] == [2] and data["unchanged"] == 1
    code, counts, _ = run(capsys, "--library", lib, "tags", "counts")
    (picnic,) = [c for c in counts if c["label"] == "picnic"]
    assert (picnic["category"], picnic["confirmed"], picnic["suggested"]) == ("Keywords", 3, 0)
    code, _, err = run(capsys, "--library", lib, "tags", "remove", "never-added", "1")
    assert code == 1 and "no label 'never-added'" in err


def test_confirm_suggested_only_touches_the_models_suggestions(capsys, library, model_dir):
    lib, _files = library
    common = ("--library", lib, "--model", str(model_dir), "--device", "cpu")
    # threshold 0 in a single-choice category: the model suggests one colour for each photo
    assert run(capsys, *common, "tags", "categories", "add", "Colour", "red", "green",
               "--threshold", "0")[0] == 0  # fmt: skip
    _, tagged, _ = run(capsys, *common, "tags", "photos", "Colour|red")
    red = sorted(t["photo_id"] for t in tagged if t["state"] == "suggested")
    others = sorted({1, 2, 3, 4, 5} - set(red))
    run(capsys, *common, "tags", "reject", "Colour|red", *map(str, others[:1]))
    code, data, _ = run(capsys, *common, "tags", "confirm", "Colour|red", "--suggested",
                        "1", "2", "3", "4", "5")  # fmt: skip
    assert code == 0 and sorted(data["changed"]) == red and data["unchanged"] == 5 - len(red)
    _, tagged, _ = run(capsys, *common, "tags", "photos", "Colour|red")
    assert sorted(t["photo_id"] for t in tagged) == red  # the rejected one stays rejected
    assert all(t["state"] == "confirmed" for t in tagged)


def test_photos_piped_on_stdin_are_tagged_in_one_command(library, model_dir):
    lib, files = library
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "clipdesk.cli",
            "--library",
            lib,
            "--model",
            str(model_dir),
            "tags",
            "add",
            "Trips|Rome",
            "-",
        ],  # fmt: skip
        input=f"{files[0]}\n\n3\n",
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Trips is no category yet: only Keywords is created with its first keyword
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "added Keywords|Trips|Rome to 2 photos"
    empty = subprocess.run(
        [sys.executable, "-m", "clipdesk.cli", "--library", lib, "tags", "add", "x", "-"],
        input="",
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert empty.returncode == 1 and "no photos were given on stdin" in empty.stderr
