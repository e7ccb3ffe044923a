"""``clipdesk-cli doctor``: what a user pastes into a bug report.

Versions, the compute devices torch can see, the active model, where ClipDesk keeps its files and
the health of the library. Every section is collected on its own: a missing torch, an unreadable
model or a corrupt library is reported in its section and never stops the others. The library is
opened read-only and never created or migrated, so running doctor cannot make things worse.
Exit status 1 when a check failed, so scripts can use it as a health probe.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from clipdesk.services.app import ClipDeskServices
from clipdesk.services.diagnostics import Section, diagnose, failures

__all__ = ["collect", "failures", "format_report", "library_health", "register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="report versions, devices, the model and library health (for bug reports)",
        description="Check this installation and print what a bug report needs.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="skip loading the model and use SQLite's quick_check instead of a full check",
    )
    # A device it lacks is one of the findings doctor reports, beside all the others.
    parser.set_defaults(func=run, reports_device=True)


def run(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    report = collect(
        library=args.library,
        model=args.model,
        device=args.device,
        quick=args.quick,
        runtime=args.runtime,
    )
    emit(args, report, format_report(report))
    return 1 if failures(report) else 0


def collect(
    *,
    library: str | None = None,
    model: str | None = None,
    device: str | None = None,
    quick: bool = False,
    runtime: str | None = None,
) -> dict[str, Section]:
    """Every section (see :mod:`clipdesk.services.diagnostics`); the library is only read, and
    no model is exported (a model ONNX Runtime would serve once exported is test-run on
    PyTorch, and the model section says it is not prepared)."""
    app = ClipDeskServices(library, model=model, device=device, runtime=runtime)
    app.defer_exports = True
    try:
        return diagnose(app, quick=quick)
    finally:
        app.close()


def library_health(path: Path, *, quick: bool = False) -> Section:
    """The library section for the file at ``path`` (read-only)."""
    app = ClipDeskServices(path)
    try:
        return app.status_report.library_health(quick=quick)
    finally:
        app.close()


def format_report(report: dict[str, Section]) -> str:
    marks = {"ok": "ok", "warn": "WARNING", "fail": "PROBLEM"}
    lines = []
    for name, section in report.items():
        lines.append(f"[{name}] {marks.get(str(section.get('status', 'ok')), '?')}")
        for key, value in section.items():
            if key == "status":
                continue
            if isinstance(value, dict):
                lines.append(f"  {key}:")
                lines += [f"    {k}: {v}" for k, v in value.items()] or ["    (none)"]
            elif isinstance(value, list):
                lines.append(f"  {key}:")
                lines += [f"    {v}" for v in value] or ["    (none)"]
            else:
                lines.append(f"  {key}: {value}")
    bad = failures(report)
    lines.append("")
    lines.append(f"problems in: {', '.join(bad)}" if bad else "everything looks fine")
    return "\n".join(lines)
