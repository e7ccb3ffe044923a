"""``clipdesk-cli index`` reads the text in the photos after embedding them (unless --no-ocr),
``clipdesk-cli ocr status|run|on|off [--folder PATH]`` tells and steers it, and ``status`` says
what is left to read and what it costs (issue #17, item 1)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clipdesk.services.app import ClipDeskServices
from tests.support.cli_process import cli, cli_json, run_cli
from tests.support.text_photos import StemReader, indexed_services, made_by_services, text_folder

pytestmark = pytest.mark.usefixtures("reading_text")


@pytest.fixture
def stems(monkeypatch) -> StemReader:
    """For the in-process cases (the real engine is the subprocess cases')."""
    return made_by_services(monkeypatch, StemReader())


def indexed_library(tmp_path: Path, model_dir: Path, folders: dict[str, list[str]]) -> Path:
    """A library whose photos are embedded (services in this process) and owed their OCR."""
    with indexed_services(tmp_path, model_dir, folders) as app:
        return app.library.path


def test_index_reads_the_words_after_embedding_and_status_says_it_is_done(tmp_path, model_dir):
    text_folder(tmp_path / "signs", ["BAKERY OPEN", "HARBOUR BRIDGE"])
    library = str(tmp_path / "lib.sqlite3")
    cli_json("--library", library, "folders", "add", str(tmp_path / "signs"))
    done = cli_json("--library", library, "--model", str(model_dir), "index")
    assert done["index"]["embedded"] == 2
    assert done["ocr"]["read"] == 2 and done["ocr"]["failed"] == 0
    assert done["ocr"]["photos_per_s"] > 0 and done["ocr"]["backlog"]["waiting"] == 0
    with ClipDeskServices(library) as app:
        found = {
            app.library.photo(int(i)).path.name for i in app.library.match_words(["bakery"]).ids
        }
        assert found == {"card-0.jpg"}
    shown = run_cli("--library", library, "status")
    assert shown.returncode == 0 and "reading text: done (2 photos read)" in shown.stdout


def test_index_no_ocr_leaves_the_text_owed_with_its_cost_then_ocr_run_reads_it(tmp_path, model_dir):
    text_folder(tmp_path / "docs", ["INVOICE TOTAL"])
    library = str(tmp_path / "lib.sqlite3")
    cli_json("--library", library, "folders", "add", str(tmp_path / "docs"))
    done = cli_json("--library", library, "--model", str(model_dir), "index", "--no-ocr")
    assert done["index"]["embedded"] == 1 and "ocr" not in done
    status = cli_json("--library", library, "status")
    assert status["ocr"]["waiting"] == 1
    assert status["ocr"]["note"] == "reading text: 1 photo waiting, ~1 s each (about 1 s)"
    read = run_cli("--library", library, "ocr", "run")
    assert read.returncode == 0, read.stderr
    assert read.stdout.startswith("Read the text of 1 photo in ")


def test_ocr_off_and_on_switch_the_library_and_run_reads_only_when_on(
    tmp_path, model_dir, capsys, stems
):
    library = str(indexed_library(tmp_path, model_dir, {"cards": ["a", "b"]}))
    code, out, _ = cli(capsys, "--library", library, "ocr", "off")
    assert code == 0 and out.splitlines() == [
        "Reading text is off.",
        "reading text is off (2 photos waiting); `clipdesk-cli ocr on` turns it on",
    ]
    code, out, _ = cli(capsys, "--library", library, "ocr", "run")
    assert code == 0 and stems.read_paths == [] and "reading text is off" in out
    code, out, _ = cli(capsys, "--library", library, "status")
    assert "reading text is off (2 photos waiting); `clipdesk-cli ocr on` turns it on" in out
    cli(capsys, "--library", library, "ocr", "on")
    code, out, _ = cli(capsys, "--library", library, "--json", "ocr", "run")
    data = json.loads(out)
    assert code == 0 and data["read"] == 2 and len(stems.read_paths) == 2
    assert data["backlog"]["waiting"] == 0 and data["note"].startswith("Read the text of 2")


def test_ocr_off_for_one_folder_leaves_its_photos_owed_and_lists_it(
    tmp_path, model_dir, capsys, stems
):
    library = str(indexed_library(tmp_path, model_dir, {"kept": ["k"], "skipped": ["s1", "s2"]}))
    skipped = str(tmp_path / "skipped")
    code, out, _ = cli(capsys, "--library", library, "ocr", "off", "--folder", skipped)
    assert code == 0 and out.startswith(f"Reading text is off for {skipped}.")
    code, out, _ = cli(capsys, "--library", library, "--json", "ocr", "run")
    assert json.loads(out)["read"] == 1 and {p.parent.name for p in stems.read_paths} == {"kept"}
    code, out, _ = cli(capsys, "--library", library, "ocr", "status")
    assert out.splitlines() == [
        "reading text: 2 photos in folders with text reading off",
        f"  off for {skipped}",
    ]
    data = json.loads(cli(capsys, "--library", library, "--json", "ocr", "status")[1])
    assert (data["waiting"], data["off"], data["folders_off"]) == (0, 2, [skipped])
    cli(capsys, "--library", library, "ocr", "on", "--folder", skipped)
    assert (
        json.loads(cli(capsys, "--library", library, "--json", "ocr", "status")[1])["waiting"] == 2
    )


def test_a_folder_the_library_does_not_watch_is_refused_with_a_hint(tmp_path, capsys):
    library = str(tmp_path / "lib.sqlite3")
    code, out, err = cli(capsys, "--library", library, "ocr", "on", "--folder", str(tmp_path))
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "hint: " in err


def test_ocr_needs_an_action_and_its_help_names_them(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli(capsys, "ocr")
    assert stopped.value.code == 2
    assert "required: ACTION" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        cli(capsys, "ocr", "--help")
    shown = capsys.readouterr().out
    assert stopped.value.code == 0 and "Reading the text in photos (OCR)" in shown
    assert re.findall(r"^    (\w+) ", shown, re.MULTILINE) == [
        "status",
        "run",
        "on",
        "off",
    ]


def test_ocr_run_while_off_prints_a_report_of_the_same_shape_as_a_run(tmp_path, capsys):
    library = str(tmp_path / "lib.sqlite3")
    code, out, _ = cli(capsys, "--library", library, "--json", "ocr", "run")
    ran = json.loads(out)
    cli(capsys, "--library", library, "ocr", "off")
    code, out, _ = cli(capsys, "--library", library, "--json", "ocr", "run")
    off = json.loads(out)
    assert code == 0 and off.keys() == ran.keys() and off["backlog"].keys() == ran["backlog"].keys()
    assert (off["read"], off["failed"], off["backlog"]["enabled"]) == (0, 0, False)
    assert off["note"] == "reading text is off"


def test_ocr_run_refuses_a_limit_below_one_with_a_hint(tmp_path, capsys):
    code, out, err = cli(
        capsys, "--library", str(tmp_path / "l.sqlite3"), "ocr", "run", "--limit", "0"
    )
    assert code == 1 and out == "" and "--limit must be at least 1" in err and "hint: " in err


def test_status_says_one_photo_read_in_the_singular(tmp_path, capsys):
    text_folder(tmp_path / "one", ["ONE"])
    library = tmp_path / "lib.sqlite3"
    with ClipDeskServices(library) as app:
        app.folders.add(tmp_path / "one")  # scanned only: reading it needs no vector
        (photo,) = app.library.photos()
        app.library.save_ocr(photo.id, "ONE", 0.9, [], "test")
    code, out, _ = cli(capsys, "--library", str(library), "status")
    assert code == 0 and "reading text: done (1 photo read)" in out.splitlines()
    code, out, _ = cli(capsys, "--library", str(library), "ocr", "status")
    assert out.splitlines() == ["reading text: done (1 photo read)"]
