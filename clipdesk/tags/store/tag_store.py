"""Tag categories and per-photo tags in the library (tables from schema migration v2).

A photo's tag on a label has a *state* telling who decided it:

- ``suggested``: the model's score reached the threshold (a tag, until the user says otherwise);
- ``candidate``: a near-miss kept only for the review list (not a tag);
- ``confirmed`` / ``rejected``: the user's decision; ``imported``: read from the photo's XMP.

Model states are rewritten by every recompute; user states (:data:`USER_STATES`) never are, only
their score is refreshed. Categories are edited here, all-or-nothing; the first use of a library
installs the shipped starter categories once, after which the user may edit or remove them: the
demo model's set (colour, shape) when the caller says the model is the demo, else the real-world
set. Which set went in is recorded, so that switching to a real model can offer the other one
(:meth:`TagStore.add_starter_categories`); whether a model is the demo is the caller's to say.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from clipdesk.common.limits import MAX_LABELS_PER_CATEGORY
from clipdesk.library import stored_json
from clipdesk.tags.categories import KEYWORDS_CATEGORY, Category, CategoryError, Label, Mode
from clipdesk.tags.records import (
    CONFIRMED_STATES,
    MODEL_STATES,
    TAGGED_STATES,
    USER_STATES,
    PhotoTag,
    TagState,
    chunks,
    marks,
)
from clipdesk.tags.store.queries import PhotoTagQueries

if TYPE_CHECKING:
    import sqlite3

    from clipdesk.library.store import Library

__all__ = [  # the records re-exported for callers of the store
    "CONFIRMED_STATES",
    "MODEL_STATES",
    "TAGGED_STATES",
    "USER_STATES",
    "PhotoTag",
    "TagState",
    "TagStore",
    "chunks",
    "marks",
]

STARTERS_SETTING = "tags.starter_categories_installed"
# The sets STARTERS_SETTING records; ``true`` (written before the demo set existed) is PHOTO_SET.
DEMO_SET = "demo"
PHOTO_SET = "photos"
PHOTO_OFFER_DECLINED = "tags.photo_starters_declined"  # the user said no to the real-world set


class TagStore(PhotoTagQueries):
    """Categories and tags of one :class:`~clipdesk.library.store.Library`."""

    def __init__(
        self, library: Library, *, install_starters: bool = True, demo_model: bool = False
    ) -> None:
        """``demo_model``: the library is tagged with the demo model, so a first use installs
        the demo model's starter set rather than the real-world one."""
        self.lib = library
        if install_starters:
            self.ensure_starter_categories(demo_model=demo_model)

    # --- categories ------------------------------------------------------------------------

    def ensure_starter_categories(self, demo_model: bool = False) -> None:
        """Install the shipped categories the first time this library is used for tags: the
        demo model's set with ``demo_model``, else the real-world set."""
        if self.lib.get_setting(STARTERS_SETTING):
            return
        self._install_starters(demo_model, first_use=True)

    def starter_set(self) -> str | None:
        """Which starter set this library has: :data:`DEMO_SET`, :data:`PHOTO_SET`, or None
        before its first use for tags."""
        value = self.lib.get_setting(STARTERS_SETTING)
        if not value:
            return None
        return DEMO_SET if value == DEMO_SET else PHOTO_SET

    def add_starter_categories(self, demo_model: bool = False) -> list[Category]:
        """Add the categories of a starter set that the library has no category of that name
        for (one transaction); returns those added. The library counts as having that set
        from then on."""
        return self._install_starters(demo_model, first_use=False)

    def photo_starters_declined(self) -> bool:
        return bool(self.lib.get_setting(PHOTO_OFFER_DECLINED))

    def decline_photo_starters(self) -> None:
        """The user does not want the real-world set: it is not offered again."""
        self.lib.set_setting(PHOTO_OFFER_DECLINED, True)

    def _install_starters(self, demo_model: bool, first_use: bool) -> list[Category]:
        from clipdesk.tags.category_file import starter_categories

        starters = starter_categories(demo_model=demo_model)
        added: list[Category] = []
        with self.lib.transaction() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (STARTERS_SETTING,))
            if first_use and row.fetchone() is not None:  # another thread or process won
                return added
            existing = {r[0].casefold() for r in conn.execute("SELECT name FROM categories")}
            for cat in starters:
                if cat.name.casefold() not in existing:
                    self._insert_category(conn, cat)
                    added.append(cat)
            conn.execute(
                "INSERT INTO settings(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (STARTERS_SETTING, json.dumps(DEMO_SET if demo_model else PHOTO_SET)),
            )
        return added

    def categories(self) -> list[Category]:
        with self.lib.reading() as conn:
            cats = conn.execute("SELECT * FROM categories ORDER BY position, id").fetchall()
            labels = conn.execute("SELECT * FROM labels ORDER BY position, id").fetchall()
        by_cat: dict[int, list[Label]] = {}
        for r in labels:
            by_cat.setdefault(r["category_id"], []).append(
                Label(
                    r["name"],
                    tuple(self._stored(r["prompts"], f"label {r['name']!r}")),
                    r["threshold"],
                )
            )
        return [
            Category(
                r["name"],
                tuple(by_cat.get(r["id"], ())),
                Mode(r["mode"]),
                r["threshold"],
                tuple(self._stored(r["templates"], f"category {r['name']!r}")),
                bool(r["auto"]),
            )
            for r in cats
        ]

    def _stored(self, text: str, owner: str) -> list[str]:
        return stored_json.loads_list(text, self.lib.path, f"the prompts stored for {owner}")

    def category(self, name: str) -> Category:
        key = " ".join(name.split()).casefold()
        for cat in self.categories():
            if cat.name.casefold() == key:
                return cat
        names = ", ".join(c.name for c in self.categories()) or "(none)"
        raise CategoryError(f"there is no category {name!r}", f"categories: {names}")

    def label_ids(self, category: str) -> dict[str, int]:
        """{label name: label id} of a category, in label order."""
        rows = self.lib.query(
            "SELECT l.name, l.id FROM labels l JOIN categories c ON c.id = l.category_id "
            "WHERE c.name = ? ORDER BY l.position, l.id",
            (category,),
        )
        return {r[0]: r[1] for r in rows}

    def _insert_category(self, conn: sqlite3.Connection, cat: Category) -> int:
        pos = conn.execute("SELECT coalesce(max(position), -1) + 1 FROM categories").fetchone()[0]
        cur = conn.execute(
            "INSERT INTO categories(name, mode, threshold, templates, auto, position, updated_at) "
            "VALUES(?, ?, ?, ?, ?, ?, ?)",
            (
                cat.name,
                cat.mode.value,
                cat.threshold,
                json.dumps(list(cat.templates)),
                int(cat.auto),
                pos,
                time.time(),
            ),
        )
        cat_id = int(cur.lastrowid or 0)
        self._write_labels(conn, cat_id, cat)
        return cat_id

    def _write_labels(self, conn: sqlite3.Connection, cat_id: int, cat: Category) -> None:
        """Make the category's labels exactly ``cat.labels``; a kept name keeps its id and tags."""
        old = {
            r[1].casefold(): r[0]
            for r in conn.execute("SELECT id, name FROM labels WHERE category_id = ?", (cat_id,))
        }
        wanted = {lab.name.casefold() for lab in cat.labels}
        gone = [i for name, i in old.items() if name not in wanted]
        for part in chunks(gone):
            conn.execute(f"DELETE FROM labels WHERE id IN ({marks(len(part))})", part)
        for pos, lab in enumerate(cat.labels):
            values = (lab.name, json.dumps(list(lab.prompts)), lab.threshold, pos)
            if lab.name.casefold() in old:
                conn.execute(
                    "UPDATE labels SET name = ?, prompts = ?, threshold = ?, position = ? "
                    "WHERE id = ?",
                    (*values, old[lab.name.casefold()]),
                )
            else:
                conn.execute(
                    "INSERT INTO labels(name, prompts, threshold, position, category_id) "
                    "VALUES(?, ?, ?, ?, ?)",
                    (*values, cat_id),
                )

    def _category_id(self, conn: sqlite3.Connection, name: str) -> int | None:
        row = conn.execute("SELECT id FROM categories WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def add_category(self, cat: Category) -> None:
        with self.lib.transaction() as conn:
            if self._category_id(conn, cat.name) is not None:
                raise CategoryError(
                    f"a category {cat.name!r} already exists",
                    "edit it, remove it first, or choose another name",
                )
            self._insert_category(conn, cat)

    def save_category(self, cat: Category, old_name: str | None = None) -> None:
        """Create or replace a category (renaming it from ``old_name``); labels kept by name keep
        their tags and user decisions. The model's suggestions for it are dropped: they belong
        to the old definition and come back at the next recompute."""
        with self.lib.transaction() as conn:
            cat_id = self._category_id(conn, old_name or cat.name)
            clash = self._category_id(conn, cat.name)
            if clash is not None and clash != cat_id:
                raise CategoryError(f"a category {cat.name!r} already exists")
            if cat_id is None:
                self._insert_category(conn, cat)
                return
            conn.execute(
                "UPDATE categories SET name = ?, mode = ?, threshold = ?, templates = ?, auto = ?, "
                "updated_at = ? WHERE id = ?",
                (
                    cat.name,
                    cat.mode.value,
                    cat.threshold,
                    json.dumps(list(cat.templates)),
                    int(cat.auto),
                    time.time(),
                    cat_id,
                ),
            )
            self._write_labels(conn, cat_id, cat)
            conn.execute(
                f"DELETE FROM photo_tags WHERE state IN ({marks(2)}) AND label_id IN "
                "(SELECT id FROM labels WHERE category_id = ?)",
                (*MODEL_STATES, cat_id),
            )

    def rename_label(self, category: str, old: str, new: str) -> None:
        """Rename a label keeping its id, so its tags and the user's decisions stay."""
        cat = self.category(category)
        label = cat.label(old)
        others = [lab for lab in cat.labels if lab is not label]
        renamed = cat.with_labels([*others, Label(new, label.prompts, label.threshold)])
        with self.lib.transaction() as conn:
            conn.execute(
                "UPDATE labels SET name = ? WHERE name = ? AND category_id = "
                "(SELECT id FROM categories WHERE name = ?)",
                (renamed.labels[-1].name, label.name, cat.name),
            )

    def remove_category(self, name: str) -> None:
        """Remove a category with all its labels and tags."""
        with self.lib.transaction() as conn:
            if conn.execute("DELETE FROM categories WHERE name = ?", (name,)).rowcount == 0:
                raise CategoryError(f"there is no category {name!r}")

    def import_categories(self, cats: Sequence[Category], replace: bool = False) -> None:
        """Add every category, or none: a name clash is an error unless ``replace``."""
        with self.lib.transaction():
            for cat in cats:
                if replace:
                    self.save_category(cat)
                else:
                    self.add_category(cat)

    def ensure_label(self, category: str, label: str, auto: bool = False) -> int:
        """The id of a label, creating it (and a manual category) when missing."""
        with self.lib.transaction() as conn:
            cat_id = self._category_id(conn, category)
            if cat_id is None:
                cat_id = self._insert_category(conn, Category(category, (), auto=auto))
            row = conn.execute(
                "SELECT id FROM labels WHERE category_id = ? AND name = ?", (cat_id, label)
            ).fetchone()
            if row is not None:
                return int(row[0])
            cat = self.category(category)
            updated = cat.adding_label(label)  # validates the name
            pos = len(cat.labels)
            cur = conn.execute(
                "INSERT INTO labels(category_id, name, position) VALUES(?, ?, ?)",
                (cat_id, updated.labels[-1].name, pos),
            )
            return int(cur.lastrowid or 0)

    def ensure_labels(
        self, category: str, names: Sequence[str]
    ) -> tuple[dict[str, int], dict[str, str]]:
        """({name: label id}, {name: why refused}) for labels of one category, creating the
        missing ones (and a manual category when missing) in one transaction: importing a
        photo's keywords costs one look-up per category, not one per keyword."""
        ids: dict[str, int] = {}
        refused: dict[str, str] = {}
        with self.lib.transaction() as conn:
            cat_id = self._category_id(conn, category)
            if cat_id is None:
                cat_id = self._insert_category(conn, Category(category, (), auto=False))
            auto = bool(
                conn.execute("SELECT auto FROM categories WHERE id = ?", (cat_id,)).fetchone()[0]
            )
            rows = conn.execute("SELECT id, name FROM labels WHERE category_id = ?", (cat_id,))
            by_name = {r[1].casefold(): int(r[0]) for r in rows}
            for name in dict.fromkeys(names):
                try:
                    clean = Label(name).validated(category, allow_separator=not auto).name
                except CategoryError as exc:
                    refused[name] = exc.message
                    continue
                if clean.casefold() in by_name:
                    ids[name] = by_name[clean.casefold()]
                    continue
                if len(by_name) >= MAX_LABELS_PER_CATEGORY:
                    refused[name] = (
                        f"category {category!r} is full ({MAX_LABELS_PER_CATEGORY:,} labels)"
                    )
                    continue
                cur = conn.execute(
                    "INSERT INTO labels(category_id, name, position) VALUES(?, ?, ?)",
                    (cat_id, clean, len(by_name)),
                )
                by_name[clean.casefold()] = ids[name] = int(cur.lastrowid or 0)
        return ids, refused

    def keywords_category(self) -> str:
        return KEYWORDS_CATEGORY
