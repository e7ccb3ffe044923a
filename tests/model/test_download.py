"""Downloads against a local server in the Hugging Face hub's URL layout (HF_ENDPOINT), and the
no-network cases: a closed port and a server that accepts but never answers."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import socket
import threading
import time

import pytest

from clipdesk.common import paths
from clipdesk.common.errors import CancelledError, ModelError
from clipdesk.common.progress import CancelToken
from clipdesk.model import download, load_model, manager
from clipdesk.model.testing import tiny_random_model

REPO = "openai/clip-vit-base-patch32"
COMMIT = "c" * 40
OTHER_COMMIT = "d" * 40  # of every repository but REPO


class FakeHub:
    """Serves files of repositories at /{repo}/resolve/{revision}/{file} (``files`` are REPO's,
    ``repos`` any others'), with the headers huggingface_hub reads (X-Repo-Commit, X-Linked-Etag
    = sha256 for LFS files, sizes) and HTTP range requests."""

    def __init__(
        self, files: dict[str, bytes], repos: dict[str, dict[str, bytes]] | None = None
    ) -> None:
        self.files = files
        self.repos = {REPO: files, **(repos or {})}
        self.corrupt: set[str] = set()  # serve altered bytes but announce the true hash
        self.drop_after: dict[str, int] = {}  # close the connection after N bytes, then fail
        self.failing = False
        self.refuse_get: dict[str, int] = {}  # answer a GET of this file with this status
        self.requests: list[tuple[str, str, str | None]] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _file(self) -> tuple[str, bytes] | None:
                m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/main/(.+)", self.path)
                files = hub.repos.get(m[1], {}) if m else {}
                return (m[2], files[m[2]]) if m and m[2] in files else None

            def _headers(self, name: str, data: bytes, length: int, status: int) -> None:
                self.send_response(status)
                self.send_header(
                    "X-Repo-Commit", COMMIT if self.path.startswith(f"/{REPO}/") else OTHER_COMMIT
                )
                if name.endswith(".safetensors"):
                    self.send_header("X-Linked-Etag", f'"{hashlib.sha256(data).hexdigest()}"')
                    self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
                self.send_header("Content-Length", str(length))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()

            def do_HEAD(self) -> None:
                hub.requests.append(("HEAD", self.path, None))
                found = self._file()
                if found is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._headers(*found, len(found[1]), 200)

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                hub.requests.append(("GET", self.path, rng))
                found = self._file()
                if found is not None and found[0] in hub.refuse_get:
                    self.send_response(hub.refuse_get[found[0]])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if found is None or hub.failing:
                    self.send_response(404 if found is None else 500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                name, data = found
                body = data
                if name in hub.corrupt:
                    body = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                self._headers(name, data, len(body) - start, 206 if rng else 200)
                if name in hub.drop_after:
                    cut = hub.drop_after.pop(name)
                    self.wfile.write(body[start:cut])
                    self.wfile.flush()
                    hub.failing = True  # the network stays down for this attempt
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body[start:])

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bytes_served(self, name: str) -> list[str | None]:
        return [r for m, p, r in self.requests if m == "GET" and p.endswith("/" + name)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def repo_files(tmp_path_factory) -> dict[str, bytes]:
    folder = tiny_random_model(tmp_path_factory.mktemp("repo"), name="remote")
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "clipdesk.json"}


@pytest.fixture
def hub(repo_files, monkeypatch):
    server = FakeHub(dict(repo_files))
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield server
    server.close()


def test_download_installs_a_verified_model(hub, repo_files):
    reports = []
    info = download.download_model("clip-vit-base-patch32", progress=reports.append)
    assert info.name == "clip-vit-base-patch32" and info.source == "user"
    assert info.origin == f"{hub.url}/{REPO}"
    for name, data in repo_files.items():
        assert (info.path / name).read_bytes() == data
    assert not (paths.models_dir() / ".downloads" / info.name).exists()
    assert reports and reports[-1].done == reports[-1].total == sum(
        len(d) for n, d in repo_files.items() if n in {f.name for f in download._HF_CLIP_FILES}
    )
    assert load_model(info.name, device="cpu").encode_texts(["a dog"]).shape == (1, 32)


def test_download_by_repo_id_skips_optional_files(hub):
    del hub.files["tokenizer.json"]
    info = download.download_model(REPO, name="b32")
    assert info.name == "b32" and not (info.path / "tokenizer.json").exists()
    load_model("b32", device="cpu")  # falls back to CLIP's own vocabulary


def test_missing_required_file(hub):
    del hub.files["model.safetensors"]
    with pytest.raises(ModelError, match="has no model.safetensors"):
        download.download_model(REPO)


def test_interrupted_download_resumes_where_it_stopped(hub, repo_files):
    size = len(repo_files["model.safetensors"])
    assert size > 11_000_000  # huggingface_hub writes 10 MB chunks; a partial one is lost
    hub.drop_after["model.safetensors"] = size - 1_000_000
    with pytest.raises(ModelError, match="resumes where it stopped"):
        download.download_model(REPO)
    part = paths.models_dir() / ".downloads" / "clip-vit-base-patch32" / ".model.safetensors.part"
    have = part.stat().st_size
    assert 0 < have < size
    assert all(m.source == "bundled" for m in manager.list_models())
    hub.failing = False
    hub.requests.clear()
    info = download.download_model(REPO)
    assert hub.bytes_served("model.safetensors") == [f"bytes={have}-"]
    assert (info.path / "model.safetensors").read_bytes() == repo_files["model.safetensors"]


def test_hash_mismatch_deletes_the_file_and_installs_nothing(hub):
    hub.corrupt.add("model.safetensors")
    with pytest.raises(ModelError, match="sha256 .* does not match") as err:
        download.download_model(REPO)
    assert "deleted" in err.value.message
    staging = paths.models_dir() / ".downloads" / "clip-vit-base-patch32"
    assert not (staging / ".model.safetensors.part").exists()
    assert not (staging / "model.safetensors").exists()
    assert not (paths.models_dir() / "clip-vit-base-patch32").exists()
    hub.corrupt.clear()
    assert download.download_model(REPO).name == "clip-vit-base-patch32"


def test_cancel_keeps_the_partial_download(hub):
    token = CancelToken()

    def progress(p) -> None:
        if p.done > 0:
            token.cancel()

    with pytest.raises(CancelledError):
        download.download_model(REPO, progress=progress, cancel=token)
    assert not (paths.models_dir() / "clip-vit-base-patch32").exists()
    assert download.download_model(REPO).name == "clip-vit-base-patch32"


def test_name_clash_is_checked_before_downloading(hub):
    download.download_model(REPO)
    hub.requests.clear()
    with pytest.raises(ModelError, match="already installed"):
        download.download_model(REPO)
    assert hub.requests == []
    assert download.download_model(REPO, on_clash="rename").name == "clip-vit-base-patch32-2"


def test_catalog_has_openai_and_laion_b32():
    repos = {e.repo_id: e for e in download.catalog()}
    assert repos["openai/clip-vit-base-patch32"].act == "quick_gelu"
    assert repos["laion/CLIP-ViT-B-32-laion2B-s34B-b79K"].act == "gelu"
    assert download.lookup("laion-clip-vit-b-32").repo_id.startswith("laion/")
    with pytest.raises(ModelError, match="unknown model 'nonsense'"):
        download.lookup("nonsense")


# --- entries with files from two repositories, stored under other names; alternatives ---

TEXT_REPO = "example/text-model"


@pytest.fixture
def two_repo_entry(monkeypatch):
    """A catalog entry in the shape of the multilingual models': its own weights (one of two
    alternatives), and a file from the text model's repository under another local name."""
    entry = download.CatalogEntry(
        name="two-repos",
        repo_id=REPO,
        description="a model whose tokenizer lives in another repository",
        files=(
            download.HubFile("config.json"),
            download.HubFile("open.safetensors", one_of="weights", local="model.safetensors"),
            download.HubFile("model.safetensors", one_of="weights"),
            download.HubFile("tokenizer-source.json", repo=TEXT_REPO, local="tokenizer.json"),
        ),
    )
    monkeypatch.setitem(download.CATALOG, entry.name, entry)
    return entry


