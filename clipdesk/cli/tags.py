"""``clipdesk-cli tags``: categories, zero-shot tagging, review and XMP keywords.

    tags categories list | add NAME LABEL... | remove NAME | import FILE | export FILE
    tags apply [--category NAME]...          recompute the model's tags (keeps user decisions)
    tags list PHOTO                          a photo's tags with score and provenance
    tags confirm|reject|clear TAG PHOTO...   the user's decision (TAG is "Category|label")
    tags photos TAG | tags review            photos of a tag by score / nearest the threshold
    tags import-xmp [PHOTO...] | tags write-xmp [PHOTO...]

PHOTO is a path known to the library or a photo id. The search command's ``--tag`` filter uses
:func:`add_tag_filter_arguments` and :func:`allowed_ids_from_args` from here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from clipdesk.common.errors import ClipDeskError
from clipdesk.tags.categories import HIERARCHY_SEP, Category, CategoryError, Label, Mode


def register(subparsers: argparse._SubParsersAction) -> None:
    tags = subparsers.add_parser(
        "tags",
        help="tag categories, zero-shot tags, review, XMP",
        description="Define tag categories, let the model tag photos, "
        "review its tags and write them to XMP sidecars.",
    )
    sub = tags.add_subparsers(dest="tags_command", metavar="ACTION")
    sub.required = True

    cats = sub.add_parser("categories", help="list, add, remove, import or export categories")
    csub = cats.add_subparsers(dest="categories_command", metavar="ACTION")
    csub.required = True
    csub.add_parser("list", help="list categories and their labels").set_defaults(func=cmd_cat_list)
    add = csub.add_parser("add", help="add (or with --replace, redefine) a category")
    add.add_argument("name")
    add.add_argument("labels", nargs="+", metavar="LABEL")
    add.add_argument(
        "--mode",
        choices=[m.value for m in Mode],
        default=Mode.SINGLE.value,
        help="single: at most one label per photo; multi: any number",
    )
    add.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="0..1; single: least probability of the best label, multi: per label",
    )
    add.add_argument(
        "--template",
        action="append",
        dest="templates",
        metavar="TEMPLATE",
        help="prompt template with {label} (and {category}); repeat for several",
    )
    add.add_argument(
        "--prompt",
        action="append",
        default=[],
        metavar="LABEL=PROMPT",
        help="an extra prompt for one label, e.g. beach='a sandy beach'",
    )
    add.add_argument("--manual", action="store_true", help="never suggested by the model")
    add.add_argument("--replace", action="store_true", help="redefine an existing category")
    add.set_defaults(func=cmd_cat_add)
    rm = csub.add_parser("remove", help="remove a category with all its tags")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_cat_remove)
    imp = csub.add_parser("import", help="import categories from a JSON category file")
    imp.add_argument("file")
    imp.add_argument("--replace", action="store_true", help="redefine categories of the same name")
    imp.set_defaults(func=cmd_cat_import)
    exp = csub.add_parser("export", help="export categories to a JSON category file ('-': stdout)")
    exp.add_argument("file")
    exp.add_argument("names", nargs="*", metavar="NAME", help="only these categories")
    exp.set_defaults(func=cmd_cat_export)

    apply = sub.add_parser("apply", help="tag the library with the model (keeps your decisions)")
    apply.add_argument("--category", action="append", dest="categories", metavar="NAME")
    apply.set_defaults(func=cmd_apply)

    show = sub.add_parser("list", help="a photo's tags, with score and provenance")
    show.add_argument("photo")
    show.add_argument("--all", action="store_true", help="also rejected tags and near-misses")
    show.set_defaults(func=cmd_list)

    for name, helptext in (
        ("confirm", "confirm a tag on photos"),
        ("reject", "reject a tag on photos"),
        ("clear", "forget your decision on a tag"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("tag", help='"Category|label"')
        p.add_argument("photos", nargs="+", metavar="PHOTO")
        p.set_defaults(func=cmd_decide, decision=name)

    photos = sub.add_parser("photos", help="photos with a tag, highest score first")
    photos.add_argument("tag", help='"Category|label"')
    photos.add_argument("--limit", type=int, default=50)
    photos.set_defaults(func=cmd_photos)

    review = sub.add_parser("review", help="the model's tags nearest their threshold")
    review.add_argument("--category")
    review.add_argument("--label")
    review.add_argument("--limit", type=int, default=50)
    review.set_defaults(func=cmd_review)

    rx = sub.add_parser("import-xmp", help="read XMP keywords (sidecar, embedded) as your tags")
    rx.add_argument("photos", nargs="*", metavar="PHOTO", help="default: every photo")
    rx.set_defaults(func=cmd_import_xmp)
    wx = sub.add_parser("write-xmp", help="write tags to XMP sidecars (merging, atomically)")
    wx.add_argument("photos", nargs="*", metavar="PHOTO", help="default: every tagged photo")
    wx.add_argument(
        "--naming",
        choices=["fullname", "basename"],
        default="fullname",
        help="fullname: photo.jpg.xmp (darktable, digiKam); basename: photo.xmp (Lightroom)",
    )
    wx.add_argument(
        "--confirmed-only",
        action="store_true",
        help="write only tags you confirmed (or imported), not the model's suggestions",
    )
    wx.set_defaults(func=cmd_write_xmp)


# --- helpers shared with other commands ------------------------------------------------------


def add_tag_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--tag EXPR`` (repeatable) and ``--confirmed-tags`` to a command (search uses it)."""
    parser.add_argument(
        "--tag",
        action="append",
        dest="tags",
        metavar="EXPR",
        default=[],
        help='only photos with this tag: "Scene|beach"; "Scene|beach,Scene|city" '
        'for either; "!Pets|dog" for without; repeat to require all',
    )
    parser.add_argument(
        "--confirmed-tags",
        action="store_true",
        help="--tag matches only tags you confirmed, not the model's suggestions",
    )


