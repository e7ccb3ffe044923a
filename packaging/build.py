"""Build the one-folder app with PyInstaller, then prove it starts: ``python3 packaging/build.py``.

Steps: run PyInstaller on ``packaging/clipdesk.spec`` (minutes: torch is large), report the
bundle's size, then smoke-test the result in a throw-away ClipDesk home:

1. ``clipdesk --smoke-test`` offscreen with a fresh library: the window opens, the library is
   created, the bundled model loads on the CPU, and the app exits 0 through its normal shutdown;
2. ``clipdesk-cli doctor --quick`` on that library: every section reports.

Exit status 0 only when the build and both checks pass. ``--skip-build`` re-runs the checks on an
existing ``dist/``. Results are also written to ``build/clipdesk-build.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "clipdesk.spec"
DIST = ROOT / "dist" / "ClipDesk"
IS_WIN = sys.platform == "win32"


def tree_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files), len(files)


def largest(path: Path, count: int = 8) -> list[tuple[str, int]]:
    sizes = [
        (str(p.relative_to(path)), p.stat().st_size)
        for p in path.rglob("*")
        if p.is_file() and not p.is_symlink()
    ]
    return sorted(sizes, key=lambda item: -item[1])[:count]


def build() -> float:
    start = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--distpath",
            str(ROOT / "dist"),
            "--workpath",
            str(ROOT / "build" / "pyinstaller"),  # build/ also holds other people's work
            str(SPEC),
        ],
        cwd=ROOT,
        check=True,
    )
    return time.monotonic() - start


def executable(name: str) -> Path:
    names = {
        "gui": "ClipDesk.exe" if IS_WIN else "clipdesk",
        "cli": "clipdesk-cli.exe" if IS_WIN else "clipdesk-cli",
    }
    if sys.platform == "darwin" and name == "gui":
        return DIST / "ClipDesk"
    return DIST / names[name]


def smoke_test(home: Path, timeout_s: float, model: str | None = None) -> dict[str, object]:
    env = {**os.environ, "CLIPDESK_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("CLIPDESK_LIBRARY", None)
    library = home / "smoke-library.sqlite3"
    start = time.monotonic()
    gui = subprocess.run(
        [
            str(executable("gui")),
            "--smoke-test",
            str(timeout_s),
            "--library",
            str(library),
            *(["--model", model] if model else []),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s + 60,
    )
    gui_s = time.monotonic() - start
    doctor = subprocess.run(
        [str(executable("cli")), "--library", str(library), "--json", "doctor", "--quick"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        report = json.loads(doctor.stdout)
    except ValueError:
        report = {}
    log_file = home / "logs" / "clipdesk.log"
    return {
        "gui_exit": gui.returncode,
        "gui_seconds": round(gui_s, 1),
        "gui_output": (gui.stdout + gui.stderr).strip()[-3000:],
        "library_created": library.is_file(),
        "log_written": log_file.is_file(),
        "doctor_exit": doctor.returncode,
        "doctor_sections": {k: v.get("status") for k, v in report.items()},
        "doctor_error_output": doctor.stderr.strip()[-2000:],
        "faiss": report.get("clipdesk", {}).get("faiss"),
        "passed": gui.returncode == 0
        and library.is_file()
        and bool(report)
        and report.get("library", {}).get("status") == "ok"
        # search past RAM loads faiss's native library: the bundle must carry it
        and str(report.get("clipdesk", {}).get("faiss", "")).split(".")[0].isdigit(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-build", action="store_true", help="only test the existing dist/")
    parser.add_argument("--timeout", type=float, default=300.0, help="smoke test limit, seconds")
    parser.add_argument("--model", help="model for the smoke test (default: the bundled one)")
    args = parser.parse_args(argv)

    result: dict[str, object] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    if not args.skip_build:
        result["build_seconds"] = round(build(), 1)
    if not executable("gui").is_file():
        print(f"no build at {DIST}", file=sys.stderr)
        return 1
    size, files = tree_size(DIST)
    result.update(
        size_mb=round(size / 1e6, 1),
        files=files,
        largest=[(name, round(s / 1e6, 1)) for name, s in largest(DIST)],
    )
    with tempfile.TemporaryDirectory(prefix="clipdesk-smoke-") as home:
        result["smoke"] = smoke_test(Path(home), args.timeout, args.model)
    out = ROOT / "build" / "clipdesk-build.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0 if result["smoke"]["passed"] else 1  # type: ignore[index]


if __name__ == "__main__":
    raise SystemExit(main())
