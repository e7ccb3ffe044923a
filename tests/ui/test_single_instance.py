"""A second launch hands its images to the first and exits; crashes leave nothing blocking."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QLockFile, QUrl
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtNetwork import QLocalSocket
from PySide6.QtWidgets import QWidget

from clipdesk.common import paths
from clipdesk.ui import single_instance as si

SECOND_LAUNCH = textwrap.dedent(
    """
    import sys
    from clipdesk.ui.single_instance import SingleInstance, InstanceError
    try:
        result = SingleInstance.acquire_or_forward(sys.argv, timeout_ms=int({timeout}))
    except InstanceError as exc:
        print("error:", exc.message, flush=True)
        raise SystemExit(3)
    print("primary" if result else "forwarded", flush=True)
    """
)


def _launch(*args: str, timeout: int = 5000) -> subprocess.Popen:
    code = SECOND_LAUNCH.format(timeout=timeout)
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )


def _finish(qtbot, proc: subprocess.Popen) -> tuple[int, str]:
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=20000)
    out, err = proc.communicate()
    return proc.returncode, out + err


@pytest.fixture
def primary():
    instance = si.SingleInstance.acquire_or_forward(["clipdesk"])
    assert instance is not None and instance.listening
    yield instance
    instance.close()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "beach photo.jpg"
    Image.new("RGB", (8, 8), "orange").save(path)
    return path


def test_second_launch_forwards_images_to_the_running_instance(qtbot, primary, photo, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    activations = []
    primary.activation_requested.connect(lambda: activations.append(1))
    with qtbot.waitSignal(primary.images_requested, timeout=20000) as blocker:
        proc = _launch(photo.as_uri(), str(notes), "--new-window")
    assert blocker.args[0] == [photo]
    code, output = _finish(qtbot, proc)
    assert code == 0 and "forwarded" in output
    assert activations == [1]


def test_second_launch_without_images_only_activates(qtbot, primary):
    images = []
    primary.images_requested.connect(images.append)
    with qtbot.waitSignal(primary.activation_requested, timeout=20000):
        proc = _launch()
    assert _finish(qtbot, proc)[0] == 0
    assert images == []


def test_lock_left_by_a_killed_instance_is_taken_over(qtbot):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nfrom clipdesk.ui.single_instance import SingleInstance\n"
            "i = SingleInstance.acquire_or_forward(['clipdesk'])\nprint('up', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.stdout.readline().strip() == "up"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    instance = si.SingleInstance.acquire_or_forward(["clipdesk"])
    try:
        assert instance is not None and instance.listening
        with qtbot.waitSignal(instance.activation_requested, timeout=20000):
            second = _launch()
        assert _finish(qtbot, second)[0] == 0
    finally:
        instance.close()


def test_holder_that_does_not_answer_gives_a_clear_error(qtbot):
    lock = QLockFile(str(paths.data_dir() / f"{si.instance_key()}.{si.LOCK_NAME}"))
    lock.setStaleLockTime(0)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom PySide6.QtCore import QLockFile\n"
            "l = QLockFile(sys.argv[1]); l.setStaleLockTime(0); assert l.tryLock(0)\n"
            "print('locked', flush=True)\ntime.sleep(60)\n",
            lock.fileName(),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        with pytest.raises(si.InstanceError, match="already running but does not respond"):
            si.SingleInstance.acquire_or_forward(["clipdesk"], timeout_ms=400)
        assert time.monotonic() - start < 5
    finally:
        holder.kill()
        holder.wait()


def test_garbage_on_the_socket_is_ignored_and_the_server_keeps_serving(qtbot, primary):
    activations = []
    primary.activation_requested.connect(lambda: activations.append(1))
    client = QLocalSocket()
    client.connectToServer(primary.key)
    assert client.waitForConnected(1000)
    client.write(b'{"app": "other"}\n')
    qtbot.waitUntil(
        lambda: (
            client.state() == QLocalSocket.LocalSocketState.UnconnectedState
            or client.bytesAvailable() > 0
        ),
        timeout=3000,
    )
    assert activations == []
    with qtbot.waitSignal(primary.activation_requested, timeout=20000):
        proc = _launch()
    assert _finish(qtbot, proc)[0] == 0


def test_instances_with_different_data_dirs_do_not_meet(monkeypatch, tmp_path, primary):
    monkeypatch.setenv("CLIPDESK_HOME", str(tmp_path / "portable"))
    assert si.instance_key() != primary.key
    other = si.SingleInstance.acquire_or_forward(["clipdesk"])
    assert other is not None
    other.close()


def test_image_paths_from_args(tmp_path, photo, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raw.CR2").write_bytes(b"raw")
    (tmp_path / "folder.jpg").mkdir()
    argv = [
        "clipdesk",
        "--quit-after",
        photo.name,
        "missing.jpg",
        "raw.CR2",
        "folder.jpg",
        QUrl.fromLocalFile(str(photo)).toString(),
        "--",
        "-dash.png",
    ]
    (tmp_path / "-dash.png").write_bytes(b"png")
    assert si.image_paths_from_args(argv) == [
        photo,
        tmp_path / "raw.CR2",
        photo,
        tmp_path / "-dash.png",
    ]


def test_message_round_trip_and_rejects():
    data = si.encode_message([Path("/a b/c.jpg")])
    assert si.decode_message(data.strip()) == [Path("/a b/c.jpg")]
    for bad in (
        b"\xff",
        b"[]",
        b'{"app": "clipdesk", "v": 99}',
        b'{"app": "clipdesk", "v": 1, "images": [1]}',
    ):
        with pytest.raises(ValueError):
            si.decode_message(bad)


def test_bring_to_front_restores_a_minimised_window(qtbot):
    window = QWidget()
    qtbot.addWidget(window)
    window.showMinimized()
    si.bring_to_front(window)
    assert window.isVisible()
    assert not window.isMinimized()


def test_file_open_events_become_image_requests(qtbot, primary, photo):
    file_filter = si.FileOpenFilter(primary)
    with qtbot.waitSignal(primary.images_requested) as blocker:
        handled = file_filter.eventFilter(primary, QFileOpenEvent(str(photo)))
    assert handled
    assert blocker.args[0] == [photo]
