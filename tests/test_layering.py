"""Everything below the GUI (the domain packages, services, the CLI) never imports Qt, not even
through a dependency: import-linter reads import statements, this loads the modules for real."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

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


REPO = PACKAGE_DIR.parent


def _contracts() -> list[dict]:
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["importlinter"]["contracts"]


def test_the_contracts_allow_no_exceptions():
    # An ignore_imports entry is a hole in the wall that nobody reviews again.
    assert [c["name"] for c in _contracts() if c.get("ignore_imports")] == []


def test_every_package_has_its_place_in_the_layers():
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    packages = {
        f"clipdesk.{p.name}" for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").is_file()
    }
    assert packages | {"clipdesk.app"} <= placed, sorted(packages - placed)


def test_the_import_contracts_hold():
    """lint-imports (import-linter, the house's arrows) from the test run too, not only in CI."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.fail(f"import-linter is missing ({lint_imports}): pip install -e '.[test]'")
    out = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_the_window_is_built_without_torch_or_the_library_code():
    """The window paints before torch is imported (it loads with the model, on a worker) and
    before the library opens (on the db pool): building it, with the services' records the
    faces import, must not pull in torch, numpy or the store (0.2 s of start-up between them)."""
    heavy = (
        "torch",
        "numpy",
        "sqlite_utils",
        "clipdesk.library.store",
        "clipdesk.scanning.scanner",
    )
    code = (
        "import os, sys\n"
        "os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')\n"
        "import clipdesk.app, clipdesk.ui.main_window\n"
        "from clipdesk.services.records import Category, Label, Mode, PhotoStatus, TagState\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip() == "", out.stdout


def test_every_record_the_services_export_resolves():
    import clipdesk.services.records as records

    missing = [name for name in records.__all__ if getattr(records, name, None) is None]
    assert not missing
    assert set(dir(records)) == set(records.__all__)


def test_the_cli_parses_its_commands_without_torch():
    """`clipdesk-cli --version`, `--help` and the commands that need no model start in a blink,
    and `doctor` can still report a broken torch: building the parser imports no torch."""
    code = (
        "import sys\n"
        "import clipdesk.cli\n"
        "clipdesk.cli.build_parser()\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip() == "False", out.stderr
