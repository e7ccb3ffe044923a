"""Entry point of the desktop app (``clipdesk``, ``python -m clipdesk``).

The window is shown before anything slow happens: torch, the model and the library load in the
background once the event loop runs (``controller.start`` on a zero timer), with their state in
the status bar.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clipdesk.ui.controller import AppController
    from clipdesk.ui.main_window import MainWindow


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="clipdesk", description="ClipDesk photo search")
    parser.add_argument(
        "--library", type=Path, help="library file to open (default: the usual one)"
    )
    parser.add_argument("--model", help="model name or path to use this time")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("images", nargs="*", type=Path, help="images to search with")
    from clipdesk.ui import smoke

    smoke.add_arguments(parser)  # --smoke-test / --quit-after (packaging checks)
    args, _qt_args = parser.parse_known_args(list(argv)[1:])
    return args


def create_window(
    args: argparse.Namespace | None = None, settings=None
) -> tuple[AppController, MainWindow]:
    """Build the controller and the main window (shown by the caller); nothing slow runs here."""
    from clipdesk.ui.controller import AppController
    from clipdesk.ui.main_window import MainWindow
    from clipdesk.ui.settings import AppSettings

    controller = AppController(settings or AppSettings())
    refused = _apply_choices(args, controller) if args is not None else []
    window = MainWindow(controller)
    if refused:
        from PySide6.QtCore import QTimer

        for message, hint in refused:  # shown once the event loop runs, over the window
            QTimer.singleShot(0, lambda m=message, h=hint: controller.errorRaised.emit(m, h))
    return controller, window


def _apply_choices(args: argparse.Namespace, controller: AppController) -> list[tuple[str, str]]:
    """``--library``, ``--model`` and ``--device`` change the shared settings, which the CLI
    reads too (as they always changed the app's own); a choice that cannot be used is refused
    with a message, the setting before it kept."""
    from clipdesk.common.errors import ClipDeskError
    from clipdesk.ui.controller import describe_error

    shared = controller.shared_settings
    changes = (
        (args.library, lambda: shared.set_library_path(args.library.expanduser().resolve())),
        (args.model, lambda: shared.set_model(args.model)),
        (args.device, lambda: shared.set_device(args.device)),
    )
    refused = []
    for given, apply in changes:
        if not given:
            continue
        try:
            apply()
        except (ClipDeskError, OSError) as exc:
            refused.append(describe_error(exc))
    return refused


def _apply_theme(app) -> None:
    from clipdesk.ui import icons

    app.setWindowIcon(icons.app_icon())
    app.setStyleSheet(icons.style_sheet())
    # palette(...) in the style sheet is resolved when it is set: re-apply on a light/dark switch.
    app.styleHints().colorSchemeChanged.connect(lambda _s: app.setStyleSheet(icons.style_sheet()))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app; ``argv`` None is the process's own command line, and then the process ends
    here once the app has shut down (:mod:`clipdesk.ui.process_exit`)."""
    whole_process = argv is None
    argv = list(argv) if argv is not None else sys.argv
    from clipdesk.common.logging_setup import install_logging
    from clipdesk.ui.platform_check import ensure_loadable

    install_logging()
    # Before any Qt module loads: a missing system library is named with its package and the
    # app exits, where Qt would abort (exit 134) or the import of QtWidgets fail.
    ensure_loadable(argv)
    args = parse_args(argv)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from clipdesk.common.errors import ClipDeskError
    from clipdesk.ui.crash_dialog import install_crash_handler
    from clipdesk.ui.gui_thread_gc import install_gui_thread_gc
    from clipdesk.ui.qt_logging import install_qt_logging
    from clipdesk.ui.single_instance import FileOpenFilter, SingleInstance, bring_to_front

    # instance() is typed as the QCoreApplication base; ClipDesk only ever runs a QApplication.
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv)
    app.setApplicationName("ClipDesk")
    app.setOrganizationName("ClipDesk")
    app.setDesktopFileName("io.clipdesk.ClipDesk")  # = the installed .desktop file's id
    install_qt_logging()
    install_gui_thread_gc(app)
    reporter = install_crash_handler(app, show_dialogs=args.smoke_test is None)
    try:
        # A smoke test must never hand over to a running ClipDesk and "pass" without starting.
        key = f"clipdesk-smoke-{os.getpid()}" if args.smoke_test is not None else None
        instance = SingleInstance.acquire_or_forward(argv, key=key)
    except ClipDeskError as exc:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.warning(None, "ClipDesk", f"{exc.message}\n\n{exc.hint or ''}")
        return 1
    if instance is None:
        return 0  # the running ClipDesk took our images and came to the front
    _apply_theme(app)

    controller, window = create_window(args)
    reporter.dialog_parent = window
    instance.activation_requested.connect(lambda: bring_to_front(window))
    instance.images_requested.connect(window.search_image_paths)
    app.installEventFilter(FileOpenFilter(instance))  # macOS: "Open with", drops on the Dock
    app.aboutToQuit.connect(controller.shutdown)
    app.aboutToQuit.connect(instance.close)
    window.show()
    if args.smoke_test is not None:
        from clipdesk.ui.smoke import SmokeTest

        SmokeTest(controller, window, timeout_s=args.smoke_test).watch_crashes(reporter)
    if args.quit_after is not None:
        from clipdesk.ui.smoke import arm_quit_after

        arm_quit_after(args.quit_after)
    QTimer.singleShot(0, controller.start)  # after the first paint
    if args.images:
        QTimer.singleShot(0, lambda: window.search_image_paths(args.images))
    code = app.exec()
    if whole_process:
        from clipdesk.ui.process_exit import leave

        leave(app, code)
    return code
