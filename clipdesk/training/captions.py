"""Image-caption pairs from the user's library, for contrastive fine-tuning.

Sources (the user picks which, and sees how many pairs each gives):

- ``tags``: confirmed (and XMP-imported) tags, phrased with the category's first prompt template
  ("a photo of a beach."); several tags of one photo make one caption ("a photo of a beach, dog.");
- ``xmp``: titles, descriptions and keywords from the photo's sidecar and embedded XMP;
- ``folders``: the names of the folders between the watched folder and the photo ("2024/trips/alps"
  -> "a photo of alps, trips"), skipping names that say nothing (dates, DCIM, 100CANON, ...).

Pairs are split into training and validation by a hash of the photo id, so the same photo never
lands on both sides, and a later run with more photos keeps the earlier split. The pairs are
:class:`clipdesk.model.caption_data.CaptionPair` records, which the fine-tuning loop reads.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.fsnames import shown
from clipdesk.common.progress import CancelToken, ProgressCallback, RateMeter
from clipdesk.model.caption_data import CaptionPair
from clipdesk.tags import prompts
from clipdesk.tags.categories import KEYWORDS_CATEGORY, flat_keyword
from clipdesk.tags.store.captions import confirmed_tags_by_photo
from clipdesk.tags.xmp.text import read_xmp_text

if TYPE_CHECKING:
    from clipdesk.library.store import Library

log = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("tags", "xmp", "folders")
SOURCE_TITLES = {
    "tags": "confirmed tags",
    "xmp": "XMP titles, descriptions and keywords",
    "folders": "folder names",
}
MAX_CAPTION_CHARS = 300  # the text tower reads 77 tokens; longer text is cut anyway
_MAX_TAGS_PER_CAPTION = 4
_BORING_FOLDER = re.compile(
    r"^(\d+|\d{4}[-_. ]\d{1,2}([-_. ]\d{1,2})?.*|dcim|\d{3}[a-z_]{3,8}|img|images?|photos?|"
    r"pictures?|pics|camera|export(s|ed)?|misc|other|new folder|untitled.*|tmp|temp|upload(s)?|"
    r"download(s)?|backup|raw|jpe?g|edited|originals?)$",
    re.IGNORECASE,
)


@dataclass
class PairSet:
    pairs: list[CaptionPair] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # pairs per source
    photos: int = 0  # distinct photos with at least one pair

    def summary(self) -> dict[str, object]:
        return {"pairs": len(self.pairs), "photos": self.photos, "by_source": dict(self.counts)}


def tag_captions(lib: Library) -> dict[int, str]:
    """{photo id: caption} from confirmed and imported tags."""
    by_photo = confirmed_tags_by_photo(lib)
    return {pid: caption_from_tags(tags) for pid, tags in by_photo.items()}


def caption_from_tags(tags: Sequence[tuple[str, str, Sequence[str]]]) -> str:
    """One caption for (label, category, templates) tags: the first phrased with its category's
    first template, the rest appended."""
    names: list[str] = []
    for label, cat, _t in tags:
        name = flat_keyword(label) if cat == KEYWORDS_CATEGORY else label
        if name.casefold() not in {n.casefold() for n in names}:
            names.append(name)
    names = names[:_MAX_TAGS_PER_CAPTION]
    label, cat, templates = tags[0]
    template = next((t for t in templates if "{category}" not in t), "a photo of a {label}.")
    first = prompts.render(template, names[0], cat).rstrip(".")
    rest = ", ".join(names[1:])
    return f"{first}, {rest}." if rest else f"{first}."


def folder_caption(photo: Path, root: Path) -> str | None:
    """'a photo of alps, trips' for root/2024/trips/alps/x.jpg; None when no folder says anything."""
    try:
        parts = photo.parent.relative_to(root).parts
    except ValueError:
        return None
    # a folder name that is not UTF-8: its bytes become U+FFFD, text a tokenizer can take
    words = [" ".join(re.split(r"[_\-.]+", shown(p))).strip() for p in parts]
    words = [w for w in words if w and not _BORING_FOLDER.match(w) and not w.startswith("@")]
    if not words:
        return None
    words = list(dict.fromkeys(reversed(words)))[:2]  # most specific first
    return "a photo of " + ", ".join(words)


def xmp_captions(path: Path) -> list[str]:
    text = read_xmp_text(path)
    out = [s[:MAX_CAPTION_CHARS] for s in (text.title, text.description) if s]
    if text.keywords:
        out.append("a photo of " + ", ".join(text.keywords[:6]))
    return list(dict.fromkeys(out))


def caption_pairs(
    lib: Library,
    sources: Iterable[str] = SOURCES,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PairSet:
    """Every pair the chosen sources give for the library's indexed photos."""
    chosen = list(dict.fromkeys(sources))
    unknown = [s for s in chosen if s not in SOURCES]
    if unknown:
        raise ClipDeskError(
            f"unknown caption source {unknown[0]!r}", f"choose from: {', '.join(SOURCES)}"
        )
    photos = lib.photos(statuses=["ok"])
    roots = {f.id: Path(f.path) for f in lib.folders()}
    tags = tag_captions(lib) if "tags" in chosen else {}
    out = PairSet(counts={s: 0 for s in chosen})
    meter = RateMeter(len(photos))
    seen: set[int] = set()
    for i, photo in enumerate(photos):
        if cancel is not None and i % 64 == 0:
            cancel.raise_if_cancelled()
        found: list[tuple[str, str]] = []
        if photo.id in tags:
            found.append((tags[photo.id], "tags"))
        if "xmp" in chosen:
            found += [(c, "xmp") for c in xmp_captions(photo.path)]
        if "folders" in chosen and photo.folder_id in roots:
            cap = folder_caption(photo.path, roots[photo.folder_id])
            if cap:
                found.append((cap, "folders"))
        for cap, src in found:
            out.pairs.append(CaptionPair(photo.id, photo.path, cap, src))
            out.counts[src] += 1
        if found:
            seen.add(photo.id)
        if progress is not None and (i % 256 == 0 or i == len(photos) - 1):
            progress(meter.update(i + 1, "reading captions"))
    out.photos = len(seen)
    return out


def is_validation(photo_id: int, fraction: float, seed: int = 0) -> bool:
    digest = hashlib.blake2b(f"{seed}:{photo_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64 < fraction


def split_pairs(
    pairs: Sequence[CaptionPair], fraction: float = 0.1, seed: int = 0, min_val: int = 8
) -> tuple[list[CaptionPair], list[CaptionPair]]:
    """(train, validation): whole photos on one side only; at least ``min_val`` validation pairs
    when there are enough photos."""
    val = [p for p in pairs if is_validation(p.photo_id, fraction, seed)]
    if len(val) < min_val and len(pairs) >= 4 * min_val:
        ids = sorted(
            {p.photo_id for p in pairs},
            key=lambda i: hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=8).digest(),
        )
        take = set(ids[: max(1, round(len(ids) * max(fraction, min_val / len(pairs))))])
        val = [p for p in pairs if p.photo_id in take]
    val_ids = {p.photo_id for p in val}
    return [p for p in pairs if p.photo_id not in val_ids], val