def test_files_from_two_repositories_are_installed_under_their_local_names(
    two_repo_entry, hub, repo_files
):
    tokenizer = repo_files["tokenizer.json"]
    del hub.files["tokenizer.json"]  # served by the other repository only, under another name
    hub.repos[TEXT_REPO] = {"tokenizer-source.json": tokenizer}
    info = download.download_model("two-repos")
    assert (info.path / "tokenizer.json").read_bytes() == tokenizer
    assert (info.path / "model.safetensors").read_bytes() == repo_files["model.safetensors"]
    assert not (info.path / "tokenizer-source.json").exists()
    meta = json.loads((info.path / manager.META_FILE).read_text())
    assert meta["revision"] == COMMIT
    assert meta["revisions"] == {REPO: COMMIT, TEXT_REPO: OTHER_COMMIT}
    fetched = [p for m, p, _ in hub.requests if m == "GET"]
    assert f"/{TEXT_REPO}/resolve/main/tokenizer-source.json" in fetched
    assert load_model(info.name, device="cpu").encode_texts(["a dog"]).shape == (1, 32)


def test_the_first_alternative_the_repository_has_is_the_one_fetched(
    two_repo_entry, hub, repo_files
):
    hub.files["open.safetensors"] = repo_files["model.safetensors"]
    hub.files["model.safetensors"] = b"never fetched"
    hub.repos[TEXT_REPO] = {"tokenizer-source.json": repo_files["tokenizer.json"]}
    info = download.download_model("two-repos")
    assert (info.path / "model.safetensors").read_bytes() == repo_files["model.safetensors"]
    requested = [p for _, p, _ in hub.requests]
    assert f"/{REPO}/resolve/main/open.safetensors" in requested
    assert f"/{REPO}/resolve/main/model.safetensors" not in requested


