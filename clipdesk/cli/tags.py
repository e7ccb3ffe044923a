"""``clipdesk-cli tags``: categories, zero-shot tagging, review and XMP keywords.

    tags categories list | add NAME LABEL... | remove NAME | import FILE | export FILE | starters
    tags apply [--category NAME]...          recompute the model's tags (keeps user decisions)
    tags calibrate CATEGORY --precision P [--apply]   thresholds for a target precision
    tags list PHOTO                          a photo's tags with score and provenance
    tags confirm|reject|clear TAG PHOTO...   the user's decision (TAG is "Category|label");
                                             --suggested: only where the model suggests it
    tags add|remove TAG PHOTO...             a tag or a keyword of your own on many photos
    tags counts                              every label's confirmed and suggested photos
    tags photos TAG | tags review            photos of a tag by score / nearest the threshold
    tags import-xmp [PHOTO...] | tags write-xmp [PHOTO...]
    tags xmp [--naming N] [--embedded|--no-embedded] ...   show or change how XMP is written

Every command goes through :class:`clipdesk.services.tags.TagService`, as the app does: adding,
redefining or importing a category retags the library at once, and write-xmp names and fills
sidecars as the shared settings say (``photo.jpg.xmp``, confirmed and imported tags only, unless
the user chose otherwise in the app's settings or with the flags of one run).

PHOTO is a path known to the library or a photo id. The search command's ``--tag`` filter uses
:func:`add_tag_filter_arguments` and :func:`allowed_ids_from_args` from here.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from clipdesk.cli import open_services, tag_calibration
from clipdesk.cli.options import count
from clipdesk.cli.tag_filters import add_tag_filter_arguments as add_tag_filter_arguments
from clipdesk.services.records import (
    DEFAULT_TEMPLATES,
    LABEL_ARROW,
    TAGGED_STATES,
    Category,
    CategoryError,
    Label,
    Mode,
    PhotoTag,
    RecomputeReport,
    SidecarNaming,
    category_to_dict,
)

if TYPE_CHECKING:
    import numpy as np

    from clipdesk.services.app import ClipDeskServices


_PHOTOS_HELP = "photo ids or paths; '-' reads them from stdin, one a line (search --json | jq)"


def register(subparsers: argparse._SubParsersAction) -> None:
    tags = subparsers.add_parser(
        "tags",
        help="tag categories, zero-shot tags, review, XMP",
        description="Define tag categories, let the model tag photos, "
        "review its tags and write them to XMP sidecars.",
    )
    sub = tags.add_subparsers(dest="tags_command", metavar="ACTION")
    sub.required = True

    cats = sub.add_parser(
        "categories", help="list, add, remove, import or export categories, or add the starters"
    )
    csub = cats.add_subparsers(dest="categories_command", metavar="ACTION")
    csub.required = True
    csub.add_parser("list", help="list categories and their labels").set_defaults(
        func=cmd_cat_list, reads_only=True
    )
    add = csub.add_parser(
        "add",
        help="add (or with --replace, redefine) a category; the library is tagged with it now",
    )
    add.add_argument("name", help="the category's name, e.g. Scene (no '|')")
    add.add_argument(
        "labels",
        nargs="+",
        metavar="LABEL",
        help="its labels, e.g. beach city forest; the model finds each by its name in the "
        "prompt templates (--prompt adds more for one label)",
    )
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
    rm.add_argument("name", help="the category's name (any case)")
    rm.set_defaults(func=cmd_cat_remove)
    imp = csub.add_parser(
        "import", help="import categories from a JSON category file; the library is tagged now"
    )
    imp.add_argument("file", help="a category file, as `tags categories export` writes")
    imp.add_argument("--replace", action="store_true", help="redefine categories of the same name")
    imp.set_defaults(func=cmd_cat_import)
    exp = csub.add_parser("export", help="export categories to a JSON category file ('-': stdout)")
    exp.add_argument("file", help="the file to write, or '-' for stdout")
    exp.add_argument("names", nargs="*", metavar="NAME", help="only these categories")
    exp.set_defaults(func=cmd_cat_export)
    starters = csub.add_parser(
        "starters",
        help="add the starter categories that fit the model; the library is tagged now",
        description="Add the starter categories ClipDesk ships, those the library has no "
        "category of that name for: for a real model the real-world set (Scene, Who, Pets, "
        "Subject), for the demo model its own (Colour, Shape). A library starts with the set "
        "of the model it is first tagged with; after switching from the demo model to a real "
        "one, this adds the real-world set.",
    )
    which = starters.add_mutually_exclusive_group()
    which.add_argument(
        "--photos",
        action="store_const",
        const=False,
        dest="demo_set",
        help="the real-world set, whatever the model",
    )
    which.add_argument(
        "--demo",
        action="store_const",
        const=True,
        dest="demo_set",
        help="the demo model's set (colours and shapes), whatever the model",
    )
    starters.set_defaults(func=cmd_cat_starters, demo_set=None)

    apply = sub.add_parser(
        "apply",
        help="tag the library with the model again (keeps your decisions); saving a "
        "category already does this for it",
    )
    apply.add_argument("--category", action="append", dest="categories", metavar="NAME")
    apply.set_defaults(func=cmd_apply)
    tag_calibration.register(sub)

    show = sub.add_parser("list", help="a photo's tags, with score and provenance")
    show.add_argument("photo")
    show.add_argument("--all", action="store_true", help="also rejected tags and near-misses")
    show.set_defaults(func=cmd_list, reads_only=True)

    for name, helptext in (
        ("confirm", "confirm a tag on photos"),
        ("reject", "reject a tag on photos"),
        ("clear", "forget your decision on a tag"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("tag", help='"Category|label"')
        p.add_argument("photos", nargs="+", metavar="PHOTO", help=_PHOTOS_HELP)
        if name != "clear":
            p.add_argument(
                "--suggested",
                action="store_true",
                help=f"only where the model suggests the tag (the app's {name} of the "
                "selection's suggestions); your own decisions on the others stay",
            )
        p.set_defaults(func=cmd_decide, decision=name)

    for name, helptext, description in (
        (
            "add",
            "add a tag or keyword to photos (as the app's Tag selected photos)",
            'Confirm a tag on every photo given. TAG is "Category|label" or a label name '
            "unique across categories; any other word is a keyword of your own, in the manual "
            "Keywords category (created with its first keyword). All photos or none are "
            "changed, in one transaction.",
        ),
        (
            "remove",
            "remove a tag from photos (rejected: not suggested again, taken out of XMP)",
            "Reject a tag on every photo given that carries it (suggested, confirmed or "
            "imported): the model does not suggest it there again and write-xmp takes the "
            "keyword out of the sidecar. All photos or none are changed, in one transaction.",
        ),
    ):
        p = sub.add_parser(name, help=helptext, description=description)
        p.add_argument("tag", help='"Category|label", a label, or a new keyword')
        p.add_argument("photos", nargs="+", metavar="PHOTO", help=_PHOTOS_HELP)
        p.set_defaults(func=cmd_bulk, action=name)

    counts = sub.add_parser(
        "counts",
        help="every label with its photos: confirmed by you, suggested by the model",
    )
    counts.set_defaults(func=cmd_counts, reads_only=True)

    photos = sub.add_parser("photos", help="photos with a tag, highest score first")
    photos.add_argument("tag", help='"Category|label"')
    photos.add_argument(
        "--limit", type=count, default=50, metavar="N", help="at most N photos (default 50)"
    )
    photos.set_defaults(func=cmd_photos, reads_only=True)

    review = sub.add_parser("review", help="the model's tags nearest their threshold")
    review.add_argument("--category")
    review.add_argument("--label")
    review.add_argument(
        "--limit", type=count, default=50, metavar="N", help="at most N tags (default 50)"
    )
    review.set_defaults(func=cmd_review, reads_only=True)

    rx = sub.add_parser(
        "import-xmp",
        help="read XMP keywords (sidecar, embedded) as your tags, and titles and descriptions "
        "for text search",
    )
    rx.add_argument("photos", nargs="*", metavar="PHOTO", help="default: every photo")
    rx.set_defaults(func=cmd_import_xmp)
    wx = sub.add_parser(
        "write-xmp",
        help="write tags to XMP sidecars (merging, atomically; one sidecar per photo)",
        description="Write tags as keywords to XMP sidecars. By default as the app's settings "
        "say: photo.jpg.xmp, with only the tags you confirmed or imported. A sidecar of the "
        "other name (photo.xmp, as earlier versions of the app wrote) is merged in and removed, "
        "unless a RAW+JPEG pair shares it.",
    )
    wx.add_argument("photos", nargs="*", metavar="PHOTO", help="default: every tagged photo")
    _xmp_flags(wx, "for this run: ")
    wx.set_defaults(func=cmd_write_xmp)
    xs = sub.add_parser(
        "xmp",
        help="show or change how XMP is written (the app's Settings, XMP)",
        description="Show the XMP settings both the app and write-xmp use; the flags given "
        "change them for good. --embedded writes keywords and ratings into JPEG, TIFF and PNG "
        "files' own XMP too (Lightroom reads only that for those formats): the photo file "
        "itself changes, only in its XMP, and only after a copy decodes to the same pixels.",
    )
    _xmp_flags(xs, "")
    xs.set_defaults(func=cmd_xmp_settings, reads_only=True)


def _xmp_flags(parser: argparse.ArgumentParser, scope: str) -> None:
    """The XMP settings as flags: ``write-xmp`` overrides them for one run (``scope`` says so),
    ``tags xmp`` changes them for good; None where a flag is not given (the settings stand)."""
    parser.add_argument(
        "--naming",
        choices=[n.value for n in SidecarNaming],
        default=None,
        help=f"{scope}fullname is photo.jpg.xmp (darktable, digiKam; keeps RAW+JPEG pairs "
        "apart), basename is photo.xmp (Lightroom)",
    )
    for on, off, on_help, off_help in (
        (
            "--suggestions",
            "--confirmed-only",
            "also write the model's suggestions, not only your tags",
            "write only tags you confirmed or imported (the default)",
        ),
        (
            "--embedded",
            "--no-embedded",
            "write into JPEG, TIFF and PNG files' own XMP too, beside the sidecar",
            "write sidecars only, never into a photo file (the default)",
        ),
    ):
        dest = on.removeprefix("--")
        group = parser.add_mutually_exclusive_group()
        group.add_argument(on, dest=dest, action="store_true", default=None, help=scope + on_help)
        group.add_argument(off, dest=dest, action="store_false", help=scope + off_help)


# --- helpers shared with other commands ------------------------------------------------------


def allowed_ids_from_args(app: ClipDeskServices, args: argparse.Namespace) -> np.ndarray | None:
    """The allowed photo ids for ``--tag`` options (numpy int64 array), or None when none given."""
    exprs = list(getattr(args, "tags", None) or [])
    if not exprs:
        return None
    return app.tags.allowed_ids(exprs, getattr(args, "confirmed_tags", False))


def _photo_ids(app: ClipDeskServices, refs: list[str]) -> list[int]:
    return [p.id for p in app.tags.photos_by_reference(_with_stdin(refs))]


def _with_stdin(refs: list[str]) -> list[str]:
    """The references, a ``-`` among them replaced by the lines of stdin (blank ones skipped)."""
    if "-" not in refs:
        return refs
    piped = [line.strip() for line in sys.stdin if line.strip()]
    out: list[str] = []
    for ref in refs:
        out.extend(piped if ref == "-" else [ref])
    if not out:
        raise CategoryError("no photos were given on stdin", "pipe photo ids or paths, one a line")
    return out


def _tag_dict(t: PhotoTag, path: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
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


def _score(t: PhotoTag) -> str:
    return "   -  " if t.score is None else f"{t.score:6.3f}"


def _category_text(c: Category) -> str:
    labels = ", ".join(
        lab.name + (f" ({lab.threshold:g})" if lab.threshold is not None else "")
        for lab in c.labels
    )
    kind = "manual" if not c.auto else f"{c.mode.value}, threshold {c.threshold:g}"
    return f"{c.name}  [{kind}]\n    {labels or '(no labels)'}"


def _report_dict(report: RecomputeReport | None) -> dict[str, Any] | None:
    return None if report is None else dict(report.__dict__)


def _tagged_text(report: RecomputeReport | None) -> str:
    if report is None:
        return "manual: the model does not suggest its labels"
    return (
        f"tagged {report.photos} photos: {report.suggested} tags suggested, "
        f"{report.candidates} near-misses to review"
    )


# --- categories -----------------------------------------------------------------------------


def cmd_cat_list(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        cats = app.tags.categories()
    emit(
        args,
        [category_to_dict(c) for c in cats],
        "\n".join(_category_text(c) for c in cats) or "no categories",
    )
    return 0


def cmd_cat_add(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

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
    templates = tuple(args.templates) if args.templates else DEFAULT_TEMPLATES
    cat = Category(args.name, labels, args.mode, args.threshold, templates, not args.manual)
    with open_services(args) as app:
        # stored, then the library is tagged with it at once, as saving in the app does
        report = app.tags.save_category(cat) if args.replace else app.tags.add_category(cat)
    emit(
        args,
        {"added": cat.name, "tagged": _report_dict(report)},
        f"category {cat.name!r}: {', '.join(cat.label_names)}\n{_tagged_text(report)}",
    )
    return 0


def cmd_cat_remove(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        name = app.tags.remove_category(args.name)
    emit(args, {"removed": name}, f"removed category {name!r} and its tags")
    return 0


def cmd_cat_import(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        # all validated before anything changes; the automatic ones then tag the library
        cats, report = app.tags.import_categories(args.file, replace=args.replace)
    names = [c.name for c in cats]
    emit(
        args,
        {"imported": names, "tagged": _report_dict(report)},
        f"imported {len(names)} categories: {', '.join(names)}"
        + (f"\n{_tagged_text(report)}" if report is not None else ""),
    )
    return 0


def cmd_cat_starters(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        added, report = app.tags.add_starters(args.demo_set)
    names = [c.name for c in added]
    text = (
        f"added {len(names)} starter categories: {', '.join(names)}"
        if names
        else "the library has every category of this starter set already"
    )
    emit(
        args,
        {"added": names, "tagged": _report_dict(report)},
        text + (f"\n{_tagged_text(report)}" if report is not None else ""),
    )
    return 0


def cmd_cat_export(args: argparse.Namespace) -> int:
    with open_services(args) as app:
        if args.file == "-":
            sys.stdout.write(app.tags.categories_document(args.names))
            return 0
        cats = app.tags.export_categories(args.file, args.names)
    print(f"exported {len(cats)} categories to {args.file}", file=sys.stderr)
    return 0


# --- tagging --------------------------------------------------------------------------------


def cmd_apply(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        # Without --model: the model whose vectors are complete (search's), so a re-embedding
        # under way for a newly chosen model does not leave half the library untagged.
        report = app.tags.apply(args.categories, with_active_model=bool(args.model), progress=None)
        model_id = (app.model if args.model else app.tags.model()).id
    emit(
        args,
        {"model": model_id, **report.__dict__},
        f"tagged {report.photos} photos in {len(report.categories)} categories with {model_id}: "
        f"{report.suggested} tags suggested, {report.candidates} near-misses to review",
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        (photo,) = app.tags.photos_by_reference([args.photo])
        tags = app.tags.tags_of(photo.id, None if args.all else TAGGED_STATES)
    path = str(photo.path)
    lines = [path] + [f"  {_score(t)}  {t.state.value:<9}  {t.keyword}" for t in tags]
    emit(
        args,
        {"photo_id": photo.id, "path": path, "tags": [_tag_dict(t) for t in tags]},
        "\n".join(lines if tags else [path, "  no tags"]),
    )
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.services.tags import split_tag

    cat, label = split_tag(args.tag)
    if getattr(args, "suggested", False):
        return _bulk(args, args.decision, cat, label)
    with open_services(args) as app:
        ids = _photo_ids(app, args.photos)
        if args.decision == "clear":
            app.tags.clear_decision(ids, cat, label)
        else:
            app.tags.decide(
                ids, cat, label, "confirmed" if args.decision == "confirm" else "rejected"
            )
    emit(
        args,
        {args.decision: args.tag, "photos": ids},
        f"{args.decision}: {args.tag} on {len(ids)} photo(s)",
    )
    return 0


def cmd_bulk(args: argparse.Namespace) -> int:
    return _bulk(args, args.action, None, args.tag)


def _bulk(args: argparse.Namespace, action: str, category: str | None, label: str) -> int:
    """One tag action on every photo given, through the service the app's grid calls."""
    from clipdesk.cli import emit

    with open_services(args) as app:
        if category is None:
            category, label = app.tags.keyword_tag(label)
        ids = _photo_ids(app, args.photos)
        done = app.tags.tag_photos(ids, category, label, action)
    emit(
        args,
        {
            "action": done.action.value,
            "tag": done.tag,
            "created": done.created,
            "changed": list(done.step.photo_ids),
            "unchanged": done.unchanged,
        },
        done.describe(),
    )
    return 0


