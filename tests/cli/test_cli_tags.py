"""`clipdesk-cli tags`: categories, apply, list, decisions, review, XMP, and the --tag filter."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from PIL import Image

from clipdesk.cli import main
from clipdesk.cli.tags import add_tag_filter_arguments, allowed_ids_from_args
from clipdesk.services.app import ClipDeskServices
from clipdesk.tags.xmp import sidecar as xmp
from tests.support.small_libraries import tiny_model_library


@pytest.fixture
def library(tmp_path: Path, model_dir: Path) -> tuple[Path, list[Path]]:
    """A library of 6 photos with vectors of the tiny model (random directions)."""
    return tiny_model_library(tmp_path, model_dir, 6)


def run(capsys, *argv: str, json_out: bool = True) -> tuple[int, object, str]:
    code = main((["--json"] if json_out else []) + list(argv))
    out, err = capsys.readouterr()
    data = json.loads(out) if json_out and out.strip() and code == 0 else out
    return code, data, err


def test_categories_add_list_export_import_remove(capsys, tmp_path, library, model_dir):
    lib = str(library[0])
    # a real (not the demo) model: the real-world starters on first use
    code, data, _ = run(
        capsys, "--library", lib, "--model", str(model_dir), "tags", "categories", "list"
    )
    assert code == 0 and "Scene" in [c["name"] for c in data]
    code, _, _ = run(
        capsys,
        "--library",
        lib,
        "tags",
        "categories",
        "add",
        "Colour",
        "red",
        "green",
        "--prompt",
        "red=a crimson object",
        "--threshold",
        "0.3",
    )
    assert code == 0
    code, _, err = run(capsys, "--library", lib, "tags", "categories", "add", "Colour", "x")
    assert code == 1 and "already exists" in err
    out = tmp_path / "cats.json"
    assert run(capsys, "--library", lib, "tags", "categories", "export", str(out), "Colour")[0] == 0
    doc = json.loads(out.read_text())
    assert doc["categories"][0]["labels"][0] == {"name": "red", "prompts": ["a crimson object"]}
    assert run(capsys, "--library", lib, "tags", "categories", "remove", "colour")[0] == 0
    assert run(capsys, "--library", lib, "tags", "categories", "import", str(out))[0] == 0
    _, data, _ = run(capsys, "--library", lib, "tags", "categories", "list")
    assert [c for c in data if c["name"] == "Colour"][0]["threshold"] == 0.3


def test_malformed_category_file_is_refused_and_changes_nothing(capsys, tmp_path, library):
    lib = str(library[0])
    _, before, _ = run(capsys, "--library", lib, "tags", "categories", "list")
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "format": "clipdesk-categories",
                "version": 1,
                "categories": [
                    {"name": "Good", "labels": ["a"]},
                    {"name": "Bad", "labels": ["b"], "mode": "many"},
                ],
            }
        )
    )
    code, _, err = run(
        capsys, "--library", lib, "tags", "categories", "import", str(bad), json_out=False
    )
    assert code == 1
    assert (
        "bad.json, line 1: categories[1]: category 'Bad' has mode 'many'" in err and "hint:" in err
    )
    _, after, _ = run(capsys, "--library", lib, "tags", "categories", "list")
    assert after == before


def test_apply_list_confirm_reject_review_photos(capsys, library, model_dir):
    lib, files = str(library[0]), library[1]
    run(
        capsys,
        "--library",
        lib,
        "--model",
        str(model_dir),  # not the demo, whose starters have a Colour category
        "tags",
        "categories",
        "add",
        "Colour",
        "red",
        "green",
        "blue",
        "--threshold",
        "0.0",
    )
    code, data, _ = run(
        capsys,
        "--library",
        lib,
        "--model",
        str(model_dir),
        "--device",
        "cpu",
        "tags",
        "apply",
        "--category",
        "Colour",
    )
    assert code == 0 and data["photos"] == 6 and data["suggested"] == 6
    _, listing, _ = run(capsys, "--library", lib, "tags", "list", str(files[0]))
    (tag,) = [t for t in listing["tags"] if t["category"] == "Colour"]
    assert tag["state"] == "suggested" and 0 <= tag["score"] <= 1
    other = next(x for x in ("red", "green", "blue") if x != tag["label"])
    assert (
        run(capsys, "--library", lib, "tags", "confirm", f"Colour|{other}", str(files[0]))[0] == 0
    )
    assert run(capsys, "--library", lib, "tags", "reject", "Colour|red", "2")[0] == 0
    # a recompute keeps both decisions
    run(capsys, "--library", lib, "--model", str(model_dir), "--device", "cpu", "tags", "apply")
    _, listing, _ = run(capsys, "--library", lib, "tags", "list", "--all", str(files[0]))
    states = {t["label"]: t["state"] for t in listing["tags"] if t["category"] == "Colour"}
    assert states == {other: "confirmed"}
    _, listing, _ = run(capsys, "--library", lib, "tags", "list", "--all", "2")
    assert {t["label"]: t["state"] for t in listing["tags"]}.get("red") == "rejected"
    _, photos, _ = run(capsys, "--library", lib, "tags", "photos", f"Colour|{other}")
    scores = [p["score"] for p in photos if p["state"] == "suggested"]
    assert scores == sorted(scores, reverse=True) and photos[0]["path"]
    _, review, _ = run(capsys, "--library", lib, "tags", "review", "--category", "Colour")
    assert all(r["state"] in ("suggested", "candidate") for r in review)
    code, _, err = run(capsys, "--library", lib, "tags", "list", "/nowhere/x.jpg", json_out=False)
    assert code == 1 and "not a photo of this library" in err
    code, _, err = run(capsys, "--library", lib, "tags", "confirm", "beach", "1", json_out=False)
    assert code == 1 and "Category|label" in err


def test_write_and_import_xmp(capsys, library):
    lib, files = str(library[0]), library[1]
    run(capsys, "--library", lib, "tags", "categories", "add", "Colour", "red", "green")
    run(capsys, "--library", lib, "tags", "confirm", "Colour|red", str(files[1]))
    code, data, _ = run(capsys, "--library", lib, "tags", "write-xmp", "--naming", "basename")
    assert code == 0 and data["written"] == [str(files[1].with_suffix(".xmp"))]
    assert xmp.read_sidecar_keywords(files[1].with_suffix(".xmp")).hierarchical == ["Colour|red"]
    side = xmp.sidecar_path(files[2], "fullname")
    side.write_bytes(xmp.update_keywords(None, ["Colour|green", "vacation"]))
    code, data, _ = run(capsys, "--library", lib, "tags", "import-xmp")
    assert code == 0 and data["imported"] == 2
    _, listing, _ = run(capsys, "--library", lib, "tags", "list", str(files[2]))
    assert {(t["category"], t["label"], t["state"]) for t in listing["tags"]} == {
        ("Colour", "green", "imported"),
        ("Keywords", "vacation", "imported"),
    }


def test_tag_filter_helpers_for_search(library):
    lib_path, files = library
    parser = argparse.ArgumentParser()
    add_tag_filter_arguments(parser)
    with ClipDeskServices(lib_path) as app:
        lib = app.library
        assert allowed_ids_from_args(app, parser.parse_args([])) is None
        main(["--library", str(lib_path), "tags", "categories", "add", "Colour", "red", "green"])
        main(
            [
                "--library",
                str(lib_path),
                "tags",
                "confirm",
                "Colour|red",
                str(files[0]),
                str(files[3]),
            ]
        )
        args = parser.parse_args(["--tag", "Colour|red", "--confirmed-tags"])
        ids = allowed_ids_from_args(app, args)
        assert [lib.photo(int(i)).path.name for i in ids] == ["p0.jpg", "p3.jpg"]


def test_search_with_tag_filter_end_to_end(capsys, tmp_path, model_dir):
    lib = str(tmp_path / "lib.sqlite3")
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(6):
        Image.new("RGB", (32, 32), (40 * i, 200 - 30 * i, 90)).save(pics / f"{i}.png")
    common = ["--library", lib, "--model", str(model_dir), "--device", "cpu"]
    assert main([*common, "folders", "add", str(pics)]) == 0
    assert main([*common, "index"]) == 0
    capsys.readouterr()
    run(capsys, "--library", lib, "tags", "categories", "add", "Colour", "red", "green")
    run(
        capsys,
        "--library",
        lib,
        "tags",
        "confirm",
        "Colour|red",
        str(pics / "1.png"),
        str(pics / "4.png"),
    )
    code, data, _ = run(
        capsys, *common, "search", "a photo", "--tag", "Colour|red", "--confirmed-tags"
    )
    assert code == 0
    assert sorted(Path(r["path"]).name for r in data["results"]) == ["1.png", "4.png"]
    code, data, _ = run(capsys, *common, "search", "a photo", "--tag", "!Colour|red")
    assert code == 0 and len(data["results"]) == 4


def test_index_brings_in_keywords_and_tags_new_photos(capsys, tmp_path, model_dir):
    from tests.support.xmp_helpers import folder_with_a_sidecar

    lib = str(tmp_path / "lib.sqlite3")
    tagged = folder_with_a_sidecar(tmp_path / "pics", 4, ["Colour|green", "vacation"], tagged=2)
    common = ["--library", lib, "--model", str(model_dir), "--device", "cpu"]
    run(
        capsys,
        *common,  # not the demo model, whose starters have a Colour category
        "tags",
        "categories",
        "add",
        "Colour",
        "red",
        "green",
        "--threshold",
        "0",
    )
    assert main([*common, "folders", "add", str(tagged.parent)]) == 0
    assert main([*common, "index"]) == 0
    capsys.readouterr()
    _, listing, _ = run(capsys, *common, "tags", "list", str(tagged))
    mine = {(t["category"], t["label"]): t["state"] for t in listing["tags"]}
    assert mine[("Colour", "green")] == "imported" and mine[("Keywords", "vacation")] == "imported"
    # the others got the model's tags as they were indexed, no `tags apply` needed
    _, listing, _ = run(capsys, *common, "tags", "list", str(tagged.parent / "0.png"))
    assert any(t["category"] == "Colour" and t["state"] == "suggested" for t in listing["tags"])


def test_adding_a_category_tags_the_library_at_once(capsys, library, model_dir):
    lib = str(library[0])
    common = ["--library", lib, "--model", str(model_dir), "--device", "cpu"]
    code, data, _ = run(
        capsys, *common, "tags", "categories", "add", "Colour", "red", "green", "--threshold", "0"
    )
    assert code == 0 and data["tagged"]["photos"] == 6 and data["tagged"]["suggested"] == 6
    _, listing, _ = run(capsys, "--library", lib, "tags", "list", str(library[1][0]))
    assert [t["state"] for t in listing["tags"] if t["category"] == "Colour"] == ["suggested"]
    code, out, _ = run(
        capsys, *common, "tags", "categories", "add", "Colour", "red", "--replace", json_out=False
    )
    assert code == 0 and "tagged 6 photos" in out and "tags apply" not in out


def test_import_xmp_reads_photo_xmp_and_write_xmp_leaves_one_sidecar(capsys, library):
    lib, files = str(library[0]), library[1]
    run(capsys, "--library", lib, "tags", "categories", "add", "Colour", "red", "green")
    old = files[3].with_suffix(".xmp")  # as the app wrote them before: photo.xmp
    old.write_bytes(xmp.update_keywords(None, ["Colour|green", "Trip|Rome"]))
    code, data, _ = run(capsys, "--library", lib, "tags", "import-xmp", str(files[3]))
    assert code == 0 and data["imported"] == 2
    code, data, _ = run(capsys, "--library", lib, "tags", "write-xmp")
    assert code == 0 and data["merged"] == [str(old)] and not old.exists()
    assert sorted(p.name for p in files[3].parent.glob("*.xmp")) == ["p3.jpg.xmp"]
    kw = xmp.read_sidecar_keywords(xmp.sidecar_path(files[3], "fullname"))
    assert sorted(kw.hierarchical) == ["Colour|green", "Trip|Rome"]
