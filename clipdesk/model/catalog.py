"""The models ClipDesk offers for download: where each one's files are, what it is, how good the
published evaluations say it is.

Nothing here is measured or guessed by us except the speeds, which live beside this module in
``assets/catalog_speeds.json`` (written by ``bench/engine.py --catalog``, see :mod:`.speed`).
Every quality figure names its source, a file at a fixed commit. Sizes and hashes of the files
are not pinned: no source reachable when the catalog was written states them, so the download
checks each file against the size and sha256 the hub announces for it (see :mod:`.download`).

An entry's architecture facts are the config its repository ships (a Hugging Face
``config.json`` subset, or OpenCLIP's ``model_cfg``), so the benchmark builds exactly what the
loader would build, and the tests compare them with OpenCLIP's own ``model_configs``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Layout = Literal["hf-clip", "siglip", "openclip-hub"]


@dataclass(frozen=True)
class Source:
    """Where a published figure was read: a document and the commit it was read at."""

    title: str
    url: str

    def __str__(self) -> str:
        return f"{self.title} ({self.url})"


_OPENCLIP = (
    "https://github.com/mlfoundations/open_clip/blob/89fb801f1e6087880e951fc8354b8a2077b79c6d"
)
OPENCLIP_RESULTS = Source("OpenCLIP results table", f"{_OPENCLIP}/docs/openclip_results.csv")
OPENCLIP_RETRIEVAL = Source(
    "OpenCLIP retrieval results", f"{_OPENCLIP}/docs/openclip_retrieval_results.csv"
)
OPENCLIP_MULTILINGUAL = Source(
    "OpenCLIP multilingual retrieval results",
    f"{_OPENCLIP}/docs/openclip_multilingual_retrieval_results.csv",
)
OPENCLIP_PROFILE = Source("OpenCLIP model profile", f"{_OPENCLIP}/docs/model_profile.csv")
IMMICH = Source(
    "Immich smart-search model table",
    "https://github.com/immich-app/immich/blob/01a09bb36ba03cfc135dbe48c886ad68e8d5e720"
    "/docs/docs/features/searching.md",
)

# The metrics the figures report, in the words the picker shows.
METRICS: dict[str, str] = {
    "imagenet": "ImageNet-1k zero-shot top-1",
    "coco_r5": "MSCOCO text-to-image retrieval recall@5",
    "xm3600": "Crossmodal-3600 text-to-image recall (mean of R@1, R@5, R@10)",
    "mscoco_ml_r5": "multilingual MSCOCO text-to-image retrieval recall@5",
}


@dataclass(frozen=True)
class Figure:
    """One published evaluation result, in percent."""

    metric: str  # a key of METRICS
    value: float
    source: Source
    language: str = "en"  # the query language (ISO 639-1)
    note: str = ""  # how the source names the model, where that differs from ours

    def describe(self) -> str:
        lang = "" if self.language == "en" else f" ({self.language})"
        return f"{METRICS[self.metric]}{lang}: {self.value:.1f}% — {self.source}"


@dataclass(frozen=True)
class Architecture:
    """What the benchmark builds and the picker shows: the compute shape of a family member.

    ``config`` is the architecture part of the config file the model's repository ships, in
    that file's own format (``layout``); ``text_config`` is the Hugging Face config of a separate
    text encoder (XLM-RoBERTa), where the model takes it from another repository."""

    key: str  # OpenCLIP's name for it (its model_configs/<key>.json describes the same shape)
    family: str  # as DualEncoder.family: "clip", "siglip", "xlm-roberta clip"
    layout: Layout
    embed_dim: int
    image_size: int
    config: Mapping[str, Any]
    text_config: Mapping[str, Any] | None = None
    # Parameters in millions: OpenCLIP's published count (OPENCLIP_PROFILE), or where it has none
    # the count of the module our builder makes (tests check both against the benchmark's count).
    params_m: float | None = None


@dataclass(frozen=True)
class HubFile:
    """One file of a catalog model: where it is on the hub and what it is called locally."""

    name: str  # the file's path in its repository
    required: bool = True
    size: int | None = None  # pinned exact size in bytes, where a reachable source states it
    sha256: str | None = None  # pinned content hash, likewise
    repo: str | None = None  # another repository than the entry's (None: the entry's own)
    revision: str = "main"  # of ``repo``; the entry's own files use the entry's revision
    local: str | None = None  # the name in the installed folder (None: ``name``)
    # Files sharing a tag are alternatives: the first the repository has is fetched, the
    # others are not (OpenCLIP repositories hold safetensors, a pickle, or both).
    one_of: str | None = None

    @property
    def local_name(self) -> str:
        return self.local or self.name


HF_CLIP_FILES = (
    HubFile("config.json"),
    HubFile("model.safetensors"),
    HubFile("tokenizer.json", required=False),
    HubFile("tokenizer_config.json", required=False),
    HubFile("preprocessor_config.json", required=False),
)
# SigLIP v1 repositories ship a sentencepiece model (spiece.model) and no tokenizer.json;
# SigLIP2 ones ship Gemma's tokenizer.json. The loader reads whichever is there.
SIGLIP_FILES = (
    HubFile("config.json"),
    HubFile("model.safetensors"),
    HubFile("tokenizer.json", required=False, one_of="tokenizer"),
    HubFile("spiece.model", required=False, one_of="tokenizer"),
    HubFile("tokenizer_config.json", required=False),
    HubFile("special_tokens_map.json", required=False),
    HubFile("preprocessor_config.json", required=False),
)
# OpenCLIP's hub layout, as its factory reads it: the config, then the safetensors weights if
# the repository has them, else the PyTorch pickle (read with weights_only, never unpickled).
OPENCLIP_HUB_FILES = (
    HubFile("open_clip_config.json"),
    HubFile("open_clip_model.safetensors", one_of="weights"),
    HubFile("open_clip_pytorch_model.bin", one_of="weights"),
)
OPENCLIP_CONFIG = OPENCLIP_HUB_FILES[0].name
# The preprocessing OpenCLIP's pretrained.py gives a checkpoint unless its entry says otherwise
# (``_pcfg``: OpenAI's mean and std, bicubic, shorter side then centre crop).
OPENCLIP_PREPROCESS: Mapping[str, Any] = {
    "mean": [0.48145466, 0.4578275, 0.40821073],
    "std": [0.26862954, 0.26130258, 0.27577711],
    "interpolation": "bicubic",
    "resize_mode": "shortest",
}
INCEPTION_PREPROCESS: Mapping[str, Any] = {
    **OPENCLIP_PREPROCESS,
    "mean": [0.5, 0.5, 0.5],
    "std": [0.5, 0.5, 0.5],
}


def xlmr_text_files(repo: str) -> tuple[HubFile, ...]:
    """The text encoder's own files, which OpenCLIP's XLM-R models take from the Hugging Face
    repository their config names (``text_cfg.hf_model_name``): its architecture and its
    tokenizer, stored under the names the XLM-R loader reads."""
    return (
        HubFile("config.json", repo=repo, local="hf_text_config.json"),
        HubFile("tokenizer.json", repo=repo),
    )


@dataclass(frozen=True)
class CatalogEntry:
    name: str  # the installed folder name
    repo_id: str
    description: str
    act: str = "from config"  # recorded for information; each repository's config states it
    revision: str = "main"
    files: tuple[HubFile, ...] = field(default=HF_CLIP_FILES)
    title: str = ""  # short, for tables: "OpenAI ViT-B/32"
    arch: Architecture | None = None  # None: a repository outside the catalog
    languages: tuple[str, ...] = ("en",)  # query languages it was trained for (ISO 639-1)
    figures: tuple[Figure, ...] = ()
    # OpenCLIP's preprocess_cfg of these weights (their pretrained.py entry), written into the
    # open_clip_config.json of a repository that has none; only for the openclip-hub layout.
    preprocess_cfg: Mapping[str, Any] = field(default_factory=lambda: OPENCLIP_PREPROCESS)
    # The layout of a repository outside the catalog (arch None), as the download found it.
    repo_layout: Layout = "hf-clip"

    @property
    def family(self) -> str:
        return self.arch.family if self.arch is not None else "clip"

    @property
    def layout(self) -> Layout:
        return self.arch.layout if self.arch is not None else self.repo_layout

    def openclip_config(self) -> dict[str, Any] | None:
        """The ``open_clip_config.json`` this entry's weights are built from, where the catalog
        knows it: older LAION repositories have none, and OpenCLIP builds them from the
        model_configs in its wheel and the preprocessing of its pretrained.py, which the
        entry's architecture and ``preprocess_cfg`` are (the tests compare them)."""
        if self.arch is None or self.arch.layout != "openclip-hub":
            return None
        return {
            "model_cfg": copy.deepcopy(self.arch.config),
            "preprocess_cfg": dict(self.preprocess_cfg),
        }

    @property
    def approx_bytes(self) -> int:
        """About what the download weighs: float32 weights, 4 bytes a parameter (0: unknown).
        The exact sizes come from the hub when the download starts."""
        return int(self.arch.params_m * 4e6) if self.arch and self.arch.params_m else 0

    @property
    def repos(self) -> tuple[str, ...]:
        """Every repository the entry's files come from, its own first."""
        out = [self.repo_id]
        for f in self.files:
            if f.repo and f.repo not in out:
                out.append(f.repo)
        return tuple(out)

    def quality(self) -> Figure | None:
        """The figure the picker shows: English ImageNet zero-shot where published, else the
        English retrieval recall (Immich's table covers models OpenCLIP's does not)."""
        for metric in ("imagenet", "xm3600", "coco_r5"):
            for f in self.figures:
                if f.metric == metric and f.language == "en":
                    return f
        return None

    def to_json(self) -> dict[str, Any]:
        arch = self.arch
        return {
            "name": self.name,
            "title": self.title or self.name,
            "repo_id": self.repo_id,
            "revision": self.revision,
            "description": self.description,
            "approx_bytes": self.approx_bytes,
            "act": self.act,
            "family": self.family,
            "layout": self.layout,
            "architecture": arch.key if arch else None,
            "embed_dim": arch.embed_dim if arch else None,
            "image_size": arch.image_size if arch else None,
            "languages": list(self.languages),
            "files": [
                {"repo": f.repo or self.repo_id, "name": f.name, "local": f.local_name}
                for f in self.files
            ],
            "figures": [
                {
                    "metric": f.metric,
                    "language": f.language,
                    "value": f.value,
                    "source": f.source.url,
                }
                for f in self.figures
            ],
        }