def allowed_ids_from_args(library: Any, args: argparse.Namespace) -> Any:
    """The allowed photo ids for ``--tag`` options (numpy int64 array), or None when none given."""
    from clipdesk.tags.store.tag_store import TagStore

    exprs = list(getattr(args, "tags", None) or [])
    if not exprs:
        return None
    return TagStore(library).allowed_ids(exprs, getattr(args, "confirmed_tags", False))


def _open(args: argparse.Namespace):
    from clipdesk.library.store import Library
    from clipdesk.tags.store.tag_store import TagStore

    lib = Library(args.library)
    return lib, TagStore(lib)


def _split_tag(tag: str) -> tuple[str, str]:
    if HIERARCHY_SEP not in tag:
        raise ClipDeskError(f"tag {tag!r} has no category", 'write it as "Category|label"')
    cat, label = (p.strip() for p in tag.split(HIERARCHY_SEP, 1))
    return cat, label


def _photo_ids(lib: Any, refs: list[str]) -> list[int]:
    ids = []
    for ref in refs:
        photo = lib.photo(int(ref)) if ref.isdigit() else lib.photo_by_path(Path(ref))
        if photo is None:
            raise ClipDeskError(
                f"{ref}: not a photo of this library",
                "give a path inside a watched folder (indexed) or a photo id",
            )
        ids.append(photo.id)
    return ids


def _tag_dict(t: Any, path: str | None = None) -> dict[str, Any]:
    out = {
        "photo_id": t.photo_id,
        "category": t.category,
        "label": t.label,
        "state": t.state.value,
        "score": None if t.score is None else round(t.score, 4),
        "threshold": t.threshold,
        "model": t.model_id,
    }
    if path is not None:
        out["path"] = path
    return out


def _score(t: Any) -> str:
    return "   -  " if t.score is None else f"{t.score:6.3f}"


def _category_text(c: Category) -> str:
    labels = ", ".join(
        lab.name + (f" ({lab.threshold:g})" if lab.threshold is not None else "")
        for lab in c.labels
    )
    kind = "manual" if not c.auto else f"{c.mode.value}, threshold {c.threshold:g}"
    return f"{c.name}  [{kind}]\n    {labels or '(no labels)'}"


# --- categories -----------------------------------------------------------------------------


