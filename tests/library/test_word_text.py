"""The text rules of word search, without a library: what the index stores, the words of a
path, the FTS5 query built from what a user typed, and the snippet that shows a match."""

from __future__ import annotations

import random
import sqlite3

import pytest

from clipdesk.library.word_text import Snippet, index_text, match_expression, path_words, snippet


@pytest.fixture(scope="module")
def fts():
    """An FTS5 table made as the library's photo_words is."""
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE w USING fts5(t, tokenize = 'unicode61 remove_diacritics 2', "
        "prefix = '3')"
    )
    yield conn
    conn.close()


def _matches(fts: sqlite3.Connection, text: str, include: list[str], exclude=()) -> bool:
    fts.execute("DELETE FROM w")
    fts.execute("INSERT INTO w(rowid, t) VALUES(1, ?)", (index_text(text),))
    expression = match_expression(include, exclude)
    if expression is None:
        return False
    return bool(fts.execute("SELECT rowid FROM w WHERE w MATCH ?", (expression,)).fetchall())


# --- the index's text ---------------------------------------------------------------------


def test_a_cjk_run_is_stored_as_its_two_character_pieces_and_its_last_character():
    assert index_text("東京タワー").split() == ["東京", "京タ", "タワ", "ワー", "ー"]
    assert index_text("猫").split() == ["猫"]
    # apart from the words and numbers around it
    assert index_text("Tokyo東京2020").split() == ["Tokyo", "東京", "京", "2020"]
    assert index_text("Plain words stay as they are") == "Plain words stay as they are"


def test_full_width_letters_and_half_width_kana_are_stored_in_their_usual_form():
    assert index_text("ＩＮＶＯＩＣＥ") == "INVOICE"
    assert index_text("ﾀﾜｰ").split() == ["タワ", "ワー", "ー"]


# --- the words of a path ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "root", "words"),
    [
        ("/home/ann/Pictures/a.png", "/home/ann/Pictures", "Pictures/a.png"),
        (
            "/home/ann/Pictures/Trips/2019/a b.png",
            "/home/ann/Pictures",
            "Pictures/Trips/2019/a b.png",
        ),
        ("/home/ann/Pictures/a.png", "/home/ann/Pictures/", "Pictures/a.png"),
        ("/home/ann/Pictures2/a.png", "/home/ann/Pictures", "a.png"),  # not inside it
        ("/elsewhere/a.png", "/home/ann/Pictures", "a.png"),
        ("/home/ann/Pictures/a.png", None, "a.png"),
        ("/a.png", "/", "a.png"),
        ("/mnt/x/caf\udce9.png", "/mnt/x", "x/café.png"),  # a Latin-1 byte
    ],
)
def test_a_paths_words_are_the_watched_folders_name_its_subfolders_and_the_file(path, root, words):
    assert path_words(path, root) == words


# --- queries ------------------------------------------------------------------------------


def test_every_word_is_quoted_and_words_of_three_letters_or_more_are_prefixes():
    assert match_expression(["astro moon at"]) == '("astro"* AND "moon"* AND "at")'
    assert match_expression(["a", "bc"]) == '("a") AND ("bc")'
    assert match_expression(["東京タワー"]) == '("東京 京タ タワ ワー")'
    assert match_expression(["京"]) == '("京"*)'


def test_excluded_phrases_are_a_not_of_each_phrases_words():
    assert match_expression(["red"], ["car", "big dog"]) == (
        '(("red"*)) NOT (("car"*) OR ("big"* AND "dog"*))'
    )
    assert match_expression(["red"], ["-", "*"]) == '("red"*)'


@pytest.mark.parametrize("typed", ["", "   ", "-", "*", '"', "()", "\u0301", "+-*/", "。、"])
def test_text_without_a_word_asks_for_nothing(typed):
    assert match_expression([typed]) is None
    assert match_expression([], ["dog"]) is None


@pytest.mark.parametrize(
    ("text", "query", "hit"),
    [
        ("Café de Flore", "cafe", True),
        ("cafe", "café", True),
        ("ZÜRICH HB", "zurich", True),
        ("Straße", "strasse", False),  # unicode61 folds marks, not ß: nor does the query
        ("astronaut.png", "astro", True),
        ("astronaut.png", "as", False),  # two letters: the whole word
        ("as.png", "as", True),
        ("我们去北京大学", "北京", True),
        ("我们去北京大学", "京大", True),
        ("我们去北京大学", "学", True),  # the run's last character
        ("我们去北京大学", "大学生", False),
        ("東京タワー", "タワ", True),
        ("e-mail me", "e-mail", True),
        ("NEAR the sign", "NEAR", True),
        ("AND OR NOT", "and or not", True),
    ],
)
def test_the_expression_matches_as_the_rules_say(fts, text, query, hit):
    assert _matches(fts, text, [query]) is hit


def test_no_typed_text_makes_an_fts5_syntax_error(fts):
    fts.execute("DELETE FROM w")
    fts.execute("INSERT INTO w(rowid, t) VALUES(1, 'x')")
    alphabet = list("\"*()-+^:{}ANDORNEAR \\'.,;東京é\u0301_") + ["AND", "OR", "NOT", "NEAR"]
    rng = random.Random(17)
    for _ in range(2000):
        typed = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        expression = match_expression([typed, "x"], [typed])
        fts.execute("SELECT rowid FROM w WHERE w MATCH ?", (expression,)).fetchall()


# --- snippets -----------------------------------------------------------------------------


def test_a_snippet_marks_each_matched_word_ignoring_case_and_diacritics():
    got = snippet("Welcome to Café ZÜRICH, the café of cafés", ["cafe zurich"])
    assert got == Snippet(
        "Welcome to Café ZÜRICH, the café of cafés", ((11, 15), (16, 22), (28, 32), (36, 41))
    )
    assert got.marked() == "Welcome to [Café] [ZÜRICH], the [café] of [cafés]"
    assert got.marked("<b>", "</b>").startswith("Welcome to <b>Café</b>")


def test_a_snippet_uses_the_prefix_rule_of_queries():
    assert snippet("an astronaut as ask", ["astro"]).marked() == "an [astronaut] as ask"
    assert snippet("an astronaut as ask", ["as"]).marked() == "an astronaut [as] ask"


def test_a_snippet_marks_cjk_words_inside_a_run():
    assert (
        snippet("今日は東京タワーに行きました", ["タワー"]).marked()
        == "今日は東京[タワー]に行きました"
    )
    assert (
        snippet("今日は東京タワーに行きました", ["京"]).marked() == "今日は東[京]タワーに行きました"
    )


def test_a_long_text_is_cut_around_the_first_match_with_ellipses_and_lines_joined():
    text = (
        "\n".join(f"line {i} of filler words" for i in range(40))
        + "\nTOTAL DUE 41.20\n"
        + ("more filler text " * 30)
    )
    got = snippet(text, ["total"], width=60)
    assert got.text.startswith("…") and got.text.endswith("…")
    assert "\n" not in got.text and "  " not in got.text
    assert len(got.text) <= 62
    assert "[TOTAL] DUE 41.20" in got.marked()


def test_a_short_text_is_kept_whole_with_its_whitespace_collapsed():
    got = snippet("  INVOICE\n\n  No. 2041  ", ["invoice"])
    assert got.marked() == "[INVOICE] No. 2041"


def test_no_snippet_when_nothing_matches():
    assert snippet("a dog on a beach", ["cat"]) is None
    assert snippet("", ["cat"]) is None
    assert snippet("a dog", ["-"]) is None
