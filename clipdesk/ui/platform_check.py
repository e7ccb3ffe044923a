"""Before Qt starts: can the platform plugin Qt is about to load find its system libraries?

On Linux Qt draws through a platform plugin (``xcb`` for X11, ``wayland``): a shared library in
PySide6 that links to system libraries pip cannot install (libxcb-cursor0, libxkbcommon-x11-0 ...).
When one is missing, Qt prints a terse line and aborts (exit 134), and an app started from the
menu never appears. So before PySide6's Qt modules are imported, one ``ldd`` call asks the
dynamic linker about the plugins Qt would try, in Qt's own order (on a Wayland session wayland,
then xcb through XWayland), and about the Qt modules the app imports. When nothing can load,
:func:`ensure_loadable` prints the libraries "not found" with the Debian/Ubuntu and Fedora
packages that bring them (stderr and the log file) and exits with
:data:`EXIT_MISSING_LIBRARIES`. When Qt will fall back from wayland to xcb, the log says what
would bring native Wayland windows.

The check stays out of the way where it cannot predict Qt: off Linux, without ``ldd``, or when
``QT_QPA_PLATFORM`` (or ``-platform``) names another platform (offscreen, minimal, eglfs ...).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clipdesk.common import logging_setup

log = logging.getLogger(__name__)

EXIT_MISSING_LIBRARIES = 69  # sysexits.h EX_UNAVAILABLE: a required part is not there
LDD_TIMEOUT_S = 10.0

# soname -> (Debian/Ubuntu package, Fedora package), for every library outside glibc that
# PySide6's platform plugins, their integration plugins and the Qt modules ClipDesk imports link
# to, directly or through another (tests/ui/test_platform_check.py holds it to ldd's output).
PACKAGES: dict[str, tuple[str, str]] = {
    # Qt's core, GUI and widgets (every platform)
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libpng16.so.16": ("libpng16-16", "libpng"),
    "libbrotlidec.so.1": ("libbrotli1", "libbrotli"),
    "libbrotlicommon.so.1": ("libbrotli1", "libbrotli"),
    "libexpat.so.1": ("libexpat1", "expat"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libpcre2-8.so.0": ("libpcre2-8-0", "pcre2"),
    "libffi.so.8": ("libffi8", "libffi"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libsystemd.so.0": ("libsystemd0", "systemd-libs"),
    "libcap.so.2": ("libcap2", "libcap"),
    "libgcrypt.so.20": ("libgcrypt20", "libgcrypt"),
    "libgpg-error.so.0": ("libgpg-error0", "libgpg-error"),
    "liblz4.so.1": ("liblz4-1", "lz4-libs"),
    "liblzma.so.5": ("liblzma5", "xz-libs"),
    "libzstd.so.1": ("libzstd1", "libzstd"),
    "libz.so.1": ("zlib1g", "zlib-ng-compat"),
    "libstdc++.so.6": ("libstdc++6", "libstdc++"),
    "libgcc_s.so.1": ("libgcc-s1", "libgcc"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libXau.so.6": ("libxau6", "libXau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp"),
    "libbsd.so.0": ("libbsd0", "libbsd"),
    "libmd.so.0": ("libmd0", "libmd"),
    # QtNetwork (the single-instance socket)
    "libgssapi_krb5.so.2": ("libgssapi-krb5-2", "krb5-libs"),
    "libkrb5.so.3": ("libkrb5-3", "krb5-libs"),
    "libk5crypto.so.3": ("libk5crypto3", "krb5-libs"),
    "libkrb5support.so.0": ("libkrb5support0", "krb5-libs"),
    "libcom_err.so.2": ("libcom-err2", "libcom_err"),
    "libkeyutils.so.1": ("libkeyutils1", "keyutils-libs"),
    # the xcb platform (X11, XWayland)
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    # the wayland platform
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl"),
}

# Libraries PySide6 ships next to Qt. Where ldd cannot find one, the bundle's layout differs from
# a wheel's (PyInstaller, distribution packages): the process loads them anyway, so they never
# block the start; the import of a broken PySide6 fails with its own error.
_BUNDLED = re.compile(r"^lib(Qt6|icu|pyside6|shiboken6)[\w.]*\.so")

_NOT_FOUND = re.compile(r"^\s+(\S+) => not found\s*$")
_VERSION = re.compile(r"(\S+): version `([^']+)' not found")
# The PySide6 modules ClipDesk imports, whose libraries must load whatever the platform: the
# platform plugins link QtGui and QtCore (the widgets need nothing more), QtNetwork (the
# single-instance socket) adds Kerberos. Every file costs ldd ~10 ms of the start.
_MODULES = ("QtNetwork",)


@dataclass(frozen=True)
class Platform:
    """A Qt platform as far as loading goes: the plugin files it needs, and the ones it loads
    later for a feature (OpenGL), whose absence costs that feature, not the start."""

    name: str
    title: str
    needs: tuple[tuple[str, ...], ...]  # each: alternatives (Qt renamed some plugins)
    extras: tuple[str, ...] = ()


PLATFORMS = {
    "xcb": Platform(
        "xcb",
        "Qt's X11 platform (xcb)",
        needs=(("platforms/libqxcb.so",),),
    ),
    "wayland": Platform(
        "wayland",
        "Qt's Wayland platform (wayland)",
        # Its shell integration (libxdg-shell.so) links nothing the platform plugin does not.
        needs=(("platforms/libqwayland.so", "platforms/libqwayland-generic.so"),),
        extras=("wayland-graphics-integration-client/libqt-plugin-wayland-egl.so",),
    ),
}


@dataclass
class Libraries:
    """What ldd said about a set of files: sonames not found and versions a library lacks."""

    missing: list[str] = field(default_factory=list)
    too_old: list[str] = field(default_factory=list)  # "libstdc++.so.6 lacks GLIBCXX_3.4.32"

    def add(self, other: Libraries) -> None:
        self.missing += [s for s in other.missing if s not in self.missing]
        self.too_old += [s for s in other.too_old if s not in self.too_old]

    def __bool__(self) -> bool:
        return bool(self.missing or self.too_old)


@dataclass
class Verdict:
    """The check's outcome: the platform Qt will load, or what keeps each candidate from it."""

    platform: str | None  # None: nothing Qt would try can load
    problems: dict[str, Libraries]  # title -> libraries, for Qt itself and each failed candidate
    notes: list[str]  # for the log: fallbacks and features that will be missing


