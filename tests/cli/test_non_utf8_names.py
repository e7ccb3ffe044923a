"""A photo whose file name is not valid UTF-8 (Latin-1 ``café.webp`` from an old camera or a
Samba share) goes through ``folders add``, ``index`` and ``search`` like any other (issue 14.10):
the JSON path opens the very file, the text output prints its own bytes, and a second ``index``
runs clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clipdesk.cli import main
from tests.support.cli_process import REPO_ROOT
from tests.support.photofiles import make_photo

LATIN1 = b"caf\xe9.webp"


@pytest.fixture
def photos(tmp_path: Path) -> tuple[Path, bytes]:
    root = tmp_path / "Pictures"
    make_photo(root / "plain.jpg", 1)
    temp = make_photo(root / "tmp.webp", 2)
    odd = os.path.join(os.fsencode(root), LATIN1)
    os.rename(temp, odd)
    return root, odd


def _run(capfdbinary, *argv: str) -> tuple[int, bytes, bytes]:
    code = main(list(argv))
    out = capfdbinary.readouterr()
    return code, out.out, out.err


def test_add_index_and_search_a_photo_named_in_latin1(tmp_path, photos, capfdbinary):
    root, odd = photos
    lib = str(tmp_path / "lib.sqlite3")
    code, out, err = _run(capfdbinary, "--library", lib, "folders", "add", str(root))
    assert code == 0 and b"2 added" in out, err
    code, out, err = _run(capfdbinary, "--library", lib, "index")
    assert code == 0 and b"Indexed 2 photos (0 could not be read)" in out, err
    code, out, err = _run(capfdbinary, "--library", lib, "index")  # crashed forever before
    assert code == 0, err

    code, out, err = _run(capfdbinary, "--library", lib, "--json", "search", "a photo")
    assert code == 0, err
    found = {Path(r["path"]).name: r for r in json.loads(out)["results"]}
    assert set(found) == {"plain.jpg", os.fsdecode(LATIN1)} and found["plain.jpg"]["status"] == "ok"
    path = found[os.fsdecode(LATIN1)]["path"]
    assert os.fsencode(path) == odd  # the JSON's escapes give back the file's own bytes
    with open(path, "rb") as fh, open(odd, "rb") as original:
        assert fh.read() == original.read()

    code, out, err = _run(capfdbinary, "--library", lib, "--json", "folders", "list")
    assert code == 0 and json.loads(out)[0]["by_status"] == {"ok": 2}

    # a shell's strict UTF-8 stdout (pytest's capture is not one): the name's own bytes, as ls
    shell = subprocess.run(
        [sys.executable, "-m", "clipdesk.cli", "--library", lib, "search", "a photo"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"},
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert shell.returncode == 0 and odd in shell.stdout, shell.stderr
