"""Category files and prompt templates have limits (clipdesk/common/limits.py), so that no
category set costs more than a bounded text encoding before the first photo is tagged, and no
template or document can make a prompt or the parser unbounded."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from clipdesk.common.limits import (
    MAX_CATEGORIES,
    MAX_LABELS_PER_CATEGORY,
    MAX_PROMPT_CHARS,
    MAX_PROMPTS,
    MAX_PROMPTS_PER_LABEL,
    MAX_TEMPLATES_PER_CATEGORY,
)
from clipdesk.library.records import FileFacts
from clipdesk.services.app import ClipDeskServices
from clipdesk.tags import prompts
from clipdesk.tags.categories import Category, CategoryError, Label
from clipdesk.tags.category_file import CategoryFileError, parse_categories, read_category_file
from clipdesk.tags.zero_shot import build_classifier
from tests.support.fake_text_model import FakeLoadedModel, FakeTextModel, image_vectors


def _doc(categories: list[dict]) -> str:
    return json.dumps({"format": "clipdesk-categories", "version": 1, "categories": categories})


# --- templates: placeholders only, never a format spec -------------------------------------


@pytest.mark.parametrize("template", ["{label:>900000000}", "a {label!r}", "{label:{category}}"])
def test_a_template_that_formats_its_placeholder_is_refused(template):
    with pytest.raises(CategoryError, match="formats a placeholder"):
        Category("Scene", ("beach",), templates=(template,))
    with pytest.raises(CategoryFileError, match="formats a placeholder"):
        parse_categories(_doc([{"name": "Scene", "templates": [template], "labels": ["beach"]}]))


def test_rendering_never_obeys_a_format_spec():
    # Defence in depth for a template that reached the library before it was validated.
    assert prompts.render("a {label:>100000} photo", "dog", "Pets") == "a dog photo"
    assert prompts.render("a {label}, a type of {category}.", "dog", "Pets") == (
        "a dog, a type of Pets."
    )


def test_templates_and_prompts_are_bounded_in_length_and_number():
    long = "a photo of a {label} " + "x" * MAX_PROMPT_CHARS
    with pytest.raises(CategoryError, match=f"at most {MAX_PROMPT_CHARS}"):
        Category("Scene", ("beach",), templates=(long,))
    with pytest.raises(CategoryError, match=f"at most {MAX_PROMPT_CHARS}"):
        Category("Scene", (Label("beach", ("y" * (MAX_PROMPT_CHARS + 1),)),))
    many = tuple(f"sand number {i}" for i in range(MAX_PROMPTS_PER_LABEL + 1))
    with pytest.raises(CategoryError, match=f"at most {MAX_PROMPTS_PER_LABEL}"):
        Category("Scene", (Label("beach", many),))
    templates = tuple(f"a photo {i} of a {{label}}" for i in range(MAX_TEMPLATES_PER_CATEGORY + 1))
    with pytest.raises(CategoryError, match=f"at most {MAX_TEMPLATES_PER_CATEGORY}"):
        Category("Scene", ("beach",), templates=templates)


def test_a_category_at_the_limits_is_accepted():
    labels = [f"species {i}" for i in range(MAX_LABELS_PER_CATEGORY)]
    cat = Category("Birds", tuple(labels), templates=("a photo of a {label}.",) * 1)
    assert len(cat.labels) == MAX_LABELS_PER_CATEGORY
    with pytest.raises(CategoryError, match=f"at most {MAX_LABELS_PER_CATEGORY}"):
        cat.adding_label("one more")


# --- category files: size, depth, count and cost ------------------------------------------


def test_a_100000_deep_category_file_is_refused_without_recursion(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(
        '{"format": "clipdesk-categories", "version": 1, "categories": ' + "[" * 100_000
    )
    with pytest.raises(CategoryFileError, match="nested more than") as err:
        read_category_file(path)
    assert "line 1" in err.value.message


def test_brackets_inside_strings_do_not_count_as_nesting():
    label = '[[[[[[[[[[[[[[[[[[[[[[[[[[[[ \\" {{{{{{{{{{{{{{{{{{{{{{{{{{{{'
    (cat,) = parse_categories(_doc([{"name": "Odd", "labels": [label]}]))
    assert cat.labels[0].name.startswith("[[[[")


def test_2000_categories_of_500_labels_are_refused_quickly():
    doc = _doc([{"name": f"C{c}", "labels": [f"l{i}" for i in range(500)]} for c in range(2000)])
    start = time.perf_counter()
    with pytest.raises(CategoryFileError) as err:
        parse_categories(doc, "huge.json")
    assert time.perf_counter() - start < 10
    assert str(MAX_CATEGORIES) in err.value.message or f"{MAX_PROMPTS:,}" in err.value.message


def test_a_file_whose_categories_need_too_many_prompts_is_refused():
    per_category = MAX_PROMPTS // 900 + 1  # 9 default templates x 100 labels = 900 each
    doc = _doc(
        [{"name": f"C{c}", "labels": [f"l{i}" for i in range(100)]} for c in range(per_category)]
    )
    with pytest.raises(CategoryFileError, match=f"at most {MAX_PROMPTS:,}"):
        parse_categories(doc, "cats.json")


# --- the library as a whole ---------------------------------------------------------------


@pytest.fixture
def app(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    services = ClipDeskServices(tmp_path / "lib.sqlite3", model=FakeLoadedModel(), device="cpu")
    services.library.add_folder(folder)
    yield services
    services.close()


def _fill_the_prompt_budget(app) -> Category:
    """Add categories until the library needs exactly MAX_PROMPTS prompts; the last one."""
    left = MAX_PROMPTS - sum(c.prompt_count for c in app.tags.categories())
    n = 0
    while left:
        size = min(left, MAX_LABELS_PER_CATEGORY)
        cat = Category(f"Fill {n}", tuple(f"l{i}" for i in range(size)), templates=("a {label}",))
        app.tags.add_category(cat)
        left -= size
        n += 1
    return cat


def test_the_library_refuses_categories_beyond_the_prompt_budget(app, tmp_path):
    last = _fill_the_prompt_budget(app)
    before = [c.name for c in app.tags.categories()]
    path = tmp_path / "more.json"
    path.write_text(_doc([{"name": "More", "templates": ["a {label}"], "labels": ["x"]}]))
    with pytest.raises(CategoryError, match=f"at most {MAX_PROMPTS:,}"):
        app.tags.import_categories(path)
    with pytest.raises(CategoryError, match=f"at most {MAX_PROMPTS:,}"):
        app.tags.save_category(
            app.tags.save_category(replace(last, templates=("a {label}", "the {label}")), last.name)
        )
    # A manual category costs the model nothing: it still fits.
    app.tags.add_category(Category("Keywords here", ("a",), auto=False))
    assert [c.name for c in app.tags.categories()] == [*before, "Keywords here"]


def test_the_library_refuses_more_than_the_category_limit(app):
    for i in range(MAX_CATEGORIES - len(app.tags.categories())):
        app.tags.add_category(Category(f"Manual {i}", ("a",), auto=False))
    with pytest.raises(CategoryError, match=f"at most {MAX_CATEGORIES}"):
        app.tags.add_category(Category("One too many", ("a",), auto=False))


def test_tagging_a_photo_at_the_limit_encodes_at_most_the_prompt_budget(app):
    _fill_the_prompt_budget(app)
    model: FakeLoadedModel = app.tags.model()  # type: ignore[assignment]
    lib = app.library
    folder = lib.folders()[0]
    path = folder.path / "new.jpg"
    Image.new("RGB", (4, 4)).save(path)
    facts = FileFacts(path, path.stat().st_size, path.stat().st_mtime_ns, "jpeg", "h-new")
    ids = [pid for pid, _ in lib.add_or_update_photos(folder.id, [facts])]
    lib.store_embeddings(model.id, ids, image_vectors(["red"]))
    model.calls.clear()
    app.tags.tagger().recompute(photo_ids=ids)
    encoded = sum(len(call) for call in model.calls)
    assert 0 < encoded <= MAX_PROMPTS


def test_prompt_count_is_what_the_classifier_encodes():
    model = FakeTextModel()
    for cat in (
        Category("A", ("red", Label("blue", ("a blue sky", "blue sea"))), templates=("a {label}",)),
        Category("B", ("cat", "dog"), mode="multi"),
    ):
        model.calls.clear()
        build_classifier(model, cat)
        assert sum(len(c) for c in model.calls) <= cat.prompt_count
        assert np.isfinite(build_classifier(model, cat).weights).all()
