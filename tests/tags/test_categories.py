"""Category and label validation: every Category in the program is a valid one."""

from __future__ import annotations

import pytest

from clipdesk.tags import prompts
from clipdesk.tags.categories import (
    KEYWORDS_CATEGORY,
    Category,
    CategoryError,
    Label,
    Mode,
    flat_keyword,
    hierarchical_keyword,
)


def test_names_are_normalised_and_labels_may_be_plain_strings():
    cat = Category("  Scene ", ("beach", Label("  snowy   mountain ")), "multi", 0.4)
    assert cat.name == "Scene"
    assert cat.label_names == ["beach", "snowy mountain"]
    assert cat.mode is Mode.MULTI
    assert cat.templates == prompts.DEFAULT_TEMPLATES


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "", "labels": ("a",)}, "category name is empty"),
        ({"name": "A|B", "labels": ("a",)}, "contains '|'"),
        ({"name": "S", "labels": ()}, "has no labels"),
        ({"name": "S", "labels": ("beach", "Beach")}, "label 'Beach' twice"),
        ({"name": "S", "labels": ("a",), "mode": "several"}, "mode 'several'"),
        ({"name": "S", "labels": ("a",), "threshold": 1.5}, "between 0 and 1"),
        ({"name": "S", "labels": ("a",), "threshold": float("nan")}, "between 0 and 1"),
        ({"name": "S", "labels": ("a",), "threshold": True}, "must be a number"),
        ({"name": "S", "labels": (Label("a", threshold=0.3),)}, "single-choice"),
        ({"name": "S", "labels": (Label("a", ("",)),)}, "empty prompt"),
        (
            {"name": "S", "labels": ("a",), "templates": ("a photo of {thing}",)},
            "unknown placeholder",
        ),
        ({"name": "S", "labels": ("a",), "templates": ("a photo",)}, "no {label}"),
        ({"name": "S", "labels": ("a",), "templates": ("a {label",)}, "not valid"),
        ({"name": "S", "labels": ("a",), "templates": ()}, "no prompt templates"),
        ({"name": "S", "labels": ("a|b",)}, "contains '|'"),
    ],
)
def test_invalid_definitions_are_refused_with_the_reason(kwargs, fragment):
    with pytest.raises(CategoryError) as info:
        Category(**kwargs)
    assert fragment in info.value.message


def test_labels_with_own_prompts_need_no_templates():
    cat = Category("S", (Label("beach", ("a sandy beach",)),), templates=())
    assert cat.prompts_for(cat.labels[0]) == ["a sandy beach"]


def test_manual_category_may_be_empty_and_keep_keyword_paths():
    cat = Category(KEYWORDS_CATEGORY, ("Places|France|Paris",), auto=False)
    assert cat.labels[0].name == "Places|France|Paris"
    assert Category(KEYWORDS_CATEGORY, (), auto=False).labels == ()


def test_thresholds_per_label_in_multi_mode():
    cat = Category("Pets", ("cat", Label("dog", threshold=0.8)), Mode.MULTI, 0.6)
    assert cat.threshold_for("cat") == pytest.approx(0.6)
    assert cat.threshold_for("DOG") == pytest.approx(0.8)
    with pytest.raises(CategoryError, match="no label 'fish'"):
        cat.label("fish")


def test_prompt_ensemble_uses_category_context_and_label_prompts_without_duplicates():
    cat = Category(
        "dog breed",
        (Label("boxer", ("a photo of a boxer.", "a boxer dog")),),
        templates=("a photo of a {label}.", prompts.CONTEXT_TEMPLATE),
    )
    assert cat.prompts_for(cat.labels[0]) == [
        "a photo of a boxer.",
        "a photo of a boxer, a type of dog breed.",
        "a boxer dog",
    ]


def test_keyword_paths():
    assert hierarchical_keyword("Scene", "beach") == "Scene|beach"
    assert hierarchical_keyword(KEYWORDS_CATEGORY, "Places|Paris") == "Places|Paris"
    assert flat_keyword("Places|France|Paris") == "Paris"
    assert flat_keyword("beach") == "beach"


def test_editing_returns_a_new_validated_category():
    cat = Category("Scene", ("beach",))
    bigger = cat.adding_label("city")
    assert cat.label_names == ["beach"] and bigger.label_names == ["beach", "city"]
    with pytest.raises(CategoryError):
        cat.adding_label("BEACH")
