"""The picker's table and the cost of a switch, as both faces get them from the services."""

from __future__ import annotations

import json

import pytest

from clipdesk.common import paths
from clipdesk.model import manager, speed
from clipdesk.model.catalog import CATALOG
from clipdesk.model.testing import tiny_random_model
from clipdesk.model.versions import model_id_of
from clipdesk.services.model_catalog import build_table, duration_text, reembed_estimate
from clipdesk.services.models import ModelService
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


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A downloaded catalog model (its origin names the repository) and an imported one."""
    monkeypatch.setattr(manager, "bundled_models_dir", lambda: tmp_path / "no-bundled")
    folder = tiny_random_model(paths.models_dir(), name="my-b32")
    meta = json.loads((folder / manager.META_FILE).read_text())
    meta["origin"] = f"https://huggingface.co/{B32.repo_id}"
    (folder / manager.META_FILE).write_text(json.dumps(meta))
    tiny_random_model(paths.models_dir(), seed=1, name="imported")
    return manager.list_models()


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
    assert by_name["xlm-roberta-base-clip-vit-b-32"].languages_text == "36 languages"
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
