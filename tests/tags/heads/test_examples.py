"""Tag heads over a real library file: decisions and vectors in, taught head, next photos to
label, before/after examples, applied head used by tagging."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library
from clipdesk.tags.categories import Category, CategoryError, Label, Mode
from clipdesk.tags.heads import examples as head_service
from clipdesk.tags.heads.fewshot import fit_cache
from clipdesk.tags.heads.fit import CACHE
from clipdesk.tags.heads.store import with_applied_head
from clipdesk.tags.heads.teach import NotEnoughLabelsError
from clipdesk.tags.store.tag_store import TagStore
from clipdesk.tags.tagger import Tagger
from clipdesk.tags.zero_shot import build_classifier

D = 24
K = 3


def _unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)


class FakeModel:
    """Text vectors that confuse each class with the next one: zero-shot is poor."""

    id = "fake@1"
    logit_scale = 50.0
    scoring = "softmax"
    logit_bias = None

    def __init__(self, protos: np.ndarray) -> None:
        self.text = _unit(protos + 0.9 * np.roll(protos, 1, axis=0))
        self.null = _unit(np.ones((1, D)))

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        out = []
        for t in texts:
            m = re.search(r"\bc(\d)\b", t)
            out.append(self.text[int(m.group(1))] if m else self.null[0])
        return np.array(out, np.float32)


@pytest.fixture
def library(tmp_path: Path):
    rng = np.random.default_rng(0)
    protos = _unit(rng.normal(size=(K, D)))
    n = 150
    y = np.arange(n) % K
    x = _unit(protos[y] + 1.2 * rng.normal(size=(n, D)) / np.sqrt(D))
    lib = Library(tmp_path / "lib.sqlite3")
    folder = lib.add_folder(tmp_path)
    facts = [FileFacts(tmp_path / f"p{i:03d}.jpg", 100, i, "jpeg", f"h{i}") for i in range(n)]
    ids = [pid for pid, _ in lib.add_or_update_photos(folder.id, facts)]
    lib.store_embeddings(FakeModel.id, ids, x)
    tags = TagStore(lib, install_starters=False)
    tags.add_category(Category("Kind", tuple(Label(f"c{i}") for i in range(K)), Mode.SINGLE))
    label_ids = tags.label_ids("Kind")
    yield lib, np.array(ids), y, protos, label_ids
    lib.close()


def _decide(lib: Library, rows: list[tuple[int, int, str]]) -> None:
    with lib.transaction() as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO photo_tags(photo_id, label_id, state, updated_at) "
            "VALUES(?, ?, ?, ?)",
            [(*r, time.time()) for r in rows],
        )


def test_teach_from_library_decisions_then_apply(library):
    lib, ids, y, protos, label_ids = library
    model = FakeModel(protos)
    lids = list(label_ids.values())
    with pytest.raises(NotEnoughLabelsError):
        head_service.teach_category(lib, model, "Kind")
    labelled = range(60)
    _decide(lib, [(int(ids[i]), lids[y[i]], "confirmed") for i in labelled])
    _decide(lib, [(int(ids[60]), lids[0], "rejected")])
    ex, result = head_service.teach_category(lib, model, "kind", target_precision=0.9)
    assert ex.data.n == 61 and ex.missing_vectors == 0
    # the discriminant's geometry: the spread of the whole library's vectors, not the labelled ones
    _, every = lib.load_vectors(model.id)
    np.testing.assert_allclose(ex.data.library_cov, np.cov(every.T.astype(np.float64)), atol=1e-6)
    ev = result.evaluation
    assert ev.after.accuracy > ev.before.accuracy + 0.1

    comparison = head_service.before_after(ex, result)
    assert comparison and comparison[0].after == comparison[0].truth != comparison[0].before

    nxt = head_service.next_to_label(lib, model.id, result.head, limit=10)
    decided = set(int(i) for i in ids[:61])
    assert len(nxt) == 10 and not decided & {p for p, _ in nxt}

    clf = build_classifier(model, TagStore(lib, install_starters=False).category("Kind"))
    _, x = lib.vectors_for(model.id, ids[61:].tolist())
    zero_shot_acc = (clf.scores(x).argmax(1) == y[61:]).mean()
    head_service.apply(lib, result.head)
    used = with_applied_head(lib, clf)
    assert (used.scores(x).argmax(1) == y[61:]).mean() > zero_shot_acc + 0.1
    # tagging (recompute, new photos) goes through the applied head
    tagger_clf = Tagger(lib, model, TagStore(lib, install_starters=False)).classifier(clf.category)
    np.testing.assert_allclose(tagger_clf.scores(x), used.scores(x), atol=1e-6)
    assert head_service.revert(lib, model.id, "Kind")
    assert with_applied_head(lib, clf) is clf


def test_an_applied_cache_head_tags_the_library_and_is_the_one_a_new_head_must_beat(library):
    lib, ids, y, protos, label_ids = library
    model = FakeModel(protos)
    lids = list(label_ids.values())
    _decide(lib, [(int(ids[i]), lids[y[i]], "confirmed") for i in range(30)])
    ex = head_service.examples(lib, model, "Kind")
    head = fit_cache(ex.init, ex.data)
    assert head is not None
    head_service.apply(lib, head)
    in_use = head_service.head_in_use(lib, model.id, ex.category)
    assert in_use is not None and in_use.method == CACHE
    store = TagStore(lib, install_starters=False)
    Tagger(lib, model, store).recompute(["Kind"])
    _, x = lib.vectors_for(model.id, ids[30:].tolist())
    scores = head.scores(x)
    tags = {t.photo_id: t for t in store.review_list("Kind", limit=1000)}
    shown = [i for i, pid in enumerate(ids[30:]) if int(pid) in tags]
    assert len(shown) > 60  # the undecided photos are tagged, with the cache head's scores
    for i in shown:
        tag = tags[int(ids[30 + i])]
        assert tag.label == f"c{scores[i].argmax()}"
        assert tag.score == pytest.approx(float(scores[i].max()), abs=1e-5)
    _, result = head_service.teach_category(lib, model, "Kind")
    assert result.selection is not None and result.selection.in_use == CACHE


def test_manual_categories_cannot_be_taught(library):
    lib, _ids, _y, protos, _ = library
    TagStore(lib, install_starters=False).add_category(Category("Mine", (), auto=False))
    with pytest.raises(CategoryError):
        head_service.examples(lib, FakeModel(protos), "Mine")
