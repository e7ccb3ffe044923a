"""Hostile sidecars: one that is too deep, too large or holds too many keywords fails alone,
quickly and in little memory, with its reason; every other photo is read and written."""

from __future__ import annotations

import logging
import time
import tracemalloc

import pytest

from clipdesk.common.limits import (
    MAX_LABELS_PER_CATEGORY,
    MAX_XMP_BYTES,
    MAX_XMP_DEPTH,
    MAX_XMP_ELEMENTS,
    MAX_XMP_KEYWORDS,
)
from clipdesk.tags.categories import KEYWORDS_CATEGORY, Category, Mode
from clipdesk.tags.xmp import sidecar as xmp
from tests.support.xmp_library import library_of

COLOUR = Category("Colour", ("red", "green", "blue"), Mode.SINGLE, 0.0)
HEAD = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    'syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
)
TAIL = "</rdf:Description></rdf:RDF></x:xmpmeta>"


def deep_packet(levels: int) -> bytes:
    inner = "<rdf:Bag><rdf:li>" * levels + "x" + "</rdf:li></rdf:Bag>" * levels
    return f"{HEAD}<dc:x>{inner}</dc:x>{TAIL}".encode()


def keywords_packet(keywords: list[str]) -> bytes:
    items = "".join(f"<rdf:li>{k}</rdf:li>" for k in keywords)
    return f"{HEAD}<dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject>{TAIL}".encode()


@pytest.fixture
def five(tmp_path):
    names = [f"p{i}.jpg" for i in range(5)]
    app, ids = library_of(tmp_path, names)
    app.tags.add_category(COLOUR)
    for pid in ids.values():
        app.tags.decide([pid], "Colour", "red", "confirmed")
    yield app, ids, tmp_path / "photos"
    app.close()


def test_a_5000_level_sidecar_fails_alone_and_the_run_goes_on(five):
    app, ids, folder = five
    deep = folder / "p2.jpg.xmp"
    deep.write_bytes(deep_packet(5000))
    before = deep.read_bytes()
    start = time.monotonic()
    report = app.tags.write_xmp()
    assert len(report.written) == 4 and report.unchanged == 0
    assert [(p, r) for p, r in report.failed] == [
        (str(folder / "p2.jpg"), f"{deep}: XML nested deeper than {MAX_XMP_DEPTH} levels")
    ]
    assert deep.read_bytes() == before  # never overwritten
    assert "1 failed" in report.summary()
    imported = app.tags.import_xmp_report()
    assert [r[0] for r in imported.failed] == [ids["p2.jpg"]]
    assert "nested deeper" in imported.failed[0][2]  # the photo's reason, for the user
    assert time.monotonic() - start < 10


def test_200000_keywords_are_refused_in_bounded_time_and_memory_without_junk_labels(five, caplog):
    app, ids, folder = five
    (folder / "p1.jpg.xmp").write_bytes(keywords_packet([f"kw{i}" for i in range(200_000)]))
    (folder / "p3.jpg.xmp").write_bytes(xmp.update_keywords(None, ["Trip|Rome"]))
    caplog.set_level(logging.WARNING)
    tracemalloc.start()
    start = time.monotonic()
    try:
        app.tags.import_xmp()  # what indexing does for new photos
        took = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert took < 10 and peak < 200 * 2**20
    labels = app.tags.category(KEYWORDS_CATEGORY).label_names
    assert labels == ["Trip|Rome"]  # the readable photo's keyword, no junk
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 1
    report = app.tags.import_xmp_report([ids["p1.jpg"]])
    assert report.failed[0][2].endswith(f"more than {MAX_XMP_ELEMENTS:,} XML elements")
    assert not app.tags.write_xmp([ids["p1.jpg"]]).written  # nor written over


def test_keywords_a_category_cannot_hold_are_one_warning_not_one_each(five, caplog):
    app, ids, folder = five
    each = MAX_LABELS_PER_CATEGORY // 2 + 100  # two photos' keywords overfill "Keywords"
    for i in (3, 4):
        words = [f"word{i}-{n}" for n in range(each)]
        (folder / f"p{i}.jpg.xmp").write_bytes(keywords_packet(words))
    caplog.set_level(logging.WARNING)
    app.tags.import_xmp([ids["p3.jpg"], ids["p4.jpg"]])
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert f"{2 * each - MAX_LABELS_PER_CATEGORY} keywords were not imported" in (
        warnings[0].getMessage()
    )


def test_an_oversized_doctype_or_overfull_sidecar_is_refused_with_its_reason(five):
    app, ids, folder = five
    (folder / "p2.jpg.xmp").write_bytes(keywords_packet([f"k{i}" for i in range(1001)]))
    report = app.tags.import_xmp_report([ids["p2.jpg"]])
    assert report.failed[0][2].endswith(f"more than {MAX_XMP_KEYWORDS:,} keywords")
    with open(folder / "p0.jpg.xmp", "wb") as f:
        f.write(keywords_packet(["a"]))
        f.write(b" " * (MAX_XMP_BYTES + 1))
    (folder / "p1.jpg.xmp").write_bytes(
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + keywords_packet(["&a;"])
    )
    report = app.tags.import_xmp_report([ids["p0.jpg"], ids["p1.jpg"]])
    reasons = [r for _i, _p, r in report.failed]
    assert f"MiB of XMP (at most {MAX_XMP_BYTES // 2**20} MiB)" in reasons[0]
    assert "DOCTYPE" in reasons[1]
    assert app.tags.write_xmp([ids[f"p{i}.jpg"] for i in range(3)]).written == []