def test_no_alternative_at_all_is_named(two_repo_entry, hub):
    hub.repos[TEXT_REPO] = {"tokenizer-source.json": b"{}"}
    del hub.files["model.safetensors"]
    with pytest.raises(ModelError, match="has none of open.safetensors, model.safetensors"):
        download.download_model("two-repos")


def test_a_missing_file_of_the_second_repository_names_that_repository(two_repo_entry, hub):
    hub.repos[TEXT_REPO] = {}
    with pytest.raises(ModelError, match=f"{TEXT_REPO} has no tokenizer-source.json"):
        download.download_model("two-repos")
    assert not (paths.models_dir() / "two-repos").exists()


def _xlmr_tokenizer_json() -> bytes:
    """A small tokenizer in XLM-RoBERTa's tokenizer.json layout: a unigram model with <s> <pad>
    </s> <unk> first, and a post-processor that puts <s> ... </s> around a text."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    pieces = ["▁a", "▁dog", "▁Hund", "▁猫", "▁on", "▁the", "▁beach", "a", "d", "o", "g", "▁"]
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(piece, -1.0 - i) for i, piece in enumerate(pieces)] + [("<mask>", 0.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    return tok.to_str().encode()


@pytest.fixture(scope="module")
def xlmr_repos() -> dict[str, dict[str, bytes]]:
    """The two repositories of the catalog's multilingual B/32, shrunk: the OpenCLIP hub folder
    (config and PyTorch weights, no safetensors) and the text model's config and tokenizer."""
    import io

    import torch

    from clipdesk.model.architectures import randomize
    from clipdesk.model.catalog import CATALOG
    from clipdesk.model.config import VisionConfig
    from clipdesk.model.families import xlmr

    entry = CATALOG["xlm-roberta-base-clip-vit-b-32"]
    tokenizer = _xlmr_tokenizer_json()
    text_config = {
        "model_type": "xlm-roberta", "vocab_size": 17, "hidden_size": 64, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 96, "max_position_embeddings": 514,
        "type_vocab_size": 1, "pad_token_id": 1, "layer_norm_eps": 1e-5, "hidden_act": "gelu",
    }  # fmt: skip
    vision_cfg = {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16, "head_width": 32}
    model_cfg = {**entry.arch.config, "embed_dim": 32, "vision_cfg": vision_cfg}
    module = xlmr.XlmrClipModule(
        xlmr.XlmrClipConfig(
            32,
            VisionConfig(
                image_size=32, patch_size=16, width=64, layers=1, heads=2, mlp_width=256, act="gelu"
            ),
            xlmr.XlmrTextConfig(vocab_size=17, width=64, layers=1, heads=2, mlp_width=96),
        )
    )
    randomize(module, seed=3)
    weights = io.BytesIO()
    torch.save(module.state_dict(), weights)
    return {
        entry.repo_id: {
            "open_clip_config.json": json.dumps({"model_cfg": model_cfg}).encode(),
            "open_clip_pytorch_model.bin": weights.getvalue(),
        },
        "FacebookAI/xlm-roberta-base": {
            "config.json": json.dumps(text_config).encode(),
            "tokenizer.json": tokenizer,
        },
    }


