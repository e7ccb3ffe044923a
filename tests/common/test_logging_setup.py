"""The rotating log file: where it is, what goes in, per-area levels, and failing gracefully."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import pytest

from clipdesk.common import logging_setup, paths


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
    logging.getLogger("clipdesk.core").info("once only")
    assert _read_log().count("once only") == 1


def test_uninstall_restores_propagation_for_host_handlers(caplog):
    logging_setup.install_logging()
    assert logging.getLogger("clipdesk").propagate is False
    logging_setup.uninstall_logging()
    with caplog.at_level(logging.INFO, logger="clipdesk"):
        logging.getLogger("clipdesk.core").info("seen by the host")
    assert "seen by the host" in caplog.text


def test_per_area_levels_from_environment(monkeypatch):
    monkeypatch.setenv("CLIPDESK_LOG", "clipdesk.library.store=DEBUG,clipdesk.ui=ERROR")
    logging_setup.install_logging(logging.INFO)
    logging.getLogger("clipdesk.library.store").debug("store detail")
    logging.getLogger("clipdesk.core.scan").debug("scan detail")
    logging.getLogger("clipdesk.ui.grid").warning("ui warning")
    logging.getLogger("clipdesk.ui.grid").error("ui error")
    text = _read_log()
    assert "store detail" in text
    assert "scan detail" not in text
    assert "ui warning" not in text
    assert "ui error" in text
    logging_setup.uninstall_logging()
    assert logging.getLogger("clipdesk.library.store").level == logging.NOTSET


def test_bad_level_in_environment_is_reported_not_fatal(monkeypatch):
    monkeypatch.setenv("CLIPDESK_LOG", "clipdesk.core=LOUD")
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
    logging.getLogger("clipdesk.core").error("still visible")
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
        logging.getLogger("clipdesk.core").info("line %d", i)
    _read_log()
    tail = logging_setup.recent_lines(5)
    assert len(tail) == 5
    assert tail[-1].endswith("line 29")
    logging_setup.uninstall_logging()
    (paths.log_dir() / "clipdesk.log").unlink()
    assert logging_setup.recent_lines() == []
