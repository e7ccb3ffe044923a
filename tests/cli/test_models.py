"""``clipdesk-cli models``: list, import, activate, remove, download errors, with --json."""

from __future__ import annotations

import io
import json
import socket
import sys

import numpy as np
import pytest

from clipdesk.cli import main
from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library
from clipdesk.model import manager
from clipdesk.model.testing import tiny_random_model
from clipdesk.services.app import ClipDeskServices
from tests.support.catalog_speeds import MACHINE, use_catalog_speeds


@pytest.fixture
def source(tmp_path, monkeypatch):
    monkeypatch.setattr(manager, "bundled_models_dir", lambda: tmp_path / "no-bundled")
    return tiny_random_model(tmp_path / "src", name="my-clip")


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_import_list_activate_remove(source, capsys):
    assert main(["--json", "models", "list"]) == 0
    assert _json(capsys) == {"models": [], "active": None, "recovered": [], "leftovers": []}
    assert main(["--json", "models", "import", str(source), "--activate"]) == 0
    info = _json(capsys)
    assert info["name"] == "my-clip" and info["active"] and info["source"] == "user"
    assert main(["models", "import", str(source), "--rename"]) == 0
    assert "imported my-clip-2" in capsys.readouterr().out
    assert main(["--json", "models", "list", "--catalog"]) == 0
    data = _json(capsys)
    assert [m["name"] for m in data["models"]] == ["my-clip", "my-clip-2"]
    assert data["active"] == "my-clip"
    assert {e["repo_id"] for e in data["catalog"]} >= {"openai/clip-vit-base-patch32"}
    assert main(["models", "activate", "my-clip-2"]) == 0
    assert manager.get_active_model() == "my-clip-2"
    assert main(["models", "activate", "default"]) == 0
    assert manager.get_active_model() is None
    capsys.readouterr()
    assert main(["--json", "models", "remove", "my-clip-2"]) == 0
    assert _json(capsys) == {"removed": "my-clip-2"}


def test_errors_are_messages_with_hints(source, capsys):
    assert main(["models", "import", str(source)]) == 0
    capsys.readouterr()
    assert main(["models", "import", str(source)]) == 1
    err = capsys.readouterr().err
    assert "already installed" in err and "hint:" in err
    assert main(["--json", "models", "activate", "nope"]) == 1
    assert "no installed model" in json.loads(capsys.readouterr().err)["error"]