# --- architectures -------------------------------------------------------------------------


def _hf_clip(
    embed: int,
    image: int,
    patch: int,
    width: int,
    layers: int,
    text_width: int,
    text_layers: int,
    act: str,
) -> dict[str, Any]:
    """The architecture fields of a Hugging Face CLIPModel config.json (64-wide heads, 4x MLPs,
    as in every released CLIP)."""
    return {
        "model_type": "clip",
        "projection_dim": embed,
        "vision_config": {
            "image_size": image,
            "patch_size": patch,
            "hidden_size": width,
            "intermediate_size": 4 * width,
            "num_hidden_layers": layers,
            "num_attention_heads": width // 64,
            "hidden_act": act,
        },
        "text_config": {
            "hidden_size": text_width,
            "intermediate_size": 4 * text_width,
            "num_hidden_layers": text_layers,
            "num_attention_heads": text_width // 64,
            "max_position_embeddings": 77,
            "vocab_size": 49408,
            "hidden_act": act,
        },
    }


def _open_clip(
    embed: int, vision: dict[str, Any], text: dict[str, Any] | None = None, quick_gelu: bool = False
) -> dict[str, Any]:
    """An ``open_clip_config.json``'s ``model_cfg`` (OpenCLIP's CLIP text tower by default)."""
    cfg: dict[str, Any] = {
        "embed_dim": embed,
        "vision_cfg": vision,
        "text_cfg": text
        or {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12},
    }
    if quick_gelu:
        cfg["quick_gelu"] = True
    return cfg


