"""``clipdesk-cli search`` says which runtime embedded the query and which made the photos'
vectors: one stderr line in text mode, a ``runtime`` object under ``--json``."""

from __future__ import annotations

import json

import pytest

from clipdesk.library.store import Library
from tests.support.cli_process import cli
from tests.support.pipeline_helpers import solid_photos


@pytest.fixture
def base(tmp_path, model_dir, capsys) -> list[str]:
    solid_photos(tmp_path / "Pictures", 5, (64, 48))
    args = ["--library", str(tmp_path / "lib.sqlite3"), "--model", str(model_dir)]
    args += ["--device", "cpu"]
    for command in (["folders", "add", str(tmp_path / "Pictures")], ["index"]):
        code, _, err = cli(capsys, *args, *command)
        assert code == 0, err
    return args


def test_text_output_names_the_model_and_both_runtimes_on_stderr(base, capsys) -> None:
    code, out, err = cli(capsys, *base, "search", "a red square", "-k", "2")
    assert code == 0 and len(out.strip().splitlines()) == 2
    (line,) = [x for x in err.splitlines() if x.startswith("model ")]
    assert line.startswith("model tiny-random@")
    assert "query on PyTorch fp32" in line and "vectors made with PyTorch fp32 (5)" in line
    assert "PyTorch" not in out  # stdout stays one "score  path" line per photo


def test_json_gives_the_query_runtime_and_the_vectors_per_runtime(base, capsys, tmp_path):
    code, out, err = cli(capsys, *base, "--json", "search", "a red square")
    assert code == 0 and err == ""
    assert json.loads(out)["runtime"] == {"query": "torch-fp32", "vectors": {"torch-fp32": 5}}
    with Library(tmp_path / "lib.sqlite3") as lib:  # two of them as if ONNX Runtime made them
        (model_id,) = lib.embedding_models()
        ids, vecs = lib.load_vectors(model_id)
        lib.store_embeddings(model_id, ids[:2].tolist(), vecs[:2], runtime="onnx-fp32")
    code, out, _ = cli(capsys, *base, "--json", "search", "a red square")
    runtime = json.loads(out)["runtime"]
    assert runtime == {"query": "torch-fp32", "vectors": {"onnx-fp32": 2, "torch-fp32": 3}}
    code, _, err = cli(capsys, *base, "search", "a red square")
    assert "vectors made with ONNX Runtime fp32 (2), PyTorch fp32 (3)" in err
