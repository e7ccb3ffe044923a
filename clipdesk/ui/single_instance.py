"""One ClipDesk per user: opening it again raises the running window; images become a query.

The first process takes a lock file in the data dir and listens on a local socket (a Unix socket,
a named pipe on Windows) readable by this user only. A later process, started from the menu, a
file manager's "Open with" or by dropping photos on the icon, finds the lock taken, sends its image
arguments to the running one and exits. The running process emits :attr:`SingleInstance.
activation_requested` and, when images came along, :attr:`SingleInstance.images_requested`; the
main window connects them (``bring_to_front`` and its image-query entry point).

The lock decides who is first (two double-clicks at once must not start two apps); the socket
only carries messages. A lock or socket left behind by a crash is recognised and taken over.
On macOS, files opened with the app arrive as ``QFileOpenEvent`` instead of arguments:
:class:`FileOpenFilter` turns those into the same signal.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from PySide6.QtCore import QByteArray, QEvent, QLockFile, QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QWidget

from clipdesk.common import paths
from clipdesk.common.errors import ClipDeskError
from clipdesk.services.images import is_photo_name

log = logging.getLogger(__name__)

PROTOCOL = 1
MAX_MESSAGE_BYTES = 1024 * 1024  # a few thousand paths; anything larger is not ours
CONNECT_TIMEOUT_MS = 3000  # how long a second launch waits for a starting first one
LOCK_NAME = "instance.lock"


class InstanceError(ClipDeskError):
    """Another ClipDesk holds the lock but does not answer."""


def image_paths_from_args(argv: Sequence[str]) -> list[Path]:
    """Image files among command-line arguments (``argv[0]`` is the program, options skipped).

    Accepts plain paths (relative to the current directory) and ``file://`` URLs, which desktop
    environments pass for ``%U``. Missing files and non-images are logged and left out.
    """
    images: list[Path] = []
    options_done = False
    for arg in list(argv)[1:]:
        if arg == "--" and not options_done:
            options_done = True
            continue
        if arg.startswith("-") and not options_done:
            continue
        path = Path(QUrl(arg).toLocalFile()) if arg.startswith("file:") else Path(arg)
        path = path.expanduser().absolute()
        if not path.is_file():
            log.warning("ignoring argument %s: not a file", arg)
        elif not is_photo_name(path):  # the scanner's list: what it indexes, the app opens
            log.warning("ignoring argument %s: not a supported image type", arg)
        else:
            images.append(path)
    return images


def instance_key() -> str:
    """One key per user and data dir (portable installs and tests get their own instance)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    digest = hashlib.sha1(str(paths.data_dir().resolve()).encode()).hexdigest()[:12]
    return f"clipdesk-{user}-{digest}"


def encode_message(images: Sequence[Path]) -> bytes:
    message = {
        "app": "clipdesk",
        "v": PROTOCOL,
        "activate": True,
        "images": [str(p) for p in images],
    }
    return json.dumps(message).encode("utf-8") + b"\n"


def decode_message(data: bytes) -> list[Path]:
    """The image paths of a valid message; ``ValueError`` for anything else."""
    try:
        message = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a ClipDesk message: {exc}") from exc
    if not isinstance(message, dict) or message.get("app") != "clipdesk":
        raise ValueError("not a ClipDesk message")
    if message.get("v") != PROTOCOL:
        raise ValueError(f"unsupported protocol version {message.get('v')!r}")
    images = message.get("images", [])
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        raise ValueError("malformed image list")
    return [Path(i) for i in images]


