"""Tags in the library: categories CRUD, recompute never overriding the user, review, filters, XMP."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library
from clipdesk.tags.categories import Category, CategoryError, Label, Mode
from clipdesk.tags.category_file import starter_categories
from clipdesk.tags.store.tag_store import TagState, TagStore
from clipdesk.tags.tagger import Tagger
from clipdesk.tags.xmp import sidecar as xmp
from tests.support.fake_text_model import FakeTextModel, image_vectors

COLOUR = Category("Colour", ("red", "green", "blue"), Mode.SINGLE, 0.5)
SHAPE = Category("Shape", ("circle", "square"), Mode.MULTI, 0.5)
WORDS = ["red", "red", "green", "blue", "circle", "square"]


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "lib.sqlite3") as library:
        yield library


def add_photos(
    lib: Library, folder, words: list[str], model_id: str = "fake@1", noise: float = 0.05
) -> list[int]:
    folder.mkdir(exist_ok=True)
    f = lib.add_folder(folder)
    facts = []
    for i, _ in enumerate(words):
        p = folder / f"p{i:03d}.jpg"
        Image.new("RGB", (4, 4)).save(p)
        facts.append(FileFacts(p, p.stat().st_size, p.stat().st_mtime_ns, "jpeg", f"h{i}"))
    ids = [pid for pid, _ in lib.add_or_update_photos(f.id, facts)]
    lib.store_embeddings(model_id, ids, image_vectors(words, noise=noise, seed=1))
    return ids


@pytest.fixture
def tagged(lib, tmp_path):
    store = TagStore(lib, install_starters=False)
    store.add_category(COLOUR)
    store.add_category(SHAPE)
    ids = add_photos(lib, tmp_path / "photos", WORDS)
    tagger = Tagger(lib, FakeTextModel(), store)
    tagger.recompute()
    return store, tagger, ids


def labels_of(store: TagStore, pid: int, states=("suggested", "confirmed", "imported")):
    return {t.keyword for t in store.tags_of(pid, states)}


def test_starter_categories_installed_once_and_removable(lib):
    store = TagStore(lib)
    names = [c.name for c in store.categories()]
    assert names == [c.name for c in starter_categories()]
    store.remove_category(names[0])
    TagStore(lib)  # a second start does not bring it back
    assert names[0] not in [c.name for c in store.categories()]


def test_category_crud_round_trips_and_is_all_or_nothing(lib):
    store = TagStore(lib, install_starters=False)
    cat = Category(
        "Pets",
        ("cat", Label("dog", ("a puppy",), 0.7)),
        Mode.MULTI,
        0.6,
        templates=("a photo of my {label}.",),
    )
    store.add_category(cat)
    assert store.category("pets") == cat
    with pytest.raises(CategoryError, match="already exists"):
        store.add_category(cat)
    with pytest.raises(CategoryError, match="already exists"):
        store.import_categories([Category("New", ("a",)), cat])
    assert [c.name for c in store.categories()] == ["Pets"]  # "New" rolled back
    store.import_categories([Category("New", ("a",)), cat.adding_label("bird")], replace=True)
    assert store.category("Pets").label_names == ["cat", "dog", "bird"]
    with pytest.raises(CategoryError, match="no category 'Fish'"):
        store.remove_category("Fish")


def test_recompute_suggests_tags_and_keeps_candidates_for_review(tagged):
    store, _, ids = tagged
    assert labels_of(store, ids[0]) == {"Colour|red"}
    assert labels_of(store, ids[2]) == {"Colour|green"}
    assert "Shape|circle" in labels_of(store, ids[4])
    review = store.review_list("Colour", limit=3)
    dist = [abs(t.score - t.threshold) for t in review]
    assert dist == sorted(dist) and all(t.state in ("suggested", "candidate") for t in review)
    best = store.photos_with_tag("Colour", "red")
    assert [t.photo_id for t in best] and best[0].score >= best[-1].score


def test_user_decisions_survive_recompute_and_a_model_change(tagged, lib):
    store, tagger, ids = tagged
    store.set_decision([ids[0]], "Colour", "red", TagState.REJECTED)
    store.set_decision([ids[2]], "Colour", "blue", TagState.CONFIRMED)  # overrides the model
    store.set_decision([ids[4]], "Shape", "square", TagState.CONFIRMED)
    tagger.recompute()
    assert "Colour|red" not in labels_of(store, ids[0])
    assert labels_of(store, ids[2]) == {"Colour|blue"}  # single choice: green no longer suggested
    # a new model: new vectors, new scores, the same decisions
    new = FakeTextModel("fake@2", logit_scale=60.0, jitter=0.08)
    lib.store_embeddings(new.id, ids, image_vectors(WORDS, noise=0.1, seed=7))
    Tagger(lib, new, store).recompute()
    tags = {(t.category, t.label): t for t in store.tags_of(ids[2])}
    assert tags[("Colour", "blue")].state is TagState.CONFIRMED
    assert tags[("Colour", "blue")].model_id == "fake@2"  # its score was refreshed
    assert store.tags_of(ids[0], ["rejected"])[0].label == "red"
    assert "Shape|square" in labels_of(store, ids[4])


def test_confirming_in_single_choice_rejects_the_previous_choice(tagged):
    store, _, ids = tagged
    store.set_decision([ids[1]], "Colour", "red", "confirmed")
    store.set_decision([ids[1]], "Colour", "green", "confirmed")
    states = {t.label: t.state for t in store.tags_of(ids[1]) if t.category == "Colour"}
    assert states == {"red": TagState.REJECTED, "green": TagState.CONFIRMED}
    store.clear_decision([ids[1]], "Colour", "green")
    assert "Colour|green" not in labels_of(store, ids[1])


def test_editing_a_category_keeps_decisions_on_kept_labels(tagged):
    store, tagger, ids = tagged
    store.set_decision([ids[3]], "Colour", "blue", "confirmed")
    store.save_category(Category("Colours", ("red", "blue", "yellow")), old_name="Colour")
    assert labels_of(store, ids[3]) >= {"Colours|blue"}
    assert not store.photos_with_tag("Colours", "red")  # stale suggestions dropped
    tagger.recompute(["Colours"])
    assert store.photos_with_tag("Colours", "red")
    store.rename_label("Colours", "blue", "navy")
    assert "Colours|navy" in labels_of(store, ids[3])


def test_tag_filter_expressions(tagged, lib):
    store, _, ids = tagged
    colour_photos = set(ids[:4])  # the shape photos get some colour too: single choice forces one

    def allowed(*exprs, **kw):
        return set(store.allowed_ids(list(exprs), **kw).tolist()) & colour_photos

    assert allowed("Colour|red") == {ids[0], ids[1]}
    assert allowed("Colour|red,Colour|green") == {ids[0], ids[1], ids[2]}
    assert allowed("Colour|*", "!Colour|red") == {ids[2], ids[3]}
    assert allowed("green") == {ids[2]}
    assert allowed("!Colour|red") == {ids[2], ids[3]}
    assert set(store.allowed_ids(["Shape|circle", "Colour|*"]).tolist()) <= {ids[4], ids[5]}
    assert store.allowed_ids([]) is None
    assert allowed("Colour|red", confirmed_only=True) == set()
    store.set_decision([ids[1]], "Colour", "red", "confirmed")
    assert allowed("Colour|red", confirmed_only=True) == {ids[1]}
    with pytest.raises(CategoryError, match="no label is called"):
        store.allowed_ids(["purple"])
    with pytest.raises(CategoryError, match="mixes"):
        store.allowed_ids(["red,!green"])


def test_new_photos_are_tagged_by_recomputing_just_them(tagged, lib, tmp_path):
    store, tagger, ids = tagged
    before = {i: labels_of(store, i) for i in ids}
    new_ids = add_photos(lib, tmp_path / "more", ["blue", "green"])  # embedded, not tagged
    assert labels_of(store, new_ids[0]) == set()
    tagger.recompute(photo_ids=new_ids[::-1])  # the owed "tag" step's call
    assert labels_of(store, new_ids[0]) == {"Colour|blue"}
    assert labels_of(store, new_ids[1]) == {"Colour|green"}
    assert {i: labels_of(store, i) for i in ids} == before


def test_xmp_import_and_write_back(tagged, lib):
    store, tagger, ids = tagged
    photo = lib.photo(ids[0])
    side = xmp.sidecar_path(photo.path, "fullname")
    side.write_bytes(xmp.update_keywords(None, ["Colour|green", "Places|France|Paris", "holiday"]))
    assert tagger.import_xmp([ids[0]]) == 3
    tags = {t.keyword: t.state for t in store.tags_of(ids[0])}
    assert tags["Colour|green"] is TagState.IMPORTED
    assert tags["Places|France|Paris"] is TagState.IMPORTED and tags["holiday"] is TagState.IMPORTED
    store.set_decision([ids[0]], "Colour", "green", "rejected")
    report = tagger.write_xmp([ids[0], ids[4]], confirmed_only=False)
    assert not report.failed and len(report.written) == 2
    kw = xmp.read_sidecar_keywords(side)
    assert "Colour|green" not in kw.hierarchical and "Places|France|Paris" in kw.hierarchical
    assert "holiday" in kw.subjects
    kw4 = xmp.read_photo_keywords(lib.photo(ids[4]).path)
    assert "Shape|circle" in kw4.hierarchical
    # confirmed-only: the model's suggestions come out again, user tags stay
    tagger.write_xmp([ids[4]], confirmed_only=True)
    assert "Shape|circle" not in xmp.read_photo_keywords(lib.photo(ids[4]).path).hierarchical
    again = tagger.write_xmp([ids[4]], confirmed_only=True)
    assert again.unchanged == 1 and not again.written


def test_deleting_a_photo_or_category_deletes_its_tags(tagged, lib):
    store, _, ids = tagged
    lib.delete_photos([ids[0]])
    assert store.tags_of(ids[0]) == []
    store.remove_category("Colour")
    assert all(t.category != "Colour" for t in store.review_list(limit=100))


def test_recompute_without_model_is_a_clear_error(lib):
    with pytest.raises(Exception, match="needs a model"):
        Tagger(lib, None, TagStore(lib, install_starters=False)).recompute()


def test_scores_match_the_pure_math(tagged, lib):
    store, tagger, ids = tagged
    clf = tagger.classifier(store.category("Colour"))
    _, vecs = lib.load_vectors("fake@1")
    expected = clf.scores(vecs)
    got = {t.photo_id: t.score for t in store.photos_with_tag("Colour", "red")}
    for pid, score in got.items():
        assert score == pytest.approx(float(expected[ids.index(pid), 0]), abs=1e-6)
    assert np.isfinite(list(got.values())).all()


def test_recompute_from_in_memory_vectors_matches_reading_the_store(tagged, lib):
    store, tagger, ids = tagged
    before = {t.photo_id: (t.label, t.score) for t in store.review_list(limit=1000)}
    vids, vecs = lib.load_vectors("fake@1")
    order = np.arange(len(vids))[::-1]  # any order is accepted
    tagger.recompute(vectors=(vids[order], vecs[order]))
    after = {t.photo_id: (t.label, t.score) for t in store.review_list(limit=1000)}
    assert after == before


def test_services_hook_tags_photos_as_they_are_indexed(tmp_path):
    from clipdesk.model.testing import tiny_random_model
    from clipdesk.services.app import ClipDeskServices

    model_dir = tiny_random_model(tmp_path / "models")
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(5):
        Image.new("RGB", (40, 40), (50 * i, 255 - 50 * i, 0)).save(pics / f"{i}.png")
    (pics / "3.png.xmp").write_bytes(xmp.update_keywords(None, ["Colour|green", "Trip|Rome"]))
    with ClipDeskServices(tmp_path / "lib.sqlite3", model=str(model_dir), device="cpu") as app:
        store = TagStore(app.library, install_starters=False)
        store.add_category(Category("Colour", ("red", "green"), Mode.SINGLE, 0.0))
        app.folders.add(pics)  # the services tag new photos themselves: no face wires it
        assert app.index().embedded == 5
        tagged = store.photos_with_tag("Colour", "red") + store.photos_with_tag("Colour", "green")
        assert len(tagged) == 5
        by_path = {app.library.photo(t.photo_id).path.name: t for t in tagged}
        assert by_path["3.png"].state is TagState.IMPORTED  # the sidecar's keyword, not the model's
        assert {t.model_id for n, t in by_path.items() if n != "3.png"} == {app.model.id}
        assert [t.keyword for t in store.photos_with_tag("Keywords", "Trip|Rome")] == ["Trip|Rome"]


def test_offline_photos_keep_their_tags_through_a_recompute(tagged, lib):
    store, tagger, ids = tagged
    before = labels_of(store, ids[0])
    lib.set_folder_offline(lib.photo(ids[0]).folder_id, "drive unplugged")
    tagger.recompute()
    assert labels_of(store, ids[0]) == before == {"Colour|red"}


def test_demo_model_decisions_survive_recompute_and_a_model_change(lib, tmp_path):
    from clipdesk.model import load_model
    from clipdesk.model.synth import COLOURS, render_scene
    from clipdesk.model.synth.evaluate import single_object_scenes
    from clipdesk.model.testing import tiny_random_model
    from tests.support.demo_model import load_demo_model

    mini = load_demo_model()
    specs = single_object_scenes("heldout", 40)
    folder = tmp_path / "renders"
    folder.mkdir()
    facts = []
    for i, spec in enumerate(specs):
        p = folder / f"{i:03d}.png"
        render_scene(spec, 96).save(p)
        facts.append(FileFacts(p, p.stat().st_size, p.stat().st_mtime_ns, "png", f"h{i}"))
    ids = [pid for pid, _ in lib.add_or_update_photos(lib.add_folder(folder).id, facts)]
    images = [render_scene(s, 96) for s in specs]
    lib.store_embeddings(mini.id, ids, mini.encode_images(images))
    store = TagStore(lib, install_starters=False)
    store.add_category(Category("Colour", tuple(COLOURS)))
    Tagger(lib, mini, store).recompute()
    suggested = {t.photo_id: t.label for t in store.review_list("Colour", limit=1000) if t.is_tag}
    right = [pid for pid, s in zip(ids, specs, strict=True) if suggested.get(pid) == s.colour]
    assert len(right) >= 0.9 * len(ids)
    confirmed_wrong, rejected_right = right[0], right[1]
    wrong = next(c for c in COLOURS if c != specs[ids.index(confirmed_wrong)].colour)
    store.set_decision([confirmed_wrong], "Colour", wrong, "confirmed")
    store.set_decision([rejected_right], "Colour", suggested[rejected_right], "rejected")

    def check() -> None:
        tags = {t.label: t.state for t in store.tags_of(confirmed_wrong)}
        assert tags[wrong] is TagState.CONFIRMED
        assert [lab for lab, st in tags.items() if st is TagState.SUGGESTED] == []
        tags = {t.label: t.state for t in store.tags_of(rejected_right)}
        assert tags[suggested[rejected_right]] is TagState.REJECTED

    Tagger(lib, mini, store).recompute()
    check()
    other = load_model(tiny_random_model(tmp_path / "models"), device="cpu")  # a model change
    lib.store_embeddings(other.id, ids, other.encode_images(images))
    Tagger(lib, other, store).recompute()
    check()
    assert store.tags_of(confirmed_wrong)[0].model_id == other.id  # rescored by the new model
    Tagger(lib, mini, store).recompute()  # and back
    check()
