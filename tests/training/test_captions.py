"""Caption pairs from a library: tags, XMP text and folder names, counted per source; a split
that keeps photos on one side; bad photos skipped while training."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from clipdesk.common.errors import ClipDeskError
from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library
from clipdesk.model import synth
from clipdesk.tags.categories import Category, Label
from clipdesk.tags.store.tag_store import TagStore
from clipdesk.tags.xmp.text import read_xmp_text
from clipdesk.training.captions import (
    CaptionPair,
    caption_from_tags,
    caption_pairs,
    folder_caption,
    split_pairs,
)

SIDECAR = """<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
      xmlns:lr="http://ns.adobe.com/lightroom/1.0/">
   <dc:title><rdf:Alt><rdf:li xml:lang="de">Am Strand</rdf:li>
     <rdf:li xml:lang="x-default">At the beach</rdf:li></rdf:Alt></dc:title>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">Kids building a
     sandcastle</rdf:li></rdf:Alt></dc:description>
   <dc:subject><rdf:Bag><rdf:li>sand</rdf:li><rdf:li>holiday</rdf:li></rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>Places|Spain|Cadiz</rdf:li></rdf:Bag>
   </lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>"""


def test_folder_and_tag_captions():
    root = Path("/photos")
    assert folder_caption(root / "2024/trips/swiss_alps/IMG_1.jpg", root) == (
        "a photo of swiss alps, trips"
    )
    assert folder_caption(root / "DCIM/100CANON/IMG_1.jpg", root) is None
    assert folder_caption(root / "2023-07-14/x.jpg", root) is None
    assert folder_caption(Path("/elsewhere/x.jpg"), root) is None
    tpl = ["a photo of a {label}, a type of {category}.", "a photo of a {label}."]
    assert caption_from_tags([("beach", "Scene", tpl)]) == "a photo of a beach."
    assert (
        caption_from_tags(
            [("beach", "Scene", tpl), ("dog", "Pets", tpl), ("Places|Spain", "Keywords", [])]
        )
        == "a photo of a beach, dog, Spain."
    )


def test_xmp_text_reads_title_description_keywords(tmp_path):
    photo = synth.write_photo(synth.sample_scenes(0, 1)[0], tmp_path / "a.jpg", 32)
    (tmp_path / "a.xmp").write_text(SIDECAR, encoding="utf-8")
    text = read_xmp_text(photo)
    assert text.title == "At the beach"
    assert text.description == "Kids building a sandcastle"
    assert set(text.keywords) == {"sand", "holiday", "Cadiz"}
    assert read_xmp_text(tmp_path / "missing.jpg").title is None


@pytest.fixture
def library(tmp_path):
    lib = Library(tmp_path / "lib.sqlite3")
    root = tmp_path / "photos"
    folder = lib.add_folder(root)
    paths = []
    for i, spec in enumerate(synth.sample_scenes(1, 6, split="test")):
        sub = "2024/beach" if i < 3 else "DCIM"
        paths.append(synth.write_photo(spec, root / sub / f"IMG_{i}.jpg", 32))
    (root / "DCIM" / "IMG_3.xmp").write_text(SIDECAR, encoding="utf-8")
    facts = [FileFacts(p, p.stat().st_size, i, "jpeg", f"h{i}") for i, p in enumerate(paths)]
    ids = [pid for pid, _ in lib.add_or_update_photos(folder.id, facts)]
    with lib.transaction() as conn:
        conn.execute(
            f"UPDATE photos SET status = 'ok' WHERE id IN ({','.join('?' * len(ids))})", ids
        )
    tags = TagStore(lib, install_starters=False)
    tags.add_category(Category("Scene", (Label("beach"), Label("city"))))
    lid = tags.label_ids("Scene")
    with lib.transaction() as conn:
        conn.executemany(
            "INSERT INTO photo_tags(photo_id, label_id, state, updated_at) VALUES(?, ?, ?, ?)",
            [
                (ids[0], lid["beach"], "confirmed", time.time()),
                (ids[4], lid["city"], "confirmed", time.time()),
                (ids[5], lid["city"], "rejected", time.time()),
            ],
        )
    yield lib, ids
    lib.close()


def test_caption_pairs_per_source(library):
    lib, ids = library
    everything = caption_pairs(lib)
    assert everything.counts == {"tags": 2, "xmp": 3, "folders": 3}
    assert everything.photos == 5  # photo 5 has only a rejected tag and an empty DCIM folder
    by_photo = {}
    for p in everything.pairs:
        by_photo.setdefault(p.photo_id, []).append(p.caption)
    assert "a photo of a beach." in by_photo[ids[0]] and "a photo of beach" in by_photo[ids[0]]
    assert "At the beach" in by_photo[ids[3]]
    only_tags = caption_pairs(lib, ["tags"])
    assert only_tags.counts == {"tags": 2} and len(only_tags.pairs) == 2
    with pytest.raises(ClipDeskError):
        caption_pairs(lib, ["emails"])


def test_split_keeps_each_photo_on_one_side():
    pairs = [CaptionPair(i // 2, Path(f"/p/{i}.jpg"), f"c{i}", "tags") for i in range(200)]
    train, val = split_pairs(pairs, 0.1)
    assert {p.photo_id for p in train}.isdisjoint({p.photo_id for p in val})
    assert 8 <= len(val) <= 40 and len(train) + len(val) == 200
    assert split_pairs(pairs, 0.1) == (train, val)  # deterministic
