"""The CLI's XMP summaries: what was written, which photos got their full name, and which
photos' XMP could not be read (each with its reason)."""

from __future__ import annotations

import json

from clipdesk.cli import main
from clipdesk.tags.categories import Category, Mode
from tests.support.xmp_library import library_of


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_write_xmp_says_which_photo_got_its_full_name_and_import_names_bad_sidecars(
    capsys, tmp_path
):
    app, ids = library_of(tmp_path, ["p.jpg", "p.png"])
    app.tags.add_category(Category("Colour", ("red", "blue"), Mode.SINGLE, 0.0))
    app.tags.decide([ids["p.jpg"]], "Colour", "red", "confirmed")
    app.tags.decide([ids["p.png"]], "Colour", "blue", "confirmed")
    app.close()
    lib = str(tmp_path / "lib.sqlite3")
    code, out, _ = run(capsys, "--library", lib, "tags", "write-xmp", "--naming", "basename")
    assert code == 0
    assert "wrote 2 sidecars" in out and "1 photo shares a name with another file" in out
    code, out, _ = run(
        capsys, "--json", "--library", lib, "tags", "write-xmp", "--naming", "basename"
    )
    data = json.loads(out)
    assert data["written"] == [] and data["full_names"] == [str(tmp_path / "photos" / "p.png.xmp")]
    damaged = tmp_path / "photos" / "p.png.xmp"
    damaged.write_text("<x:xmpmeta")
    code, out, err = run(capsys, "--library", lib, "tags", "import-xmp")
    assert (
        code == 1 and f"warning: {tmp_path / 'photos' / 'p.png'}: {damaged}: not valid XML" in err
    )
    assert "the XMP of 1 could not be read" in out