def _siglip(vocab: int, image: int, patch: int) -> dict[str, Any]:
    """The architecture fields of a Hugging Face SiglipModel config.json, base size."""
    tower = {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "hidden_act": "gelu_pytorch_tanh",
        "layer_norm_eps": 1e-6,
    }
    return {
        "model_type": "siglip",
        "text_config": {**tower, "vocab_size": vocab, "max_position_embeddings": 64},
        "vision_config": {**tower, "image_size": image, "patch_size": patch},
    }


def _xlmr_text(width: int, layers: int) -> dict[str, Any]:
    """The fields of Facebook's xlm-roberta-{base,large} config.json the encoder is built from."""
    return {
        "model_type": "xlm-roberta",
        "vocab_size": 250002,
        "hidden_size": width,
        "intermediate_size": 4 * width,
        "num_hidden_layers": layers,
        "num_attention_heads": width // 64,
        "max_position_embeddings": 514,
        "type_vocab_size": 1,
        "pad_token_id": 1,
        "layer_norm_eps": 1e-5,
        "hidden_act": "gelu",
    }


_VIT_H14 = {"image_size": 224, "layers": 32, "width": 1280, "head_width": 80, "patch_size": 14}
_VIT_B32 = {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32}

ARCHITECTURES: dict[str, Architecture] = {
    a.key: a
    for a in (
        Architecture(
            "ViT-B-32-quickgelu", "clip", "hf-clip", 512, 224,
            _hf_clip(512, 224, 32, 768, 12, 512, 12, "quick_gelu"), params_m=151.28,
        ),
        Architecture(
            "ViT-B-32", "clip", "hf-clip", 512, 224,
            _hf_clip(512, 224, 32, 768, 12, 512, 12, "gelu"), params_m=151.28,
        ),
        Architecture(
            "ViT-B-16-quickgelu", "clip", "hf-clip", 512, 224,
            _hf_clip(512, 224, 16, 768, 12, 512, 12, "quick_gelu"), params_m=149.62,
        ),
        Architecture(
            "ViT-L-14-quickgelu", "clip", "hf-clip", 768, 224,
            _hf_clip(768, 224, 14, 1024, 24, 768, 12, "quick_gelu"), params_m=427.62,
        ),
        Architecture(
            "ViT-B-32-256", "clip", "openclip-hub", 512, 256,
            _open_clip(512, {**_VIT_B32, "image_size": 256}), params_m=151.29,
        ),
        Architecture(
            "ViT-L-14", "clip", "openclip-hub", 768, 224,
            _open_clip(
                768,
                {"image_size": 224, "layers": 24, "width": 1024, "patch_size": 14},
                {"context_length": 77, "vocab_size": 49408, "width": 768, "heads": 12,
                 "layers": 12},
            ),
            params_m=427.62,
        ),
        Architecture(
            "ViT-H-14", "clip", "openclip-hub", 1024, 224,
            _open_clip(
                1024,
                _VIT_H14,
                {"context_length": 77, "vocab_size": 49408, "width": 1024, "heads": 16,
                 "layers": 24},
            ),
            params_m=986.11,
        ),
        Architecture(
            "RN50-quickgelu", "clip", "openclip-hub", 1024, 224,
            _open_clip(
                1024,
                {"image_size": 224, "layers": [3, 4, 6, 3], "width": 64, "patch_size": None},
                quick_gelu=True,
            ),
            params_m=102.01,
        ),
        Architecture(
            "ViT-B-16-SigLIP", "siglip", "siglip", 768, 224, _siglip(32000, 224, 16),
            params_m=203.16,
        ),
        # SigLIP2's Gemma vocabulary makes its text embedding table 8x SigLIP's; OpenCLIP's
        # profile predates SigLIP2, so these parameter counts are our build's.
        Architecture(
            "ViT-B-16-SigLIP2", "siglip", "siglip", 768, 224, _siglip(256000, 224, 16),
            params_m=375.19,
        ),
        Architecture(
            "ViT-B-32-SigLIP2-256", "siglip", "siglip", 768, 256, _siglip(256000, 256, 32),
            params_m=376.86,
        ),
        Architecture(
            "xlm-roberta-base-ViT-B-32", "xlm-roberta clip", "openclip-hub", 512, 224,
            _open_clip(
                512,
                _VIT_B32,
                {"hf_model_name": "xlm-roberta-base", "hf_tokenizer_name": "xlm-roberta-base",
                 "hf_pooler_type": "mean_pooler"},
            ),
            text_config=_xlmr_text(768, 12),
            params_m=366.12,
        ),
        Architecture(
            "xlm-roberta-large-ViT-H-14", "xlm-roberta clip", "openclip-hub", 1024, 224,
            _open_clip(
                1024,
                _VIT_H14,
                {"hf_model_name": "xlm-roberta-large", "hf_tokenizer_name": "xlm-roberta-large",
                 "hf_pooler_type": "mean_pooler"},
            ),
            text_config=_xlmr_text(1024, 24),
            params_m=1193.01,
        ),
    )
}  # fmt: skip


