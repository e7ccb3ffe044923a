"""``clipdesk-cli models``: list, import, download, prepare and choose the CLIP model.

An import or a download then prepares the model for ONNX Runtime (a one-off export, its steps
on a progress line; Ctrl+C stops it and the model stays installed, on PyTorch); a failed export
is a note, never a failed install. ``prepare`` does it now for any model and prints what the
export measured here: ONNX fp32 against PyTorch, int8 against fp32, and the speeds "auto"
chooses by.

Choosing a model (``activate``, or ``--activate`` after an import or a download) first says what
the switch costs the library, the figures Settings shows (how many photos are embedded again, and
about how long that takes here); on a terminal it then asks, and ``--yes`` skips the question.
Without a terminal (a script, a pipe) it switches and prints the figures, as it always has.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from clipdesk.cli import open_services
from clipdesk.common.errors import CancelledError
from clipdesk.common.progress import CancelToken, Progress
from clipdesk.services.model_catalog import size_text
from clipdesk.services.models import Installed, OnClash
from clipdesk.services.runtimes import Preparation
from clipdesk.services.runtimes import describe as runtime_text

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.services.records import CatalogTable, ModelInfo, ReembedEstimate

EXIT_INTERRUPTED = 130


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
    confirm = argparse.ArgumentParser(add_help=False)
    confirm.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="switch without asking on a terminal (the re-embedding cost is still printed)",
    )

    p = sub.add_parser(
        "import",
        parents=[clash, confirm],
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

    p = sub.add_parser(
        "download", parents=[clash, confirm], help="download a known model from the hub"
    )
    p.add_argument("model", help="catalog name (see `models list --catalog`) or hub repo org/name")
    p.set_defaults(func=run_download)

    p = sub.add_parser(
        "activate",
        parents=[confirm],
        help="choose the model the library uses",
        description="Make a model the active one, for the app too. It first says how many "
        "photos the switch embeds again and about how long that takes; on a terminal it asks "
        "before switching (--yes does not ask).",
    )
    p.add_argument("name", help="an installed model's name, or 'default' for the demo model")
    p.set_defaults(func=run_activate)

    p = sub.add_parser("remove", help="delete a user-installed model (and its ONNX export)")
    p.add_argument("name")
    p.set_defaults(func=run_remove)

    p = sub.add_parser(
        "prepare",
        help="prepare a model for ONNX Runtime now, and print what it measured here",
        description="Export a model for ONNX Runtime (fp32 and int8; once per model, kept "
        "beside the models), then print its agreement with PyTorch, int8's with fp32, the "
        "speeds measured on this computer and the runtime 'auto' uses. A model that is "
        "prepared already prints the figures of its export.",
    )
    p.add_argument(
        "name",
        nargs="?",
        help="an installed model's name or a checkpoint path (default: --model, else the "
        "active model)",
    )
    p.set_defaults(func=run_prepare)


def _on_clash(args: argparse.Namespace) -> OnClash:
    return "replace" if args.replace else "rename" if args.rename else "error"


def run_list(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        models = app.models.installed()
        active = app.models.active()
        sweep = app.models.recovery()
        runtimes = app.runtimes.describe_models([m.path for m in models])
        data: dict[str, Any] = {
            "models": [{**m.to_json(), "runtime": runtimes[m.path].to_json()} for m in models],
            "active": active,
            "recovered": list(sweep.actions),
            "leftovers": list(sweep.leftovers),
        }
        lines = [f"recovered: {line}" for line in sweep.actions]
        for m in models:
            flags = [m.source] + (["demo"] if m.demo else [])
            flags.append(runtime_text(runtimes[m.path].serves))
            mark = "*" if m.active else " "
            lines.append(
                f"{mark} {m.name:32} {size_text(m.size_bytes):>10}  {', '.join(flags)}  {m.path}"
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
                    f"  {e.name:32} {size_text(e.approx_bytes, approx=True) or '-':>10}  "
                    f"{e.repo_id}: {e.description}"
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
        size = size_text(r.size_bytes, approx=not r.installed) or "-"
        lines.append(
            f"{mark} {r.name:34} {size:>9} {speed:>9} {text:>8} {_pct(r.imagenet):>9} "
            f"{_pct(r.recall):>7}  {r.languages_text}"
        )
    scaled = any(r.speed_scaled for r in table.rows)
    lines += [
        "",
        "* active, + installed; sizes with ~ are float32 estimates (the hub gives the exact size)",
        f"speeds: {table.basis.describe(scaled)}",
        f"download times: at {table.download.describe()}",
        "ImageNet: ImageNet-1k zero-shot top-1, OpenCLIP's results table; recall: Crossmodal-3600 "
        "text-to-image recall (English), Immich's table — `--json` names each figure's source",
    ]
    return lines


def run_catalog(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        if args.probe:
            app.models.probe_speed()
        table = app.models.catalog_table()
    emit(args, table.to_json(), "\n".join(catalog_lines(table)))
    return 0


def _finish(
    args: argparse.Namespace,
    info: ModelInfo,
    verb: str,
    switch: _Switch | None = None,
    runtime: Preparation | None = None,
) -> int:
    from clipdesk.cli import emit

    data: dict[str, Any] = info.to_json()
    lines = [f"{verb} {info.name} ({size_text(info.size_bytes)}) at {info.path}"]
    if info.active:
        lines[0] += " — now active"
    if runtime is not None:
        data["runtime"] = runtime.to_json()
        if runtime.outcome != "skipped":
            lines.append(("" if runtime.ok else "note: ") + runtime.note)
    if switch is not None:
        data["reembed"] = switch.estimate.to_json() if switch.estimate else None
        data["starters_hint"] = switch.starters
        lines[:0] = switch.lines()
        if switch.starters:
            print(switch.starters, file=sys.stderr)
    emit(args, data, "\n".join(lines))
    return 0


@dataclass(frozen=True)
class _Switch:
    """What activating a model costs and whether the user agreed to it."""

    name: str
    estimate: ReembedEstimate | None  # None: no library open, or a model given by path
    go: bool
    starters: str | None = None  # a hint after the switch: the starter categories that fit

    def lines(self) -> list[str]:
        text = [self.estimate.describe()] if self.estimate is not None else []
        return text + ([] if self.go else [f"not switched to {self.name}"])


def _ask_to_switch(args: argparse.Namespace, app: ClipDeskServices, name: str) -> _Switch:
    """The cost of switching to ``name`` (the figures Settings shows) and, on a terminal
    without ``--yes``, the user's answer; nothing to re-embed needs no answer."""
    line = _ProgressLine(not args.json)  # telling may mean hashing gigabytes of weights
    try:
        estimate = app.models.reembed_estimate(name, progress=line)
    finally:
        line.done()
    costly = estimate is not None and not estimate.shared and estimate.photos > 0
    if not costly or args.yes or not sys.stdin.isatty():
        return _Switch(name, estimate, True)
    assert estimate is not None
    sys.stderr.write(f"{estimate.describe()}\nSwitch to {name}? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return _Switch(name, estimate, answer in ("y", "yes"))


def _activate_installed(
    args: argparse.Namespace, app: ClipDeskServices, info: ModelInfo
) -> tuple[ModelInfo, _Switch | None]:
    """``--activate`` after an import or a download: the same question as ``activate``."""
    if not args.activate:
        return info, None
    switch = _ask_to_switch(args, app, info.name)
    if switch.go:
        app.models.activate(info.name)
        info = replace(info, active=True)
    return info, replace(switch, starters=starters_hint(app)) if switch.go else switch


STARTERS_COMMAND = "clipdesk-cli tags categories starters"


def starters_hint(app: ClipDeskServices) -> str | None:
    """After a switch: the real-world starter categories the library could add now that a
    real model is active (it started on the demo model's), as a hint naming the command."""
    if not app.library_path.exists():  # asking must not create a library
        return None
    offer = app.tags.starter_offer()
    return f"hint: {offer.describe()}; `{STARTERS_COMMAND}` adds them" if offer else None


def _install(args: argparse.Namespace, app: ClipDeskServices, verb: str, job: Any) -> int:
    """Run ``job(token)`` (an install, then its export), Ctrl+C as a clean cancel; then
    ``--activate`` unless interrupted, and the summary."""
    from clipdesk.cli.index import _run_cancellable

    try:
        installed, interrupted = _run_cancellable(job)
    except CancelledError:
        print("interrupted; nothing was installed", file=sys.stderr)
        return EXIT_INTERRUPTED
    info, switch = installed.info, None
    if not interrupted:
        info, switch = _activate_installed(args, app, info)
    _finish(args, info, verb, switch, installed.runtime)
    return EXIT_INTERRUPTED if interrupted else 0


def run_import(args: argparse.Namespace) -> int:
    bar = _step_bar(args)
    with open_services(args) as app:

        def job(token: CancelToken) -> Installed:
            try:
                return app.models.import_model(
                    args.source,
                    args.name,
                    on_clash=_on_clash(args),
                    act=args.act,
                    progress=bar,
                    cancel=token,
                )
            finally:
                bar.close()

        return _install(args, app, "imported", job)


def _step_bar(args: argparse.Namespace) -> Any:
    """The export's steps, on the progress line ``index`` draws (on a terminal, not --json)."""
    from clipdesk.cli.index import ProgressBar

    return ProgressBar(enabled=None if not args.json else False)


class _ProgressLine:
    """One self-overwriting status line on a terminal, nothing otherwise (or under --json)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.shown = False

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        pct = f"{100 * p.fraction:5.1f}%" if p.fraction is not None else ""
        eta = f", {p.eta_s:.0f} s left" if p.eta_s is not None else ""
        self.shown = True
        sys.stderr.write(
            f"\r{pct} {p.done / 1e6:8.1f} MB  {p.rate / 1e6:6.1f} MB/s{eta}  {p.message[:30]:30}"
        )
        sys.stderr.flush()

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            self.shown = False


def run_download(args: argparse.Namespace) -> int:
    line = _ProgressLine(not args.json)
    bar = _step_bar(args)

    def steps(p: Progress) -> None:
        line.done()  # the download's line ends where the export's begins
        bar(p)

    with open_services(args) as app:
        if not args.json:
            _say_download_time(app, args.model)

        def job(token: CancelToken) -> Installed:
            try:
                return app.models.download(
                    args.model,
                    name=args.name,
                    on_clash=_on_clash(args),
                    progress=line,
                    prepare_progress=steps,
                    cancel=token,
                )
            finally:
                line.done()
                bar.close()

        return _install(args, app, "downloaded", job)


def _say_download_time(app: ClipDeskServices, name: str) -> None:
    """What a catalog model's download weighs and about how long it takes here (the last
    download's speed, else the assumed one, said as such)."""
    from clipdesk.services import download_rate

    entry = next((e for e in app.models.catalog() if e.name == name), None)
    if entry is None or not entry.approx_bytes:
        return  # a hub repository outside the catalog: its size is known once it starts
    rate = download_rate.current()
    print(
        f"downloading {entry.title}: {size_text(entry.approx_bytes, approx=True)}, "
        f"{rate.estimate(entry.approx_bytes)} ({rate.basis})",
        file=sys.stderr,
    )


def run_activate(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    name = None if args.name == "default" else args.name
    with open_services(args) as app:
        default = app.models.default_model
        switch = _ask_to_switch(args, app, name or default)
        active = app.models.activate(name).active if switch.go else app.models.active()
        hint = starters_hint(app) if switch.go else None
    data = {
        "active": active,
        "switched": switch.go,
        "reembed": switch.estimate.to_json() if switch.estimate else None,
        "starters_hint": hint,
    }
    lines = [*switch.lines(), f"active model: {active or 'default (' + default + ')'}"]
    if hint:
        print(hint, file=sys.stderr)
    emit(args, data, "\n".join(lines))
    return 0  # declining is the user's choice, as after import or download --activate


def run_prepare(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.cli.index import _run_cancellable

    bar = _step_bar(args)
    with open_services(args) as app:
        target = args.name or app.model_source

        def job(token: CancelToken) -> Preparation:
            try:
                return app.runtimes.prepare(target, progress=bar, cancel=token)
            finally:
                bar.close()

        try:
            prepared, _ = _run_cancellable(job)
        except CancelledError:
            print("interrupted; nothing was kept (the model runs on PyTorch)", file=sys.stderr)
            return EXIT_INTERRUPTED
        choice = app.runtimes.choice()
    emit(args, {**prepared.to_json(), "runtime_choice": choice}, prepared_text(prepared, choice))
    return 0


def prepared_text(p: Preparation, choice: str) -> str:
    """What ``models prepare`` prints: the export, its agreement, the speeds, the choice."""
    verb = "prepared" if p.outcome == "prepared" else "already prepared"
    took = f" in {p.seconds:.1f} s" if p.outcome == "prepared" else ""
    lines = [f"{verb} {p.model} for ONNX Runtime{took} ({p.folder})"]
    if p.fp32_max_diff is not None:
        lines.append(f"  ONNX fp32 vs PyTorch: max difference {p.fp32_max_diff:.1e}")
    a = p.agreement
    if a:
        verdict = "passed: int8 is used" if a.get("passed") else "failed: fp32 is used"
        lines.append(
            f"  int8 vs fp32: min cosine {a.get('image_min_cosine', 0):.4f} (images), "
            f"{a.get('text_min_cosine', 0):.4f} (texts); recall@10 "
            f"{a.get('recall_at_10', 0):.3f} — {verdict}"
        )
    if p.speed:
        lines.append(f"  {'measured here':22} {'images/s':>9} {'text ms':>8}")
        for label, figures in p.speed.items():
            lines.append(
                f"  {runtime_text(label):22} {figures.get('image_per_s', 0):9.1f} "
                f"{figures.get('text_ms', 0):8.2f}"
            )
    uses = runtime_text(p.serves)
    lines.append(
        f"  runtime setting {choice}: {uses} serves it here"
        + (" (auto: the faster measured here)" if choice == "auto" else "")
    )
    return "\n".join(lines)


def run_remove(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        app.models.remove(args.name)
    emit(args, {"removed": args.name}, f"removed {args.name}")
    return 0
