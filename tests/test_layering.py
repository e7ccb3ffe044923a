"""clipdesk.core and clipdesk.model must never import Qt, not even through a dependency."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import clipdesk

PACKAGE_DIR = Path(clipdesk.__file__).parent
QT_MODULES = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "pyqtgraph")


def _qt_free_modules() -> list[str]:
    names = []
    for sub in ("core", "model"):
        pkg = f"clipdesk.{sub}"
        names.append(pkg)
        for info in pkgutil.walk_packages([str(PACKAGE_DIR / sub)], prefix=f"{pkg}."):
            names.append(info.name)
    return names


def test_no_qt_import_statements_in_core_or_model():
    offenders = []
    for sub in ("core", "model"):
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


def test_importing_core_and_model_loads_no_qt_indirectly():
    modules = _qt_free_modules()
    assert "clipdesk.core.paths" in modules
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
    assert out.stdout.strip() == "", f"Qt pulled in by core/model imports: {out.stdout}"
