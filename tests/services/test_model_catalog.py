"""The picker's table and the cost of a switch, as both faces get them from the services."""

from __future__ import annotations

import json

import pytest

from clipdesk.common import paths
from clipdesk.common.errors import CancelledError
from clipdesk.common.progress import CancelToken
from clipdesk.model import checkpoint, manager, speed
from clipdesk.model.catalog import CATALOG
from clipdesk.model.testing import tiny_random_model
from clipdesk.model.versions import model_id_of
from clipdesk.services.model_catalog import build_table, size_text
from clipdesk.services.models import ModelService
from clipdesk.services.switch_cost import (
    ReembedEstimate,
    duration_text,
    identify,
    model_ids,
    switch_cost,
)
from tests.support.catalog_speeds import use_catalog_speeds

B32 = CATALOG["clip-vit-base-patch32"]


@pytest.fixture
def catalog_speeds(tmp_path, monkeypatch) -> speed.CatalogSpeeds:
    """Speeds of two architectures on a made-up catalog machine (the real file is measured by
    bench/engine.py and changes with every run)."""
    archs = {
        speed.REFERENCE: speed.ArchSpeed(20.0, 10.0, 2, 151_277_313),
        "ViT-L-14": speed.ArchSpeed(2.0, 30.0, 2, 427_616_513),
    }
    return use_catalog_speeds(monkeypatch, tmp_path / "catalog_speeds.json", archs)


