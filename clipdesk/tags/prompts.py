"""Prompt templates for zero-shot tagging.

A label's text vector is the normalised mean of the model's text vectors for every prompt built
from it (prompt ensembling, Radford et al. 2021 section 3.1.4). Templates are plain strings with
``{label}`` and, optionally, ``{category}`` placeholders; the category name gives an ambiguous label
its sense ("a photo of a boxer, a type of dog." is the dog, not the athlete).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.limits import MAX_PROMPT_CHARS

# The template that puts the category name beside the label.
CONTEXT_TEMPLATE = "a photo of a {label}, a type of {category}."

# A short, well-performing subset of CLIP's ImageNet ensemble: several framings of a photo,
# so the mean vector keeps what the label means and drops what one wording adds.
PHOTO_TEMPLATES: tuple[str, ...] = (
    "a photo of a {label}.",
    "a blurry photo of a {label}.",
    "a close-up photo of the {label}.",
    "a bright photo of a {label}.",
    "a dark photo of the {label}.",
    "a good photo of the {label}.",
    "a cropped photo of a {label}.",
    "a low resolution photo of the {label}.",
)

DEFAULT_TEMPLATES: tuple[str, ...] = (*PHOTO_TEMPLATES, CONTEXT_TEMPLATE)

# Named sets a user can start from when editing a category's templates.
TEMPLATE_SETS: dict[str, tuple[str, ...]] = {
    "default": DEFAULT_TEMPLATES,
    "simple": ("a photo of a {label}.",),
    "photo": PHOTO_TEMPLATES,
    "context": (CONTEXT_TEMPLATE, "a photo of the {label}, a kind of {category}."),
}

# Label-free prompts describing "some photo": the reference a CLIP model's multi-label score is
# measured against (a label scores above 0.5 when the image is closer to it than to a generic
# photo). Sigmoid models (SigLIP) score each label on its own and do not use them.
NULL_PROMPTS: tuple[str, ...] = ("a photo.", "a photo of something.", "an image.", "a picture.")

ALLOWED_FIELDS = frozenset({"label", "category"})


class TemplateError(ClipDeskError):
    """A prompt template cannot be used."""


def check_template(template: str) -> None:
    """Raise :class:`TemplateError` unless ``template`` is a usable prompt template."""
    if not isinstance(template, str) or not template.strip():
        raise TemplateError("a prompt template is empty", "write e.g. 'a photo of a {label}.'")
    if len(template) > MAX_PROMPT_CHARS:
        raise TemplateError(
            f"prompt template {template[:40]!r}... is {len(template)} characters long; "
            f"a template is at most {MAX_PROMPT_CHARS}",
            "the model reads about 300 characters of a prompt; shorten it",
        )
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(
            f"prompt template {template!r} is not valid: {exc}",
            "use {label} and {category} as placeholders; write {{ and }} for literal braces",
        ) from None
    fields = [f for _, f, _, _ in parts if f is not None]
    for _, f, spec, conversion in parts:
        # A format spec ("{label:>900000000}") would pad every prompt to any length it likes.
        if spec or conversion:
            shown = f"{{{f}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
            raise TemplateError(
                f"prompt template {template!r} formats a placeholder ({shown})",
                "write placeholders plainly, as {label} and {category}",
            )
    unknown = sorted(set(fields) - ALLOWED_FIELDS)
    if unknown:
        raise TemplateError(
            f"prompt template {template!r} uses unknown placeholder(s) {unknown}",
            "only {label} and {category} are filled in",
        )
    if "label" not in fields:
        raise TemplateError(
            f"prompt template {template!r} has no {{label}} placeholder",
            "every template must say where the label goes, e.g. 'a photo of a {label}.'",
        )


def render(template: str, label: str, category: str) -> str:
    """The template with its placeholders filled in; any format spec is ignored, never obeyed."""
    values = {"label": label, "category": category}
    return "".join(
        literal + (values.get(f, "") if f is not None else "")
        for literal, f, _, _ in string.Formatter().parse(template)
    )


def label_prompts(
    label: str, category: str, templates: Sequence[str], extra: Iterable[str] = ()
) -> list[str]:
    """Every prompt in a label's ensemble: each template filled in, then the label's own prompts.

    Duplicates are dropped (a label's own prompt may equal a template's output) so that no
    wording counts twice in the mean.
    """
    seen: dict[str, None] = {}
    for template in templates:
        seen.setdefault(render(template, label, category), None)
    for prompt in extra:
        prompt = prompt.strip()
        if prompt:
            seen.setdefault(prompt, None)
    return list(seen)