def candidates(argv: Sequence[str], environ: Mapping[str, str]) -> list[str] | None:
    """The platforms Qt will try, in its order (``QGuiApplicationPrivate``'s logic in Qt 6);
    None where the check cannot predict Qt: another platform was asked for."""
    requested = environ.get("QT_QPA_PLATFORM", "")
    for i, arg in enumerate(argv):
        if arg in ("-platform", "--platform") and i + 1 < len(argv):
            requested = argv[i + 1]
    if requested:
        names = [part.split(":", 1)[0].strip() for part in requested.split(";") if part.strip()]
        return names if names and all(name in PLATFORMS for name in names) else None
    order = []
    wayland_session = bool(environ.get("WAYLAND_DISPLAY")) or (
        environ.get("XDG_SESSION_TYPE") == "wayland"
    )
    if wayland_session:
        order.append("wayland")
    # Qt's default is xcb; on a Wayland session without XWayland (no DISPLAY) it cannot connect.
    if environ.get("DISPLAY") or not wayland_session:
        order.append("xcb")
    return order


def plugins_dir() -> Path | None:
    """PySide6's Qt plugin folder, found without importing PySide6's Qt modules."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins"
    return path if path.is_dir() else None


def run_ldd(files: Sequence[Path], environ: Mapping[str, str]) -> dict[Path, Libraries] | None:
    """One ldd over ``files``; None when ldd cannot answer (absent, hung)."""
    ldd = shutil.which("ldd", path=environ.get("PATH", os.defpath))
    if ldd is None or not files:
        return None
    try:
        done = subprocess.run(
            [ldd, *map(str, files)],
            env=dict(environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # version errors come on stderr, in their file's section
            text=True,
            errors="replace",
            timeout=LDD_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("ldd could not run: %s", exc)
        return None
    return parse_ldd(done.stdout, files)


def parse_ldd(output: str, files: Sequence[Path]) -> dict[Path, Libraries]:
    """ldd's output per file: with several files each section starts with ``path:``."""
    results = {path: Libraries() for path in files}
    by_name = {str(path): path for path in files}
    current = files[0] if len(files) == 1 else None
    for line in output.splitlines():
        if not line.startswith(("\t", " ")) and line.endswith(":") and line[:-1] in by_name:
            current = by_name[line[:-1]]
            continue
        version = _VERSION.search(line)
        if version:
            owner = (p for name, p in by_name.items() if line.startswith(f"{name}:"))
            target = next(owner, current)
            if target is not None:
                entry = f"{Path(version.group(1)).name} lacks {version.group(2)}"
                results[target].add(Libraries(too_old=[entry]))
            continue
        missing = _NOT_FOUND.match(line)
        if missing and current is not None:
            if _BUNDLED.match(missing.group(1)):
                log.debug("ldd: %s not found for %s (bundled with PySide6)", missing[1], current)
                continue
            results[current].add(Libraries(missing=[missing.group(1)]))
    return results


