"""The category file: documented JSON round trip and precise, all-or-nothing errors."""

from __future__ import annotations

import json

import pytest

from clipdesk.tags.categories import Category, Label, Mode
from clipdesk.tags.category_file import (
    CategoryFileError,
    dump_categories,
    parse_categories,
    read_category_file,
    starter_categories,
    write_category_file,
)


def _doc(*categories: dict) -> str:
    return json.dumps(
        {"format": "clipdesk-categories", "version": 1, "categories": list(categories)}
    )


def test_round_trip_keeps_every_field(tmp_path):
    cats = [
        Category("Scene", ("city", Label("beach", ("a sandy beach",))), Mode.SINGLE, 0.4),
        Category(
            "Pets",
            ("cat", Label("dog", threshold=0.7)),
            Mode.MULTI,
            0.6,
            templates=("a photo of my {label}.",),
        ),
        Category("Keywords", ("Places|Paris",), auto=False),
    ]
    path = tmp_path / "cats.json"
    write_category_file(path, cats)
    assert read_category_file(path) == cats
    assert json.loads(path.read_text())["categories"][0]["labels"][0] == "city"


def test_defaults_apply_to_omitted_fields():
    (cat,) = parse_categories(_doc({"name": "Scene", "labels": ["beach", "city"]}))
    assert cat.mode is Mode.SINGLE and cat.threshold == 0.5 and cat.auto


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            '{"format": "clipdesk-categories",\n "version": 1,\n "categories": [,]}',
            "line 3, column",
        ),
        ("[]", "expected a JSON object"),
        (
            '{"format": "other", "version": 1, "categories": []}',
            'format: expected "clipdesk-categories"',
        ),
        ('{"format": "clipdesk-categories", "version": 9, "categories": []}', "version 9 is newer"),
        ('{"format": "clipdesk-categories", "version": 1}', "no 'categories'"),
        (_doc({"name": "S"}), "categories[0]: category has no 'labels'"),
        (_doc({"name": "S", "labels": "beach"}), "categories[0].labels: expected a list"),
        (_doc({"name": "S", "labels": ["a", 3]}), "categories[0].labels[1]: expected a label"),
        (
            _doc({"name": "S", "labels": [{"nme": "a"}]}),
            "categories[0].labels[0]: unknown field(s) 'nme'",
        ),
        (_doc({"name": "S", "labels": ["a"], "treshold": 0.5}), "unknown field(s) 'treshold'"),
        (
            _doc({"name": "S", "labels": ["a"], "threshold": "high"}),
            "categories[0].threshold: expected a number",
        ),
        (_doc({"name": "S", "labels": ["a"], "threshold": 2}), "between 0 and 1"),
        (_doc({"name": "S", "labels": ["a"], "auto": "yes"}), "categories[0].auto"),
        (
            _doc({"name": "S", "labels": ["a"]}, {"name": "s", "labels": ["b"]}),
            "categories[1].name: category 's' appears twice",
        ),
        (
            _doc({"name": "S", "labels": ["a"], "templates": ["{label"]}),
            "categories[0]: category 'S'",
        ),
        (_doc({"name": "S", "labels": [{"name": "a", "prompts": [1]}]}), "labels[0].prompts[0]"),
    ],
)
def test_malformed_documents_name_the_problem(text, fragment):
    with pytest.raises(CategoryFileError) as info:
        parse_categories(text, "cats.json")
    assert info.value.message.startswith("cats.json")
    assert fragment in info.value.message


def test_unreadable_files_are_clear_errors(tmp_path):
    with pytest.raises(CategoryFileError, match="no such file"):
        read_category_file(tmp_path / "missing.json")
    with pytest.raises(CategoryFileError, match="is a folder"):
        read_category_file(tmp_path)
    bad = tmp_path / "latin1.json"
    bad.write_bytes('{"name": "Sc\u00e8ne"}'.encode("latin-1"))
    with pytest.raises(CategoryFileError, match="not UTF-8"):
        read_category_file(bad)


def test_failed_export_leaves_old_file(tmp_path, monkeypatch):
    path = tmp_path / "cats.json"
    write_category_file(path, [Category("Old", ("a",))])
    before = path.read_bytes()

    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", full_disk)
    with pytest.raises(CategoryFileError, match="No space left"):
        write_category_file(path, [Category("New", ("b",))])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cats.json"]


def test_starter_categories_are_valid_and_documented_shape():
    cats = starter_categories()
    names = [c.name for c in cats]
    assert {"Scene", "Pets"} <= set(names)
    assert parse_categories(dump_categories(cats)) == cats
    assert any(c.mode is Mode.MULTI for c in cats) and any(c.mode is Mode.SINGLE for c in cats)


def test_errors_give_the_line_of_the_object_at_fault():
    text = (
        '{"format": "clipdesk-categories", "version": 1,\n'
        ' "categories": [\n'
        '  {"name": "A", "labels": ["x"]},\n'
        '  {"name": "B", "mode": "multi",\n'
        '   "labels": ["y", {"name": "z",\n'
        '                    "threshold": "high"}]}]}\n'
    )
    with pytest.raises(CategoryFileError) as info:
        parse_categories(text, "cats.json")
    assert info.value.message.startswith(
        "cats.json, line 5: categories[1].labels[1].threshold: expected a number"
    )
    with pytest.raises(
        CategoryFileError, match=r"cats.json, line 4: categories\[1\]: .* mode .many."
    ):
        parse_categories(text.replace('"multi"', '"many"').replace('"high"', "0.3"), "cats.json")
