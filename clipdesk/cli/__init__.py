"""``clipdesk-cli``: the scripting face of ClipDesk, over the same core services as the GUI.

Each command group lives in its own module exposing ``register(subparsers)``; the parser built
here holds the global options every command shares.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from clipdesk import __version__
from clipdesk.common import logging_setup
from clipdesk.common.config import RUNTIME_CHOICES
from clipdesk.common.errors import ClipDeskError

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

# Modules under clipdesk.cli that add sub-commands; each has register(subparsers).
COMMAND_MODULES: list[str] = [
    "doctor",
    "desktop_entry",
    "tags",
    "folders",
    "library",
    "status",
    "train",
    "index",
    "ocr",
    "search",
    "photos",
    "models",
    "cluster",
    "vectors",
    "ann",
]

EXIT_OK = 0
EXIT_ERROR = 1  # a known, user-fixable failure (message printed)
EXIT_USAGE = 2  # argparse's own code for bad arguments
# What a shell reports for a tool killed by SIGPIPE (128 + 13), as `head` leaves `grep` or `ls`.
EXIT_BROKEN_PIPE = 141


def _commands_for(argv: Sequence[str] | None) -> list[str]:
    """The command modules to import for ``argv``: only the named command's when its module is
    named like it (a one-shot `search` does not import the other nine), else all of them."""
    if argv is None:
        return COMMAND_MODULES
    takes_value = {"--library", "--model", "--device", "--runtime"}
    args = iter(argv)
    for arg in args:
        if arg in takes_value:
            next(args, None)
        elif not arg.startswith("-"):
            return [arg] if arg in COMMAND_MODULES else COMMAND_MODULES
    return COMMAND_MODULES


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clipdesk-cli", description="ClipDesk: local photo search and tagging."
    )
    parser.add_argument("--version", action="version", version=f"clipdesk {__version__}")
    parser.add_argument(
        "--library",
        metavar="PATH",
        help="library file (default: the one chosen in the app's settings, else $CLIPDESK_LIBRARY "
        "if set, else the user data dir)",
    )
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="model name or checkpoint path for this command (default: the active model, "
        "see `models list`)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="auto, cpu, cuda, cuda:N or mps (default: the device chosen in the settings)",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIME_CHOICES,
        default=None,
        help="what runs the model: torch (PyTorch), onnx (ONNX Runtime on the CPU, int8 where it "
        "agrees with fp32; exports the model first if needed) or auto (the faster measured here; "
        "PyTorch on a GPU). Default: the app's setting, else $CLIPDESK_RUNTIME",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _commands_for(argv):
        importlib.import_module(f"clipdesk.cli.{name}").register(sub)
    _tidy_help(parser)
    return parser


def open_services(args: argparse.Namespace) -> ClipDeskServices:
    """The services over the library, model, device and runtime the global options name (None:
    what the settings say), opened lazily. A command whose parser sets ``reads_only`` never
    creates a library: on a path with none it says so instead."""
    from clipdesk.services.app import ClipDeskServices

    return ClipDeskServices(
        args.library,
        model=args.model,
        device=args.device,
        runtime=args.runtime,
        create_library=not getattr(args, "reads_only", False),
    )


def emit(args: argparse.Namespace, data: object, text: str) -> None:
    """Print ``data`` as JSON under --json, else the human text."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str))
    else:
        print(text)


def _keep_path_bytes(stream: object) -> None:
    """A file name that is not UTF-8 reaches us as a str with surrogates (PEP 383); print its
    original bytes, as ``ls`` and ``find`` do, instead of failing on them."""
    if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
        stream.reconfigure(errors="surrogateescape")


def _plain(text: str) -> str:
    """Help text as a terminal shows it: a docstring's reST roles and double backticks become
    the plain words and single backticks this CLI's help uses for commands."""
    return re.sub(r":\w+:`([^`]*)`", r"\1", text).replace("``", "`")


def _tidy_help(parser: argparse.ArgumentParser) -> None:
    """Every command's help in plain text, and each sub-command without a description given
    its one-line help as one, so that ``COMMAND --help`` always says what the command does."""
    if parser.description:
        parser.description = _plain(parser.description)
    for action in parser._actions:
        if action.help and action.help is not argparse.SUPPRESS:
            action.help = _plain(action.help)
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, sub in action.choices.items():
            if not sub.description and helps.get(name):
                text = str(helps[name])
                sub.description = text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")
            _tidy_help(sub)


def _library_path(args: argparse.Namespace) -> Path | None:
    """The library file this command would open (None where the settings cannot be read)."""
    from clipdesk.services.settings import resolve_library_path

    try:
        return resolve_library_path(args.library)
    except ClipDeskError:
        return None


def _quiet_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's last flush of what the closed
    pipe did not take fails silently instead of printing "Exception ignored"."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status. A reader that goes away (``| head``) ends the command
    quietly with the status other Unix tools give, whichever command was printing."""
    try:
        try:
            return _run(argv)
        finally:  # --help and usage errors too: flushed here, where a closed pipe is known
            sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE


def _run(argv: Sequence[str] | None) -> int:
    _keep_path_bytes(sys.stdout)
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    console_level = logging.INFO if args.verbose else logging.WARNING
    # Other libraries' records reach stderr as they always did; ClipDesk's own go to the app's
    # rotating log file (what a bug report attaches) and, at the chosen level, to stderr.
    logging.basicConfig(level=console_level, format=logging_setup.CONSOLE_FORMAT)
    logging_setup.install_logging(console=True, console_level=console_level)
    try:
        if args.device is not None and not getattr(args, "reports_device", False):
            # Checked once here, for every command: one that never loads a model would
            # otherwise accept any name, and one that does would fail only halfway through.
            from clipdesk.services.settings import check_device

            args.device = check_device(args.device)
        library = _library_path(args)
        existed = library is None or library.exists()
        code = int(args.func(args) or EXIT_OK)
        if not existed and library is not None and library.exists():
            # A new, empty library must not go unseen (a typo in --library makes one).
            print(f"created a new library at {library}", file=sys.stderr)
        return code
    except ClipDeskError as exc:
        if args.json:
            print(json.dumps({"error": exc.message, "hint": exc.cli_hint}), file=sys.stderr)
        else:
            print(f"error: {exc.message}", file=sys.stderr)
            if exc.cli_hint:
                print(f"hint: {exc.cli_hint}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        logging_setup.uninstall_logging()
