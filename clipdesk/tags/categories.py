"""Tag categories the user defines ("Scene: beach, mountain, city") as typed, validated data.

A category is either *single choice* (the photo gets at most one of its labels: a softmax over the
labels with the model's temperature, and none when the best probability is below the threshold) or
*multi-label* (each label is scored on its own and kept when its score reaches that label's
threshold). Scores live in [0, 1] in both modes, so one threshold scale serves the settings, the
review list and the XMP "confirmed only" choice. What a multi-label score is depends on the model
(see :mod:`clipdesk.tags.zero_shot`): for sigmoid models (SigLIP) the model's own probability that
the photo shows the label, so a threshold of 0.6 asks for 60% confidence; for CLIP, which has no
such probability, how much closer the photo is to the label than to a generic photo (0.5: no
closer). The default of 0.5 is even odds under the first reading and "no closer" under the second.

A category with ``auto=False`` is never scored by the model: it holds the user's own keywords (for
example those imported from XMP sidecars).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.limits import (
    MAX_CATEGORIES,
    MAX_LABELS_PER_CATEGORY,
    MAX_PROMPT_CHARS,
    MAX_PROMPTS,
    MAX_PROMPTS_PER_LABEL,
    MAX_TEMPLATES_PER_CATEGORY,
)
from clipdesk.tags import prompts

DEFAULT_THRESHOLD = 0.5
MAX_NAME_LENGTH = 120
# Keywords imported from XMP that match no category of ours land in this manual category.
KEYWORDS_CATEGORY = "Keywords"
# The separator of lr:hierarchicalSubject ("Scene|beach"); it cannot appear inside a name.
HIERARCHY_SEP = "|"


class CategoryError(ClipDeskError):
    """A category or label definition is not valid."""


class Mode(StrEnum):
    SINGLE = "single"  # at most one label per photo
    MULTI = "multi"  # any number of labels per photo


def _check_name(kind: str, name: object, allow_separator: bool = False) -> str:
    if not isinstance(name, str):
        raise CategoryError(f"{kind} name must be text, not {type(name).__name__}")
    clean = " ".join(name.split())
    if not clean:
        raise CategoryError(f"{kind} name is empty")
    if len(clean) > MAX_NAME_LENGTH:
        raise CategoryError(f"{kind} name {clean[:40]!r}... is longer than {MAX_NAME_LENGTH}")
    if not allow_separator and HIERARCHY_SEP in clean:
        raise CategoryError(
            f"{kind} name {clean!r} contains '{HIERARCHY_SEP}'",
            "'|' separates levels in XMP hierarchical keywords; choose another character",
        )
    return clean


def _check_threshold(what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CategoryError(f"threshold of {what} must be a number, not {value!r}")
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise CategoryError(f"threshold of {what} is {value}; it must lie between 0 and 1")
    return value


@dataclass(frozen=True)
class Label:
    name: str
    # Extra prompts describing this label ("a sandy beach"); they join the template ensemble.
    prompts: tuple[str, ...] = ()
    # Multi-label only: overrides the category threshold for this label.
    threshold: float | None = None

    def validated(self, category: str, allow_separator: bool = False) -> Label:
        name = _check_name(f"label in {category!r}", self.name, allow_separator)
        if len(self.prompts) > MAX_PROMPTS_PER_LABEL:
            raise CategoryError(
                f"label {name!r} in {category!r} has {len(self.prompts)} prompts; "
                f"a label has at most {MAX_PROMPTS_PER_LABEL}",
                "a few prompts that describe the label well work best",
            )
        clean_prompts: list[str] = []
        for p in self.prompts:
            if not isinstance(p, str) or not p.strip():
                raise CategoryError(f"label {name!r} in {category!r} has an empty prompt")
            if len(p) > MAX_PROMPT_CHARS:
                raise CategoryError(
                    f"a prompt of label {name!r} in {category!r} is {len(p)} characters long; "
                    f"a prompt is at most {MAX_PROMPT_CHARS}",
                    "the model reads about 300 characters of a prompt; shorten it",
                )
            clean_prompts.append(" ".join(p.split()))
        threshold = None
        if self.threshold is not None:
            threshold = _check_threshold(f"label {name!r} in {category!r}", self.threshold)
        return Label(name, tuple(clean_prompts), threshold)


@dataclass(frozen=True)
class Category:
    name: str
    labels: tuple[Label, ...]
    mode: Mode = Mode.SINGLE
    # Single: the least softmax probability that assigns the best label.
    # Multi: the default per-label score threshold.
    threshold: float = DEFAULT_THRESHOLD
    # Prompt templates with {label} and optional {category}; the ensemble for every label.
    templates: tuple[str, ...] = field(default=prompts.DEFAULT_TEMPLATES)
    # False: the model never suggests; labels come from the user or imported keywords.
    auto: bool = True

    def __post_init__(self) -> None:
        # Normalise and validate once, so every Category in the program is a valid one.
        name = _check_name("category", self.name)
        try:
            mode = Mode(self.mode)
        except ValueError:
            raise CategoryError(
                f"category {name!r} has mode {self.mode!r}", "use 'single' or 'multi'"
            ) from None
        labels = tuple(
            (lab if isinstance(lab, Label) else Label(lab)).validated(name, not self.auto)
            for lab in self.labels
        )
        if self.auto and not labels:
            raise CategoryError(f"category {name!r} has no labels", "add at least one label")
        if len(labels) > MAX_LABELS_PER_CATEGORY:
            raise CategoryError(
                f"category {name!r} has {len(labels)} labels; "
                f"a category has at most {MAX_LABELS_PER_CATEGORY}",
                "split it into several categories",
            )
        seen: set[str] = set()
        for lab in labels:
            key = lab.name.casefold()
            if key in seen:
                raise CategoryError(f"category {name!r} has the label {lab.name!r} twice")
            seen.add(key)
            if lab.threshold is not None and mode is Mode.SINGLE:
                raise CategoryError(
                    f"label {lab.name!r} in single-choice category {name!r} has its own threshold",
                    "per-label thresholds apply to multi-label categories; set the category's",
                )
        templates = tuple(self.templates)
        if len(templates) > MAX_TEMPLATES_PER_CATEGORY:
            raise CategoryError(
                f"category {name!r} has {len(templates)} prompt templates; "
                f"a category has at most {MAX_TEMPLATES_PER_CATEGORY}",
                "a handful of templates gives the ensemble's benefit",
            )
        if self.auto and not templates and not all(lab.prompts for lab in labels):
            raise CategoryError(
                f"category {name!r} has no prompt templates and labels without prompts",
                "add a template such as 'a photo of a {label}.'",
            )
        for t in templates:
            try:
                prompts.check_template(t)
            except ClipDeskError as exc:
                raise CategoryError(f"category {name!r}: {exc.message}", exc.hint) from None
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "templates", templates)
        object.__setattr__(
            self, "threshold", _check_threshold(f"category {name!r}", self.threshold)
        )
        object.__setattr__(self, "auto", bool(self.auto))
        if self.auto and self.prompt_count > MAX_PROMPTS:
            raise CategoryError(
                f"category {name!r} needs {self.prompt_count:,} prompts encoded "
                f"({len(labels)} labels x {len(templates)} templates, and the labels' own); "
                f"ClipDesk encodes at most {MAX_PROMPTS:,}",
                _FEWER_PROMPTS,
            )

    @property
    def prompt_count(self) -> int:
        """Prompts the text encoder must encode to score this category (0 when manual): its
        cost before the first photo is tagged. Counted before duplicates are dropped, and with
        the generic-photo prompts of multi-label categories that only CLIP models encode, so the
        limits do not change with the model."""
        if not self.auto:
            return 0
        own = sum(len(lab.prompts) for lab in self.labels)
        null = len(prompts.NULL_PROMPTS) if self.mode is Mode.MULTI else 0
        return len(self.labels) * len(self.templates) + own + null

    @property
    def label_names(self) -> list[str]:
        return [lab.name for lab in self.labels]

    def label(self, name: str) -> Label:
        key = " ".join(name.split()).casefold()
        for lab in self.labels:
            if lab.name.casefold() == key:
                return lab
        raise CategoryError(
            f"category {self.name!r} has no label {name!r}",
            f"its labels are: {', '.join(self.label_names) or '(none)'}",
        )

    def threshold_for(self, label: Label | str) -> float:
        lab = label if isinstance(label, Label) else self.label(label)
        if self.mode is Mode.MULTI and lab.threshold is not None:
            return lab.threshold
        return self.threshold

    def prompts_for(self, label: Label) -> list[str]:
        return prompts.label_prompts(label.name, self.name, self.templates, label.prompts)

    def with_labels(self, labels: Iterable[Label | str]) -> Category:
        return replace(
            self, labels=tuple(lab if isinstance(lab, Label) else Label(lab) for lab in labels)
        )

    def adding_label(self, label: Label | str) -> Category:
        return self.with_labels([*self.labels, label])


_FEWER_PROMPTS = "use fewer labels or prompt templates, or make rarely used categories manual"


def check_capacity(
    existing: Sequence[Category], adding: Sequence[Category], replacing: Iterable[str] = ()
) -> None:
    """CategoryError unless a library holding ``existing`` can take ``adding`` (which replace
    the categories of the same names and those named in ``replacing``) within the limits on
    categories and on prompts to encode, the bound on tagging's cost before the first photo."""
    gone = {n.casefold() for n in replacing} | {c.name.casefold() for c in adding}
    kept = [c for c in existing if c.name.casefold() not in gone]
    count = len(kept) + len(adding)
    if count > MAX_CATEGORIES:
        raise CategoryError(
            f"that makes {count} categories; ClipDesk holds at most {MAX_CATEGORIES}",
            "remove categories you no longer use, or merge related ones",
        )
    needed = sum(c.prompt_count for c in (*kept, *adding))
    if needed > MAX_PROMPTS:
        raise CategoryError(
            f"the automatic categories would need {needed:,} prompts encoded; "
            f"ClipDesk encodes at most {MAX_PROMPTS:,}",
            _FEWER_PROMPTS,
        )


def hierarchical_keyword(category: str, label: str) -> str:
    """The lr:hierarchicalSubject path of a tag; imported keywords keep their own path."""
    if category == KEYWORDS_CATEGORY:
        return label
    return f"{category}{HIERARCHY_SEP}{label}"


def flat_keyword(label: str) -> str:
    """The dc:subject keyword of a tag: the last level of its path."""
    return label.rsplit(HIERARCHY_SEP, 1)[-1].strip()
