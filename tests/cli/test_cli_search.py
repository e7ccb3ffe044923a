"""``clipdesk-cli index`` / ``search`` / ``watch`` through main(), as a script runs them."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clipdesk.cli.index import ProgressBar
from clipdesk.common.progress import Progress
from tests.support.cli_process import cli
from tests.support.pipeline_helpers import solid_photos


@pytest.fixture
def indexed(tmp_path, model_dir, capsys):
    photos = solid_photos(tmp_path / "Pictures", 8)
    (tmp_path / "Pictures" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 nope")
    base = [
        "--library",
        str(tmp_path / "lib.sqlite3"),
        "--model",
        str(model_dir),
        "--device",
        "cpu",
    ]
    code, _, err = cli(capsys, *base, "folders", "add", str(tmp_path / "Pictures"))
    assert code == 0, err
    return base, photos


def test_index_then_search_text_image_like(indexed, capsys) -> None:
    base, photos = indexed
    code, out, err = cli(capsys, *base, "index")
    assert code == 0, err
    assert "Indexed 8 photos (1 could not be read)" in out
    assert err == ""  # not a terminal: no progress bar
    code, out, _ = cli(capsys, *base, "--json", "index")
    data = json.loads(out)
    assert data["index"]["embedded"] == 0 and data["pending"] == 0

    code, out, _ = cli(capsys, *base, "search", "a red circle", "-k", "3")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 3
    score, path = lines[0].split("  ", 1)
    assert float(score) <= 1.0 and Path(path).exists()

    code, out, _ = cli(capsys, *base, "--json", "search", "--image", str(photos[2]), "-k", "2")
    data = json.loads(out)
    assert data["results"][0]["path"] == str(photos[2]) and data["results"][0]["score"] > 0.99
    assert data["score_kind"] == "cosine"  # a CLIP model; "probability" for SigLIP and text

    code, out, _ = cli(capsys, *base, "--json", "search", "--like", str(photos[2]), "-k", "50")
    data = json.loads(out)
    assert len(data["results"]) == 7
    assert str(photos[2]) not in [r["path"] for r in data["results"]]

    code, out, _ = cli(capsys, *base, "--json", "search", "sky", "--min-score", "1")
    assert json.loads(out)["results"] == []
    code, out, _ = cli(capsys, *base, "search", "sky", "--from", "1990-01-01", "--to", "1990-12-31")
    assert "No matching photos" in out


@pytest.mark.parametrize(
    "argv,words",
    [
        (["search"], "Nothing to search for"),
        (["search", "beach +0.5"], "no phrase after it"),
        (["search", "--image", "/nonexistent.jpg"], "does not exist"),
        (["search", "x", "--from", "yesterday"], "not a date"),
        (["search", "x", "--folder", "/not/watched"], "not a watched folder"),
        (["search", "--like", "/not/a/photo.jpg"], "not a photo of this library"),
    ],
)
def test_search_errors_exit_1_with_message(indexed, capsys, argv, words) -> None:
    base, _ = indexed
    code, out, err = cli(capsys, *base, *argv)
    assert code == 1 and words in err and out == ""


def test_search_says_why_each_result_matched_and_words_alone_need_no_model(
    indexed, tmp_path, capsys
) -> None:
    base, photos = indexed
    astronaut = tmp_path / "Pictures" / "astronaut.jpg"
    astronaut.write_bytes(photos[3].read_bytes())  # the same pixels: only the name tells
    code, _, err = cli(capsys, *base, "index")
    assert code == 0, err
    code, out, _ = cli(capsys, *base, "--json", "search", "astronaut", "-k", "3")
    data = json.loads(out)
    first = data["results"][0]
    assert code == 0 and first["path"] == str(astronaut)
    assert (
        first["matched_by"] == ["clip", "name"] and first["snippet"] == "Pictures/[astronaut].jpg"
    )
    assert all(r["matched_by"] == ["clip"] and r["snippet"] is None for r in data["results"][1:])
    code, out, _ = cli(capsys, *base, "search", "astronaut", "-k", "2")
    lines = out.strip().splitlines()
    assert lines[0].endswith(f"  {astronaut}  (CLIP + file name: Pictures/[astronaut].jpg)")
    assert float(lines[1].split("  ", 1)[0]) <= 1.0 and Path(lines[1].split("  ", 1)[1]).exists()

    # text: alone, with a model that cannot even be loaded: nothing loads one
    words_only = [*base[:2], "--model", str(tmp_path / "no-such-model")]
    code, out, err = cli(capsys, *words_only, "--json", "search", "text:astro")
    data = json.loads(out)
    assert code == 0, err
    assert data["model"] is None and data["runtime"] is None and data["score_kind"] is None
    assert [(r["path"], r["score"], r["matched_by"]) for r in data["results"]] == [
        (str(astronaut), None, ["name"])
    ]
    code, out, err = cli(capsys, *words_only, "search", "text:astronaut")
    assert out == f"    -  {astronaut}  (file name: Pictures/[astronaut].jpg)\n"
    assert "no model loaded" in err


def test_missing_model_is_a_clear_error(tmp_path, capsys) -> None:
    code, _, err = cli(
        capsys,
        "--library",
        str(tmp_path / "l.sqlite3"),
        "--model",
        str(tmp_path / "no-such-model"),
        "index",
    )
    assert code == 1 and "error:" in err


def test_progress_bar_draws_only_on_a_terminal() -> None:
    buf = io.StringIO()
    ProgressBar(buf)(Progress(5, 10, 2.0, 2.5, "Indexing photos"))
    assert buf.getvalue() == ""  # StringIO is not a tty
    bar = ProgressBar(buf, enabled=True)
    bar(Progress(5, 10, 2.0, 2.5, "Indexing photos"))
    bar.close()
    text = buf.getvalue()
    assert "5/10" in text and "ETA 0:02" in text and text.endswith("\n")


def test_watch_indexes_new_photos_and_stops_cleanly_on_sigint(indexed, tmp_path) -> None:
    base, photos = indexed
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from clipdesk.cli import main; sys.exit(main(sys.argv[1:]))",
            *base,
            "--json",
            "watch",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[dict] = []
    try:
        first = json.loads(proc.stdout.readline())
        assert first["event"] == "indexed" and first["index"]["embedded"] == 8
        new = tmp_path / "Pictures" / "new.jpg"
        solid_photos(tmp_path / "tmp", 1)[0].rename(new)
        while True:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(json.loads(line))
            if lines[-1]["event"] == "indexed":
                break
        assert lines[-1]["embedded"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, proc.stderr.read()
