"""The index job's batch: what the model embeds in 0.4 s here, timed once."""

from __future__ import annotations

import itertools

import pytest

from clipdesk.indexing import batch_size
from clipdesk.model import load_model
from clipdesk.model.testing import tiny_random_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model(tiny_random_model(tmp_path_factory.mktemp("models")), device="cpu")


def clock_with_pass_of(seconds: float):
    """A clock under which the timed pass of TIMED images takes ``seconds``."""
    ticks = itertools.count()
    return lambda: next(ticks) * seconds


@pytest.mark.parametrize(
    ("per_image_s", "expected"),
    [
        (0.125, 3),  # 0.4 s / 0.125 s
        (0.065, 6),  # a ViT-B/32 on a quiet two-core CPU
        (0.5, 1),  # slower than the target even alone: one photo a pass
        (0.0001, batch_size.MOST),  # a small model or a GPU: the default stays
    ],
)
def test_the_batch_is_what_the_model_embeds_in_the_target_time(model, per_image_s, expected):
    clock = clock_with_pass_of(per_image_s * batch_size.TIMED)
    assert batch_size.timed_batch_size(model, clock=clock) == expected


def test_the_fastest_pass_counts_not_a_burst_of_another_program(model):
    readings = iter([0.0, 0.75, 1.0, 1.125, 2.0, 2.25])  # passes of 0.75, 0.125 and 0.25 s
    assert batch_size.timed_batch_size(model, clock=lambda: next(readings)) == 12  # 0.4 / 0.03125


def test_a_cancel_stops_the_timing_between_passes(model):
    from clipdesk.common.progress import CancelToken

    token = CancelToken()
    token.cancel()
    assert batch_size.timed_batch_size(model, cancel=token) is None


def test_a_clock_that_does_not_move_keeps_the_default(model):
    assert batch_size.timed_batch_size(model, clock=lambda: 1.0) == batch_size.MOST


def test_the_timing_runs_the_real_model(model):
    size = batch_size.timed_batch_size(model)
    assert 1 <= size <= batch_size.MOST


def test_the_services_time_a_model_once_and_keep_an_explicit_batch(tmp_path, monkeypatch, model):
    from clipdesk.model import synth
    from clipdesk.services.app import ClipDeskServices

    calls = []

    def timed(m, **_kw):
        calls.append(m.id)
        return 3

    monkeypatch.setattr(batch_size, "timed_batch_size", timed)
    synth.write_photo_folder(tmp_path / "photos", 8, size=(48, 32), formats=("jpg",))
    with ClipDeskServices(tmp_path / "lib.sqlite3", model=model) as app:
        assert app.index_batch_size(model) == batch_size.MOST  # nothing pending: no timing
        assert calls == []
        app.folders.add(tmp_path / "photos")
        assert app.index(limit=2).embedded == 2
        assert app.index(limit=2).embedded == 2
        assert calls == [model.id]  # timed by the first run, remembered by the second
        assert app.index_batch_size(model) == 3
        app.index(batch_size=5)  # the caller's choice (clipdesk-cli index --batch-size)
        assert calls == [model.id]