def cmd_cat_list(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.tags.category_file import category_to_dict

    lib, store = _open(args)
    with lib:
        cats = store.categories()
    emit(
        args,
        [category_to_dict(c) for c in cats],
        "\n".join(_category_text(c) for c in cats) or "no categories",
    )
    return 0


def cmd_cat_add(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.tags import prompts

    extra: dict[str, list[str]] = {}
    for item in args.prompt:
        label, sep, text = item.partition("=")
        if not sep or not text.strip():
            raise CategoryError(f"--prompt {item!r} is not LABEL=PROMPT")
        extra.setdefault(label.strip().casefold(), []).append(text)
    unknown = set(extra) - {lab.casefold() for lab in args.labels}
    if unknown:
        raise CategoryError(
            f"--prompt for label(s) not in the category: {', '.join(sorted(unknown))}"
        )
    labels = tuple(Label(n, tuple(extra.get(n.casefold(), ()))) for n in args.labels)
    templates = tuple(args.templates) if args.templates else prompts.DEFAULT_TEMPLATES
    cat = Category(args.name, labels, args.mode, args.threshold, templates, not args.manual)
    lib, store = _open(args)
    with lib:
        if args.replace:
            store.save_category(cat)
        else:
            store.add_category(cat)
    emit(
        args,
        {"added": cat.name},
        f"category {cat.name!r}: {', '.join(cat.label_names)}\n"
        "run 'clipdesk-cli tags apply' to tag the library",
    )
    return 0


def cmd_cat_remove(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    lib, store = _open(args)
    with lib:
        name = store.category(args.name).name
        store.remove_category(name)
    emit(args, {"removed": name}, f"removed category {name!r} and its tags")
    return 0


def cmd_cat_import(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.tags.category_file import read_category_file

    cats = read_category_file(args.file)  # all validated before anything changes
    lib, store = _open(args)
    with lib:
        store.import_categories(cats, replace=args.replace)
    names = [c.name for c in cats]
    emit(args, {"imported": names}, f"imported {len(names)} categories: {', '.join(names)}")
    return 0


def cmd_cat_export(args: argparse.Namespace) -> int:
    from clipdesk.tags.category_file import dump_categories, write_category_file

    lib, store = _open(args)
    with lib:
        cats = [store.category(n) for n in args.names] if args.names else store.categories()
    if args.file == "-":
        sys.stdout.write(dump_categories(cats))
    else:
        write_category_file(args.file, cats)
        print(f"exported {len(cats)} categories to {args.file}", file=sys.stderr)
    return 0


# --- tagging --------------------------------------------------------------------------------


def cmd_apply(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.tags.tagger import Tagger

    with ClipDeskServices(args.library, model=args.model, device=args.device or "auto") as app:
        # Without --model: the model whose vectors are complete (search's), so a re-embedding
        # under way for a newly chosen model does not leave half the library untagged.
        model = app.model if args.model else app.search_model()
        report = Tagger(app.library, model).recompute(args.categories)
    emit(
        args,
        {"model": model.id, **report.__dict__},
        f"tagged {report.photos} photos in {len(report.categories)} categories with {model.id}: "
        f"{report.suggested} tags suggested, {report.candidates} near-misses to review",
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.tags.store.tag_store import TAGGED_STATES

    lib, store = _open(args)
    with lib:
        (pid,) = _photo_ids(lib, [args.photo])
        tags = store.tags_of(pid, None if args.all else [str(s) for s in TAGGED_STATES])
        path = str(lib.photo(pid).path)
    lines = [path] + [f"  {_score(t)}  {t.state.value:<9}  {t.keyword}" for t in tags]
    emit(
        args,
        {"photo_id": pid, "path": path, "tags": [_tag_dict(t) for t in tags]},
        "\n".join(lines if tags else [path, "  no tags"]),
    )
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.tags.store.tag_store import TagState

    cat, label = _split_tag(args.tag)
    lib, store = _open(args)
    with lib:
        ids = _photo_ids(lib, args.photos)
        if args.decision == "clear":
            store.clear_decision(ids, cat, label)
        else:
            state = TagState.CONFIRMED if args.decision == "confirm" else TagState.REJECTED
            store.set_decision(ids, cat, label, state)
    emit(
        args,
        {args.decision: args.tag, "photos": ids},
        f"{args.decision}: {args.tag} on {len(ids)} photo(s)",
    )
    return 0


def cmd_photos(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    cat, label = _split_tag(args.tag)
    lib, store = _open(args)
    with lib:
        tags = store.photos_with_tag(cat, label, limit=args.limit)
        paths = {p.id: str(p.path) for p in lib.photos(ids=[t.photo_id for t in tags])}
    emit(
        args,
        [_tag_dict(t, paths.get(t.photo_id)) for t in tags],
        "\n".join(f"{_score(t)}  {t.state.value:<9}  {paths.get(t.photo_id)}" for t in tags)
        or "no photos with this tag",
    )
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    lib, store = _open(args)
    with lib:
        items = store.review_list(args.category, args.label, args.limit)
        paths = {p.id: str(p.path) for p in lib.photos(ids=[t.photo_id for t in items])}
    emit(
        args,
        [_tag_dict(t, paths.get(t.photo_id)) for t in items],
        "\n".join(
            f"{_score(t)} / {t.threshold:.2f}  {t.keyword:<24}  {paths.get(t.photo_id)}"
            for t in items
        )
        or "nothing to review",
    )
    return 0


def cmd_import_xmp(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.tags.tagger import Tagger

    lib, store = _open(args)
    with lib:
        ids = _photo_ids(lib, args.photos) if args.photos else [p.id for p in lib.photos()]
        n = Tagger(lib, None, store).import_xmp(ids)
    emit(args, {"imported": n, "photos": len(ids)}, f"imported {n} keywords from {len(ids)} photos")
    return 0


def cmd_write_xmp(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.tags.tagger import Tagger

    lib, store = _open(args)
    with lib:
        ids = _photo_ids(lib, args.photos) if args.photos else None
        report = Tagger(lib, None, store).write_xmp(ids, args.naming, args.confirmed_only)
    for path, reason in report.failed:
        print(f"warning: {path}: {reason}", file=sys.stderr)
    emit(
        args,
        {
            "written": [str(p) for p in report.written],
            "unchanged": report.unchanged,
            "failed": [{"path": p, "reason": r} for p, r in report.failed],
        },
        f"wrote {len(report.written)} sidecars, {report.unchanged} already up to date, "
        f"{len(report.failed)} failed",
    )
    return 1 if report.failed else 0