def test_download_without_network(source, capsys, monkeypatch):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert main(["models", "download", "clip-vit-base-patch32"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the Hugging Face hub" in err and "models import" in err


def test_list_and_doctor_say_what_the_start_up_sweep_did_and_left(source, capsys, tmp_path):
    import shutil

    from clipdesk.common import paths

    root = paths.models_dir()
    shutil.copytree(source, root / ".my-clip.old")  # a replacement killed between its renames
    shutil.copytree(source, root / ".import-other-abcdefgh")  # a killed import
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "recovered: restored my-clip: an interrupted replacement had moved it aside" in out
    assert "recovered: removed the unfinished files of an interrupted install of other" in out
    assert "* my-clip" not in out and "  my-clip" in out
    from clipdesk.model import installs

    with installs.writing("busy"):  # another process importing "busy" right now
        installs.new_staging(root, "busy")
        assert main(["--json", "--model", "my-clip", "doctor", "--quick"]) in (0, 1)
        model = json.loads(capsys.readouterr().out)["model"]
    assert model["status"] == "warn"
    assert any(line.startswith("restored my-clip") for line in model["recovered"])
    (leftover,) = model["leftovers"]
    assert "in use by a running install of busy" in leftover


def test_catalog_prints_the_pickers_table(source, capsys, monkeypatch, tmp_path):
    """The same table Settings › Models shows, from the same service: size, speed here,
    published quality and languages; --probe measures this computer's speed first."""
    from clipdesk.model import speed
    from clipdesk.model.catalog import CATALOG

    assert main(["models", "import", str(source)]) == 0
    capsys.readouterr()
    assert main(["models", "catalog"]) == 0
    out = capsys.readouterr().out
    header, *rows = out.splitlines()
    assert header.split() == [
        "model",
        "size",
        "photos/s",
        "text",
        "ms",
        "ImageNet",
        "recall",
        "languages",
    ]
    assert rows[0].startswith("+ my-clip")  # installed models first
    b32 = next(r for r in rows if r.split()[:1] == ["clip-vit-base-patch32"])
    assert "~605 MB" in b32 and "63.3%" in b32 and "59.4%" in b32 and b32.endswith("English")
    assert all(any(line.split()[:1] == [name] for line in rows) for name in CATALOG)
    assert "OpenCLIP's results table" in out and "Immich's table" in out

    archs = {speed.REFERENCE: speed.ArchSpeed(20.0, 40.0, 2, 1)}
    use_catalog_speeds(monkeypatch, tmp_path / "speeds.json", archs)
    monkeypatch.setattr(
        speed, "time_architecture", lambda *a, **k: speed.ArchSpeed(5.0, 10.0, 2, 1)
    )
    assert main(["--json", "models", "catalog", "--probe"]) == 0
    data = _json(capsys)
    assert data["speeds"]["probe_images_per_s"] == 5.0
    assert data["speeds"]["catalog_machine"] == MACHINE
    row = next(r for r in data["rows"] if r["name"] == "clip-vit-base-patch32")
    assert row["imagenet"]["source"].endswith("openclip_results.csv")
    assert row["multilingual"] is False and row["image_size"] == 224 and row["embed_dim"] == 512
    assert row["speed_scaled"] and row["images_per_s"] == 5.0 and row["text_ms"] == 10.0
    assert (
        next(r for r in data["rows"] if r["name"] == "laion-clip-vit-h-14")["images_per_s"] is None
    )


class _Terminal(io.StringIO):
    """Standard input from a person at a terminal, who types ``answer``."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def library(tmp_path):
    """A library of 5 photos with the vectors of another model only."""
    path = tmp_path / "lib.sqlite3"
    root = tmp_path / "photos"
    root.mkdir()
    with Library(path) as lib:
        folder = lib.add_folder(root)
        files = [root / f"p{i}.jpg" for i in range(5)]
        for f in files:
            f.write_bytes(b"x")
        facts = [FileFacts(f, 1, i, "jpeg", f"h{i}") for i, f in enumerate(files)]
        ids = [pid for pid, _ in lib.add_or_update_photos(folder.id, facts)]
        lib.store_embeddings("other@0123456789ab", ids, np.ones((5, 8), np.float32))
    return path


def test_activate_says_what_re_embedding_costs_and_asks_on_a_terminal(
    source, library, capsys, monkeypatch
):
    """The figures the app shows before a switch (one service function for both faces); a
    person at a terminal is asked, --yes does not ask, a script switches and is told."""
    assert main(["models", "import", str(source)]) == 0
    capsys.readouterr()
    with ClipDeskServices(library) as app:
        estimate = app.models.reembed_estimate("my-clip")
    assert estimate is not None and estimate.photos == 5
    told = estimate.describe()
    assert "embeds 5 photos again" in told
    lib = ["--library", str(library)]

    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    assert main([*lib, "models", "activate", "my-clip"]) == 0  # declining is no failure
    out, err = capsys.readouterr()
    assert f"{told}\nSwitch to my-clip? [y/N]" in err
    assert "not switched to my-clip" in out and manager.get_active_model() is None
    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))  # the same after an import
    assert main([*lib, "models", "import", str(source), "--name", "my-2", "--activate"]) == 0
    out, err = capsys.readouterr()
    assert "Switch to my-2? [y/N]" in err and "not switched to my-2" in out
    assert "now active" not in out and manager.get_active_model() is None

    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    assert main([*lib, "models", "activate", "my-clip"]) == 0
    out, err = capsys.readouterr()
    assert "active model: my-clip" in out and manager.get_active_model() == "my-clip"

    assert main([*lib, "models", "activate", "default"]) == 0  # nothing to tell: no question
    monkeypatch.setattr(sys, "stdin", _Terminal(""))  # nobody would answer
    assert main([*lib, "models", "activate", "my-clip", "--yes"]) == 0
    out, err = capsys.readouterr()
    assert told in out and "[y/N]" not in err and manager.get_active_model() == "my-clip"

    assert main([*lib, "models", "activate", "default"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # a script
    assert main([*lib, "--json", "models", "activate", "my-clip"]) == 0
    data = _json(capsys)
    assert data["switched"] and data["active"] == "my-clip"
    assert data["reembed"]["photos"] == 5 and data["reembed"]["shared"] is False
