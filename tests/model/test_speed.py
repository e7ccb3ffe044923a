"""Speeds: timing an architecture with random weights, the probe's cache on the user's machine,
and the catalog machine's figures scaled by the probe."""

from __future__ import annotations

import json

import pytest

from clipdesk.common import paths
from clipdesk.common.errors import CancelledError
from clipdesk.common.progress import CancelToken
from clipdesk.model import speed
from clipdesk.model.architectures import build, parameter_count
from clipdesk.model.catalog import Architecture, _hf_clip
from tests.support.catalog_speeds import catalog_speeds

# A shrunk ViT CLIP in the Hugging Face config format the catalog's B/32 uses.
TINY = Architecture(
    "tiny", "clip", "hf-clip", 32, 32, _hf_clip(32, 32, 16, 64, 1, 64, 1, "quick_gelu"), None, 0.1
)


def _catalog(**archs: tuple[float, float]) -> speed.CatalogSpeeds:
    return catalog_speeds({k: speed.ArchSpeed(ips, ms, 2, 1) for k, (ips, ms) in archs.items()})


def test_timing_a_random_weight_architecture():
    s = speed.time_architecture(TINY, batch=4, min_iterations=3, min_seconds=0.0)
    assert s.images_per_s > 0 and s.text_ms > 0 and s.iterations >= 3
    assert s.params == parameter_count(build(TINY).module)


def test_timing_stops_when_cancelled():
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        speed.time_architecture(TINY, batch=2, cancel=token)


def test_catalog_speeds_are_scaled_by_the_probe_ratio():
    catalog = _catalog(**{speed.REFERENCE: (20.0, 10.0), "ViT-L-14": (2.0, 40.0)})
    probe = speed.Probe("here", speed.REFERENCE, images_per_s=40.0, text_ms=5.0, measured="now")
    assert probe.ratio(catalog) == 2.0
    here = speed.estimate("ViT-L-14", catalog, probe)
    assert here is not None and here.scaled
    assert here.images_per_s == pytest.approx(4.0) and here.text_ms == pytest.approx(20.0)
    assert here.seconds_for(400) == pytest.approx(100.0)
    unprobed = speed.estimate("ViT-L-14", catalog, None)
    assert unprobed is not None and not unprobed.scaled and unprobed.images_per_s == 2.0
    assert speed.estimate("ViT-H-14", catalog, probe) is None  # not measured: no figure
    assert speed.estimate("ViT-L-14", None, probe) is None


def test_the_probe_is_cached_for_this_machine_and_device(monkeypatch):
    calls = []

    def timer(arch, **kwargs):
        calls.append((arch.key, kwargs["device"]))
        return speed.ArchSpeed(images_per_s=12.5, text_ms=9.0, iterations=2, params=1)

    assert speed.cached_probe("cpu") is None
    probe = speed.run_probe("cpu", timer=timer)
    assert calls == [(speed.REFERENCE, "cpu")]
    assert speed.cached_probe("cpu") == probe and probe.images_per_s == 12.5
    assert speed.cached_probe("cuda:0") is None  # measured with another device
    monkeypatch.setattr(speed, "machine_description", lambda: "another machine")
    assert speed.cached_probe("cpu") is None
    (paths.cache_dir() / speed.PROBE_FILE).write_text("{not json", encoding="utf-8")
    assert speed.cached_probe("cpu") is None  # a damaged cache is measured again


def test_catalog_speeds_file_round_trip_and_damage(tmp_path):
    path = tmp_path / "speeds.json"
    catalog = _catalog(**{speed.REFERENCE: (20.0, 10.0)})
    speed.save_catalog_speeds(catalog, path)
    assert speed.load_catalog_speeds(path) == catalog
    data = json.loads(path.read_text())
    data["archs"]["not-in-the-catalog"] = data["archs"][speed.REFERENCE]
    path.write_text(json.dumps(data))
    assert set(speed.load_catalog_speeds(path).archs) == {speed.REFERENCE}
    path.write_text('{"machine": "x"}')
    assert speed.load_catalog_speeds(path) is None
    assert speed.load_catalog_speeds(tmp_path / "absent.json") is None
