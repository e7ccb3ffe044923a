"""Ratings and colour labels in XMP: what Lightroom, digiKam, darktable and exiftool write is
read, and what ClipDesk writes they read back, every other byte of the packet kept."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from clipdesk.tags.xmp.marks import MarkEdit, XmpMarks, edit_marks, parse_label, read_marks
from clipdesk.tags.xmp.packet import XmpError
from clipdesk.tags.xmp.sidecar import photo_marks, read_photo_sources

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool")

LIGHTROOM = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
   xmp:Rating="2"
   xmp:Label="Yellow"
   crs:Exposure2012="+0.35">
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

DIGIKAM = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <xmp:Rating>5</xmp:Rating>
   <digiKam:ColorLabel>4</digiKam:ColorLabel>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

DARKTABLE = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:darktable="http://darktable.sf.net/" xmp:Rating="-1">
   <darktable:colorlabels><rdf:Seq><rdf:li>3</rdf:li></rdf:Seq></darktable:colorlabels>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def _exiftool(*args: str | Path) -> str:
    return subprocess.run(
        ["exiftool", *map(str, args)], check=True, capture_output=True, text=True
    ).stdout


def exiftool_marks(path: Path) -> dict[str, object]:
    """What exiftool reads as the file's XMP rating and label (as Lightroom's readers do)."""
    found = json.loads(_exiftool("-j", "-XMP:Rating", "-XMP:Label", path))[0]
    return {k: found[k] for k in ("Rating", "Label") if k in found}


def test_lightroom_digikam_and_darktable_ratings_and_labels_are_read() -> None:
    assert read_marks(LIGHTROOM) == XmpMarks(2, "Yellow")
    assert read_marks(DIGIKAM) == XmpMarks(5, "Green")  # digiKam's 4 is green
    assert read_marks(DARKTABLE) == XmpMarks(-1, "Blue")  # rejected; darktable's 3 is blue


def test_a_label_of_a_custom_set_or_a_rating_out_of_range_is_no_mark() -> None:
    odd = LIGHTROOM.replace(b'"Yellow"', b'"To Print"').replace(b'"2"', b'"9"')
    assert read_marks(odd) == XmpMarks(None, None)
    assert parse_label("purple") == "Purple" and parse_label("none") is None
    with pytest.raises(ValueError, match="not a colour label"):
        parse_label("orange")


def test_writing_changes_only_the_rating_and_label_in_their_own_form() -> None:
    new = edit_marks(LIGHTROOM, MarkEdit(4, "Red", write_rating=True, write_label=True))
    assert new == LIGHTROOM.replace(b'"2"', b'"4"').replace(b'"Yellow"', b'"Red"')
    gone = edit_marks(new, MarkEdit(0, None, write_rating=True, write_label=True))
    assert b"xmp:Label" not in gone and b'xmp:Rating="0"' in gone and b"crs:Exposure2012" in gone
    # digiKam's element form stays an element, and its own colour field follows
    dk = edit_marks(DIGIKAM, MarkEdit(3, "Purple", write_rating=True, write_label=True))
    assert (
        b"<xmp:Rating>3</xmp:Rating>" in dk and b"<digiKam:ColorLabel>6</digiKam:ColorLabel>" in dk
    )
    assert read_marks(dk) == XmpMarks(3, "Purple")


def test_only_the_fields_asked_for_are_written() -> None:
    assert edit_marks(LIGHTROOM, MarkEdit(5, None, write_rating=True)) == LIGHTROOM.replace(
        b'"2"', b'"5"'
    )
    assert edit_marks(LIGHTROOM, MarkEdit()) == LIGHTROOM
    # no stars asked for a packet that has no rating: nothing to say, nothing written
    bare = LIGHTROOM.replace(b'   xmp:Rating="2"\n', b"")
    assert edit_marks(bare, MarkEdit(0, None, write_rating=True)) == bare


def test_a_damaged_packet_is_refused() -> None:
    with pytest.raises(XmpError):
        edit_marks(b"<x:xmpmeta", MarkEdit(3, write_rating=True))


@needs_exiftool
def test_exiftool_reads_what_clipdesk_writes(tmp_path: Path) -> None:
    side = tmp_path / "a.jpg.xmp"
    side.write_bytes(edit_marks(None, MarkEdit(4, "Green", True, True), photo_name="a.jpg"))
    assert exiftool_marks(side) == {"Rating": 4, "Label": "Green"}
    side.write_bytes(edit_marks(side.read_bytes(), MarkEdit(-1, "Blue", True, True)))
    assert exiftool_marks(side) == {"Rating": -1, "Label": "Blue"}


@needs_exiftool
def test_exiftool_written_sidecars_and_embedded_jpegs_are_read(tmp_path: Path) -> None:
    photo = tmp_path / "b.jpg"
    Image.new("RGB", (16, 16), "red").save(photo)
    _exiftool("-q", "-overwrite_original", "-XMP:Rating=3", "-XMP:Label=Red", photo)
    sources, problems = read_photo_sources(photo)
    assert not problems and photo_marks(sources) == XmpMarks(3, "Red")
    # a sidecar says what the user edited last: it wins over the embedded packet
    _exiftool("-q", "-o", tmp_path / "b.jpg.xmp", "-XMP:Rating=5", "-XMP:Label=Purple")
    sources, _problems = read_photo_sources(photo)
    assert photo_marks(sources) == XmpMarks(5, "Purple")
