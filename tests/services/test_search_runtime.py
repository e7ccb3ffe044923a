"""What the faces say about the runtimes a search compared (clipdesk.services.search)."""

from __future__ import annotations

from clipdesk.model.testing import tiny_random_model
from clipdesk.services.app import ClipDeskServices
from clipdesk.services.search import describe_runtimes, search_runtime, search_runtime_note
from tests.support.pipeline_helpers import solid_photos


def test_one_runtime_is_named_once_and_a_mix_names_both_sides() -> None:
    assert describe_runtimes("onnx-int8", ["onnx-int8"]) == "ONNX Runtime int8"
    assert describe_runtimes("onnx-int8", []) == "ONNX Runtime int8"  # nothing indexed yet
    assert (
        describe_runtimes("onnx-int8", ["torch-fp32", "onnx-int8"])
        == "query ONNX Runtime int8, photos ONNX Runtime int8, PyTorch fp32"
    )
    assert describe_runtimes("torch-fp32", ["onnx-fp32"]) == (
        "query PyTorch fp32, photos ONNX Runtime fp32"
    )


def test_the_services_report_the_search_models_runtimes(tmp_path) -> None:
    model = tiny_random_model(tmp_path / "models")
    solid_photos(tmp_path / "p", 4, (64, 48))
    with ClipDeskServices(tmp_path / "lib.sqlite3", model=str(model), device="cpu") as app:
        app.folders.add(tmp_path / "p")
        app.index()
        assert search_runtime(app).as_dict() == {
            "query": "torch-fp32",
            "vectors": {"torch-fp32": 4},
        }
        assert search_runtime_note(app) == "PyTorch fp32"
        ids, vecs = app.library.load_vectors(app.model.id)
        app.library.store_embeddings(app.model.id, ids[:1].tolist(), vecs[:1], runtime="onnx-int8")
        assert search_runtime(app).vectors == {"onnx-int8": 1, "torch-fp32": 3}
        assert (
            search_runtime_note(app) == "query PyTorch fp32, photos ONNX Runtime int8, PyTorch fp32"
        )
