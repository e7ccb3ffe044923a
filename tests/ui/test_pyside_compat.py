"""PySide6 6.12 on Python 3.11 must survive many signals and void calls (see pyside_compat)."""

from __future__ import annotations

import subprocess
import sys

SNIPPET = """
import sys
{prelude}
from PySide6.QtCore import QCoreApplication, QObject, Signal

class Emitter(QObject):
    fired = Signal(object)

app = QCoreApplication([])
e = Emitter()
e.fired.connect(lambda value: None)
for i in range(20_000):
    e.fired.emit(i)
    e.setObjectName("x")
print("alive")
"""


def _run(prelude: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SNIPPET.format(prelude=prelude)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "QT_QPA_PLATFORM": "offscreen",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": ":".join(sys.path),
        },
    )


def test_importing_clipdesk_ui_keeps_many_signals_safe():
    done = _run("import clipdesk.ui")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "alive" in done.stdout


def test_pin_is_a_no_op_where_python_has_immortal_objects():
    from clipdesk.ui import pyside_compat

    if sys.version_info >= (3, 12):
        assert not pyside_compat.pin_singletons()
    else:
        assert sys.getrefcount(True) > 1 << 39  # applied by importing clipdesk.ui
