"""The folder filter down to subfolders: the tree with counts both faces read, and a subfolder
named by its path in a search, a browse and ``clipdesk-cli search --folder`` alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clipdesk.common.errors import ClipDeskError
from clipdesk.model.testing import tiny_random_model
from clipdesk.services.app import ClipDeskServices
from clipdesk.services.search import PhotoSearch
from tests.support.cli_process import cli
from tests.support.pipeline_helpers import solid_photos

LAYOUT = {"2023/june": 3, "2023/july": 2, "2023x": 1, "": 1}  # "2023x": a prefix sibling


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_random_model(tmp_path_factory.mktemp("models"))


@pytest.fixture
def app(tmp_path: Path, model: Path):
    root = tmp_path / "pics"
    for sub, n in LAYOUT.items():
        solid_photos(root / sub, n)
    svc = ClipDeskServices(tmp_path / "lib.sqlite3", model=str(model), device="cpu")
    svc.folders.add(root)
    svc.index()
    yield svc
    svc.close()


def _flat(nodes, depth=0):
    for node in nodes:
        yield depth, node.name, node.photos
        yield from _flat(node.children, depth + 1)


def test_the_tree_lists_every_subfolder_with_the_photos_search_finds_there(app, tmp_path):
    (tree,) = app.folders.tree()
    assert tree.folder_id is not None and tree.path == str(tmp_path / "pics")
    assert list(_flat([tree])) == [
        (0, str(tmp_path / "pics"), 7),
        (1, "2023", 5),
        (2, "july", 2),
        (2, "june", 3),
        (1, "2023x", 1),
    ]
    june = tree.children[0].children[1]
    assert june.path == str(tmp_path / "pics" / "2023" / "june") and june.folder_id is None


def test_a_new_photo_counts_once_it_is_searchable(app, tmp_path):
    solid_photos(tmp_path / "pics" / "2023" / "june" / "late", 1)
    app.folders.scan()
    (tree,) = app.folders.tree()
    assert tree.photos == 7  # waiting to be indexed: not found by search yet
    app.index()
    (tree,) = app.folders.tree()
    assert tree.photos == 8 and tree.children[0].children[1].children[0].photos == 1


def test_a_subfolder_narrows_browsing_and_searching_alike(app, tmp_path):
    june = tmp_path / "pics" / "2023" / "june"
    for request in (PhotoSearch(), PhotoSearch(text="a photo")):
        for folder, n in (("2023", 5), ("2023/june", 3), ("2023x", 1), ("", 7)):
            place = tmp_path / "pics" / folder if folder else tmp_path / "pics"
            found = app.find(PhotoSearch(**{**request.__dict__, "folders": [place]}))
            assert len(found) == n, (request.text, folder)
            assert all(f.photo.path.is_relative_to(place) for f in found)
    both = app.find(PhotoSearch(folders=[june, tmp_path / "pics" / "2023x"]))
    assert len(both) == 4
    with pytest.raises(ClipDeskError, match="not a watched folder or a folder inside one"):
        app.find(PhotoSearch(folders=[tmp_path / "elsewhere"]))


def test_the_cli_searches_a_subfolder_with_the_same_filter(tmp_path, model, capsys):
    root = tmp_path / "pics"
    for sub, n in LAYOUT.items():
        solid_photos(root / sub, n)
    base = ["--library", str(tmp_path / "lib.sqlite3"), "--model", str(model), "--device", "cpu"]
    assert cli(capsys, *base, "folders", "add", str(root))[0] == 0
    assert cli(capsys, *base, "index")[0] == 0
    code, out, err = cli(
        capsys, *base, "--json", "search", "a photo", "--folder", str(root / "2023" / "june")
    )
    assert code == 0, err
    paths = [r["path"] for r in json.loads(out)["results"]]
    assert len(paths) == 3 and all("/2023/june/" in p for p in paths)
