"""``clipdesk-cli ocr status|run|on|off [--folder PATH]``: reading the text in photos.

    ocr status               what is left to read, what it costs, which folders have it off
    ocr run [--limit N]      read it now (``index`` does this after embedding, unless --no-ocr)
    ocr on|off               turn it on or off for the whole library
    ocr on|off --folder P    ... for one watched folder (by path, or its id)

Reading is on by default and runs after each index run, at low priority; turning it off leaves
the photos owed, so turning it on again reads them. Ctrl+C stops a run cleanly: the photos read
so far keep their text, and the next run reads the rest.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clipdesk.cli import open_services
from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken
from clipdesk.services.app import ClipDeskServices

EXIT_INTERRUPTED = 130
SETTLE_S = 60.0  # at most this long for the photo a stopped run was reading (its timeout)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ocr",
        help="read the text in photos (on by default): status, run now, switch on or off",
        description="Reading the text in photos (OCR): on by default, after each index run, at "
        "low priority. Off (for the library or one folder) leaves the photos owed: turning it on "
        "again reads them.",
    )
    sub = parser.add_subparsers(dest="ocr_command", metavar="ACTION")
    sub.required = True
    status = sub.add_parser("status", help="photos left to read, the cost, the switches")
    status.set_defaults(func=run_status, reads_only=True)
    run = sub.add_parser("run", help="read the text of every photo owed it now (Ctrl+C stops)")
    run.add_argument("--limit", type=int, metavar="N", help="read at most N photos, then stop")
    run.set_defaults(func=run_pass)
    for name, on in (("on", True), ("off", False)):
        switch = sub.add_parser(
            name,
            help=f"turn reading text {name} for the library, or for one folder with --folder",
        )
        switch.add_argument(
            "--folder", metavar="PATH", help="only this watched folder (its path, or its id)"
        )
        switch.set_defaults(func=run_switch, on=on)


def _status(app: ClipDeskServices) -> tuple[dict[str, Any], str]:
    backlog = app.ocr.backlog()
    off = [str(f.path) for f in app.library.folders() if not f.ocr]
    data = {**backlog.as_json(), "folders_off": off}
    lines = backlog_lines(data) or ["reading text: nothing waiting"]
    lines += [f"  off for {path}" for path in off]
    return data, "\n".join(lines)


def backlog_lines(backlog: dict[str, Any]) -> list[str]:
    """What is left to read, from the backlog's JSON (``OcrBacklog.as_json``), as ``ocr status``
    and ``status`` print it; no line when nothing was ever owed."""
    if backlog.get("note"):
        tail = "; `clipdesk-cli ocr on` turns it on" if not backlog.get("enabled", True) else ""
        return [f"{backlog['note']}{tail}"]
    done = int(backlog.get("done") or 0)
    return [f"reading text: done ({done:,} photo{'s' if done != 1 else ''} read)"] if done else []


def run_status(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        data, text = _status(app)
    emit(args, data, text)
    return 0


def run_switch(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.cli.folders import _folder_ref

    state = "on" if args.on else "off"
    with open_services(args) as app:
        if args.folder:
            record = app.ocr.set_folder(_folder_ref(args.folder), args.on)
            said = f"Reading text is {state} for {record.path}."
            if args.on and not app.ocr.enabled:
                said += " It is off for the whole library: `clipdesk-cli ocr on` turns it on."
        else:
            app.ocr.set_enabled(args.on)
            said = f"Reading text is {state}."
        data, text = _status(app)
    emit(args, data, f"{said}\n{text}")
    return 0


def read_text(
    app: ClipDeskServices, token: CancelToken, bar: Any, limit: int | None = None
) -> dict[str, Any]:
    """The OCR pass with the progress bar, as ``index`` and ``ocr run`` run it: the report's
    JSON shape."""
    try:
        report = app.ocr.run(cancel=token, progress=bar, limit=limit)
    finally:
        bar.close()
    return report.as_json() | {"note": report.describe()}


def settle(app: ClipDeskServices, args: argparse.Namespace) -> None:
    """After a stopped run, wait for the photo it was reading: the interpreter's teardown must
    not free the engine under the thread still running it."""
    if not app.ocr.wait_idle(0.2):
        if not args.json:
            print("Finishing the photo being read…", file=sys.stderr)
        app.ocr.wait_idle(SETTLE_S)


def run_pass(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.cli.index import ProgressBar, _run_cancellable

    if args.limit is not None and args.limit < 1:
        raise ClipDeskError("--limit must be at least 1.", "Leave it out to read every photo.")
    bar = ProgressBar(enabled=None if not args.json else False)
    with open_services(args) as app:
        if not app.ocr.enabled:
            data, text = _status(app)
            idle = app.ocr.run()  # reads nothing while off: a run's report, all nought
            emit(args, idle.as_json() | {"note": data["note"]}, text)
            return 0
        result, interrupted = _run_cancellable(lambda token: read_text(app, token, bar, args.limit))
        settle(app, args)
    lines = [result["note"]] if result["note"] else []
    left = result["backlog"]["note"]
    if left:
        lines.append(f"Still to do: {left}." if not interrupted else f"Stopped; {left}.")
    emit(args, result, "\n".join(lines))
    return EXIT_INTERRUPTED if interrupted else 0
