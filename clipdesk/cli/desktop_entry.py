"""``clipdesk-cli install-desktop-entry`` / ``uninstall-desktop-entry``: ClipDesk in the app menu.

Writes a freedesktop ``.desktop`` file to ``$XDG_DATA_HOME/applications`` and the icon to the
user's ``hicolor`` theme, so that ClipDesk appears in the applications menu, opens on
double-click and is offered under "Open with" for images (which then become an image query in
the running window). ``Exec`` points at the installed ``clipdesk`` gui-script of this very
installation (a venv's ``bin/`` need not be on PATH), or at the frozen app.

The same entry, with a plain ``Exec=clipdesk``, is the template in ``packaging/linux/`` for
distribution packages; a test keeps the two identical.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import TypedDict

from clipdesk.common.errors import ClipDeskError

APP_ID = "io.clipdesk.ClipDesk"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)  # hicolor's fixed-size directories
# "image/*" for file managers that honour wildcards, the common types for those that do not.
MIME_TYPES = (
    "image/*",
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/bmp",
    "image/tiff",
    "image/heic",
    "image/heif",
    "image/avif",
    "image/x-adobe-dng",
    "image/x-canon-cr2",
    "image/x-canon-cr3",
    "image/x-nikon-nef",
    "image/x-sony-arw",
    "image/x-fuji-raf",
    "image/x-olympus-orf",
    "image/x-panasonic-rw2",
)
# Characters that force quoting of an Exec argument (Desktop Entry spec, "The Exec key").
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


class DesktopEntryError(ClipDeskError):
    """The desktop entry cannot be installed here."""


class InstalledEntry(TypedDict):
    """What :func:`install` wrote: the .desktop file, the command it starts, the icon files."""

    desktop_file: str
    exec: list[str]
    icons: list[str]


def register(subparsers: argparse._SubParsersAction) -> None:
    install = subparsers.add_parser(
        "install-desktop-entry",
        help="add ClipDesk to this user's application menu (Linux desktops)",
        description="Install a .desktop file and icons under $XDG_DATA_HOME.",
    )
    install.add_argument(
        "--exec",
        dest="exec_path",
        metavar="PATH",
        help="program the entry starts (default: this installation's clipdesk)",
    )
    install.add_argument("--dry-run", action="store_true", help="print the entry, write nothing")
    install.set_defaults(func=run_install)
    uninstall = subparsers.add_parser(
        "uninstall-desktop-entry",
        help="remove ClipDesk from this user's application menu",
        description="Remove what install-desktop-entry added.",
    )
    uninstall.set_defaults(func=run_uninstall)


# --- locating things -------------------------------------------------------------------------


def data_home() -> Path:
    value = os.environ.get("XDG_DATA_HOME")
    return Path(value) if value and Path(value).is_absolute() else Path.home() / ".local/share"


def desktop_file_path() -> Path:
    return data_home() / "applications" / f"{APP_ID}.desktop"


def icon_targets() -> dict[str, Path]:
    """Icon source name -> where it goes in the user's hicolor theme."""
    hicolor = data_home() / "icons" / "hicolor"
    targets = {
        f"clipdesk-{s}.png": hicolor / f"{s}x{s}" / "apps" / f"{APP_ID}.png" for s in ICON_SIZES
    }
    targets["clipdesk.svg"] = hicolor / "scalable" / "apps" / f"{APP_ID}.svg"
    return targets


def icons_dir() -> Path:
    """The app icons: in the frozen bundle, the source checkout, or installed data files."""
    candidates = []
    if getattr(sys, "frozen", False):
        candidates.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "resources")
    candidates.append(Path(__file__).resolve().parents[2] / "resources")
    candidates += [Path(p) / "share" / "clipdesk" for p in _data_prefixes()]
    for base in candidates:
        if (base / "icons" / "clipdesk.svg").is_file():
            return base / "icons"
    raise DesktopEntryError(
        "Cannot find ClipDesk's icons (looked in "
        + ", ".join(str(c / "icons") for c in candidates)
        + ").",
        "Reinstall ClipDesk; the icons ship in its resources/icons folder.",
    )


def _data_prefixes() -> list[str]:
    prefixes = [sysconfig.get_path("data"), sys.prefix]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        prefixes.append(sysconfig.get_path("data", user_scheme))
    return list(dict.fromkeys(prefixes))


def gui_command() -> list[str]:
    """How this installation starts the desktop app."""
    here = Path(sys.executable).parent
    if getattr(sys, "frozen", False):
        for name in ("ClipDesk", "clipdesk"):
            if (here / name).is_file():
                return [str(here / name)]
        return [sys.executable]
    script = here / ("clipdesk.exe" if os.name == "nt" else "clipdesk")
    if script.is_file():
        return [str(script)]
    found = shutil.which("clipdesk")
    if found:
        return [str(Path(found).resolve())]
    return [sys.executable, "-m", "clipdesk"]


