"""The listing of a cluster run: the scanner's rules for folders, manifests, each path once,
sorted, in bounded memory (sorted runs merged), and ``--map``."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from clipdesk.cluster import listing as listing_mod
from clipdesk.cluster.listing import write_listing
from clipdesk.common.errors import ClipDeskError
from clipdesk.common.path_map import PathMap


def _paths(listing) -> list[tuple[str, int]]:
    rows = []
    for f in listing.files:
        table = pq.read_table(f)
        rows += [
            (os.fsdecode(p), r)
            for p, r in zip(table["path"].to_pylist(), table["root"].to_pylist(), strict=True)
        ]
    return rows


def _touch(*paths: Path) -> None:
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_folders_are_listed_by_the_scanners_rules_sorted_across_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing_mod, "RUN_ROWS", 3)  # several sorted runs, merged
    monkeypatch.setattr(listing_mod, "PART_ROWS", 4)
    a, b = tmp_path / "a", tmp_path / "b"
    photos = [a / "z.jpg", a / "sub" / "m.PNG", a / "c.heic", b / "x.jpg", b / "deep" / "y.cr2"]
    _touch(*photos)
    _touch(a / ".hidden" / "h.jpg", a / "@eaDir" / "t.jpg", a / "notes.txt", a / "Thumbs.db")
    os.mkfifo(a / "pipe.jpg")
    (b / "loop").symlink_to(b)
    result = write_listing(tmp_path / "listing", [str(a), str(b)])
    got = _paths(result)
    assert got == sorted((str(p), 0 if a in p.parents else 1) for p in photos)
    assert result.count == 5 and len(result.files) == 2
    assert result.roots == [str(a), str(b)]
    reasons = dict(result.problems)
    assert reasons[str(a / "pipe.jpg")] == "not a regular file (FIFO)"
    assert "symlink loop" in reasons[str(b / "loop")]
    assert not list((tmp_path / "listing").glob("run-*"))


def test_a_manifest_lists_each_photo_once_relative_to_its_root(tmp_path: Path) -> None:
    manifest = tmp_path / "list.txt"
    manifest.write_text(
        "# archive export\n/data/b/2.jpg\n/data/a/1.jpg\n\n   \nc/3.jpg\n/data/a/1.jpg\n"
        "/data/a/readme.pdf\n"
    )
    result = write_listing(tmp_path / "l", manifest=str(manifest), root="/data")
    assert _paths(result) == [("/data/a/1.jpg", 0), ("/data/b/2.jpg", 0), ("/data/c/3.jpg", 0)]
    assert result.roots == ["/data"]
    assert result.problems == [("/data/a/readme.pdf", "not a photo type ClipDesk indexes")]
    # without --root: relative to the manifest's folder, and the root is the common parent
    (tmp_path / "m2.txt").write_text("/data/a/1.jpg\n/data/b/c/2.jpg\n")
    assert write_listing(tmp_path / "l2", manifest=str(tmp_path / "m2.txt")).roots == ["/data"]


def test_inputs_that_hold_one_another_or_do_not_exist_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    with pytest.raises(ClipDeskError, match="is inside the input"):
        write_listing(tmp_path / "l", [str(tmp_path / "a"), str(tmp_path / "a" / "b")])
    with pytest.raises(ClipDeskError, match="does not exist"):
        write_listing(tmp_path / "l", [str(tmp_path / "nowhere")])
    with pytest.raises(ClipDeskError, match="cannot be read"):
        write_listing(tmp_path / "l", manifest=str(tmp_path / "missing.txt"))


def test_a_path_map_replaces_whole_leading_components_longest_first() -> None:
    mapping = PathMap.parse(["/mnt/a=/Volumes/A", "/mnt/a/raw=/fast/raw"])
    assert mapping("/mnt/a/x.jpg") == "/Volumes/A/x.jpg"
    assert mapping("/mnt/a/raw/y.cr2") == "/fast/raw/y.cr2"
    assert mapping("/mnt/ab/z.jpg") == "/mnt/ab/z.jpg"
    assert mapping("/mnt/a") == "/Volumes/A"
    with pytest.raises(ClipDeskError, match="is not FROM=TO"):
        PathMap.parse(["/only/one/side"])