# --- the catalog ---------------------------------------------------------------------------


def _imagenet(value: float, note: str = "") -> Figure:
    return Figure("imagenet", value, OPENCLIP_RESULTS, note=note)


def _coco(value: float, note: str = "") -> Figure:
    return Figure("coco_r5", value, OPENCLIP_RETRIEVAL, note=note)


def _immich(value: float, note: str, language: str = "en") -> Figure:
    return Figure("xm3600", value, IMMICH, language=language, note=note)


def _immich_recall(note: str, recall: Mapping[str, float]) -> tuple[Figure, ...]:
    """Immich's recall of one model in each language given (``{"en": 68.33, "de": 81.63}``)."""
    return tuple(_immich(v, note, lang) for lang, v in recall.items())


def _openclip_figures(name: str, imagenet: float, coco: float) -> tuple[Figure, Figure]:
    return _imagenet(imagenet, name), _coco(coco, name)


# The 36 languages of Crossmodal-3600, in which OpenCLIP's multilingual results table evaluates
# its XLM-RoBERTa models (XLM-RoBERTa itself was pre-trained on about 100).
_XM3600_LANGUAGES = (
    "ar",
    "bn",
    "cs",
    "da",
    "de",
    "el",
    "en",
    "es",
    "fa",
    "fi",
    "fil",
    "fr",
    "he",
    "hi",
    "hr",
    "hu",
    "id",
    "it",
    "ja",
    "ko",
    "mi",
    "nl",
    "no",
    "pl",
    "pt",
    "quz",
    "ro",
    "ru",
    "sv",
    "sw",
    "te",
    "th",
    "tr",
    "uk",
    "vi",
    "zh",
)