# --- the entry ---------------------------------------------------------------------------------


def quote_exec_arg(arg: str) -> str:
    """Quote one Exec argument per the Desktop Entry spec (then escape for a string value)."""
    arg = arg.replace("%", "%%")
    if any(ch in _RESERVED for ch in arg):
        inner = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
        arg = f'"{inner}"'
    # The whole value is itself a string whose backslashes are escaped.
    return arg.replace("\\", "\\\\")


def render_desktop_entry(command: list[str]) -> str:
    exec_line = " ".join(quote_exec_arg(a) for a in command)
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        "Name=ClipDesk",
        "GenericName=Photo Search",
        "Comment=Search and tag your photos on this computer",
        f"Icon={APP_ID}",
        f"Exec={exec_line} %F",
        "Terminal=false",
        "StartupNotify=true",
        "StartupWMClass=ClipDesk",
        "Categories=Graphics;Photography;Viewer;Qt;",
        "Keywords=photo;picture;image;search;tag;CLIP;",
        "MimeType=" + ";".join(MIME_TYPES) + ";",
    ]
    if len(command) == 1 and Path(command[0]).is_absolute():
        # TryExec is a plain string (no Exec quoting): only backslashes are escaped.
        try_exec = command[0].replace("\\", "\\\\")
        lines.insert(lines.index(f"Exec={exec_line} %F"), f"TryExec={try_exec}")
    return "\n".join(lines) + "\n"


def validate(path: Path) -> str | None:
    """Problems ``desktop-file-validate`` finds, ``None`` if clean or the tool is missing."""
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        return None
    result = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=30)
    problems = (result.stdout + result.stderr).strip()
    return problems if result.returncode != 0 else None


def _refresh_caches() -> None:
    # Menus and icon themes pick the change up sooner; both tools are optional.
    jobs = [
        ("update-desktop-database", ["-q", str(data_home() / "applications")]),
        ("gtk-update-icon-cache", ["-q", "-t", "-f", str(data_home() / "icons" / "hicolor")]),
    ]
    for tool, args in jobs:
        path = shutil.which(tool)
        if path:
            subprocess.run([path, *args], capture_output=True, timeout=60, check=False)


def install(command: list[str] | None = None) -> InstalledEntry:
    if sys.platform in ("win32", "darwin"):
        raise DesktopEntryError(
            "Desktop entries are for Linux desktops.",
            "See packaging/windows/README.md or the macOS app bundle instead.",
        )
    command = command or gui_command()
    source = icons_dir()
    entry = desktop_file_path()
    written: list[str] = []
    try:
        for name, target in icon_targets().items():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target)
            written.append(str(target))
        text = render_desktop_entry(command)
        with tempfile.TemporaryDirectory() as scratch:
            # Validated outside the menu folder, where a half-checked file cannot show up.
            candidate = Path(scratch) / entry.name
            candidate.write_text(text, encoding="utf-8")
            problems = validate(candidate)
        if problems:
            raise DesktopEntryError(f"The generated desktop entry is invalid:\n{problems}")
        entry.parent.mkdir(parents=True, exist_ok=True)
        temporary = entry.with_name(f".{entry.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, entry)
    except OSError as exc:
        raise DesktopEntryError(
            f"Cannot write the desktop entry: {exc.strerror or exc} ({exc.filename}).",
            "Check that $XDG_DATA_HOME (default ~/.local/share) is writable.",
        ) from exc
    _refresh_caches()
    return {"desktop_file": str(entry), "exec": command, "icons": written}


def uninstall() -> list[str]:
    removed = []
    for path in [desktop_file_path(), *icon_targets().values()]:
        if path.exists():
            path.unlink()
            removed.append(str(path))
    if removed:
        _refresh_caches()
    return removed


def run_install(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    command = [args.exec_path] if args.exec_path else None
    if args.dry_run:
        print(render_desktop_entry(command or gui_command()), end="")
        return 0
    result = install(command)
    emit(
        args,
        result,
        f"Installed {result['desktop_file']}\n  starts: {' '.join(result['exec'])}\n"
        f"  icons: {len(result['icons'])} in {data_home() / 'icons' / 'hicolor'}\n"
        "ClipDesk is now in your applications menu (log out and in if it does not show yet).",
    )
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    removed = uninstall()
    text = f"Removed {len(removed)} file(s)" if removed else "No ClipDesk desktop entry installed"
    emit(args, {"removed": removed}, text)
    return 0