def cmd_counts(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        counts = app.tags.label_counts()
    width = max((len(f"{c.category}{LABEL_ARROW}{c.label}") for c in counts), default=0)
    emit(
        args,
        [
            {
                "category": c.category,
                "label": c.label,
                "confirmed": c.confirmed,
                "suggested": c.suggested,
            }
            for c in counts
        ],
        "\n".join(
            f"{c.category + LABEL_ARROW + c.label:<{width}}  "
            f"{c.confirmed:>7,} confirmed  {c.suggested:>7,} suggested"
            for c in counts
        )
        or "no labels",
    )
    return 0


def cmd_photos(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.services.tags import split_tag

    cat, label = split_tag(args.tag)
    with open_services(args) as app:
        found = app.tags.photos_with_tag(cat, label, limit=args.limit)
    emit(
        args,
        [_tag_dict(f.tag, str(f.photo.path)) for f in found],
        "\n".join(f"{_score(f.tag)}  {f.tag.state.value:<9}  {f.photo.path}" for f in found)
        or "no photos with this tag",
    )
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        items = app.tags.review(args.category, args.label, args.limit)
    emit(
        args,
        [_tag_dict(f.tag, str(f.photo.path)) for f in items],
        "\n".join(
            f"{_score(f.tag)} / {f.tag.threshold:.2f}  {f.tag.keyword:<24}  {f.photo.path}"
            for f in items
        )
        or "nothing to review",
    )
    return 0


def cmd_import_xmp(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        ids = _photo_ids(app, args.photos) if args.photos else None
        report = app.tags.import_xmp_report(ids)
    for _pid, path, reason in report.failed:
        print(f"warning: {path}: {reason}", file=sys.stderr)
    text = f"imported {report.added} keywords from {report.photos} photos"
    if report.captioned:
        text += f"; {report.captioned} with a title or description"
    if report.failed:
        text += f"; the XMP of {len(report.failed)} could not be read"
    if report.skipped:
        reasons = "; ".join(f"{why}: {n}" for why, n in report.not_imported.most_common(3))
        text += f"; {report.skipped} keywords not imported ({reasons})"
    emit(
        args,
        {
            "imported": report.added,
            "photos": report.photos,
            "captioned": report.captioned,
            "failed": [{"path": p, "reason": r} for _i, p, r in report.failed],
            "not_imported": dict(report.not_imported),
        },
        text,
    )
    return 1 if report.failed else 0


def cmd_write_xmp(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        ids = _photo_ids(app, args.photos) if args.photos else None
        report = app.tags.write_xmp(
            ids, naming=args.naming, include_suggestions=args.suggestions, embedded=args.embedded
        )
    for path, reason in report.failed:
        print(f"warning: {path}: {reason}", file=sys.stderr)
    emit(
        args,
        {
            "written": [str(p) for p in report.written],
            "unchanged": report.unchanged,
            "merged": [str(p) for p in report.absorbed],
            "full_names": [str(p) for p in report.full_names],
            "embedded": [str(p) for p in report.embedded],
            "failed": [{"path": p, "reason": r} for p, r in report.failed],
        },
        report.summary(),
    )
    return 1 if report.failed else 0


def cmd_xmp_settings(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.services.settings import SettingsService

    # the shared settings file alone: no library is opened for them
    config = SettingsService().set_xmp(args.naming, args.suggestions, args.embedded)
    names = {"fullname": "photo.jpg.xmp", "basename": "photo.xmp"}
    text = (
        f"sidecar name: {names[config.xmp_naming]} ({config.xmp_naming})\n"
        f"suggestions: {'written too' if config.xmp_write_suggestions else 'not written'}\n"
        "into JPEG/TIFF/PNG files: "
        f"{'yes, beside the sidecar' if config.xmp_embedded else 'no, sidecars only'}"
    )
    emit(
        args,
        {
            "naming": config.xmp_naming,
            "write_suggestions": config.xmp_write_suggestions,
            "embedded": config.xmp_embedded,
        },
        text,
    )
    return 0