def _multilingual(source_name: str, r5: Mapping[str, float]) -> tuple[Figure, ...]:
    return tuple(
        Figure("mscoco_ml_r5", v, OPENCLIP_MULTILINGUAL, language=lang, note=source_name)
        for lang, v in r5.items()
    )


# SigLIP2 was trained on multilingual WebLI; these are the languages Immich's table gives its
# recall in that we list (it lists more, lower ones too).
_SIGLIP2_LANGUAGES = ("en", "de", "fr", "zh")


def _siglip2_figures(name: str, **recall: float) -> tuple[Figure, ...]:
    # OpenCLIP's results table predates SigLIP2: no ImageNet or MSCOCO figure there.
    return _immich_recall(f"{name} (the same WebLI checkpoint)", recall)


_A = ARCHITECTURES

CATALOG: dict[str, CatalogEntry] = {
    e.name: e
    for e in (
        CatalogEntry(
            name="clip-vit-base-patch32",
            repo_id="openai/clip-vit-base-patch32",
            title="OpenAI ViT-B/32",
            description="OpenAI CLIP ViT-B/32 (2021): the original, fast on any machine",
            act="quick_gelu",
            arch=_A["ViT-B-32-quickgelu"],
            figures=(
                *_openclip_figures("ViT-B-32 openai", 63.32, 55.94),
                _immich(59.37, "ViT-B-32__openai"),
            ),
        ),
        CatalogEntry(
            name="clip-vit-base-patch16",
            repo_id="openai/clip-vit-base-patch16",
            title="OpenAI ViT-B/16",
            description="OpenAI CLIP ViT-B/16: finer patches than B/32, about 3x the work",
            act="quick_gelu",
            arch=_A["ViT-B-16-quickgelu"],
            figures=(
                *_openclip_figures("ViT-B-16 openai", 68.34, 58.42),
                _immich(58.27, "ViT-B-16__openai"),
            ),
        ),
        CatalogEntry(
            name="clip-vit-large-patch14",
            repo_id="openai/clip-vit-large-patch14",
            title="OpenAI ViT-L/14",
            description="OpenAI CLIP ViT-L/14: OpenAI's largest 224-pixel model; slow on a CPU",
            act="quick_gelu",
            arch=_A["ViT-L-14-quickgelu"],
            figures=(
                *_openclip_figures("ViT-L-14 openai", 75.54, 61.06),
                _immich(60.12, "ViT-L-14__openai"),
            ),
        ),
        CatalogEntry(
            name="laion-clip-vit-b-32",
            repo_id="laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
            title="LAION-2B ViT-B/32",
            description="OpenCLIP ViT-B/32 trained on LAION-2B: better zero-shot accuracy, same speed",
            act="gelu",
            arch=_A["ViT-B-32"],
            figures=(
                *_openclip_figures("ViT-B-32 laion2b_s34b_b79k", 66.56, 65.43),
                _immich(68.78, "ViT-B-32__laion2b-s34b-b79k"),
            ),
        ),
        CatalogEntry(
            name="datacomp-clip-vit-b-32-256",
            repo_id="laion/CLIP-ViT-B-32-256x256-DataComp-s34B-b86K",
            title="DataComp-1B ViT-B/32-256",
            description="OpenCLIP ViT-B/32 at 256 px trained on DataComp-1B: about B/32 speed, "
            "more accurate than OpenAI's B/16 (rclip's default model)",
            act="gelu",
            files=OPENCLIP_HUB_FILES,
            arch=_A["ViT-B-32-256"],
            # Immich's table does not list this model.
            figures=_openclip_figures("ViT-B-32-256 datacomp_s34b_b86k", 72.81, 65.43),
        ),
        CatalogEntry(
            name="siglip2-base-patch16-224",
            repo_id="google/siglip2-base-patch16-224",
            title="SigLIP2 B/16",
            description="Google SigLIP2 base, 16 px patches: the best search recall among "
            "base-size models in Immich's table",
            files=SIGLIP_FILES,
            arch=_A["ViT-B-16-SigLIP2"],
            languages=_SIGLIP2_LANGUAGES,
            figures=_siglip2_figures(
                "ViT-B-16-SigLIP2__webli", en=75.19, de=86.44, fr=84.3, zh=64.39
            ),
        ),
        CatalogEntry(
            name="siglip2-base-patch32-256",
            repo_id="google/siglip2-base-patch32-256",
            title="SigLIP2 B/32-256",
            description="Google SigLIP2 base, 32 px patches at 256 px: fast, with strong recall",
            files=SIGLIP_FILES,
            arch=_A["ViT-B-32-SigLIP2-256"],
            languages=_SIGLIP2_LANGUAGES,
            figures=_siglip2_figures(
                "ViT-B-32-SigLIP2-256__webli", en=73.15, de=84.44, fr=82.27, zh=62.56
            ),
        ),
        CatalogEntry(
            name="siglip-base-patch16-224",
            repo_id="google/siglip-base-patch16-224",
            title="SigLIP B/16",
            description="Google SigLIP (2023) base, 16 px patches: sigmoid scoring, English",
            files=SIGLIP_FILES,
            arch=_A["ViT-B-16-SigLIP"],
            figures=(
                *_openclip_figures(
                    "ViT-B-16-SigLIP webli (the same WebLI checkpoint)", 76.04, 72.44
                ),
                _immich(71.64, "ViT-B-16-SigLIP__webli"),
            ),
        ),
        CatalogEntry(
            name="xlm-roberta-base-clip-vit-b-32",
            repo_id="laion/CLIP-ViT-B-32-xlm-roberta-base-laion5B-s13B-b90k",
            title="Multilingual ViT-B/32 (XLM-R base)",
            description="OpenCLIP ViT-B/32 with an XLM-RoBERTa text tower, trained on LAION-5B: "
            "search and tags in about 100 languages",
            act="gelu",
            files=OPENCLIP_HUB_FILES + xlmr_text_files("FacebookAI/xlm-roberta-base"),
            arch=_A["xlm-roberta-base-ViT-B-32"],
            languages=_XM3600_LANGUAGES,
            figures=(
                *_openclip_figures("xlm-roberta-base-ViT-B-32 laion5b_s13b_b90k", 62.36, 63.44),
                *_immich_recall(
                    "XLM-Roberta-Base-ViT-B-32__laion5b_s13b_b90k",
                    {"en": 68.33, "de": 81.63, "fr": 79.65, "zh": 72.52},
                ),
                *_multilingual(
                    "xlm-roberta-base-ViT-B-32 laion5b_s13b_b90k",
                    {"de": 80.7, "es": 83.2, "ja": 78.3, "zh": 79.6},
                ),
            ),
        ),
        CatalogEntry(
            name="openai-rn50",
            repo_id="timm/resnet50_clip.openai",
            title="OpenAI RN50",
            description="OpenAI CLIP ResNet-50 (OpenCLIP's copy of OpenAI's weights): the "
            "smallest CLIP, for old machines",
            act="quick_gelu",
            files=OPENCLIP_HUB_FILES,
            arch=_A["RN50-quickgelu"],
            figures=(
                *_openclip_figures("RN50 openai", 59.82, 52.91),
                _immich(58.32, "RN50__openai"),
            ),
        ),
        CatalogEntry(
            name="laion-clip-vit-l-14",
            repo_id="laion/CLIP-ViT-L-14-laion2B-s32B-b82K",
            title="LAION-2B ViT-L/14",
            description="OpenCLIP ViT-L/14 trained on LAION-2B: accurate; slow on a CPU",
            act="gelu",
            files=OPENCLIP_HUB_FILES,
            arch=_A["ViT-L-14"],
            preprocess_cfg=INCEPTION_PREPROCESS,  # OpenCLIP's laion2b_s32b_b82k says so
            figures=(
                *_openclip_figures("ViT-L-14 laion2b_s32b_b82k", 75.25, 71.08),
                _immich(69.86, "ViT-L-14__laion2b-s32b-b82k"),
            ),
        ),
        CatalogEntry(
            name="datacomp-clip-vit-l-14",
            repo_id="laion/CLIP-ViT-L-14-DataComp.XL-s13B-b90K",
            title="DataComp-XL ViT-L/14",
            description="OpenCLIP ViT-L/14 trained on DataComp-1B: the best ImageNet zero-shot "
            "accuracy in this catalog",
            act="gelu",
            files=OPENCLIP_HUB_FILES,
            arch=_A["ViT-L-14"],
            # Immich's table does not list this model.
            figures=_openclip_figures("ViT-L-14 datacomp_xl_s13b_b90k", 79.21, 70.03),
        ),
        CatalogEntry(
            name="laion-clip-vit-h-14",
            repo_id="laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
            title="LAION-2B ViT-H/14",
            description="OpenCLIP ViT-H/14 trained on LAION-2B: for a GPU",
            act="gelu",
            files=OPENCLIP_HUB_FILES,
            arch=_A["ViT-H-14"],
            figures=(
                *_openclip_figures("ViT-H-14 laion2b_s32b_b79k", 77.96, 73.38),
                _immich(71.33, "ViT-H-14__laion2b-s32b-b79k"),
            ),
        ),
        CatalogEntry(
            name="xlm-roberta-large-clip-vit-h-14",
            repo_id="laion/CLIP-ViT-H-14-frozen-xlm-roberta-large-laion5B-s13B-b90k",
            title="Multilingual ViT-H/14 (XLM-R large)",
            description="OpenCLIP ViT-H/14 with an XLM-RoBERTa-large text tower: the most "
            "accurate multilingual model here; for a GPU",
            act="gelu",
            files=OPENCLIP_HUB_FILES + xlmr_text_files("FacebookAI/xlm-roberta-large"),
            arch=_A["xlm-roberta-large-ViT-H-14"],
            languages=_XM3600_LANGUAGES,
            figures=(
                *_openclip_figures(
                    "xlm-roberta-large-ViT-H-14 frozen_laion5b_s13b_b90k", 76.95, 73.05
                ),
                *_immich_recall(
                    "XLM-Roberta-Large-ViT-H-14__frozen_laion5b_s13b_b90k",
                    {"en": 71.45, "de": 87.19, "fr": 84.49, "zh": 77.19},
                ),
                *_multilingual(
                    "xlm-roberta-large-ViT-H-14 frozen_laion5b_s13b_b90k",
                    {"de": 87.4, "es": 89.1, "ja": 86.2, "zh": 85.7},
                ),
            ),
        ),
    )
}
