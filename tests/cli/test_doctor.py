"""`clipdesk-cli doctor` reports every section and survives anything broken."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from clipdesk.cli import doctor, main
from clipdesk.library.records import FileFacts
from clipdesk.library.store import SEARCH_MODEL_KEY, Library


@pytest.fixture
def library(tmp_path: Path) -> Path:
    path = tmp_path / "library.sqlite3"
    photos = tmp_path / "photos"
    photos.mkdir()
    with Library(path) as lib:
        folder = lib.add_folder(photos)
        facts = [FileFacts(photos / f"p{i}.jpg", 100 + i, 1, "jpeg", f"hash{i}") for i in range(3)]
        lib.add_or_update_photos(folder.id, facts)
    return path


def _run(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_healthy_install_reports_versions_devices_model_and_counts(capsys, library, model_dir):
    code, report = _run(capsys, "--library", str(library), "--model", str(model_dir), "doctor")
    assert code == 0, report
    assert set(report) == {"clipdesk", "torch", "model", "library", "paths"}
    assert report["clipdesk"]["version"]
    assert report["torch"]["selected"] == "cpu"
    assert any(d.startswith("cpu") for d in report["torch"]["devices"])
    assert report["model"]["status"] == "ok"
    assert report["model"]["dim"] == 32 and report["model"]["load_s"] >= 0
    lib = report["library"]
    assert lib["integrity"] == "ok"
    assert lib["counts"]["photos"] == 3 and lib["counts"]["folders"] == 1
    assert sum(lib["photos_by_status"].values()) == 3
    assert report["paths"]["log_file"].endswith("clipdesk.log")


def test_human_output_names_sections_and_verdict(capsys, library, model_dir):
    code = main(["--library", str(library), "--model", str(model_dir), "doctor", "--quick"])
    out = capsys.readouterr().out
    assert code == 0
    assert "[torch] ok" in out and "[library] ok" in out
    assert "photos: 3" in out
    assert out.rstrip().endswith("everything looks fine")


def test_missing_library_is_a_warning_and_is_not_created(capsys, tmp_path, model_dir):
    target = tmp_path / "nowhere.sqlite3"
    code, report = _run(capsys, "--library", str(target), "--model", str(model_dir), "doctor")
    assert code == 0
    assert report["library"]["status"] == "warn"
    assert not target.exists()


def test_damaged_library_fails_its_section_only(capsys, tmp_path, model_dir):
    garbage = tmp_path / "broken.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    code, report = _run(capsys, "--library", str(garbage), "--model", str(model_dir), "doctor")
    assert code == 1
    assert report["library"]["status"] == "fail"
    assert "damaged" in report["library"]["error"]
    assert report["torch"]["status"] == "ok" and report["model"]["status"] == "ok"


def test_foreign_sqlite_file_is_not_called_a_library(capsys, tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t(x)")
    section = doctor.library_health(other)
    assert section["status"] == "fail"
    assert "not a ClipDesk library" in section["error"]


def test_corrupted_pages_fail_the_integrity_check(library):
    with Library(library) as lib:
        folder = lib.folders()[0]
        lib.add_or_update_photos(
            folder.id,
            [
                FileFacts(Path(folder.path) / f"x{i}.jpg", i, 1, "jpeg", f"h{i:06d}" * 8)
                for i in range(2000)
            ],
        )
    data = bytearray(library.read_bytes())
    page = 4096
    for start in range(3 * page, len(data) - page, 7 * page):
        data[start + 100 : start + 400] = b"\xa5" * 300
    library.write_bytes(bytes(data))
    section = doctor.library_health(library)
    assert section["status"] == "fail"
    assert "problem" in section["error"] or "damaged" in section["error"]


def test_missing_model_and_unknown_device_are_reported(capsys, library):
    code, report = _run(
        capsys,
        "--library",
        str(library),
        "--model",
        "no-such-model",
        "--device",
        "cuda",
        "doctor",
        "--quick",
    )
    assert code == 1
    assert report["model"]["status"] == "fail"
    assert "no-such-model" in report["model"]["error"]
    assert report["torch"]["status"] == "fail"
    assert "not available" in report["torch"]["error"]
    assert report["library"]["status"] == "ok"


def test_search_model_is_read_from_the_library_and_the_active_model_from_settings(
    library, model_dir
):
    """The library records the model whose vectors search uses; the model doctor checks is the
    active one (what `status` and `models list` name), not that record."""
    with Library(library) as lib:
        lib.set_setting(SEARCH_MODEL_KEY, {"id": "remote@0123", "source": str(model_dir)})
    report = doctor.collect(library=str(library), quick=True)
    assert report["library"]["search_model"] == "remote@0123"
    assert report["library"]["search_model_source"] == str(model_dir)
    assert "active_model" not in report["library"]
    assert report["model"]["requested"] == "default (clipdesk-mini)"
    assert report["model"]["path"] != str(model_dir)
    report = doctor.collect(library=str(library), model=str(model_dir), quick=True)
    assert report["model"]["path"] == str(model_dir)


def test_a_crashing_section_does_not_stop_the_others(monkeypatch, library):
    def explode(requested):
        raise RuntimeError("driver fell over")

    from clipdesk.services import diagnostics

    monkeypatch.setattr(diagnostics, "torch_info", explode)
    report = doctor.collect(library=str(library), quick=True)
    assert report["torch"] == {"status": "fail", "error": "RuntimeError: driver fell over"}
    assert report["library"]["status"] == "ok"
    assert doctor.failures(report)[0] == "torch"
