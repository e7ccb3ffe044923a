"""Argument types that check a value's range while parsing, so that a wrong number is a usage
error naming the option's range (exit 2) before anything is opened or loaded."""

from __future__ import annotations

import argparse
import math


def count(text: str) -> int:
    """A whole number of at least 1 (how many results, photos, a batch's size)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: give 1 or more")
    return value


def score(text: str) -> float:
    """A score from 0 to 1 (cosine similarity above 0 or a probability: what a match scores)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"{text} is out of range: give a score from 0 to 1")
    return value