def check(
    argv: Sequence[str],
    environ: Mapping[str, str] | None = None,
    *,
    plugins: Path | None = None,
    modules: Iterable[Path] | None = None,
) -> Verdict | None:
    """Which platform Qt will load, or why none can; None when the check does not apply."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return None
    names = candidates(argv, env)
    plugins = plugins or plugins_dir()
    if not names or plugins is None:
        return None
    module_files = list(modules) if modules is not None else _module_files(plugins)
    wanted: dict[str, tuple[list[Path], list[Path]]] = {}
    for name in names:
        platform = PLATFORMS[name]
        needed = [_first_existing(plugins, options) for options in platform.needs]
        if None in needed:
            continue  # this PySide6 lacks the plugin: Qt skips the platform too
        extras = [plugins / extra for extra in platform.extras if (plugins / extra).is_file()]
        wanted[name] = ([p for p in needed if p is not None], extras)
    if not wanted:
        return None
    files = list(dict.fromkeys(module_files + [p for n, e in wanted.values() for p in n + e]))
    results = run_ldd(files, env)
    if results is None:
        return None
    return _verdict(names, wanted, module_files, results)


def _verdict(
    names: Sequence[str],
    wanted: Mapping[str, tuple[list[Path], list[Path]]],
    module_files: Sequence[Path],
    results: Mapping[Path, Libraries],
) -> Verdict:
    common = Libraries()
    for path in module_files:
        common.add(results[path])
    problems: dict[str, Libraries] = {}
    if common:
        problems["Qt itself"] = common
    notes: list[str] = []
    chosen = None
    for name in names:
        if name not in wanted:
            continue
        needed, extras = wanted[name]
        own = Libraries()
        for path in needed:
            own.add(results[path])
        own.missing = [s for s in own.missing if s not in common.missing]
        if own:
            problems[PLATFORMS[name].title] = own
            continue
        if chosen is None and not common:
            chosen = name
            for path in extras:
                lacking = [s for s in results[path].missing if s not in common.missing]
                if lacking:
                    notes.append(
                        f"Qt's {path.name} (OpenGL on {name}) cannot load, missing "
                        f"{', '.join(lacking)}: {install_hint(lacking)}"
                    )
    if chosen is not None:
        skipped = [(title, libs) for title, libs in problems.items() if title != "Qt itself"]
        for title, libs in skipped:
            notes.append(
                f"{title} cannot load, missing {', '.join(libs.missing + libs.too_old)}: "
                f"using {chosen} instead. {install_hint(libs.missing)}"
            )
        problems = {}
    return Verdict(chosen, problems, notes)


def _module_files(plugins: Path) -> list[Path]:
    package = plugins.parent.parent
    found = []
    for module in _MODULES:
        found += sorted(package.glob(f"{module}.*.so"))[:1]
    return found


def _first_existing(base: Path, options: Sequence[str]) -> Path | None:
    return next((base / option for option in options if (base / option).is_file()), None)


def packages_for(sonames: Iterable[str]) -> tuple[list[str], list[str]]:
    """The Debian/Ubuntu and the Fedora packages that bring ``sonames`` (known ones), in order."""
    debian = list(dict.fromkeys(PACKAGES[s][0] for s in sonames if s in PACKAGES))
    fedora = list(dict.fromkeys(PACKAGES[s][1] for s in sonames if s in PACKAGES))
    return debian, fedora


def install_hint(sonames: Sequence[str]) -> str:
    debian, fedora = packages_for(sonames)
    if not debian:
        return ""
    return (
        f"Debian/Ubuntu: sudo apt-get install {' '.join(debian)}; "
        f"Fedora: sudo dnf install {' '.join(fedora)}"
    )


def describe(verdict: Verdict, log_file: Path | None) -> str:
    """The message for a user whose ClipDesk cannot start: what is missing and what to install."""
    lines = ["ClipDesk cannot start: Qt needs system libraries that are not installed."]
    everything: list[str] = []
    unknown: list[str] = []
    listed: set[str] = set()
    for title, libs in verdict.problems.items():
        lines.append(f"{title} needs:")
        for soname in libs.missing:
            if soname in listed:
                lines.append(f"  {soname} (as above)")
                continue
            listed.add(soname)
            if soname in PACKAGES:
                on_debian, on_fedora = PACKAGES[soname]
                lines.append(f"  {soname:<24} (Debian/Ubuntu: {on_debian}; Fedora: {on_fedora})")
                everything.append(soname)
            else:
                lines.append(f"  {soname:<24} (package unknown to ClipDesk)")
                unknown.append(soname)
        for entry in libs.too_old:
            lines.append(f"  {entry} (the system's library is older than this Qt's)")
    debian, fedora = packages_for(everything)
    if debian:
        lines += [
            "Install them, then start ClipDesk again:",
            f"  Debian/Ubuntu: sudo apt-get install {' '.join(debian)}",
            f"  Fedora:        sudo dnf install {' '.join(fedora)}",
        ]
    for soname in unknown:
        lines.append(
            f"Find the package for {soname} with `apt-file search {soname}` (Debian/Ubuntu) "
            f"or `dnf provides '*/{soname}'` (Fedora)."
        )
    if any(libs.too_old for libs in verdict.problems.values()):
        lines.append("Update the system: this Qt needs Debian 12, Ubuntu 24.04 or newer ones.")
    lines.append("(Found by ldd on Qt's plugins.)")
    if log_file is not None:
        lines.append(f"This message is also in the log file: {log_file}")
    return "\n".join(lines)


def ensure_loadable(argv: Sequence[str]) -> None:
    """Exit with :data:`EXIT_MISSING_LIBRARIES` and a message naming the packages to install
    when Qt could not load any platform plugin; log the notes otherwise. Call it before any
    PySide6 Qt module is imported (they fail to import without some of these libraries) and
    after logging is set up (the message goes to the log file too)."""
    verdict = check(argv)
    if verdict is None:
        return
    for note in verdict.notes:
        log.info("%s", note)
    if verdict.platform is not None:
        return
    log_file = logging_setup.log_file_path()
    message = describe(verdict, log_file if log_file.is_file() else None)
    log.error("%s", message)
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(EXIT_MISSING_LIBRARIES)
