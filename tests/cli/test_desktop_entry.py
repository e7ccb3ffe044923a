"""install-/uninstall-desktop-entry put ClipDesk in the menu and take it out again."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clipdesk.cli import desktop_entry as de
from clipdesk.cli import main

REPO = Path(__file__).resolve().parents[2]
needs_validator = pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None,
    reason="desktop-file-validate not installed (apt-get install desktop-file-utils)",
)


def _entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


@pytest.fixture
def fake_app(tmp_path: Path) -> Path:
    app = tmp_path / "my venv" / "bin" / "clipdesk"
    app.parent.mkdir(parents=True)
    app.write_text("#!/bin/sh\n")
    app.chmod(0o755)
    return app


def test_install_writes_entry_and_icons_under_xdg_data_home(capsys, fake_app):
    data_home = Path(os.environ["XDG_DATA_HOME"])
    assert main(["install-desktop-entry", "--exec", str(fake_app)]) == 0
    entry_path = data_home / "applications" / "io.clipdesk.ClipDesk.desktop"
    entry = _entry(entry_path)
    assert entry["Type"] == "Application" and entry["Name"] == "ClipDesk"
    assert entry["Icon"] == "io.clipdesk.ClipDesk"
    assert entry["TryExec"] == str(fake_app)
    assert entry["Terminal"] == "false"
    assert "image/*" in entry["MimeType"].split(";")
    assert "image/jpeg" in entry["MimeType"].split(";")
    # Unquoted as a shell would: the program, then the file field code.
    assert shlex.split(entry["Exec"]) == [str(fake_app), "%F"]
    for size in de.ICON_SIZES:
        icon = data_home / f"icons/hicolor/{size}x{size}/apps/io.clipdesk.ClipDesk.png"
        assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (data_home / "icons/hicolor/scalable/apps/io.clipdesk.ClipDesk.svg").is_file()
    assert "Installed" in capsys.readouterr().out


@needs_validator
def test_installed_entry_passes_desktop_file_validate(fake_app):
    result = de.install([str(fake_app)])
    check = subprocess.run(
        ["desktop-file-validate", result["desktop_file"]], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_uninstall_removes_everything_it_installed(capsys, fake_app):
    installed = de.install([str(fake_app)])
    assert main(["--json", "uninstall-desktop-entry"]) == 0
    out = capsys.readouterr().out
    assert installed["desktop_file"] in out
    assert not Path(installed["desktop_file"]).exists()
    assert not any(Path(p).exists() for p in installed["icons"])
    assert main(["uninstall-desktop-entry"]) == 0
    assert "No ClipDesk desktop entry installed" in capsys.readouterr().out


def test_exec_prefers_this_installations_gui_script(monkeypatch, fake_app):
    monkeypatch.setattr(sys, "executable", str(fake_app.parent / "python3"))
    assert de.gui_command() == [str(fake_app)]
    entry = de.render_desktop_entry(de.gui_command())
    assert f'Exec="{fake_app}" %F' in entry  # the space in "my venv" forces quoting


def test_exec_falls_back_to_python_module(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert de.gui_command() == [str(tmp_path / "python3"), "-m", "clipdesk"]


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("/usr/bin/clipdesk", "/usr/bin/clipdesk"),
        ("/opt/my apps/clipdesk", '"/opt/my apps/clipdesk"'),
        ('/o/"q"$x`y', '"/o/\\\\"q\\\\"\\\\$x\\\\`y"'),
        ("/p/100%", "/p/100%%"),
    ],
)
def test_exec_quoting_follows_the_spec(arg, expected):
    assert de.quote_exec_arg(arg) == expected


def test_dry_run_writes_nothing(capsys, fake_app):
    assert main(["install-desktop-entry", "--dry-run", "--exec", str(fake_app)]) == 0
    assert "[Desktop Entry]" in capsys.readouterr().out
    assert not de.desktop_file_path().exists()


def test_unwritable_data_home_is_a_clear_error(capsys, monkeypatch, tmp_path, fake_app):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker / "share"))
    assert main(["install-desktop-entry", "--exec", str(fake_app)]) == 1
    err = capsys.readouterr().err
    assert "Cannot write the desktop entry" in err and "XDG_DATA_HOME" in err


@needs_validator
def test_an_invalid_entry_is_refused_and_not_left_behind(monkeypatch, fake_app):
    monkeypatch.setattr(de, "render_desktop_entry", lambda cmd: "[Desktop Entry]\nName=x\n")
    with pytest.raises(de.DesktopEntryError, match="invalid"):
        de.install([str(fake_app)])
    folder = de.desktop_file_path().parent
    assert not folder.exists() or list(folder.iterdir()) == []


def test_packaging_template_matches_the_installed_entry():
    template = REPO / "packaging" / "linux" / "io.clipdesk.ClipDesk.desktop"
    assert template.read_text(encoding="utf-8") == de.render_desktop_entry(["clipdesk"])


def test_relative_xdg_data_home_is_ignored(monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")
    assert de.data_home() == Path.home() / ".local/share"
