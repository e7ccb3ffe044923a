"""What the search box and the first-run page suggest typing: words the active model knows.

The bundled demo model (ClipDesk-Mini) knows only coloured shapes (its model card); asked for
"kids on a beach at sunset" it ranks random shapes at about the score of a real match. So with
the demo model the examples are its own words ("a red circle", "blue star") and say plainly that
real photos need a real model; with a real model they describe real photos. The syntax table is
the same grammar either way (:mod:`clipdesk.search.query`), in the model's words.
"""

from __future__ import annotations

from dataclasses import dataclass

# Phrases the demo model ranks right (tests/ui/test_query_examples.py checks each on its world).
DEMO_PHRASES = ("a red circle", "blue star", "two green squares")
PHOTO_PHRASES = ("kids on a beach at sunset", "a red car", "a birthday cake")

_TEXT_ROWS = (
    (
        "text:invoice",
        "only the words: text in the photo, file and folder names, captions, "
        "keywords, tags (no model needed)",
    ),
)
_PHOTO_SYNTAX = (
    ("kids on a beach at sunset", "a phrase: found by CLIP and by the words of photos"),
    ("beach +0.5 sunset -people", "weights: sunset counts half, people pushes away"),
    *_TEXT_ROWS,
    ("clip:a red sign", "only CLIP: the words of photos are not searched"),
    ("sunset -text:watermark", "no photo whose words hold “watermark”"),
    ("red car +photo:42", "a phrase and a photo's look (as More like this)"),
    ('"-80s poster" +2 neon', "double quotes keep + - and text: as plain words"),
)
_DEMO_SYNTAX = (
    ("a red circle", "a phrase: found by CLIP and by the words of photos"),
    ("star +0.5 red -blue", "weights: red counts half, blue pushes away"),
    *_TEXT_ROWS,
    ("clip:a blue star", "only CLIP: the words of photos are not searched"),
    ("star -text:draft", "no photo whose words hold “draft”"),
    ("red heart +photo:42", "a phrase and a photo's look (as More like this)"),
    ('"text: red" +2 star', "double quotes keep + - and text: as plain words"),
)
DEMO_NOTE = (
    "The demo model knows only coloured shapes (10 colours, 12 shapes): real photos need a "
    "real model."
)


@dataclass(frozen=True)
class QueryExamples:
    """The examples for one kind of model: the demo, or a real photo model."""

    demo: bool
    phrases: tuple[str, ...]
    syntax: tuple[tuple[str, str], ...]
    refine: str  # words that refine an image query ("but at night")

    def quoted(self, n: int = 2) -> str:
        """The first ``n`` phrases in quotes, for a sentence: “a red circle”, “blue star”."""
        return ", ".join(f"“{p}”" for p in self.phrases[:n])

    @property
    def placeholder(self) -> str:
        if self.demo:
            return (
                f"Describe a coloured shape ({self.quoted()}): the demo model knows no more; "
                "or the words in a photo (text:invoice), or drop an image here"
            )
        return (
            f"Describe a photo or the words in it ({self.quoted(1)}, “text:invoice”), "
            "or drop an image here"
        )

    @property
    def help_html(self) -> str:
        """The query syntax as the box's tooltip and its "?" button show it."""
        rows = "".join(
            f"<tr><td><code>{q.replace('<', '&lt;')}</code>&nbsp;&nbsp;</td><td>{what}</td></tr>"
            for q, what in self.syntax
        )
        demo = f"<p><b>{DEMO_NOTE}</b></p>" if self.demo else ""
        return (
            "<p><b>Search</b>: type what a photo shows or the words in it, or drop an image.</p>"
            f"{demo}<table>{rows}</table>"
            "<p>Each result says why it matched: CLIP, or where its words were found.</p>"
        )


DEMO = QueryExamples(True, DEMO_PHRASES, _DEMO_SYNTAX, "but blue")
PHOTOS = QueryExamples(False, PHOTO_PHRASES, _PHOTO_SYNTAX, "but at night")
# Before the model has loaded nobody knows which words fit: the grammar, and no phrase.
NEUTRAL_PLACEHOLDER = "Describe a photo or the words in it, or drop an image here"


def for_model(demo: bool) -> QueryExamples:
    return DEMO if demo else PHOTOS
