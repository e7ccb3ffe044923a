"""``clipdesk-cli index`` (one shot) and ``clipdesk-cli watch`` (until stopped).

    index [--no-scan] [--batch-size N] [--workers N]   scan the folders, embed what is pending
          [--retry-errors] [--no-ocr]                   (first queueing every failed photo again),
                                                        then read the text in the new photos
    watch [--no-scan] [--no-ocr]                       the same, then follow changes on disk

Reading the text (OCR, ``clipdesk-cli ocr``) comes after the embedding, so search works first;
a disk change seen by ``watch`` stops it for the next index run, which starts it again.

A progress bar is drawn on stderr when it is a terminal, nothing otherwise (scripts, cron, pipes).
Ctrl+C stops cleanly: the batch in hand is committed, and the next run carries on from there.

A model that ONNX Runtime should serve here (the runtime auto or onnx, on the CPU) but that has
no export yet (installed before exports existed, the bundled demo model) is exported first, its
steps on the same progress line; a failed export is a note on stderr and the run goes on with
PyTorch.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from clipdesk.cli import open_services
from clipdesk.cli.options import count
from clipdesk.common.errors import CancelledError
from clipdesk.common.progress import CancelToken, Progress
from clipdesk.services.runtimes import describe as runtime_text

EXIT_INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "index",
        help="scan the folders and embed every new or changed photo",
        description="Reconcile every watched folder with the disk, embed each new or changed "
        "photo with the active model (Ctrl+C stops; the next run resumes), do the work each "
        "photo is owed after it (XMP keywords, tags), then read the text in new photos.",
    )
    _common(p)
    p.add_argument("--limit", type=count, metavar="N", help="embed at most N photos, then stop")
    p.add_argument(
        "--retry-errors",
        action="store_true",
        help="try every photo that could not be read again (the app's Retry failed)",
    )
    p.set_defaults(func=cmd_index)
    w = subparsers.add_parser(
        "watch",
        help="index, then keep the library in step with the disk until stopped (Ctrl+C)",
        description="Run `clipdesk-cli index`, then watch the folders: photos added, changed, "
        "moved or deleted are scanned and embedded as they arrive, until Ctrl+C.",
    )
    _common(w)
    w.set_defaults(func=cmd_watch)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-scan", action="store_true", help="do not reconcile folders first")
    p.add_argument(
        "--no-ocr",
        action="store_true",
        help="do not read the text in photos after this run (clipdesk-cli ocr off turns it "
        "off for good); the photos stay owed their reading",
    )
    p.add_argument(
        "--batch-size",
        type=count,
        default=32,
        metavar="N",
        help="photos per model batch (default 32)",
    )
    p.add_argument(
        "--workers",
        type=count,
        default=None,
        metavar="N",
        help="decoding threads (default: number of CPU cores)",
    )


class ProgressBar:
    """One self-rewriting line on a terminal; silent elsewhere."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._last = 0.0
        self._width = 0

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and p.total and p.done < p.total:
            return
        self._last = now
        if p.total:
            frac = p.fraction or 0.0
            bar = "#" * int(frac * 24) + "." * (24 - int(frac * 24))
            eta = f"  ETA {_clock(p.eta_s)}" if p.eta_s is not None and p.done < p.total else ""
            rate = f"  {p.rate:.1f}/s" if p.rate else ""  # steps (an export) have no rate
            line = f"{p.message or 'Working'} [{bar}] {p.done:,}/{p.total:,}{rate}{eta}"
        else:
            line = f"{p.message or 'Working'} {p.done:,}"
        pad = max(0, self._width - len(line))
        self._width = len(line)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def _clock(seconds: float | None) -> str:
    s = int(seconds or 0)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def _run_cancellable(job: Callable[[CancelToken], Any]) -> tuple[Any, bool]:
    """Run ``job`` in a thread so Ctrl+C (or SIGTERM) becomes a clean cancel, not an exception
    in the middle of a database write. Returns (result, interrupted).

    The signals are handled, not caught as KeyboardInterrupt: an interrupt raised between two
    joins would leave the job running with nobody to cancel it, and the process would hang at
    exit waiting for it. A second Ctrl+C does raise KeyboardInterrupt, for a job that will not
    stop; the job's thread is a daemon so that exit then happens (SQLite rolls back whatever
    transaction it was in).
    """
    token = CancelToken()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = job(token)
        except BaseException as exc:  # handed to the main thread
            box["error"] = exc

    def on_signal(signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT:
            box["interrupted"] = True
            signal.signal(signal.SIGINT, signal.default_int_handler)
        token.cancel()

    worker = threading.Thread(target=target, name="clipdesk-cli-job", daemon=True)
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.getsignal(sig)
            signal.signal(sig, on_signal)
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if "error" in box:
        raise box["error"]
    return box.get("result"), bool(box.get("interrupted")) or token.cancelled


class _UntilEither(CancelToken):
    """Cancelled with ``token``, or as soon as ``wake`` is set (``watch`` saw the disk change:
    reading text gives way to the index run, and starts again after it)."""

    def __init__(self, token: CancelToken, wake: threading.Event) -> None:
        super().__init__()
        self._token, self._wake = token, wake

    @property
    def cancelled(self) -> bool:
        return super().cancelled or self._token.cancelled or self._wake.is_set()

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise CancelledError("cancelled")


def _read_text(
    app: Any,
    args: argparse.Namespace,
    token: CancelToken,
    bar: ProgressBar,
    wake: threading.Event | None,
) -> dict[str, Any] | None:
    """The OCR pass after an index run (None: not this time)."""
    if getattr(args, "no_ocr", False) or token.cancelled or not app.ocr.enabled:
        return None
    from clipdesk.cli.ocr import read_text

    return read_text(app, _UntilEither(token, wake) if wake is not None else token, bar)


def _scan_and_index(
    app: Any,
    args: argparse.Namespace,
    token: CancelToken,
    bar: ProgressBar,
    limit: int | None = None,
    wake: threading.Event | None = None,
) -> dict[str, Any]:
    from clipdesk.services.folders import change_summary

    out: dict[str, Any] = {}
    if not args.no_scan:
        try:
            changes = app.folders.scan(cancel=token, progress=bar)
        except CancelledError:
            return {"cancelled": True}
        finally:
            bar.close()
        out["scan"] = change_summary(changes)  # the shape `folders scan --json` prints
        out["scan"]["problems"] = out["scan"]["problems"][:20]
    if token.cancelled:
        out["cancelled"] = True
        return out
    if getattr(args, "retry_errors", False):
        out["retried"] = app.folders.retry_errors()
    try:
        report = app.index(
            progress=bar,
            cancel=token,
            limit=limit,
            batch_size=args.batch_size,
            workers=args.workers,
        )
    finally:
        bar.close()
    out["index"] = {
        "embedded": report.embedded,
        "failed": report.failed,
        "total": report.total,
        "seconds": round(report.elapsed_s, 2),
        "photos_per_s": round(report.rate, 2),
        "cancelled": report.cancelled,
    }
    out["cancelled"] = report.cancelled
    out["pending"] = app.pending_count()
    out["waiting"] = dict(report.waiting)  # owed after embedding: XMP keywords, tags
    out["waiting_note"] = report.waiting_note
    out["model"] = app.model.id
    out["runtime"] = app.model.runtime_label  # what embedded them: "onnx-int8", "torch-fp32"
    if not report.cancelled:
        out["ann"] = keep_search_index(app, token, bar)
        out["cancelled"] = token.cancelled
    if not report.cancelled and not token.cancelled:
        ocr = _read_text(app, args, token, bar, wake)
        if ocr is not None:
            out["ocr"] = ocr
            out["cancelled"] = token.cancelled
    return out


def keep_search_index(app: Any, token: CancelToken, bar: ProgressBar) -> dict[str, Any]:
    """A large library's approximate search index, after the run: built when due, saved when
    it changed (``app.ann.maintain``); a failure is told, the run's work stays done."""
    from clipdesk.common.errors import ClipDeskError

    try:
        return dict(app.ann.maintain(progress=bar, cancel=token).as_json())
    except ClipDeskError as exc:
        return {"action": "failed", "note": f"The search index was not updated: {exc}"}
    finally:
        bar.close()


def _summary(result: dict[str, Any]) -> str:
    lines = []
    if "scan" in result:
        s = result["scan"]
        lines.append(
            f"Scanned: {s['added']} new, {s['changed']} changed, {s['moved']} moved, "
            f"{s['missing']} missing."
        )
        for problem in s["problems"][:5]:
            lines.append(f"  could not read {problem['path']}: {problem['reason']}")
    if "retried" in result:
        lines.append(f"Queued {result['retried']:,} photos in error to be tried again.")
    if "index" in result:
        r = result["index"]
        on = f" on {runtime_text(result['runtime'])}" if result.get("runtime") else ""
        lines.append(
            f"Indexed {r['embedded']:,} photos ({r['failed']:,} could not be read) in "
            f"{r['seconds']:.1f} s, {r['photos_per_s']:.1f} photos/s{on}."
        )
        if r["failed"]:
            lines.append(
                "  see `clipdesk-cli status` for the reasons; "
                "`clipdesk-cli index --retry-errors` tries them again."
            )
    if result.get("waiting_note"):
        lines.append(f"Still to do: {result['waiting_note']}; the next run does it.")
    if result.get("ann", {}).get("action") in ("built", "cancelled", "flat", "failed"):
        lines.append(result["ann"]["note"])
    ocr = result.get("ocr")
    if ocr is not None:
        if ocr["read"] or ocr["failed"]:
            lines.append(ocr["note"])
        elif ocr["problem"]:
            lines.append(f"Reading text stopped: {ocr['problem']}")
        if ocr["backlog"]["note"]:
            lines.append(f"Still to do: {ocr['backlog']['note']}; the next run does it.")
    if result.get("cancelled"):
        lines.append(
            f"Stopped; {result.get('pending', 'the remaining'):,} photos still pending "
            "(the next run continues)."
            if isinstance(result.get("pending"), int)
            else "Stopped; the next run continues where this one stopped."
        )
    return "\n".join(lines)


def _prepare_model(app: Any, args: argparse.Namespace, bar: ProgressBar) -> bool:
    """Export the model first where it is owed one (see the module's docstring); False when
    Ctrl+C stopped it."""

    def job(token: CancelToken) -> Any:
        try:
            return app.runtimes.prepare_active(progress=bar, cancel=token)
        finally:
            bar.close()

    prepared, interrupted = _run_cancellable(job)
    if prepared is not None and not prepared.ok and not args.json:
        print(f"note: {prepared.note}", file=sys.stderr)
    return not interrupted


def cmd_index(args: argparse.Namespace) -> int:
    bar = ProgressBar(enabled=None if not args.json else False)
    with open_services(args) as app:
        if not _prepare_model(app, args, bar):
            print("Stopped before indexing; nothing was embedded.", file=sys.stderr)
            return EXIT_INTERRUPTED
        _ = app.model  # a missing model fails here, before any scanning
        result, interrupted = _run_cancellable(
            lambda token: _scan_and_index(app, args, token, bar, args.limit)
        )
        if interrupted:
            from clipdesk.cli.ocr import settle

            settle(app, args)
    from clipdesk.cli import emit

    emit(args, result, _summary(result))
    return EXIT_INTERRUPTED if interrupted else 0


def cmd_watch(args: argparse.Namespace) -> int:
    bar = ProgressBar(enabled=None if not args.json else False)
    with open_services(args) as app:
        if not _prepare_model(app, args, bar):
            return EXIT_INTERRUPTED
        _ = app.model

        def job(token: CancelToken) -> dict[str, Any]:
            wake = threading.Event()
            failures: list[BaseException] = []

            def changed(changes: Any) -> None:
                _print_event(
                    args,
                    "changed",
                    {
                        "added": len(changes.added),
                        "changed": len(changes.changed),
                        "moved": len(changes.moved),
                        "missing": len(changes.missing),
                    },
                )
                wake.set()

            # Watch before the first scan: a file arriving during or just after it is then
            # caught by the watcher instead of falling between the two.
            watcher = app.watch(on_change=changed, on_error=failures.append)
            try:
                first = _scan_and_index(app, args, token, bar, wake=wake)
                _print_event(args, "indexed", first)
                if not args.json:
                    print(
                        f"Watching {len(app.folders.list())} folder(s); Ctrl+C to stop.",
                        file=sys.stderr,
                    )
                while not token.cancelled:
                    if failures:
                        raise failures.pop(0)
                    if not wake.wait(0.5):
                        continue
                    wake.clear()
                    report = app.index(
                        progress=bar, cancel=token, batch_size=args.batch_size, workers=args.workers
                    )
                    bar.close()
                    if report.embedded or report.failed or report.waiting_note:
                        _print_event(
                            args,
                            "indexed",
                            {
                                "embedded": report.embedded,
                                "failed": report.failed,
                                "waiting_note": report.waiting_note,
                            },
                        )
                    ocr = None if report.cancelled else _read_text(app, args, token, bar, wake)
                    if ocr is not None and (ocr["read"] or ocr["failed"]):
                        _print_event(args, "text_read", ocr)
            finally:
                watcher.stop()
            return {"stopped": True}

        _, interrupted = _run_cancellable(job)
        if interrupted:
            from clipdesk.cli.ocr import settle

            settle(app, args)
    if not args.json:
        print("Stopped watching.", file=sys.stderr)
    return 0


def _print_event(args: argparse.Namespace, kind: str, data: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps({"event": kind, **data}, default=str), flush=True)
    elif kind == "changed":
        parts = [f"{v} {k}" for k, v in data.items() if v]
        if parts:
            print("Disk changes: " + ", ".join(parts), flush=True)
    elif kind == "text_read":
        print(data["note"], flush=True)
    elif kind == "indexed":
        text = (
            _summary(data)
            if ("index" in data or "scan" in data)
            else (
                f"Indexed {data.get('embedded', 0)} photo(s), {data.get('failed', 0)} unreadable."
                + (f" Still to do: {data['waiting_note']}." if data.get("waiting_note") else "")
            )
        )
        if text:
            print(text, flush=True)
