"""The CPU stage and the actor without Ray: the desktop's pixels bit for bit, what a rerun skips,
and a retried batch that replaces its own shard."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from clipdesk.cluster import prepare
from clipdesk.cluster.actor import ActorSpec, ModelSpec, ShardEmbedder
from clipdesk.cluster.resume import Done, KeySet, done_in, hash_key, stamp_key
from clipdesk.cluster.shards import ShardModel, read_shards, shard_files
from clipdesk.common.path_map import PathMap
from clipdesk.imaging.decode import decode_for_model
from clipdesk.model.preprocess import PreprocessConfig, Preprocessor
from clipdesk.scanning.hashing import content_hash
from tests.support.photofiles import make_photo

NOTHING = Done(KeySet.of([]), KeySet.of([]))


@pytest.mark.parametrize("crop", [True, False])
def test_the_crop_travels_as_uint8_and_is_normalised_bit_for_bit_as_the_desktop_does(
    tmp_path: Path, crop: bool
) -> None:
    cfg = PreprocessConfig(size=32, crop=crop)
    paths = [make_photo(tmp_path / f"{i}.jpg", seed=i, size=80) for i in range(3)]
    blobs = [prepare.cropped(str(p), cfg).tobytes() for p in paths]
    desktop = np.stack([Preprocessor(cfg).to_array(decode_for_model(p, 32).image) for p in paths])
    got = prepare.model_pixels(blobs, cfg)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert np.array_equal(got, desktop)


def test_what_the_output_holds_is_skipped_by_stamp_before_reading_or_by_content(
    tmp_path: Path,
) -> None:
    photo = make_photo(tmp_path / "p.jpg", seed=1, size=40)
    st = photo.stat()
    settings = prepare.PrepareSettings(PreprocessConfig(size=32), PathMap())
    same_stamp = Done(KeySet.of([]), KeySet.of([stamp_key(os.fsencode(str(photo)), *_stamp(st))]))
    assert prepare.prepare_one(str(photo), settings, same_stamp) == {"state": "unchanged"}
    digest = content_hash(photo).digest
    same_bytes = Done(KeySet.of([hash_key(digest)]), KeySet.of([]))
    assert prepare.prepare_one(str(photo), settings, same_bytes) == {"state": "same_content"}
    row = prepare.prepare_one(str(photo), settings, NOTHING)
    assert row["state"] == "embed" and row["content_hash"] == digest
    assert len(row["pixels"]) == 32 * 32 * 3
    gone = prepare.prepare_one(str(tmp_path / "gone.jpg"), settings, NOTHING)
    assert gone == {"state": "failed", "error": "file not found"}


def _stamp(st: os.stat_result) -> tuple[int, int]:
    return st.st_size, st.st_mtime_ns


def test_a_key_set_finds_exactly_its_keys() -> None:
    keys = [bytes([i]) * 8 + bytes([j]) * 8 for i in range(5) for j in (1, 7)]
    found = KeySet.of(keys[::-1])
    assert all(k in found for k in keys)
    assert bytes([2]) * 8 + bytes([3]) * 8 not in found
    assert b"short" not in found and len(found) == 10


def test_a_retried_batch_replaces_the_shard_its_first_attempt_wrote(tmp_path: Path) -> None:
    from clipdesk.model.manager import find_model

    model_path = find_model("clipdesk-mini")
    assert model_path is not None
    spec = ModelSpec(str(model_path), "cpu", "torch", threads=1)
    model = spec.load()
    facts = ShardModel.of(model)
    out = tmp_path / "out"
    out.mkdir()
    photos = [make_photo(tmp_path / "in" / f"{i}.jpg", seed=i, size=48) for i in range(3)]
    (tmp_path / "in" / "bad.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 40)
    settings = prepare.PrepareSettings(model.preprocessor.cfg, PathMap())
    listed = pa.table(
        {
            "path": pa.array(
                [os.fsencode(str(p)) for p in [*photos, tmp_path / "in" / "bad.jpg"]], pa.binary()
            ),
            "root": pa.array([0] * 4, pa.int32()),
        }
    )
    rows = prepare.prepare_rows(listed, settings, NOTHING)
    actor = ShardEmbedder(
        ActorSpec(spec, facts, model.preprocessor.cfg, str(out), (str(tmp_path / "in"),))
    )
    first = actor(rows).to_pylist()
    again = actor(rows).to_pylist()  # as Ray retries a batch whose actor died after writing
    assert first == again and first[0]["embedded"] == 3 and first[0]["errors"] == 1
    assert len(shard_files(out)) == 1
    (shard,) = read_shards(out)
    ok, vectors = shard.vectors()
    assert ok.tolist() == [0, 1, 2]
    expected = model.encode_images([decode_for_model(p, model.image_size).image for p in photos])
    assert np.abs(vectors - expected.astype(np.float16).astype(np.float32)).max() <= 1e-4
    assert len(done_in(out)) == 4
