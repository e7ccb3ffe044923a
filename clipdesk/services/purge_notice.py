"""What the purge of missing photos will do to a folder, in words both faces show.

The rule (the library setting ``purge_missing_after_days``, 30 by default): a photo whose file
has been missing for that many days is removed from the library, with its vectors, tags and
decisions, at the first full scan after that. The photos of an offline folder, and offline
photos, are never removed: only the user removes an offline folder (``folders remove``, or
Remove on the Folders page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from clipdesk.scanning.scanner import DEFAULT_PURGE_DAYS, PURGE_SETTING

DAY_S = 86400.0


def _photos(n: int) -> str:
    return f"{n:,} photo" + ("" if n == 1 else "s")


def _days(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")


@dataclass(frozen=True)
class PurgeNotice:
    """One folder's missing and offline photos, and when the missing ones will be removed."""

    missing: int
    offline: int  # offline photos (of an offline folder, or of a drive inside it): kept
    days: float | None  # the rule; None: missing photos are never removed
    first: date | None = None  # the day the first missing photo is removed (None: never)
    last: date | None = None  # ... and the last
    folder_offline: bool = False

    @property
    def text(self) -> str:
        parts = []
        if self.missing:
            parts.append(self._missing_text())
        if self.offline:
            parts.append(
                f"{_photos(self.offline)} offline are kept until the drive is back "
                "or you remove the folder"
            )
        return "; ".join(parts)

    def _missing_text(self) -> str:
        n = _photos(self.missing)
        if self.folder_offline:
            return f"{n} missing, kept while the folder is offline"
        if self.days is None or self.first is None or self.last is None:
            return f"{n} missing, kept (removing missing photos is turned off)"
        when = f"on {self.first.isoformat()}"
        if self.last != self.first:
            when = f"from {self.first.isoformat()} to {self.last.isoformat()}"
        return f"{n} missing for {_days(self.days)} will be removed {when}"


def purge_days(setting: object) -> float | None:
    """The rule from the library setting's stored value (None, or a bad value: never)."""
    if isinstance(setting, bool) or not isinstance(setting, int | float) or setting < 0:
        return None
    return float(setting)


def rule_text(days: float | None) -> str:
    """The purge rule in one sentence."""
    if days is None:
        return "Missing photos are kept until you remove them (automatic removal is off)."
    return (
        f"Photos missing for {_days(days)} are removed from the library with their tags and "
        "decisions; the photos of an offline folder are never removed."
    )


def notice(
    missing: tuple[int, float, float] | None,
    offline: int,
    days: float | None,
    folder_offline: bool,
    today: date | None = None,
) -> PurgeNotice | None:
    """The notice for one folder from its (count, oldest, newest missing since) and offline
    count; None when there is nothing to say. A removal already due happens at the next full
    scan, so it is dated today."""
    count = missing[0] if missing else 0
    if not count and not offline:
        return None
    first = last = None
    if missing and count and days is not None and not folder_offline:
        today = today or date.today()
        first = max(datetime.fromtimestamp(missing[1] + days * DAY_S).date(), today)
        last = max(datetime.fromtimestamp(missing[2] + days * DAY_S).date(), today)
    return PurgeNotice(count, offline, days, first, last, folder_offline)


__all__ = [
    "DEFAULT_PURGE_DAYS",
    "PURGE_SETTING",
    "PurgeNotice",
    "notice",
    "purge_days",
    "rule_text",
]
