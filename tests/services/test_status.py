"""StatusService: one report of counts, models, pending work and errors for every face."""

from __future__ import annotations

import numpy as np

from clipdesk.library.store import SEARCH_MODEL_KEY, Library
from clipdesk.model.testing import tiny_random_model
from clipdesk.services.app import ClipDeskServices
from tests.support.cli_process import cli_json
from tests.support.pipeline_helpers import solid_photos


def test_report_counts_photos_names_both_models_and_lists_errors(tmp_path) -> None:
    solid_photos(tmp_path / "pics", 3)
    (tmp_path / "pics" / "bad.png").write_text("not a PNG")  # recorded in error by the scan
    with ClipDeskServices(tmp_path / "lib.sqlite3") as app:
        app.folders.add(tmp_path / "pics")
        lib = app.library
        ok = [p.id for p in lib.pending_photos("old@1")][:2]
        lib.store_embeddings("old@1", ok, np.ones((2, 4)))
        lib.set_setting(SEARCH_MODEL_KEY, {"id": "old@1", "source": "old"})
        report = app.status_report.report(max_errors=5)
        assert app.status_report.photo_count() == report.photo_count == 4
    assert report.photos["ok"] == 2 and report.photos["pending"] == 1
    assert report.active_model is None and report.model_in_use == "clipdesk-mini"
    assert report.search_model == "old@1" and not report.search_model_is_active
    assert report.pending == {"old@1": 1} and report.vectors == {"old@1": 2}
    assert [e.path.endswith("bad.png") for e in report.errors] == [True]
    data = report.as_json()
    assert data["model"] is None and data["search_model"] == "old@1"
    assert data["photos"]["total"] == 4 and data["folders"]["total"] == 1


def test_cli_status_and_the_services_name_the_model_models_activate_chose(tmp_path) -> None:
    library = tmp_path / "lib.sqlite3"
    Library(library).close()  # made here: `status` reads a library, it never creates one
    tiny = tiny_random_model(tmp_path / "src", name="tiny-status")
    cli_json("models", "import", str(tiny), "--activate")
    listed = cli_json("models", "list")["active"]
    status = cli_json("--library", str(library), "status")
    with ClipDeskServices(library) as app:
        report = app.status_report.report()
    assert listed == status["model"] == report.active_model == "tiny-status"

    cli_json("models", "activate", "default")
    status = cli_json("--library", str(library), "status")
    with ClipDeskServices(library) as app:
        report = app.status_report.report()
    assert status["model"] is None and report.active_model is None
    assert status["default_model"] == report.model_in_use == "clipdesk-mini"
