"""The CLI's side of starter categories that fit the model: the demo model's library starts with
colours and shapes, `models activate` of a real model hints at the real-world set and names the
command, `tags categories starters` adds it; `tags categories add` documents its arguments."""

from __future__ import annotations

import json
from pathlib import Path

from clipdesk.cli import build_parser, main
from clipdesk.common import paths
from clipdesk.library.store import Library
from clipdesk.model.testing import tiny_random_model

REAL_WORLD = ["Scene", "Who", "Pets", "Subject"]


def _json(capsys, *argv: str) -> tuple[int, object, str]:
    code = main(["--json", *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else out, err


def test_activating_a_real_model_after_the_demo_hints_at_the_real_world_starters(
    capsys, tmp_path: Path
) -> None:
    lib = str(tmp_path / "library.sqlite3")
    Library(lib).close()
    code, cats, _ = _json(capsys, "--library", lib, "tags", "categories", "list")
    assert code == 0 and [c["name"] for c in cats] == ["Colour", "Shape"]  # the demo's own
    tiny_random_model(paths.models_dir(), name="real-model")
    code, data, err = _json(capsys, "--library", lib, "models", "activate", "real-model", "--yes")
    assert code == 0 and data["active"] == "real-model"
    assert "clipdesk-cli tags categories starters" in err and "Scene, Who, Pets, Subject" in err
    assert "Scene" in data["starters_hint"]
    code, data, _ = _json(capsys, "--library", lib, "tags", "categories", "starters")
    assert code == 0 and data["added"] == REAL_WORLD
    code, cats, _ = _json(capsys, "--library", lib, "tags", "categories", "list")
    assert [c["name"] for c in cats] == ["Colour", "Shape", *REAL_WORLD]
    # added: no hint the next time
    code, data, err = _json(capsys, "--library", lib, "models", "activate", "real-model", "--yes")
    assert code == 0 and data["starters_hint"] is None and "starters" not in err


def test_activating_a_model_with_no_library_creates_none_for_the_hint(
    capsys, tmp_path: Path
) -> None:
    lib = tmp_path / "none" / "library.sqlite3"
    tiny_random_model(paths.models_dir(), name="real-model")
    code, data, _ = _json(capsys, "--library", str(lib), "models", "activate", "real-model")
    assert code == 0 and data["starters_hint"] is None
    assert not lib.exists()


def test_starters_adds_a_named_set_whatever_the_model(capsys, tmp_path: Path) -> None:
    lib = str(tmp_path / "library.sqlite3")
    Library(lib).close()
    code, data, _ = _json(capsys, "--library", lib, "tags", "categories", "starters", "--photos")
    assert code == 0 and data["added"] == REAL_WORLD  # the demo's set came with the first use
    code, data, _ = _json(capsys, "--library", lib, "tags", "categories", "starters", "--demo")
    assert code == 0 and data["added"] == []
    assert main(["--library", lib, "tags", "categories", "starters"]) == 0
    assert "every category of this starter set already" in capsys.readouterr().out


def test_categories_add_explains_its_name_and_labels() -> None:
    parser = build_parser()
    tags = next(a for a in parser._subparsers._actions if a.dest == "command").choices["tags"]
    cats = next(a for a in tags._actions if a.dest == "tags_command").choices["categories"]
    add = next(a for a in cats._actions if a.dest == "categories_command").choices["add"]
    positional = {a.dest: a.help for a in add._actions if not a.option_strings}
    assert set(positional) == {"name", "labels"}
    assert all(positional.values()), positional
    text = add.format_help()
    assert "the category's name" in text and "its labels" in text
