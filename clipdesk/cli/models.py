"""``clipdesk-cli models``: list, import, download and choose the CLIP model."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from clipdesk.common.progress import Progress
from clipdesk.services.models import OnClash

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.services.records import CatalogTable, ModelInfo


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models", help="list, import, download or activate models", description=__doc__
    )
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("list", help="installed models (and, with --catalog, downloadable ones)")
    p.add_argument("--catalog", action="store_true", help="also list models known for download")
    p.set_defaults(func=run_list)

    p = sub.add_parser(
        "catalog",
        help="the model table: size, speed on this computer, published quality, languages",
        description="Installed and downloadable models, as Settings › Models shows them. Speeds "
        "are the catalog machine's, scaled to this computer once its speed was measured "
        "(--probe measures it now: a few seconds).",
    )
    p.add_argument("--probe", action="store_true", help="measure this computer's speed first")
    p.set_defaults(func=run_catalog)

    clash = argparse.ArgumentParser(add_help=False)
    clash.add_argument("--name", help="install under this name (default: from the source)")
    group = clash.add_mutually_exclusive_group()
    group.add_argument("--replace", action="store_true", help="replace a model of the same name")
    group.add_argument(
        "--rename",
        action="store_true",
        help="on a name clash, pick a free name (name-2, name-3 ...)",
    )
    clash.add_argument("--activate", action="store_true", help="make it the active model")

    p = sub.add_parser(
        "import",
        parents=[clash],
        help="import a Hugging Face CLIP folder or a .safetensors/.bin checkpoint",
    )
    p.add_argument("source", help="model folder (config.json + model.safetensors) or weight file")
    p.add_argument(
        "--act",
        choices=["quick_gelu", "gelu"],
        help="activation of a config-less state dict (OpenAI: quick_gelu, "
        "most LAION/DataComp: gelu; default: declared by the file, else quick_gelu)",
    )
    p.set_defaults(func=run_import)

    p = sub.add_parser("download", parents=[clash], help="download a known model from the hub")
    p.add_argument("model", help="catalog name (see `models list --catalog`) or hub repo org/name")
    p.set_defaults(func=run_download)

    p = sub.add_parser("activate", help="choose the model the library uses")
    p.add_argument("name", help="an installed model's name, or 'default' for the demo model")
    p.set_defaults(func=run_activate)

    p = sub.add_parser("remove", help="delete a user-installed model")
    p.add_argument("name")
    p.set_defaults(func=run_remove)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _on_clash(args: argparse.Namespace) -> OnClash:
    return "replace" if args.replace else "rename" if args.rename else "error"


def _services(args: argparse.Namespace) -> ClipDeskServices:
    """The services over the library and model the user chose (``--library``/``--model``
    override them for this command); nothing opens until a command needs it."""
    from clipdesk.services.app import ClipDeskServices

    return ClipDeskServices(args.library, model=args.model, device=args.device)


def run_list(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with _services(args) as app:
        models = app.models.installed()
        active = app.models.active()
        sweep = app.models.recovery()
        data: dict[str, Any] = {
            "models": [m.to_json() for m in models],
            "active": active,
            "recovered": list(sweep.actions),
            "leftovers": list(sweep.leftovers),
        }
        lines = [f"recovered: {line}" for line in sweep.actions]
        for m in models:
            flags = [m.source] + (["demo"] if m.demo else [])
            mark = "*" if m.active else " "
            lines.append(
                f"{mark} {m.name:32} {_size(m.size_bytes):>10}  {', '.join(flags)}  {m.path}"
            )
        if not models:
            lines.append("no models installed")
        if active is None:
            lines.append(f"active: default ({app.models.default_model})")
        elif not any(m.active for m in models):
            lines.append(f"active: {active}")
        lines += [f"left over: {line}" for line in sweep.leftovers]
        if args.catalog:
            catalog = app.models.catalog()
            data["catalog"] = [e.to_json() for e in catalog]
            lines.append("\ndownloadable:")
            for e in catalog:
                lines.append(
                    f"  {e.name:32} ~{_size(e.approx_bytes):>9}  {e.repo_id}: {e.description}"
                )
    emit(args, data, "\n".join(lines))
    return 0


def _pct(figure: Any) -> str:
    return f"{figure.value:.1f}%" if figure is not None else "-"


def catalog_lines(table: CatalogTable) -> list[str]:
    """The table as text: one line a model, then where the speeds and figures come from."""
    lines = [
        f"  {'model':34} {'size':>9} {'photos/s':>9} {'text ms':>8} {'ImageNet':>9} "
        f"{'recall':>7}  languages"
    ]
    for r in table.rows:
        mark = "*" if r.active else "+" if r.installed else " "
        speed = f"{r.images_per_s:.1f}" if r.images_per_s is not None else "-"
        text = f"{r.text_ms:.0f}" if r.text_ms is not None else "-"
        size = ("~" if not r.installed else "") + _size(r.size_bytes) if r.size_bytes else "-"
        lines.append(
            f"{mark} {r.name:34} {size:>9} {speed:>9} {text:>8} {_pct(r.imagenet):>9} "
            f"{_pct(r.recall):>7}  {r.languages_text}"
        )
    scaled = any(r.speed_scaled for r in table.rows)
    lines += [
        "",
        "* active, + installed; sizes with ~ are float32 estimates (the hub gives the exact size)",
        f"speeds: {table.basis.describe(scaled)}",
        "ImageNet: ImageNet-1k zero-shot top-1, OpenCLIP's results table; recall: Crossmodal-3600 "
        "text-to-image recall (English), Immich's table — `--json` names each figure's source",
    ]
    return lines


def run_catalog(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with _services(args) as app:
        if args.probe:
            app.models.probe_speed()
        table = app.models.catalog_table()
    emit(args, table.to_json(), "\n".join(catalog_lines(table)))
    return 0


def _finish(args: argparse.Namespace, info: ModelInfo, verb: str) -> int:
    from clipdesk.cli import emit

    emit(
        args,
        info.to_json(),
        f"{verb} {info.name} ({_size(info.size_bytes)}) at {info.path}"
        + (" — now active" if info.active else ""),
    )
    return 0


def run_import(args: argparse.Namespace) -> int:
    with _services(args) as app:
        info = app.models.import_model(
            args.source,
            args.name,
            on_clash=_on_clash(args),
            act=args.act,
            activate=args.activate,
        )
    return _finish(args, info, "imported")


class _ProgressLine:
    """One self-overwriting status line on a terminal, nothing otherwise (or under --json)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        pct = f"{100 * p.fraction:5.1f}%" if p.fraction is not None else ""
        eta = f", {p.eta_s:.0f} s left" if p.eta_s is not None else ""
        sys.stderr.write(
            f"\r{pct} {p.done / 1e6:8.1f} MB  {p.rate / 1e6:6.1f} MB/s{eta}  {p.message[:30]:30}"
        )
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def run_download(args: argparse.Namespace) -> int:
    line = _ProgressLine(not args.json)
    try:
        with _services(args) as app:
            info = app.models.download(
                args.model,
                name=args.name,
                on_clash=_on_clash(args),
                activate=args.activate,
                progress=line,
            )
    finally:
        line.done()
    return _finish(args, info, "downloaded")


def run_activate(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    name = None if args.name == "default" else args.name
    with _services(args) as app:
        active = app.models.activate(name).active
        default = app.models.default_model
    emit(args, {"active": active}, f"active model: {active or 'default (' + default + ')'}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with _services(args) as app:
        app.models.remove(args.name)
    emit(args, {"removed": args.name}, f"removed {args.name}")
    return 0