class SingleInstance(QObject):
    """The running (first) instance: owns the lock, serves later launches."""

    activation_requested = Signal()
    images_requested = Signal(list)  # list[pathlib.Path], absolute, existing when sent

    def __init__(self, key: str, lock: QLockFile, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self._lock = lock
        self._buffers: dict[QLocalSocket, QByteArray] = {}
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._on_new_connection)
        if not self.server.listen(key):
            # We hold the lock, so a socket still there was left by a crashed instance.
            QLocalServer.removeServer(key)
            if not self.server.listen(key):
                log.error("cannot listen on %s: %s", key, self.server.errorString())

    @property
    def listening(self) -> bool:
        return self.server.isListening()

    @classmethod
    def acquire_or_forward(
        cls, argv: Sequence[str], *, key: str | None = None, timeout_ms: int = CONNECT_TIMEOUT_MS
    ) -> SingleInstance | None:
        """Become the running instance, or hand ``argv``'s images to it and return ``None``.

        ``argv`` is the full command line (``sys.argv``). The caller exits when this returns
        ``None``. Raises :class:`InstanceError` when another instance holds the lock but does not
        answer within ``timeout_ms``.
        """
        key = key or instance_key()
        lock = QLockFile(str(paths.data_dir() / f"{key}.{LOCK_NAME}"))
        lock.setStaleLockTime(0)  # a live holder is never stale; a dead one is detected by pid
        if lock.tryLock(0):
            log.info("single instance: this is the running instance (%s)", key)
            return cls(key, lock)
        images = image_paths_from_args(argv)
        if forward(key, images, timeout_ms=timeout_ms):
            log.info("single instance: handed %d image(s) to the running instance", len(images))
            return None
        # Maybe the holder died between our two steps: one more chance at the lock.
        if lock.tryLock(0):
            return cls(key, lock)
        raise InstanceError(
            "ClipDesk is already running but does not respond.",
            "Wait a moment and try again, or close the running ClipDesk (check the task "
            "manager) and start it again.",
        )

    def close(self) -> None:
        """Stop serving and release the lock (on quit; also done when garbage collected)."""
        self.server.close()
        if self._lock.isLocked():
            self._lock.unlock()

    @Slot()
    def _on_new_connection(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            self._buffers[socket] = QByteArray()
            socket.readyRead.connect(lambda s=socket: self._on_ready_read(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))

    def _on_ready_read(self, socket: QLocalSocket) -> None:
        buffer = self._buffers.get(socket)
        if buffer is None:
            return
        buffer.append(socket.readAll())
        if buffer.size() > MAX_MESSAGE_BYTES:
            log.warning("single instance: dropping an oversized message")
            socket.abort()
            return
        newline = buffer.indexOf(b"\n")
        if newline < 0:
            return
        line = bytes(buffer.left(newline).data())
        try:
            images = decode_message(line)
        except ValueError as exc:
            log.warning("single instance: ignoring a message: %s", exc)
            socket.write(b"error\n")
            socket.disconnectFromServer()
            return
        socket.write(b"ok\n")
        socket.flush()
        socket.disconnectFromServer()
        log.info("single instance: activation requested with %d image(s)", len(images))
        self.activation_requested.emit()
        existing = [p for p in images if p.is_file()]
        if existing:
            self.images_requested.emit(existing)

    def _forget(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()


def forward(key: str, images: Sequence[Path], *, timeout_ms: int = CONNECT_TIMEOUT_MS) -> bool:
    """Send ``images`` to the instance listening on ``key``; ``True`` once it acknowledged."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        socket = QLocalSocket()
        socket.connectToServer(key)
        if socket.waitForConnected(min(500, timeout_ms)):
            break
        if time.monotonic() >= deadline:
            log.warning("single instance: cannot reach %s: %s", key, socket.errorString())
            return False
        time.sleep(0.1)  # the first instance may hold the lock but not listen yet
    socket.write(encode_message(images))
    remaining = max(100, int((deadline - time.monotonic()) * 1000))
    ok = socket.waitForBytesWritten(remaining) and socket.waitForReadyRead(remaining)
    reply = bytes(socket.readAll().data()) if ok else b""
    socket.disconnectFromServer()
    return reply.startswith(b"ok")


def bring_to_front(window: QWidget) -> None:
    """Show, un-minimise and raise ``window`` (connect to ``activation_requested``)."""
    if window.isMinimized():
        window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()


class FileOpenFilter(QObject):
    """macOS delivers "Open with ClipDesk" and drops on the Dock icon as QFileOpenEvent."""

    def __init__(self, instance: SingleInstance) -> None:
        super().__init__(instance)
        self.instance = instance

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.FileOpen:
            # The type() check is what identifies it; the cast only tells mypy.
            open_event = cast(QFileOpenEvent, event)
            path = (
                Path(open_event.file())
                if open_event.file()
                else Path(open_event.url().toLocalFile())
            )
            images = image_paths_from_args(["clipdesk", str(path)])
            self.instance.activation_requested.emit()
            if images:
                self.instance.images_requested.emit(images)
            return True
        return super().eventFilter(watched, event)
