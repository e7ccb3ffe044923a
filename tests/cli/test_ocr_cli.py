"""``clipdesk-cli index`` reads the text in the photos after embedding them (unless --no-ocr),
``clipdesk-cli ocr status|run|on|off [--folder PATH]`` tells and steers it, and ``status`` says
what is left to read and what it costs (issue #17, item 1)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clipdesk.ocr import OcrLine, OcrResult
from clipdesk.services import ocr as ocr_service
from clipdesk.services.app import ClipDeskServices
from tests.support.cli_process import cli, cli_json, run_cli
from tests.support.text_photos import text_folder


@pytest.fixture(autouse=True)
def reading_on(monkeypatch):
    monkeypatch.delenv(ocr_service.ENV_OFF, raising=False)


class StemReader:
    """For the in-process cases: "reads" each photo's file stem (the real engine is the
    subprocess cases')."""

    engine = "stems 1"

    def __init__(self) -> None:
        self.read_paths: list[Path] = []

    def read(self, path: Path) -> OcrResult:
        self.read_paths.append(path)
        box = ((0.0, 0.0), (1.0, 0.0), (1.0, 0.2), (0.0, 0.2))
        return OcrResult((OcrLine(path.stem, 0.9, box),), self.engine, 0.0, 10, 10)

    def close(self) -> None:
        pass


@pytest.fixture
def stems(monkeypatch) -> StemReader:
    import clipdesk.ocr

    reader = StemReader()
    monkeypatch.setattr(clipdesk.ocr, "TextReader", lambda: reader)
    return reader


def indexed_library(tmp_path: Path, model_dir: Path, folders: dict[str, list[str]]) -> Path:
    """A library whose photos are embedded (services in this process) and owed their OCR."""
    library = tmp_path / "lib.sqlite3"
    with ClipDeskServices(library, model=str(model_dir), device="cpu") as app:
        for name, words in folders.items():
            text_folder(tmp_path / name, words)
            app.folders.add(tmp_path / name)
        app.index()
    return library


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
        "reading text is off (2 photos waiting)",
        "`clipdesk-cli ocr on` turns it on.",
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
