"""The shared settings file: on first start it takes over what older versions kept in the app's
QSettings INI and in model.json (files made by that code), once, and both faces then read it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from clipdesk.common import config, paths
from clipdesk.model import manager
from clipdesk.model.testing import tiny_random_model

LEGACY = Path(__file__).resolve().parents[1] / "support" / "data" / "legacy_settings"


def _install_legacy(*names: str) -> None:
    for name in names:
        shutil.copy(LEGACY / name, paths.config_dir() / name)


def test_the_apps_ini_and_model_json_are_migrated_on_first_start():
    _install_legacy("clipdesk-ui.ini", "model.json")
    assert not config.config_path().exists()
    loaded = config.load()
    assert loaded == config.Config(
        library="/home/ana maría/Fotos, 2024/library.sqlite3",
        model="my-clip",  # the app's choice; model.json is read when the INI names none
        device="cpu",
        xmp_naming="fullname",  # "ext" was photo.jpg.xmp
        xmp_write_suggestions=True,  # the user had unticked "only tags I confirmed"
    )
    stored = json.loads(config.config_path().read_text(encoding="utf-8"))
    assert stored["model"] == "my-clip" and stored["schema_version"] == config.SCHEMA_VERSION
    # the old files stay for an older version still installed; a later start reads the new file
    assert (paths.config_dir() / "clipdesk-ui.ini").is_file()
    (paths.config_dir() / "model.json").write_text('{"schema_version": 1, "active": "other"}')
    assert config.load() == loaded


def test_the_window_keeps_its_own_settings_from_the_same_ini():
    from clipdesk.ui.settings import AppSettings

    _install_legacy("clipdesk-ui.ini")
    config.load()
    window = AppSettings()  # the app's default file: the migrated INI
    assert window.welcome_done and window.min_score == 0.25


def test_model_json_alone_is_the_cli_users_choice(tmp_path, monkeypatch):
    monkeypatch.setattr(manager, "bundled_models_dir", lambda: tmp_path / "no-bundled")
    tiny_random_model(paths.models_dir(), name="cli-choice")
    _install_legacy("model.json")
    assert config.load().model == "cli-choice"
    assert manager.get_active_model() == "cli-choice"
    assert [m.name for m in manager.list_models() if m.active] == ["cli-choice"]


@pytest.mark.parametrize(
    ("naming", "confirmed_only", "expected"),
    [
        ("stem", "true", ("basename", False)),
        ("ext", "true", ("fullname", False)),
        (None, None, ("fullname", False)),  # never chosen: the new default
    ],
)
def test_xmp_choices_map_to_the_new_names(naming, confirmed_only, expected):
    qs = QSettings(str(paths.config_dir() / "clipdesk-ui.ini"), QSettings.Format.IniFormat)
    if naming is not None:
        qs.setValue("tags/xmp_naming", naming)
    if confirmed_only is not None:
        qs.setValue("tags/xmp_confirmed_only", confirmed_only == "true")
    qs.setValue("schema_version", 1)
    qs.sync()
    loaded = config.load()
    assert (loaded.xmp_naming, loaded.xmp_write_suggestions) == expected


def test_paths_qsettings_quotes_and_escapes_come_back_exactly():
    library = 'C:\\Users\\Ana\\Fotos; "best", 2024\\lib.sqlite3'
    model = "/opt/models/my clip, v2"
    # as AppSettings wrote them: QSettings.setValue(str), then sync
    qs = QSettings(str(paths.config_dir() / "clipdesk-ui.ini"), QSettings.Format.IniFormat)
    qs.setValue("library/path", library)
    qs.setValue("model/name", model)
    qs.setValue("model/device", "cuda:1")
    qs.sync()
    loaded = config.load()
    assert (loaded.library, loaded.model, loaded.device) == (library, model, "cuda:1")


def test_an_unreadable_or_foreign_file_never_breaks_start_up():
    config.config_path().write_text("{oops", encoding="utf-8")
    assert config.load() == config.Config()
    config.config_path().write_text(json.dumps({"device": "tpu", "model": 3, "x": 1}))
    assert config.load() == config.Config()