def test_the_multilingual_catalog_model_downloads_from_both_repositories(hub, xlmr_repos):
    hub.repos.update(xlmr_repos)
    info = download.download_model("xlm-roberta-base-clip-vit-b-32")
    files = sorted(p.name for p in info.path.iterdir())
    assert files == [
        "clipdesk.json",
        "hf_text_config.json",
        "open_clip_config.json",
        "open_clip_pytorch_model.bin",
        "tokenizer.json",
    ]
    meta = json.loads((info.path / manager.META_FILE).read_text())
    assert set(meta["revisions"]) == set(xlmr_repos)
    model = load_model(info.name, device="cpu")
    assert model.family == "xlm-roberta clip"
    a, b = model.encode_texts(["a dog on the beach", "猫"])
    assert a.shape == (32,) and float(a @ b) < 0.99


def test_a_catalog_repository_without_open_clip_config_gets_the_catalogs(
    hub, xlmr_repos, monkeypatch
):
    """Older LAION repositories (this one among them) may hold no open_clip_config.json; OpenCLIP
    builds them from its own model config, and so does the download, from the catalog's."""
    import dataclasses

    from clipdesk.model.catalog import CATALOG, OPENCLIP_PREPROCESS

    entry = CATALOG["xlm-roberta-base-clip-vit-b-32"]
    own_config = xlmr_repos[entry.repo_id]["open_clip_config.json"]
    model_cfg = json.loads(own_config)["model_cfg"]  # the shrunk towers of this fake repository
    shrunk = dataclasses.replace(entry, arch=dataclasses.replace(entry.arch, config=model_cfg))
    monkeypatch.setitem(download.CATALOG, entry.name, shrunk)
    hub.repos.update({repo: dict(files) for repo, files in xlmr_repos.items()})
    del hub.repos[entry.repo_id]["open_clip_config.json"]
    info = download.download_model(entry.name)
    written = json.loads((info.path / "open_clip_config.json").read_text())
    assert written == {"model_cfg": model_cfg, "preprocess_cfg": dict(OPENCLIP_PREPROCESS)}
    meta = json.loads((info.path / manager.META_FILE).read_text())
    note = meta["written_by_clipdesk"]["open_clip_config.json"]
    assert "catalog" in note and entry.repo_id in note
    model = load_model(info.name, device="cpu")
    # the same model as from the repository's own config
    hub.repos[entry.repo_id]["open_clip_config.json"] = own_config
    other = download.download_model(entry.name, name="own-config")
    assert (other.path / "open_clip_config.json").read_bytes() == own_config
    assert "written_by_clipdesk" not in json.loads((other.path / manager.META_FILE).read_text())
    theirs = load_model(other.name, device="cpu")
    texts = ["a dog on the beach", "猫"]
    assert (model.encode_texts(texts) == theirs.encode_texts(texts)).all()
    assert model.weights_hash == theirs.weights_hash


def test_a_written_config_is_not_taken_for_the_hubs_on_the_next_attempt(hub, xlmr_repos):
    """A failed attempt leaves the written config in the staging folder; the next one, when the
    hub does have one, fetches it."""
    from clipdesk.model.catalog import CATALOG

    entry = CATALOG["xlm-roberta-base-clip-vit-b-32"]
    hub.repos.update({repo: dict(files) for repo, files in xlmr_repos.items()})
    own = xlmr_repos[entry.repo_id]["open_clip_config.json"]
    staging = paths.models_dir() / ".downloads" / entry.name
    staging.mkdir(parents=True)
    # of the very size of the hub's, which is all a finished earlier file is checked by
    stale = json.dumps({"model_cfg": {}}).encode().ljust(len(own))
    (staging / "open_clip_config.json").write_bytes(stale)
    info = download.download_model(entry.name)
    assert (info.path / "open_clip_config.json").read_bytes() == own


def _hub_repo(tmp_path) -> dict[str, bytes]:
    """A small CLIP as an OpenCLIP hub folder: config, safetensors weights, CLIP's tokenizer."""
    from clipdesk.model.checkpoint import load_checkpoint
    from clipdesk.model.families.openclip_save import save_hub_folder

    ckpt = load_checkpoint(tiny_random_model(tmp_path, name="hub-source"))
    folder = save_hub_folder(ckpt.module, ckpt.tokenizer, tmp_path / "hub", name="hub")
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "clipdesk.json"}


