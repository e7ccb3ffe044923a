"""The platform check against the real thing: ldd on PySide6's own plugins, a real copy of the
xcb plugin that cannot see two system libraries (as on a desktop without their packages), the
package table against what Qt links, the README's list against the table, and the app's exit
instead of Qt's abort."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from clipdesk.ui import platform_check as pc

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("ldd") is None,
    reason="the check runs ldd on Linux",
)

REPO = Path(__file__).resolve().parents[2]
PLUGINS = pc.plugins_dir()
PYSIDE = PLUGINS.parent.parent if PLUGINS else None
# What the user lacked (libxcb-cursor0 first, then libxcb-icccm4), and one of Wayland's.
HIDDEN_XCB = ("libxcb-cursor.so.0", "libxcb-icccm.so.4")
HIDDEN_WAYLAND = ("libwayland-cursor.so.0",)
GLIBC = re.compile(
    r"^(linux-vdso|linux-gate|ld-linux[-\w.]*)\.so"
    r"|^lib(c|m|dl|pthread|rt|resolv|util|anl)\.so\.\d+$"
)
# Every plugin file Qt may load for xcb or wayland, and the Qt modules ClipDesk imports.
QT_FILES = (
    "Qt/plugins/platforms/libqxcb.so",
    "Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so",
    "Qt/plugins/xcbglintegrations/libqxcb-egl-integration.so",
    "Qt/plugins/platforms/libqwayland.so",
    "Qt/plugins/wayland-shell-integration/libxdg-shell.so",
    "Qt/plugins/wayland-graphics-integration-client/libqt-plugin-wayland-egl.so",
    "Qt/plugins/wayland-decoration-client/libbradient.so",
    "QtCore.abi3.so",
    "QtGui.abi3.so",
    "QtWidgets.abi3.so",
    "QtNetwork.abi3.so",
)


def _env(**changes: str) -> dict[str, str]:
    """This process's environment without its display (the suite runs offscreen), plus changes."""
    session = ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "DISPLAY", "XDG_SESSION_TYPE")
    return {**{k: v for k, v in os.environ.items() if k not in session}, **changes}


# --- ELF: just enough to read DT_NEEDED and to set DF_1_NODEFLIB (64-bit little-endian) ---


