"""The friendly face of an uncaught exception: one dialog, the log's path, "Copy details".

:func:`install_crash_handler` wires :mod:`clipdesk.common.crash` to the GUI. Reports may come from
any thread; :class:`QtCrashReporter` lives on the GUI thread and receives them through a queued
signal, so the dialog is always built on the GUI thread. Only the first report of each kind opens
a dialog (the core handler drops repeats), and while a dialog is open further failures are added
to it instead of stacking new windows. The app keeps running: the user chooses to continue or quit,
and quitting is the suggested default once the app has failed in many different ways.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from clipdesk.common import crash
from clipdesk.common.crash import CrashHandler, CrashReport

log = logging.getLogger(__name__)

EXIT_AFTER_CRASH = 1


class CrashDialog(QDialog):
    """Says what went wrong in plain words; the traceback is one click away."""

    def __init__(
        self, report: CrashReport, *, unstable: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.report = report
        self.extra_reports: list[CrashReport] = []
        self.setObjectName("crashDialog")
        self.setWindowTitle("ClipDesk ran into a problem")
        self.setWindowModality(Qt.WindowModality.ApplicationModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        icon = QLabel()
        icon.setPixmap(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(48, 48)
        )
        self.headline = QLabel(self._headline_text(report, unstable))
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        log_dir_url = QUrl.fromLocalFile(str(report.log_path.parent)).toString()
        self.log_label = QLabel(
            f'Details were saved to the log file <a href="{log_dir_url}">'
            f"{_escape(str(report.log_path))}</a>. If you report this problem, please include "
            "the details below."
        )
        self.log_label.setWordWrap(True)
        self.log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.log_label.setOpenExternalLinks(True)
        self.more_label = QLabel()
        self.more_label.setWordWrap(True)
        self.more_label.hide()

        self.details_view = QPlainTextEdit(report.details())
        self.details_view.setReadOnly(True)
        self.details_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details_view.setVisible(False)
        self.details_view.setMinimumHeight(220)

        buttons = QDialogButtonBox()
        self.toggle_button = QPushButton("Show details")
        self.toggle_button.setCheckable(True)
        self.toggle_button.toggled.connect(self._toggle_details)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.clicked.connect(self.copy_details)
        self.continue_button = QPushButton("Continue")
        self.continue_button.clicked.connect(self.accept)
        self.quit_button = QPushButton("Quit ClipDesk")
        self.quit_button.clicked.connect(self._quit)
        buttons.addButton(self.toggle_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.quit_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(self.continue_button, QDialogButtonBox.ButtonRole.AcceptRole)
        (self.quit_button if unstable else self.continue_button).setDefault(True)

        layout = QVBoxLayout(self)
        layout.addWidget(icon, alignment=Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.headline)
        layout.addWidget(self.log_label)
        layout.addWidget(self.more_label)
        layout.addWidget(self.details_view, stretch=1)
        layout.addWidget(buttons)
        self.resize(560, 240)

    @staticmethod
    def _headline_text(report: CrashReport, unstable: bool) -> str:
        if report.user_error:
            text = f"<b>{_escape(report.message)}</b>"
            if report.hint:
                text += f"<br>{_escape(report.hint)}"
            return text
        text = (
            "<b>Something went wrong inside ClipDesk.</b><br>"
            f"{_escape(report.summary)}<br><br>Your photos and your library are not affected. "
        )
        if unstable:
            return text + "Several things have failed; restarting ClipDesk is recommended."
        return text + "You can keep working; if something looks wrong, restart ClipDesk."

    def add_report(self, report: CrashReport) -> None:
        """Another failure while this dialog is open: mention it, append its details."""
        self.extra_reports.append(report)
        count = len(self.extra_reports)
        self.more_label.setText(
            f"{count} more problem{'s' if count > 1 else ''} happened since; "
            "they are in the details and the log."
        )
        self.more_label.show()
        self.details_view.appendPlainText("\n" + "=" * 60 + "\n" + report.traceback.rstrip())

    def details_text(self) -> str:
        return self.details_view.toPlainText()

    @Slot()
    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details_text())
        self.copy_button.setText("Copied")

    @Slot(bool)
    def _toggle_details(self, shown: bool) -> None:
        self.details_view.setVisible(shown)
        self.toggle_button.setText("Hide details" if shown else "Show details")
        self.adjustSize()

    @Slot()
    def _quit(self) -> None:
        self.done(QDialog.DialogCode.Rejected)
        QApplication.exit(EXIT_AFTER_CRASH)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class QtCrashReporter(QObject):
    """Moves crash reports from any thread to the GUI thread and shows at most one dialog."""

    reported = Signal(object)  # CrashReport, emitted on the GUI thread for each shown report
    _incoming = Signal(object)

    def __init__(
        self, handler: CrashHandler, *, show_dialogs: bool = True, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.handler = handler
        self.show_dialogs = show_dialogs
        self.dialog: CrashDialog | None = None
        self.dialog_parent: QWidget | None = None  # the main window, once it exists
        # Queued: a worker thread emitting must not build widgets on its own thread.
        self._incoming.connect(self._on_report, Qt.ConnectionType.QueuedConnection)
        self._listener = self._incoming.emit
        handler.add_listener(self._listener)

    def detach(self) -> None:
        self.handler.remove_listener(self._listener)

    @Slot(object)
    def _on_report(self, report: CrashReport) -> None:
        self.reported.emit(report)
        if not self.show_dialogs:
            return
        if self.dialog is not None:
            self.dialog.add_report(report)
            return
        parent = self.dialog_parent or QApplication.activeWindow()
        self.dialog = CrashDialog(report, unstable=self.handler.unstable, parent=parent)
        self.dialog.finished.connect(self._on_dialog_finished)
        # open(), not exec(): a nested event loop inside a failing slot would re-enter it.
        self.dialog.open()

    @Slot()
    def _on_dialog_finished(self) -> None:
        self.dialog = None


def install_crash_handler(
    app: QApplication | None = None, *, show_dialogs: bool = True, fault_log: bool = True
) -> QtCrashReporter:
    """Install the process-wide hooks and show uncaught exceptions in a dialog.

    Call once from ``app.main()`` right after the QApplication exists; set
    ``reporter.dialog_parent`` to the main window once it is built.
    """
    handler = crash.install_crash_handler(fault_log=fault_log)
    parent = app or QApplication.instance()
    reporter = QtCrashReporter(handler, show_dialogs=show_dialogs, parent=parent)
    log.debug("crash handler installed (dialogs %s)", "on" if show_dialogs else "off")
    return reporter