def record_origin(folder, **fields) -> None:
    """Write ``fields`` into the model folder's clipdesk.json (as a download or import does)."""
    meta = json.loads((folder / manager.META_FILE).read_text())
    (folder / manager.META_FILE).write_text(json.dumps({**meta, **fields}))


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A downloaded catalog model (its clipdesk.json says so, as the download writes it) and
    an imported one."""
    monkeypatch.setattr(manager, "bundled_models_dir", lambda: tmp_path / "no-bundled")
    folder = tiny_random_model(paths.models_dir(), name="my-b32")
    record_origin(folder, source="download", origin=f"https://huggingface.co/{B32.repo_id}")
    tiny_random_model(paths.models_dir(), seed=1, name="imported")
    return manager.list_models()


@pytest.fixture
def hashes(monkeypatch):
    """The weight files hashed from now on (the loader's cache starts empty)."""
    (paths.cache_dir() / checkpoint.HASH_CACHE_FILE).unlink(missing_ok=True)
    read: list[str] = []
    real = checkpoint.weights_hash

    def counted(files, **kwargs):
        read.append(files[0].parent.name)
        return real(files, **kwargs)

    monkeypatch.setattr(checkpoint, "weights_hash", counted)
    return read


def reembed_estimate(library, name, folder, installed, rate) -> ReembedEstimate:
    """Both steps at once, as ModelService.reembed_estimate runs them."""
    return identify(switch_cost(library, name, folder, installed, rate)).estimate()


def test_installed_models_come_first_with_their_catalog_facts(installed, catalog_speeds):
    table = build_table(installed, list(CATALOG.values()), catalog_speeds, None)
    names = [r.name for r in table.rows]
    assert names[:2] == ["imported", "my-b32"]
    assert B32.name not in names  # installed as my-b32: listed once
    assert len(table.rows) == 2 + len(CATALOG) - 1
    mine = table.rows[1]
    assert mine.installed and mine.catalog == B32.name and mine.title == "OpenAI ViT-B/32"
    assert mine.imagenet is not None and mine.imagenet.value == 63.32
    assert mine.recall is not None and "Immich" in mine.recall.source.title
    assert mine.images_per_s == 20.0 and not mine.speed_scaled  # the catalog machine's figure
    assert mine.languages_text == "English"
    imported = table.rows[0]
    assert imported.images_per_s is None and imported.imagenet is None and imported.catalog is None
    by_name = {r.name: r for r in table.rows}
    assert by_name["laion-clip-vit-l-14"].images_per_s == 2.0
    assert by_name["laion-clip-vit-h-14"].images_per_s is None  # not measured: nothing shown
    assert not by_name["laion-clip-vit-h-14"].installed
    assert by_name["laion-clip-vit-h-14"].size_bytes == CATALOG["laion-clip-vit-h-14"].approx_bytes
    assert by_name["xlm-roberta-base-clip-vit-b-32"].languages_text == "Multilingual"
    assert "not measured yet" in table.basis.describe(False)
    json.dumps(table.to_json())


def test_after_the_probe_speeds_are_this_computers(installed, catalog_speeds):
    probe = speed.Probe("x", speed.REFERENCE, images_per_s=5.0, text_ms=40.0, measured="now")
    table = build_table(installed, list(CATALOG.values()), catalog_speeds, probe)
    by_name = {r.name: r for r in table.rows}
    assert by_name["my-b32"].images_per_s == pytest.approx(5.0)
    assert by_name["laion-clip-vit-l-14"].images_per_s == pytest.approx(0.5)  # x 1/4
    assert by_name["laion-clip-vit-l-14"].text_ms == pytest.approx(120.0)
    assert by_name["laion-clip-vit-l-14"].speed_scaled
    assert "scaled to this computer" in table.basis.describe(True)


def test_the_service_reads_the_cached_probe_for_its_device(installed, catalog_speeds):
    models = ModelService()
    assert not models.speed_probed()
    speed.run_probe(models.probe_device(), timer=lambda *a, **k: speed.ArchSpeed(10.0, 20.0, 2, 1))
    assert models.speed_probed()
    row = next(r for r in models.catalog_table().rows if r.name == "my-b32")
    assert row.speed_scaled and row.images_per_s == pytest.approx(10.0)


class FakeLibrary:
    def __init__(self, counts: dict[str, int], vectors: dict[str, int]) -> None:
        self._counts, self._vectors = counts, vectors

    def counts(self) -> dict[str, int]:
        return self._counts

    def embedding_models(self) -> dict[str, int]:
        return self._vectors


def test_a_switch_costs_the_photos_without_vectors_at_this_speed(installed):
    folder = next(m.path for m in installed if m.name == "my-b32")
    current = next(m for m in installed if m.name == "imported")
    library = FakeLibrary(
        {"ok": 1000, "pending": 200, "error": 5, "missing": 7},
        {model_id_of(current.path): 1000, model_id_of(folder): 100},
    )
    rate = speed.SpeedEstimate(images_per_s=10.0, text_ms=20.0, scaled=True)
    est = reembed_estimate(library, "my-b32", folder, installed, rate)
    assert (est.photos, est.shared) == (1100, False)  # ok + pending, less those it has
    assert est.seconds == pytest.approx(110.0)
    text = est.describe()
    assert "embeds 1,100 photos again" in text and "about 2 minutes" in text
    assert "Search keeps using the current model" in text
    unknown = reembed_estimate(library, "my-b32", folder, installed, None)
    assert unknown.seconds is None and "not known" in unknown.describe()


def test_a_model_with_the_same_image_tower_costs_nothing(installed):
    folder = next(m.path for m in installed if m.name == "my-b32")
    other = next(m for m in installed if m.name == "imported")
    meta = json.loads((folder / manager.META_FILE).read_text())
    meta["image_vectors_from"] = model_id_of(other.path)  # a text-only fine-tune of it
    (folder / manager.META_FILE).write_text(json.dumps(meta))
    library = FakeLibrary({"ok": 50}, {model_id_of(other.path): 50})
    est = reembed_estimate(library, "my-b32", folder, manager.list_models(), None)
    assert est.shared and est.photos == 0 and "nothing to re-embed" in est.describe()


def test_durations_read_naturally():
    assert duration_text(30) == "a minute or less"
    assert duration_text(61) == "2 minutes"
    assert duration_text(3 * 3600) == "3.0 hours"
    assert duration_text(5 * 86400) == "5.0 days"


def test_an_import_reusing_a_catalog_name_is_not_that_catalog_model(installed, tmp_path):
    """Only the origin a download recorded ties a model to a catalog entry: an import named
    like a catalog model, even from a folder named like its repository, gets none of its
    figures or speeds, and the catalog model is still offered for download."""
    src = tiny_random_model(tmp_path / "hub" / "openai", seed=2, name="clip-vit-base-patch32")
    imported = manager.import_model(src)
    assert imported.origin.endswith("/openai/clip-vit-base-patch32")
    table = build_table([imported], list(CATALOG.values()), None, None)
    mine = table.rows[0]
    assert mine.name == B32.name and mine.installed
    assert mine.catalog is None and mine.imagenet is None and mine.recall is None
    assert mine.title == B32.name and mine.languages_text == ""
    offered = [r for r in table.rows if not r.installed and r.catalog == B32.name]
    assert len(offered) == 1
    full = build_table(manager.list_models(), list(CATALOG.values()), None, None)
    downloaded = next(r for r in full.rows if r.name == "my-b32")
    assert downloaded.catalog == B32.name  # "source": "download" and the repository's origin


def test_languages_say_what_the_model_claims_and_the_tip_gives_the_figures(installed):
    by_name = {r.name: r for r in build_table([], list(CATALOG.values()), None, None).rows}
    siglip2 = by_name["siglip2-base-patch16-224"]
    assert siglip2.languages_text == "Multilingual"  # not the four its figures were measured in
    tip = siglip2.languages_tip()
    assert tip.startswith("Trained for queries in many languages")
    assert "English 75.2%" in tip and "German 86.4%" in tip and "Chinese 64.4%" in tip
    assert "Immich" in tip
    xlmr = by_name["xlm-roberta-base-clip-vit-b-32"].languages_tip()
    assert "Japanese 78.3%" in xlmr and "Spanish 83.2%" in xlmr  # OpenCLIP's multilingual table
    assert by_name["siglip-base-patch16-224"].languages_text == "English"
    assert by_name["clip-vit-base-patch32"].languages_tip() == "Trained for English queries"
    data = by_name["siglip2-base-patch16-224"].to_json()
    assert data["multilingual"] is True
    assert {f["language"] for f in data["language_figures"]} == {"en", "de", "fr", "zh"}


def test_sizes_read_the_same_in_both_faces():
    assert size_text(605_120_000, approx=True) == "~605 MB"
    assert size_text(1_712_000_000) == "1.7 GB"
    assert size_text(45_210_000) == "45.2 MB"
    assert size_text(999) == "999 bytes" and size_text(0) == ""


def test_a_switch_estimate_reads_no_weights_the_answer_does_not_need(installed, hashes):
    """The library has vectors of the current model only: nothing under the target's name,
    so none of its photos have a vector of it, whatever its hash; no weights are read."""
    folder = next(m.path for m in installed if m.name == "my-b32")
    library = FakeLibrary({"ok": 30, "pending": 2}, {"imported@0123456789ab": 32})
    est = reembed_estimate(library, "my-b32", folder, installed, None)
    assert hashes == []
    assert (est.photos, est.shared, est.indexed) == (32, False, 32)


def test_ids_the_loader_hashed_before_are_read_from_its_cache(installed, hashes):
    folder = next(m.path for m in installed if m.name == "my-b32")
    known = model_id_of(folder)  # as loading the model does: hashed once, cached
    assert hashes == ["my-b32"]
    assert model_ids(folder).id == known
    library = FakeLibrary({"ok": 30}, {known: 30, "my-b32@ffffffffffff": 30})
    est = reembed_estimate(library, "my-b32", folder, installed, None)
    assert est.photos == 0 and "every photo has its vector already" in est.describe()
    assert hashes == ["my-b32"]  # nothing read again


def test_weights_the_answer_needs_are_hashed_in_a_separate_cancellable_step(installed, hashes):
    """The library has vectors under the target's name (an earlier version?): only its hash
    tells. The cheap step says which model needs it; the hashing step can be cancelled and
    reports progress."""
    folder = next(m.path for m in installed if m.name == "my-b32")
    library = FakeLibrary({"ok": 10}, {"my-b32@ffffffffffff": 10, "imported@0123456789ab": 10})
    cost = switch_cost(library, "my-b32", folder, installed, None)
    assert [m.name for m in cost.unknown()] == ["my-b32"] and hashes == []
    with pytest.raises(RuntimeError):
        cost.estimate()  # not before its ids are known
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(CancelledError):
        identify(cost, cancel)
    assert hashes == []
    reports = []
    known = identify(cost, CancelToken(), reports.append)
    assert hashes == ["my-b32"] and reports and reports[0].total
    assert "my-b32" in reports[0].message and "weights" in reports[0].message
    est = known.estimate()
    assert est.photos == 10 and not est.shared  # the stored vectors were another version's


def test_closing_the_dialog_stops_a_read_midway_and_caches_nothing(installed, hashes):
    """The cancel token reaches the hashing itself: a model's weights are not read to the end
    once it is cancelled, and no hash of a partial read is kept."""
    folder = next(m.path for m in installed if m.name == "my-b32")
    library = FakeLibrary({"ok": 10}, {"my-b32@ffffffffffff": 10})
    cost = switch_cost(library, "my-b32", folder, installed, None)
    cancel, reports = CancelToken(), []

    def close_dialog(p) -> None:
        reports.append(p)
        cancel.cancel()  # as the dialog closing while its first model is read

    with pytest.raises(CancelledError):
        identify(cost, cancel, close_dialog)
    assert hashes == ["my-b32"] and len(reports) == 2  # started reading; the chunk never came
    assert reports[-1].done == 0 and reports[-1].total
    assert model_ids(folder).id is None


def test_a_text_fine_tune_of_the_current_model_shares_its_vectors_unhashed(installed, hashes):
    folder = next(m.path for m in installed if m.name == "my-b32")
    base = next(m for m in installed if m.name == "imported")
    base_id = model_id_of(base.path)
    hashes.clear()
    record_origin(folder, image_vectors_from=base_id)  # a text-only fine-tune of "imported"
    library = FakeLibrary({"ok": 50}, {base_id: 50})
    est = reembed_estimate(library, "my-b32", folder, manager.list_models(), None)
    assert est.shared and hashes == []
