"""Everything below the GUI (the domain packages, services, the CLI) never imports Qt, not even
through a dependency: import-linter reads import statements, this loads the modules for real."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import clipdesk

PACKAGE_DIR = Path(clipdesk.__file__).parent
# Every package but the GUI (clipdesk.ui, and clipdesk.app which starts it).
QT_FREE = sorted(
    p.name for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").is_file() and p.name != "ui"
)
QT_MODULES = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "pyqtgraph")


def _qt_free_modules() -> list[str]:
    names = []
    for sub in QT_FREE:
        pkg = f"clipdesk.{sub}"
        names.append(pkg)
        for info in pkgutil.walk_packages([str(PACKAGE_DIR / sub)], prefix=f"{pkg}."):
            names.append(info.name)
    return names


def test_no_qt_import_statements_below_the_gui():
    offenders = []
    for sub in QT_FREE:
        for path in (PACKAGE_DIR / sub).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    mods = [node.module]
                else:
                    continue
                if any(m.split(".")[0] in QT_MODULES for m in mods):
                    offenders.append(f"{path.relative_to(PACKAGE_DIR)}:{node.lineno}")
    assert not offenders, f"Qt imported in the Qt-free layers: {offenders}"


def test_importing_everything_below_the_gui_loads_no_qt_indirectly():
    modules = _qt_free_modules()
    assert {"clipdesk.common.paths", "clipdesk.services", "clipdesk.cli"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip() == "", f"Qt pulled in below the GUI: {out.stdout}"