def _dynamic(
    data: bytes | bytearray,
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """The dynamic section's (tag, value, file offset) and the PT_LOAD (address, offset, size)."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "a 64-bit little-endian ELF"
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    entries: list[tuple[int, int, int]] = []
    loads: list[tuple[int, int, int]] = []
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize
        )
        if p_type == 1:  # PT_LOAD
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == 2:  # PT_DYNAMIC
            for at in range(p_offset, p_offset + p_filesz, 16):
                tag, value = struct.unpack_from("<qQ", data, at)
                if tag == 0:
                    break
                entries.append((tag, value, at))
    return entries, loads


def _needed(path: Path) -> list[str]:
    """DT_NEEDED: the libraries a file links to directly."""
    data = path.read_bytes()
    entries, loads = _dynamic(data)
    strtab = next(value for tag, value, _ in entries if tag == 5)  # DT_STRTAB, an address
    base = next(
        off + strtab - vaddr for vaddr, off, size in loads if vaddr <= strtab < vaddr + size
    )
    names = []
    for tag, value, _ in entries:
        if tag == 1:  # DT_NEEDED
            end = data.index(b"\0", base + value)
            names.append(data[base + value : end].decode())
    return names


def _forbid_default_paths(path: Path) -> None:
    """Set DF_1_NODEFLIB: the dynamic linker then looks for this file's libraries only in
    LD_LIBRARY_PATH and its RUNPATH, never in ld.so.cache or /usr/lib."""
    data = bytearray(path.read_bytes())
    entries, _ = _dynamic(data)
    at = next(offset for tag, _value, offset in entries if tag == 0x6FFFFFFB)  # DT_FLAGS_1
    (flags,) = struct.unpack_from("<Q", data, at + 8)
    struct.pack_into("<Q", data, at + 8, flags | 0x800)
    path.write_bytes(bytes(data))


def _ldd(files: list[Path]) -> dict[Path, list[tuple[str, str]]]:
    """ldd's lines per file: (soname, where it resolved or 'not found')."""
    out = subprocess.run(["ldd", *map(str, files)], capture_output=True, text=True).stdout
    per_file: dict[Path, list[tuple[str, str]]] = {}
    current = files[0]
    for line in out.splitlines():
        if not line.startswith("\t") and line.endswith(":"):
            current = Path(line[:-1])
            continue
        match = re.match(r"^\t(\S+) => (not found|\S+)", line)
        if match:
            per_file.setdefault(current, []).append((match[1], match[2]))
    return per_file


# --- a PySide6 whose platform plugins see only the system libraries a test gives them ---


@dataclass
class BrokenPySide:
    site: Path  # put first on PYTHONPATH: `import PySide6` finds this one
    plugins: Path
    libs_without: Callable[..., Path]  # a folder of every system library but the named ones


def _symlink_tree(real: Path, copy: Path, through: tuple[str, ...]) -> Path:
    """Symlink every entry of ``real`` into ``copy`` but ``through[0]``, which becomes a real
    folder treated the same way; returns the innermost copy."""
    copy.mkdir(parents=True)
    for entry in real.iterdir():
        if not through or entry.name != through[0]:
            (copy / entry.name).symlink_to(entry)
    return _symlink_tree(real / through[0], copy / through[0], through[1:]) if through else copy


@pytest.fixture(scope="module")
def broken_pyside(tmp_path_factory: pytest.TempPathFactory) -> BrokenPySide:
    """Real copies of the xcb and wayland plugins, marked to ignore the system's library folders
    (their libraries are then found only through LD_LIBRARY_PATH), in a PySide6 made of symlinks
    to the real one: Qt and ldd both load these copies, exactly as they would the originals."""
    if PYSIDE is None:
        pytest.skip("PySide6's plugins are not where a wheel puts them")
    root = tmp_path_factory.mktemp("broken-pyside")
    site = root / "site"
    platforms = _symlink_tree(PYSIDE, site / "PySide6", ("Qt", "plugins", "platforms"))
    (site / "shiboken6").symlink_to(PYSIDE.parent / "shiboken6")
    system: dict[str, str] = {}
    for name in ("libqxcb.so", "libqwayland.so"):
        original = PYSIDE / "Qt/plugins/platforms" / name
        for soname, where in _ldd([original]).get(original, []):
            if where != "not found" and not Path(where).resolve().is_relative_to(PYSIDE.parent):
                system[soname] = where
        (platforms / name).unlink()
        shutil.copy2(original, platforms / name)
        _forbid_default_paths(platforms / name)

    def libs_without(*hidden: str) -> Path:
        folder = root / ("libs-without-" + "-".join(hidden) if hidden else "libs")
        if not folder.exists():
            folder.mkdir()
            for soname, where in system.items():
                if soname not in hidden:
                    (folder / soname).symlink_to(where)
        return folder

    return BrokenPySide(site, site / "PySide6/Qt/plugins", libs_without)


# --- the real plugins ---


def test_ldd_resolves_every_library_of_the_real_xcb_plugin_here():
    verdict = pc.check([], _env(QT_QPA_PLATFORM="xcb"))
    assert verdict is not None
    assert verdict.platform == "xcb" and verdict.problems == {}


@dataclass
class QtLinks:
    per_file: dict[Path, list[tuple[str, str]]]  # ldd's lines for each of QT_FILES
    bundled: set[str]  # libraries PySide6 and shiboken6 bring: Qt, ICU, their own
    direct: set[str]  # what Qt's own files link to directly, outside glibc and the bundle


@pytest.fixture(scope="module")
def qt_links() -> QtLinks:
    assert PYSIDE is not None
    files = [PYSIDE / name for name in QT_FILES if (PYSIDE / name).is_file()]
    per_file = _ldd(files)
    site = str(PYSIDE.parent)
    bundled = {s for lines in per_file.values() for s, w in lines if w.startswith(site)}
    qt_objects = files + [Path(w) for lines in per_file.values() for s, w in lines if s in bundled]
    direct = {soname for path in qt_objects for soname in _needed(path)}
    return QtLinks(
        per_file, bundled, {s for s in direct if not GLIBC.match(s) and s not in bundled}
    )


def test_the_table_names_packages_for_every_library_qt_links_to(qt_links: QtLinks):
    """Every library outside glibc that Qt's plugins and modules link to directly, and every
    one they pull in on Debian (the table's Debian names checked against dpkg there)."""
    per_file, bundled, outside = qt_links.per_file, qt_links.bundled, qt_links.direct
    assert outside - set(pc.PACKAGES) == set(), "add these to platform_check.PACKAGES"
    assert {"libxcb-cursor.so.0", "libwayland-cursor.so.0", "libgssapi_krb5.so.2"} <= outside
    if not Path("/etc/debian_version").exists():
        return
    resolved = {
        s: w
        for lines in per_file.values()
        for s, w in lines
        if s not in bundled and not GLIBC.match(s) and w != "not found"
    }
    assert set(resolved) - set(pc.PACKAGES) == set(), "add these to platform_check.PACKAGES"
    if "ID=debian" not in Path("/etc/os-release").read_text():
        return  # Ubuntu renamed some (libglib2.0-0t64); apt picks those from the Debian names

    def forms(where: str) -> list[str]:
        # dpkg knows a file by the path its package ships, /lib or /usr/lib (merged /usr).
        paths = {where, str(Path(where).resolve())}
        return sorted({p for path in paths for p in (path, path.replace("/usr/lib/", "/lib/"))})

    queried = [path for where in resolved.values() for path in forms(where)]
    owners = subprocess.run(["dpkg", "-S", *queried], capture_output=True, text=True).stdout
    package_of: dict[str, str] = {}
    for line in owners.splitlines():  # "libxcb1:amd64: /lib/x86_64-linux-gnu/libxcb.so.1"
        package, path = line.split(": ", 1)
        package_of[path] = package
    for soname, where in resolved.items():
        found = {package_of[p].split(":")[0] for p in forms(where) if p in package_of}
        assert found == {pc.PACKAGES[soname][0]}, soname


# --- a system without some packages, for real ---


def test_a_hidden_system_library_is_named_with_its_packages(broken_pyside: BrokenPySide):
    env = _env(QT_QPA_PLATFORM="xcb", LD_LIBRARY_PATH=str(broken_pyside.libs_without(*HIDDEN_XCB)))
    verdict = pc.check([], env, plugins=broken_pyside.plugins)
    assert verdict is not None and verdict.platform is None
    assert verdict.problems == {
        "Qt's X11 platform (xcb)": pc.Libraries(missing=list(HIDDEN_XCB)),
    }
    message = pc.describe(verdict, Path("/home/me/.local/state/ClipDesk/log/clipdesk.log"))
    assert "libxcb-cursor.so.0       (Debian/Ubuntu: libxcb-cursor0; Fedora: xcb-util-cursor)" in (
        message
    )
    assert "  Debian/Ubuntu: sudo apt-get install libxcb-cursor0 libxcb-icccm4" in message
    assert "  Fedora:        sudo dnf install xcb-util-cursor xcb-util-wm" in message
    assert message.endswith("log file: /home/me/.local/state/ClipDesk/log/clipdesk.log")


def test_on_wayland_a_plugin_that_cannot_load_falls_back_to_xcb(broken_pyside: BrokenPySide):
    env = _env(
        WAYLAND_DISPLAY="wayland-0",
        DISPLAY=":0",
        LD_LIBRARY_PATH=str(broken_pyside.libs_without(*HIDDEN_WAYLAND)),
    )
    verdict = pc.check([], env, plugins=broken_pyside.plugins)
    assert verdict is not None and verdict.platform == "xcb" and verdict.problems == {}
    [note] = [n for n in verdict.notes if "Wayland" in n]
    assert "missing libwayland-cursor.so.0: using xcb instead" in note
    assert (
        "sudo apt-get install libwayland-cursor0" in note
        and "dnf install libwayland-cursor" in note
    )


def test_when_neither_platform_loads_both_are_named(broken_pyside: BrokenPySide):
    libs = broken_pyside.libs_without(*HIDDEN_XCB, *HIDDEN_WAYLAND)
    env = _env(WAYLAND_DISPLAY="wayland-0", DISPLAY=":0", LD_LIBRARY_PATH=str(libs))
    verdict = pc.check([], env, plugins=broken_pyside.plugins)
    assert verdict is not None and verdict.platform is None
    assert list(verdict.problems) == ["Qt's Wayland platform (wayland)", "Qt's X11 platform (xcb)"]
    message = pc.describe(verdict, None)
    assert "sudo apt-get install libwayland-cursor0 libxcb-cursor0 libxcb-icccm4" in message


def _start(
    code: list[str], broken: BrokenPySide, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    env = _env(
        QT_QPA_PLATFORM="xcb",
        PYTHONPATH=os.pathsep.join([str(broken.site), str(REPO)]),
        LD_LIBRARY_PATH=str(broken.libs_without(*HIDDEN_XCB)),
        CLIPDESK_HOME=str(tmp_path / "home"),
    )
    return subprocess.run(
        [sys.executable, *code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def test_qt_itself_aborts_on_that_plugin(broken_pyside: BrokenPySide, tmp_path: Path):
    """What a user got before: the copy fails to load for Qt as the original does without the
    packages (the issue's message, then SIGABRT, exit 134 in a shell)."""
    code = "from PySide6.QtWidgets import QApplication; QApplication([])"
    done = _start(["-c", code], broken_pyside, tmp_path)
    assert done.returncode == -6, done.stderr
    assert "xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb platform plugin" in (
        done.stderr
    )


def test_the_app_names_the_packages_and_exits_instead_of_aborting(
    broken_pyside: BrokenPySide, tmp_path: Path
):
    done = _start(["-m", "clipdesk"], broken_pyside, tmp_path)
    assert done.returncode == pc.EXIT_MISSING_LIBRARIES, done.stderr
    assert done.stderr.startswith("ClipDesk cannot start: Qt needs system libraries")
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in done.stderr
    log = tmp_path / "home" / "logs" / "clipdesk.log"
    assert f"This message is also in the log file: {log}" in done.stderr
    assert "sudo dnf install xcb-util-cursor xcb-util-wm" in log.read_text(encoding="utf-8")
    assert "Traceback" not in done.stderr and "Aborted" not in done.stderr


# --- when the check stays out of the way, and Qt's order ---


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        ([], {}, ["xcb"]),
        ([], {"DISPLAY": ":0"}, ["xcb"]),
        ([], {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, ["wayland", "xcb"]),
        ([], {"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}, ["wayland", "xcb"]),
        ([], {"WAYLAND_DISPLAY": "wayland-0"}, ["wayland"]),  # no XWayland: xcb cannot connect
        ([], {"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, ["xcb"]),
        ([], {"QT_QPA_PLATFORM": "wayland;xcb"}, ["wayland", "xcb"]),
        ([], {"QT_QPA_PLATFORM": "xcb:nograb"}, ["xcb"]),
        ([], {"QT_QPA_PLATFORM": "offscreen"}, None),
        ([], {"QT_QPA_PLATFORM": "minimal"}, None),
        ([], {"QT_QPA_PLATFORM": "eglfs;xcb"}, None),
        (["clipdesk", "-platform", "offscreen"], {"QT_QPA_PLATFORM": "xcb"}, None),
        (["clipdesk", "-platform", "xcb"], {"QT_QPA_PLATFORM": "offscreen"}, ["xcb"]),
    ],
)
def test_the_platforms_are_tried_in_qts_order(argv, environ, expected):
    assert pc.candidates(argv, environ) == expected


def test_another_platform_ldd_absent_or_not_linux_skip_the_check(monkeypatch):
    assert pc.check([], _env(QT_QPA_PLATFORM="offscreen")) is None
    assert pc.check([], _env(QT_QPA_PLATFORM="xcb", PATH="/nonexistent")) is None
    monkeypatch.setattr(sys, "platform", "darwin")
    assert pc.check([], _env(QT_QPA_PLATFORM="xcb")) is None


def test_the_apps_tests_run_offscreen_so_the_app_never_checks_there():
    # conftest sets offscreen; ensure_loadable returns at once (no ldd, no exit).
    assert os.environ["QT_QPA_PLATFORM"] == "offscreen"
    pc.ensure_loadable(["clipdesk"])  # no SystemExit


def test_a_library_older_than_qt_needs_is_named():
    plugin = Path("/venv/PySide6/Qt/plugins/platforms/libqxcb.so")
    output = (
        f"{plugin}:\n"
        f"{plugin}: /lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found "
        "(required by /venv/PySide6/Qt/lib/libQt6Core.so.6)\n"
        "\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x0000)\n"
    )
    libs = pc.parse_ldd(output, [plugin, Path("/venv/PySide6/QtNetwork.abi3.so")])[plugin]
    assert libs.too_old == ["libstdc++.so.6 lacks GLIBCXX_3.4.32"] and libs.missing == []


# --- the README's package list ---


def _readme_install() -> tuple[list[str], dict[str, tuple[list[str], list[str]]]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^Install and start the app.*?```bash\n(.*?)\n```", text, re.S | re.M)
    assert block, "README: the install block"
    apt = re.match(r"sudo apt-get install -y ((?:[\w.+-]+ ?)+?) && ", block[1])
    assert apt, "README: the command starts with sudo apt-get install -y"
    rows = {}
    for row in re.finditer(r"^\| ([^|]+) \| `([^`]+)` \| ([^|]+) \|$", text, re.M):
        fedora = row[3].strip()
        rows[row[1]] = (row[2].split(), fedora.strip("`").split() if fedora[0] == "`" else [])
    return apt[1].split(), rows


# In debootstrap --variant=minbase bookworm already: the C++ runtime and the compressors.
MINIMAL_DEBIAN = {"libstdc++6", "libgcc-s1", "zlib1g", "libzstd1"}


def test_the_readme_installs_every_package_qt_links_to_that_a_minimal_debian_lacks(
    qt_links: QtLinks,
):
    command, _rows = _readme_install()
    needed = {pc.PACKAGES[soname][0] for soname in qt_links.direct} - MINIMAL_DEBIAN
    assert set(command) == needed | {"python3-venv"}


def test_the_readme_command_installs_the_packages_its_table_lists():
    command, rows = _readme_install()
    listed = [name for debian, _ in rows.values() for name in debian]
    assert sorted(command) == sorted(listed)
    assert len(set(command)) == len(command)


def test_the_readme_table_gives_the_fedora_names_of_the_same_libraries():
    fedora_of = {debian: fedora for debian, fedora in pc.PACKAGES.values()}
    command, rows = _readme_install()
    for title, (debian, fedora) in rows.items():
        if debian == ["python3-venv"]:
            continue  # Fedora's python3 has venv
        assert set(debian) <= set(fedora_of), f"README {title}: not in platform_check.PACKAGES"
        assert fedora == list(dict.fromkeys(fedora_of[d] for d in debian)), title
