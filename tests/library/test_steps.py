"""The owed-steps table: written with the vectors, done in order, failures kept, never lost."""

from __future__ import annotations

import numpy as np
import pytest

from clipdesk.library.steps import BLOCKING_ATTEMPTS
from clipdesk.library.store import Library
from tests.support.pipeline_helpers import register, solid_photos


@pytest.fixture
def lib(tmp_path):
    library = Library(tmp_path / "lib.sqlite3")
    yield library
    library.close()


@pytest.fixture
def ids(lib, tmp_path):
    folder = tmp_path / "photos"
    return register(lib, folder, solid_photos(folder, 5, size=(8, 8)))


def test_steps_recorded_with_the_vectors_vanish_with_a_rolled_back_commit(lib, ids):
    with pytest.raises(RuntimeError), lib.transaction():
        lib.store_embeddings("m@1", ids, np.ones((len(ids), 4), np.float32))
        lib.add_steps(ids, ["xmp_import", "tag"], "m@1")
        raise RuntimeError("the commit fails")
    assert lib.count_steps() == {}
    with lib.transaction():
        lib.store_embeddings("m@1", ids, np.ones((len(ids), 4), np.float32))
        lib.add_steps(ids, ["xmp_import", "tag"], "m@1")
    assert {s: c.waiting for s, c in lib.count_steps().items()} == {"tag": 5, "xmp_import": 5}


def test_a_later_step_waits_for_the_earlier_one_of_the_same_photo(lib, ids):
    lib.add_steps(ids, ["xmp_import", "tag"], "m@1")
    assert lib.pending_steps("tag", after_steps=["xmp_import"]) == []
    lib.finish_step(ids[:2], "xmp_import")
    assert lib.pending_steps("tag", after_steps=["xmp_import"]) == ids[:2]
    assert lib.pending_steps("xmp_import", limit=2) == ids[2:4]
    assert lib.pending_steps("xmp_import", after_id=ids[3]) == ids[4:]
    assert lib.pending_steps("xmp_import", photo_ids=[ids[0], ids[4]]) == [ids[4]]


def test_a_failure_is_kept_and_stops_holding_later_steps_after_a_few_attempts(lib, ids):
    lib.add_steps(ids[:1], ["xmp_import", "tag"], "m@1")
    for attempt in range(1, BLOCKING_ATTEMPTS + 1):
        assert lib.pending_steps("tag", after_steps=["xmp_import"]) == []
        lib.fail_step(ids[:1], "xmp_import", f"bad sidecar ({attempt})")
    counts = lib.count_steps()
    assert counts["xmp_import"].failed == 1
    assert counts["xmp_import"].last_error == f"bad sidecar ({BLOCKING_ATTEMPTS})"
    assert lib.pending_steps("tag", after_steps=["xmp_import"]) == ids[:1]
    lib.add_steps(ids[:1], ["xmp_import"], "m@1")  # a new vector: the step starts over
    assert lib.count_steps()["xmp_import"].failed == 0


def test_steps_wait_for_the_vectors_of_their_model(lib, ids):
    lib.add_steps(ids[:2], ["tag"], "old@1")
    lib.add_steps(ids[2:], ["tag"], "new@1")
    assert lib.pending_steps("tag", model_id="old@1") == ids[:2]
    assert lib.count_steps("new@1")["tag"].waiting == 3
    assert lib.discard_other_model_steps("new@1") == 2
    assert lib.pending_steps("tag") == ids[2:]
    lib.delete_photos(ids[2:3])  # a photo's steps go with it
    assert lib.pending_steps("tag") == ids[3:]


def test_a_step_that_needs_no_vector_runs_whatever_model_search_uses(lib, ids):
    # a re-embedding with model B owes both steps; reading XMP must not wait for B (or be
    # stranded when the user goes back to A), the tags must
    lib.add_steps(ids, ["xmp_import", "tag"], "b@2", vector_free=["xmp_import"])
    assert lib.pending_steps("xmp_import", model_id="a@1") == sorted(ids)
    assert lib.pending_steps("tag", model_id="a@1") == []
    assert lib.pending_steps("tag", model_id="b@2") == sorted(ids)
