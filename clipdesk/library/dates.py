"""The date filter, written once: when a photo was taken, and how a date range selects photos.

A photo's date is its EXIF ``taken_at`` (stored as naive local ISO 8601 text), else its file's
modification time in local time. Every date filter - search, browsing the library, the CLI's
``--from``/``--to`` - goes through :func:`taken_between` in SQL, so they all agree on edge cases
(a photo without EXIF date, the last second of the last day).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

DateLike = dt.date | dt.datetime | str

# The photo's date as comparable ISO 8601 text (photos without an EXIF date: their mtime).
TAKEN_AT_SQL = (
    "coalesce(taken_at, strftime('%Y-%m-%dT%H:%M:%S', mtime_ns / 1000000000, "
    "'unixepoch', 'localtime'))"
)


def taken_bound(value: DateLike | None, end: bool) -> str | None:
    """A bound comparable with the stored ``taken_at`` text: a date means from its first second
    (``end=False``) or up to its last second (``end=True``); a datetime is taken as it is.
    Raises ValueError for text that is not an ISO date or datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = (
            dt.datetime.fromisoformat(value)
            if "T" in value or " " in value
            else dt.date.fromisoformat(value)
        )
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    return (value.isoformat() + "T23:59:59") if end else (value.isoformat() + "T00:00:00")


def taken_between(
    date_from: DateLike | None, date_to: DateLike | None
) -> tuple[list[str], list[str]]:
    """(WHERE clauses, parameters) selecting photos taken within the inclusive range."""
    where: list[str] = []
    params: list[str] = []
    lo, hi = taken_bound(date_from, end=False), taken_bound(date_to, end=True)
    if lo:
        where.append(f"{TAKEN_AT_SQL} >= ?")
        params.append(lo)
    if hi:
        where.append(f"{TAKEN_AT_SQL} <= ?")
        params.append(hi)
    return where, params


def taken_seconds(taken_at: str | None, mtime_ns: int) -> float:
    """When a photo was taken, in POSIX seconds: its EXIF date read as local time, else (none,
    or not ISO text) its file's mtime. The grid's dates and its date orders use this."""
    seconds = _exif_seconds(taken_at) if taken_at else None
    return mtime_ns / 1e9 if seconds is None else seconds


def dated_by_exif(taken_at: str | None) -> bool:
    """Whether :func:`taken_seconds` dates a photo by its EXIF date (else by its file's
    mtime), so that a face can say which of the two it shows."""
    return bool(taken_at) and _exif_seconds(taken_at or "") is not None


def taken_seconds_of(rows: Iterable[tuple[str | None, int]]) -> list[float]:
    """:func:`taken_seconds` of many (taken_at, mtime_ns) pairs; each EXIF text is parsed once
    (a burst of photos shares its seconds)."""
    parsed: dict[str, float | None] = {}
    out: list[float] = []
    for taken_at, mtime_ns in rows:
        seconds = None
        if taken_at:
            if taken_at in parsed:
                seconds = parsed[taken_at]
            else:
                seconds = parsed[taken_at] = _exif_seconds(taken_at)
        out.append(mtime_ns / 1e9 if seconds is None else seconds)
    return out


def _exif_seconds(taken_at: str) -> float | None:
    try:
        return dt.datetime.fromisoformat(taken_at).timestamp()
    except ValueError:
        return None
