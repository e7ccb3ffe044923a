"""OCR installed changes nothing else: importing ``clipdesk.ocr`` loads no engine, and the app
starts and passes its smoke test with OpenCV and rapidocr loaded (and a photo read) before its
QApplication exists — an OpenCV build carrying its own Qt would break exactly that."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from clipdesk.ui import smoke
from tests.ocr.images import photo_with_sign, words_of

REPO_ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("rapidocr", "cv2", "onnxruntime", "numpy", "PIL")

# The child: the OCR stack first, then the app exactly as `clipdesk --smoke-test` runs it.
_CHILD = """
import json, os, sys
from pathlib import Path
import cv2, rapidocr
from clipdesk.ocr import TextReader

reader = TextReader(threads=1)
text = reader.read(Path(sys.argv[1])).text
from PySide6.QtWidgets import QApplication

qt_env = {k: v for k, v in os.environ.items() if k.startswith("QT_") and k != "QT_QPA_PLATFORM"}
print(json.dumps({"text": text, "qt_env": qt_env, "app_before": QApplication.instance() is not None}),
      flush=True)
sys.argv = ["clipdesk", "--smoke-test", "200", "--library", sys.argv[2], "--model", sys.argv[3]]
from clipdesk.app import main

main()  # the whole process's path: it ends the process, as the real app does
"""


def _child_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CLIPDESK_HOME": str(home),
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(REPO_ROOT),
    }


def test_importing_clipdesk_ocr_loads_no_engine(tmp_path):
    code = f"import sys, clipdesk.ocr; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=_child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_the_app_starts_and_behaves_with_the_ocr_stack_loaded_first(tmp_path):
    from clipdesk.model.testing import tiny_random_model

    photo = tmp_path / "sign.jpg"
    photo_with_sign(["Harbour Bakery"]).save(photo, quality=85)
    model = tiny_random_model(tmp_path / "models")
    library = tmp_path / "library.sqlite3"
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(photo), str(library), str(model)],
        cwd=REPO_ROOT,
        env=_child_env(home),
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == smoke.EXIT_PASSED, done.stdout + done.stderr
    first, *rest = done.stdout.splitlines()
    before_app = json.loads(first)
    assert {"harbour", "bakery"} <= words_of(before_app["text"])
    assert before_app["qt_env"] == {}  # no Qt plugin path of OpenCV's own
    assert not before_app["app_before"]
    assert any("smoke test passed" in line for line in rest), done.stdout
    assert library.is_file()
    log = (home / "logs" / "clipdesk.log").read_text(encoding="utf-8")
    qt_warnings = [
        line
        for line in log.splitlines()
        if "clipdesk.qt" in line and any(lvl in line for lvl in ("WARNING", "ERROR", "CRITICAL"))
    ]
    assert not qt_warnings, "\n".join(qt_warnings)
    assert "uncaught" not in log
    assert "QObject" not in done.stderr and "qt.qpa" not in done.stderr, done.stderr