def _siglip_repo(tmp_path) -> dict[str, bytes]:
    """A small SigLIP v1 as transformers saves it, with its sentencepiece model (spiece.model and
    no tokenizer.json, as google/siglip-base-patch16-224 ships it)."""
    import torch
    from transformers import SiglipConfig, SiglipModel

    from tests.support.conformance import t5_sentencepiece

    spiece = t5_sentencepiece(
        ["a dog on the beach", "a cat on the sofa", "the dog and the cat"], vocab_size=40
    )
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1}
    cfg = SiglipConfig(
        text_config={**small, "vocab_size": 64, "num_attention_heads": 2,
                     "max_position_embeddings": 16, "projection_size": 32},
        vision_config={**small, "num_attention_heads": 2, "image_size": 32, "patch_size": 16},
    )  # fmt: skip
    torch.manual_seed(0)
    SiglipModel(cfg).save_pretrained(str(tmp_path / "siglip"))
    (tmp_path / "siglip" / "spiece.model").write_bytes(spiece)
    return {p.name: p.read_bytes() for p in (tmp_path / "siglip").iterdir() if p.is_file()}


@pytest.mark.parametrize(
    ("make", "family", "expected"),
    [
        (_hub_repo, "clip", {"open_clip_config.json", "open_clip_model.safetensors"}),
        (_siglip_repo, "siglip", {"config.json", "model.safetensors", "spiece.model"}),
    ],
)
def test_a_repository_outside_the_catalog_downloads_in_the_layout_its_config_shows(
    hub, tmp_path, make, family, expected
):
    repo_files = make(tmp_path)
    hub.repos["someone/small-model"] = repo_files
    info = download.download_model("someone/small-model")
    assert {p.name for p in info.path.iterdir()} == expected | {"clipdesk.json"}
    model = load_model(info.name, device="cpu")
    assert model.family == family
    a, b = model.encode_texts(["a dog on the beach", "a cat"])
    assert float(a @ b) < 0.999
    # the config.json read to choose the layout is the one installed: fetched once
    assert len(hub.bytes_served("config.json")) == ("config.json" in expected)


def test_a_refused_config_probe_names_the_repository(hub, tmp_path):
    """An HTTP error status while reading a repository's config (here 403 on the GET after its
    HEAD passed) is a ModelError naming the repository, not huggingface_hub's raw error."""
    hub.repos["someone/gated"] = {"config.json": b'{"model_type": "clip"}'}
    hub.refuse_get["config.json"] = 403
    with pytest.raises(ModelError) as err:
        download.download_model("someone/gated")
    assert type(err.value) is ModelError
    assert "someone/gated: config.json is not available (HTTP 403)" in err.value.message
    hub.refuse_get["config.json"] = 500
    with pytest.raises(ModelError, match="someone/gated: the hub refused config.json"):
        download.download_model("someone/gated")


def test_a_repository_outside_the_catalog_of_another_family_is_refused_before_its_weights(hub):
    hub.repos["someone/blip"] = {
        "config.json": json.dumps({"model_type": "blip"}).encode(),
        "model.safetensors": b"never fetched",
    }
    with pytest.raises(ModelError, match="does not run BLIP models"):
        download.download_model("someone/blip")
    assert not [p for _, p, _ in hub.requests if p.endswith("model.safetensors")]
    hub.repos["someone/empty"] = {"README.md": b"nothing here"}
    with pytest.raises(ModelError, match="neither config.json nor open_clip_config.json"):
        download.download_model("someone/empty")


# --- no network: a clear error within seconds, naming the import alternative ---


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _assert_offline_error(err: pytest.ExceptionInfo, started: float, limit: float) -> None:
    assert time.monotonic() - started < limit
    assert "cannot reach the Hugging Face hub" in err.value.message
    assert "models import" in err.value.hint


def test_closed_port_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    started = time.monotonic()
    with pytest.raises(ModelError) as err:
        download.download_model("clip-vit-base-patch32")
    _assert_offline_error(err, started, 3)
    assert not any(paths.models_dir().iterdir())


def test_server_that_never_answers_is_bounded(monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # the kernel accepts connections; nobody ever answers
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{listener.getsockname()[1]}")
        monkeypatch.setattr(download, "METADATA_TIMEOUT_S", 1.0)
        started = time.monotonic()
        with pytest.raises(ModelError) as err:
            download.download_model("clip-vit-base-patch32")
        _assert_offline_error(err, started, 6)
    finally:
        listener.close()


def test_offline_mode_env(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE") as err:
        download.download_model("clip-vit-base-patch32")
    assert "import" in err.value.hint


def test_probe_goes_through_a_configured_proxy(monkeypatch):
    """Behind a proxy the hub is not directly reachable; a dead proxy is what gets reported."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(ModelError, match="cannot reach the Hugging Face hub at https://hf.example"):
        download.check_reachable("https://hf.example", timeout=2)
