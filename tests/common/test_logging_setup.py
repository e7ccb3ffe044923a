"""The rotating log file: where it is, what goes in, per-area levels, and failing gracefully."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import pytest

from clipdesk.common import logging_setup, paths
from clipdesk.library import store as store_module
from clipdesk.library.store import Library
from clipdesk.scanning import metadata
from tests.support.cli_process import run_cli


@pytest.fixture(autouse=True)
def _clean_logging():
    yield
    logging_setup.uninstall_logging()


def _read_log() -> str:
    for handler in logging.getLogger("clipdesk").handlers:
        handler.flush()
    return logging_setup.log_file_path().read_text(encoding="utf-8")


def test_records_from_every_area_land_in_the_log_dir_file():
    path = logging_setup.install_logging()
    assert path == paths.log_dir() / "clipdesk.log"
    logging.getLogger("clipdesk.library.store").info("opened library")
    logging.getLogger("clipdesk.model.manager").warning("model missing")
    logging.getLogger("clipdesk.ui.main_window").debug("not at INFO")
    text = _read_log()
    assert "INFO     MainThread clipdesk.library.store: opened library" in text
    assert "clipdesk.model.manager: model missing" in text
    assert "not at INFO" not in text
    assert "log started" in text


def test_installing_twice_does_not_duplicate_records():
    logging_setup.install_logging()
    logging_setup.install_logging()
    logging.getLogger("clipdesk.library.store").info("once only")
    assert _read_log().count("once only") == 1


def test_uninstall_restores_propagation_for_host_handlers(caplog):
    logging_setup.install_logging()
    assert logging.getLogger("clipdesk").propagate is False
    logging_setup.uninstall_logging()
    with caplog.at_level(logging.INFO, logger="clipdesk"):
        logging.getLogger("clipdesk.library.store").info("seen by the host")
    assert "seen by the host" in caplog.text


def _drive_store_and_metadata(tmp_path: Path) -> None:
    """Real code of two areas that log at DEBUG: the library store opening its connection, and
    the metadata reader giving up on a file that is not an image."""
    with Library(tmp_path / "library.db") as library:
        library.connection()
    not_a_photo = tmp_path / "notes.jpg"
    not_a_photo.write_text("not an image", encoding="utf-8")
    assert metadata.read_metadata(not_a_photo) == metadata.PhotoMeta()


def test_per_area_levels_from_environment_reach_the_real_modules(monkeypatch, tmp_path):
    # The names a user types are the modules' own (getLogger(__name__)): no alias table.
    assert store_module.log.name == "clipdesk.library.store"
    assert metadata.log.name == "clipdesk.scanning.metadata"
    monkeypatch.setenv("CLIPDESK_LOG", "clipdesk.library.store=DEBUG")
    logging_setup.install_logging(logging.INFO)
    _drive_store_and_metadata(tmp_path)
    text = _read_log()
    assert "DEBUG    MainThread clipdesk.library.store: library " in text
    assert "connection opened" in text
    assert "no metadata from" not in text  # clipdesk.scanning stays at INFO
    logging_setup.uninstall_logging()
    assert logging.getLogger("clipdesk.library.store").level == logging.NOTSET


def test_a_package_name_tunes_all_of_its_modules(monkeypatch, tmp_path):
    monkeypatch.setenv("CLIPDESK_LOG", "clipdesk.scanning=DEBUG")
    logging_setup.install_logging(logging.INFO)
    _drive_store_and_metadata(tmp_path)
    text = _read_log()
    assert "DEBUG    MainThread clipdesk.scanning.metadata: no metadata from" in text
    assert "connection opened" not in text  # clipdesk.library stays at INFO


def test_bad_level_in_environment_is_reported_not_fatal(monkeypatch):
    monkeypatch.setenv("CLIPDESK_LOG", "clipdesk.library=LOUD")
    logging_setup.install_logging()
    assert "ignoring CLIPDESK_LOG" in _read_log()


def test_parse_levels():
    assert logging_setup.parse_levels("debug") == {"clipdesk": logging.DEBUG}
    assert logging_setup.parse_levels(" clipdesk.model = warning ,") == {
        "clipdesk.model": logging.WARNING
    }
    with pytest.raises(ValueError, match="unknown log level"):
        logging_setup.parse_levels("clipdesk=verbose")


def test_log_rotates_instead_of_growing(monkeypatch):
    monkeypatch.setattr(logging_setup, "MAX_BYTES", 2000)
    monkeypatch.setattr(logging_setup, "BACKUP_COUNT", 2)
    path = logging_setup.install_logging()
    logger = logging.getLogger("clipdesk.search.vector_index")
    for i in range(200):
        logger.info("indexed photo %04d %s", i, "x" * 40)
    files = sorted(p.name for p in path.parent.glob("clipdesk.log*"))
    assert files == ["clipdesk.log", "clipdesk.log.1", "clipdesk.log.2"]
    assert all(p.stat().st_size <= 2200 for p in path.parent.glob("clipdesk.log*"))
    assert "indexed photo 0199" in path.read_text(encoding="utf-8")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_log_dir_falls_back_to_stderr(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = logging_setup.install_logging(log_file=locked / "sub" / "clipdesk.log")
    finally:
        locked.chmod(0o700)
    assert result is None
    logging.getLogger("clipdesk.library.store").error("still visible")
    err = capsys.readouterr().err
    assert "cannot write the log file" in err
    assert "still visible" in err


def test_log_file_that_is_a_directory_falls_back_to_stderr(tmp_path, capsys):
    target = tmp_path / "clipdesk.log"
    target.mkdir()
    assert logging_setup.install_logging(log_file=target) is None
    assert "cannot write the log file" in capsys.readouterr().err


def test_python_warnings_are_logged():
    logging_setup.install_logging()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("deprecated thing", UserWarning, stacklevel=1)
    assert "deprecated thing" in _read_log()


def test_recent_lines_returns_the_tail(tmp_path: Path):
    logging_setup.install_logging()
    for i in range(30):
        logging.getLogger("clipdesk.search.searcher").info("line %d", i)
    _read_log()
    tail = logging_setup.recent_lines(5)
    assert len(tail) == 5
    assert tail[-1].endswith("line 29")
    logging_setup.uninstall_logging()
    (paths.log_dir() / "clipdesk.log").unlink()
    assert logging_setup.recent_lines() == []


def test_the_cli_writes_the_apps_rotating_log_file_and_keeps_stderr_terse(tmp_path):
    # a scan writes to the library, so it creates one (a command that only reads would not)
    quiet = run_cli(
        "folders", "scan", env={"CLIPDESK_HOME": str(tmp_path)}, unset=("CLIPDESK_LOG",)
    )
    assert quiet.returncode == 0, quiet.stderr
    # Warnings only by default (the new library's INFO line is not one), and the one line every
    # command that creates a library prints.
    assert quiet.stderr == f"created a new library at {tmp_path / 'data' / 'library.sqlite3'}\n"
    log = tmp_path / "logs" / logging_setup.LOG_FILE_NAME
    text = log.read_text(encoding="utf-8")
    assert "clipdesk: log started" in text
    assert "INFO     MainThread clipdesk.library.store: library " in text  # the schema set-up

    verbose = run_cli(
        "-v",
        "folders",
        "scan",
        env={"CLIPDESK_HOME": str(tmp_path / "fresh")},
        unset=("CLIPDESK_LOG",),
    )
    assert verbose.returncode == 0, verbose.stderr
    assert "INFO clipdesk.library.store: library " in verbose.stderr  # -v: INFO on stderr too
    assert "log started" not in verbose.stderr  # that line marks runs in the file only
    fresh_log = tmp_path / "fresh" / "logs" / logging_setup.LOG_FILE_NAME
    assert "clipdesk.library.store: library " in fresh_log.read_text(encoding="utf-8")
