"""Writing XMP into JPEG, PNG and TIFF photos from the library: off unless the one shared
setting says so, then the same keywords and rating as the sidecar, merged with what another
tool wrote there, and both faces reading and changing that one setting."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from clipdesk.cli import main
from clipdesk.common import config
from clipdesk.services.settings import SettingsService
from clipdesk.tags.categories import Category, Mode
from tests.support.exiftool import EXIFTOOL, as_list, exiftool
from tests.support.xmp_library import library_of
from tests.tags.test_xmp_embedded import make_photo, pixels

needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None, reason="exiftool (libimage-exiftool-perl) not installed"
)

NAMES = ["a.jpg", "a.png", "a.tif", "c.dng"]


@pytest.fixture
def photos(tmp_path):
    app, ids = library_of(tmp_path, NAMES)
    folder = tmp_path / "photos"
    for name in NAMES[:3]:
        make_photo(folder, name)  # the real format its name says, with EXIF and ICC
    app.tags.add_category(Category("Colour", ("red", "blue"), Mode.SINGLE, 0.0))
    yield app, ids, folder
    app.close()


def test_photo_files_are_never_changed_unless_the_setting_is_on(photos):
    app, ids, folder = photos
    assert config.Config().xmp_embedded is False and SettingsService().xmp_embedded() is False
    before = {n: (folder / n).read_bytes() for n in NAMES}
    app.tags.decide(list(ids.values()), "Colour", "red", "confirmed")
    report = app.tags.write_xmp()
    assert len(report.written) == 4 and report.embedded == []
    assert {n: (folder / n).read_bytes() for n in NAMES} == before


@needs_exiftool
def test_with_the_setting_tags_and_rating_go_into_each_file_beside_another_tools_keywords(photos):
    app, ids, folder = photos
    jpeg = folder / "a.jpg"
    subprocess.run(
        [str(EXIFTOOL), "-q", "-overwrite_original", "-XMP-dc:Subject=holiday", str(jpeg)],
        check=True,
    )
    app.tags.import_xmp()  # another tool's keyword, now a tag of the photo
    looks = {n: pixels(folder / n) for n in NAMES[:3]}
    dng = (folder / "c.dng").read_bytes()
    SettingsService().set_xmp(embedded=True)
    app.tags.decide(list(ids.values()), "Colour", "red", "confirmed")
    app.ratings.set_rating([ids["a.jpg"], ids["a.tif"]], 4)
    report = app.tags.write_xmp()
    assert sorted(p.name for p in report.embedded) == ["a.jpg", "a.png", "a.tif"], report.failed
    assert report.failed == [] and "wrote into 3 photos too" in report.summary()
    for name in NAMES[:3]:
        tags = exiftool(folder / name)
        assert "red" in as_list(tags["XMP-dc:Subject"]), name
        assert as_list(tags["XMP-lr:HierarchicalSubject"]) == ["Colour|red"], name
        assert tags.get("XMP-xmp:Rating") == (None if name == "a.png" else 4), name
        assert tags["IFD0:Make"] == "TestCam" and pixels(folder / name) == looks[name]
        side = exiftool(folder / f"{name}.xmp")  # the sidecar says the same
        assert as_list(side["XMP-lr:HierarchicalSubject"]) == ["Colour|red"]
    assert as_list(exiftool(jpeg)["XMP-dc:Subject"]) == ["holiday", "red"]
    assert (folder / "c.dng").read_bytes() == dng  # a RAW: its sidecar only
    # taking the tag back takes out what ClipDesk wrote, and only that
    app.tags.decide([ids["a.jpg"]], "Colour", "red", "rejected")
    app.tags.write_xmp()
    assert as_list(exiftool(jpeg)["XMP-dc:Subject"]) == ["holiday"]
    assert "XMP-lr:HierarchicalSubject" not in exiftool(jpeg)
    # and reading the files again finds nothing new
    before = {n: (folder / n).read_bytes() for n in NAMES[:3]}
    app.tags.import_xmp()
    assert app.tags.write_xmp().embedded == []
    assert {n: (folder / n).read_bytes() for n in NAMES[:3]} == before


def test_a_damaged_photo_is_reported_and_the_others_written(photos):
    app, ids, folder = photos
    png = folder / "a.png"
    png.write_bytes(png.read_bytes()[:60])
    damaged = png.read_bytes()
    app.tags.decide(list(ids.values()), "Colour", "red", "confirmed")
    report = app.tags.write_xmp(embedded=True)  # for this run, the setting still off
    assert sorted(p.name for p in report.embedded) == ["a.jpg", "a.tif"]
    assert [p for p, _ in report.failed] == [str(png)] and png.read_bytes() == damaged
    assert SettingsService().xmp_embedded() is False


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_the_cli_reads_and_changes_the_setting_the_app_uses(photos, capsys):
    app, ids, folder = photos
    code, out = run(capsys, "tags", "xmp")
    assert code == 0 and "into JPEG/TIFF/PNG files: no, sidecars only" in out
    code, out = run(capsys, "--json", "tags", "xmp", "--embedded")
    assert json.loads(out)["embedded"] is True
    assert SettingsService().xmp_embedded() is True  # what the app's Settings shows
    SettingsService().set_xmp(embedded=False)
    code, out = run(capsys, "tags", "xmp")
    assert "no, sidecars only" in out
    app.tags.decide([ids["a.jpg"]], "Colour", "blue", "confirmed")
    app.close()
    lib = str(Path(folder).parent / "lib.sqlite3")
    code, out = run(capsys, "--json", "--library", lib, "tags", "write-xmp", "--embedded")
    assert code == 0 and json.loads(out)["embedded"] == [str(folder / "a.jpg")]
    assert SettingsService().xmp_embedded() is False  # one run's flag is not the setting


def test_a_photo_written_into_keeps_its_vectors_as_the_next_scan_sees_it_unchanged(photos):
    from clipdesk.scanning.hashing import content_hash

    app, ids, folder = photos
    SettingsService().set_xmp(embedded=True)
    app.tags.decide(list(ids.values()), "Colour", "red", "confirmed")
    assert len(app.tags.write_xmp().embedded) == 3
    for name in NAMES[:3]:
        row = app.library.photo(ids[name])
        st = (folder / name).stat()
        # the scan re-reads (and re-embeds) a file whose size or time differ from its row's
        assert (row.size, row.mtime_ns) == (st.st_size, st.st_mtime_ns), name
        assert row.content_hash == content_hash(folder / name).digest, name
