"""Reading and writing CLIP checkpoints.

Formats read by :func:`load_checkpoint`:
- a Hugging Face CLIP folder: ``config.json`` + ``model.safetensors`` (or sharded
  ``model.safetensors.index.json``; ``pytorch_model.bin`` only through ``weights_only``) +
  ``tokenizer.json`` (+ ``preprocessor_config.json``);
- an OpenAI / OpenCLIP state dict stored as ``.safetensors`` (config inferred from the shapes,
  tokenizer built from CLIP's vocabulary);
- ``.bin`` / ``.pt`` / ``.pth`` files through ``torch.load(weights_only=True)`` only.

Our own format is the Hugging Face folder plus ``clipdesk.json`` (name, demo flag), so
transformers can read what ClipDesk trains.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch

from clipdesk.common import limits
from clipdesk.common.errors import CheckpointError
from clipdesk.common.json_files import read_json_file
from clipdesk.common.progress import CancelToken
from clipdesk.model import state_dicts
from clipdesk.model.clip import ClipModule
from clipdesk.model.config import ClipConfig, ResNetConfig
from clipdesk.model.dual_encoder import DualEncoder
from clipdesk.model.preprocess import PreprocessConfig
from clipdesk.model.tokenizer import ClipTokenizer, TextTokenizer

log = logging.getLogger(__name__)

META_FILE = "clipdesk.json"


@dataclass
class Checkpoint:
    module: DualEncoder
    tokenizer: TextTokenizer
    preprocess: PreprocessConfig
    name: str
    weights_hash: str  # sha256 of the weight files, hex
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)


def finetunable(ckpt: Checkpoint) -> tuple[ClipModule, ClipTokenizer]:
    """The module and tokenizer of a checkpoint the trainer can fine-tune and save back as a
    Hugging Face CLIP folder; any other family is refused by name."""
    module, tokenizer = ckpt.module, ckpt.tokenizer
    if isinstance(module, ClipModule) and isinstance(module.cfg.vision, ResNetConfig):
        raise CheckpointError(
            f"{ckpt.path}: fine-tuning is not available for ResNet CLIP models: ClipDesk saves "
            "a fine-tuned model as a Hugging Face CLIPModel, which has no ResNet image tower",
            hint="fine-tune a ViT CLIP model (OpenAI, OpenCLIP or Hugging Face CLIP); trained "
            "tag heads work with every model",
        )
    if (
        not module.can_finetune
        or not isinstance(module, ClipModule)
        or not isinstance(tokenizer, ClipTokenizer)
    ):
        raise CheckpointError(
            f"{ckpt.path}: fine-tuning is not available for {module.family} models",
            hint="fine-tune a ViT CLIP model (OpenAI, OpenCLIP or Hugging Face CLIP); trained "
            "tag heads work with every model",
        )
    return module, tokenizer


def load_checkpoint(path: str | Path, act: str | None = None) -> Checkpoint:
    """Load any supported checkpoint on the CPU in fp32. ``act`` overrides the activation for
    config-less state dicts ("quick_gelu" for OpenAI weights, "gelu" for most LAION ones)."""
    from clipdesk.model import families

    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    if path.is_dir():
        return families.load_folder(path)
    return families.load_file(path, act)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = read_json_file(
            path, max_bytes=limits.MODEL_JSON_MAX_BYTES, max_depth=limits.MODEL_JSON_MAX_DEPTH
        )
    except ValueError as exc:
        raise CheckpointError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return data


def load_hf_clip_folder(folder: Path) -> Checkpoint:
    """A Hugging Face ``CLIPModel`` folder (ours included); :func:`families.load_folder` has
    refused every other ``model_type`` before it calls this."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CheckpointError(
            f"{folder}: no config.json — not a Hugging Face CLIP folder",
            hint="import the folder that holds config.json and model.safetensors",
        )
    hf = read_json(config_path)
    try:
        cfg = ClipConfig.from_hf(hf)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{config_path}: unusable CLIP config ({exc})",
            hint="the file is damaged or not the config of a CLIP model; "
            "take it again from where the model came from",
        ) from exc
    # Every small file is checked before the weights are read: a refusal costs nothing.
    pre = _read_preprocess(folder / "preprocessor_config.json", cfg.vision.image_size)
    tok_path = folder / "tokenizer.json"
    if tok_path.is_file():
        tokenizer = ClipTokenizer.from_file(tok_path, cfg.text.context_length)
    else:
        tokenizer = state_dicts.default_clip_tokenizer(cfg.text.context_length)
    weight_files = state_dicts.find_weight_files(folder)
    sd = state_dicts.read_weights(weight_files)
    module = build_module(cfg, state_dicts.to_native(sd), weight_files[0])
    if tokenizer.vocab_size > cfg.text.vocab_size:
        raise CheckpointError(
            f"{tok_path}: the tokenizer has {tokenizer.vocab_size} tokens but the model only "
            f"{cfg.text.vocab_size}"
        )
    return folder_checkpoint(folder, module, tokenizer, pre, weight_files)


def folder_checkpoint(
    folder: Path,
    module: DualEncoder,
    tokenizer: TextTokenizer,
    preprocess: PreprocessConfig,
    weight_files: list[Path],
) -> Checkpoint:
    """The checkpoint of a model folder, any family's: named by its ``clipdesk.json`` (which
    ClipDesk writes beside what it installs) or else by the folder."""
    meta = read_json(folder / META_FILE) if (folder / META_FILE).is_file() else {}
    return Checkpoint(
        module=module,
        tokenizer=tokenizer,
        preprocess=preprocess,
        name=str(meta.get("name") or folder.name),
        weights_hash=weights_hash(weight_files),
        path=folder,
        meta=meta,
    )


def _read_preprocess(path: Path, image_size: int) -> PreprocessConfig:
    """The photo preprocessing a folder declares, checked before any photo is resized by it."""
    if not path.is_file():
        return PreprocessConfig(size=image_size)
    try:
        pre = PreprocessConfig.from_hf(read_json(path), image_size)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: unusable preprocessing ({exc})",
            hint="the file is damaged or not a CLIP image processor's config",
        ) from exc
    if pre.size != image_size:
        raise CheckpointError(
            f"{path}: crop_size is {pre.size} but the model takes images of {image_size} "
            "pixels (config.json image_size)",
            hint="the two files are of different models",
        )
    return pre


def load_clip_state_dict_file(path: Path, act: str | None) -> Checkpoint:
    """A config-less OpenAI / OpenCLIP state dict of the CLIP architecture."""
    from clipdesk.model.families import detect

    sd = state_dicts.read_weights([path])
    detect.check_state_dict(sd, path)
    native = state_dicts.to_native(sd)
    cfg = state_dicts.infer_config(native, path, act=act, original=sd)
    module = build_module(cfg, native, path)
    return Checkpoint(
        module=module,
        tokenizer=state_dicts.default_clip_tokenizer(cfg.text.context_length),
        preprocess=PreprocessConfig(size=cfg.vision.image_size),
        name=path.stem,
        weights_hash=weights_hash([path]),
        path=path,
    )


# In-place fills that modules' constructors and reset_parameters run on their fresh tensors.
_FILLS = frozenset(
    {"normal_", "uniform_", "fill_", "zero_", "random_", "exponential_", "bernoulli_"}
)


class _SkipInitialisers(torch.overrides.TorchFunctionMode):
    """Skips torch.nn.init's functions and in-place random fills of meta tensors. On the meta
    device they compute nothing, yet the first ``normal_`` there goes through torch's Python
    reference kernels, which import torch._dynamo: 2-3 s of a model's load (issue #15)."""

    def __init__(self) -> None:
        super().__init__()
        self._inits = {
            f
            for name, f in vars(torch.nn.init).items()
            if name.endswith("_") and not name.startswith("_") and callable(f)
        }

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: object,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if func in self._inits or getattr(func, "__name__", None) in _FILLS:
            target = args[0] if args else kwargs.get("tensor")
            if isinstance(target, torch.Tensor) and target.is_meta:
                return target
        return func(*args, **kwargs)


@contextlib.contextmanager
def uninitialised() -> Iterator[None]:
    """Modules built inside have every tensor on the meta device, with no initialiser run: the
    checkpoint's weights replace them all (:func:`load_exact`, ``assign=True``)."""
    with torch.device("meta"), _SkipInitialisers():
        yield


def build_module(cfg: ClipConfig, sd: dict[str, torch.Tensor], source: Path) -> ClipModule:
    """A module with exactly these weights; any missing, unexpected or misshapen tensor is an error
    naming the file."""
    with uninitialised():
        module = ClipModule(cfg)
    return load_exact(module, sd, source, "the CLIP architecture")


ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def load_exact(
    module: ModuleT, sd: dict[str, torch.Tensor], source: Path, architecture: str
) -> ModuleT:
    """Give a module built on the meta device (so no random initialisation is wasted) exactly
    these weights, in fp32; any missing, unexpected or misshapen tensor is an error naming the
    file and ``architecture``."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    wrong = [
        f"{k} {tuple(sd[k].shape)} (expected {expected[k]})"
        for k in expected
        if k in sd and tuple(sd[k].shape) != expected[k]
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensors ({_sample(missing)})")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} tensors ({_sample(unexpected)})")
    if wrong:
        problems.append(f"wrong shapes: {_sample(wrong)}")
    if problems:
        raise CheckpointError(f"{source}: does not fit {architecture}: {'; '.join(problems)}")
    floats = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    module.load_state_dict(floats, strict=True, assign=True)
    return module.eval()


def _sample(items: list[str], n: int = 3) -> str:
    more = f", … {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


HASH_CACHE_FILE = "weight-hashes.json"  # in the user's cache folder


def _hash_cache_file() -> Path:
    from clipdesk.common import paths

    return paths.cache_dir() / HASH_CACHE_FILE


def read_hash_cache() -> dict[str, Any]:
    """The weight-hash cache, for :func:`cached_weights_hash` (empty if missing or damaged)."""
    try:
        data = json.loads(_hash_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _hash_key(files: Sequence[Path]) -> str:
    """The cache key of a set of weight files: each one's resolved path, size and mtime, so a
    touched or replaced file costs a hash, never a wrong id."""
    return "\n".join(
        f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}" for f in files for st in (f.stat(),)
    )


def cached_weights_hash(
    files: Sequence[Path], cache: Mapping[str, Any] | None = None
) -> str | None:
    """The hash :func:`weights_hash` cached for these files (None: never hashed as they are now,
    or a file cannot be read); reads no weights. ``cache``: the cache as
    :func:`read_hash_cache` gave it, to look up many models with one read."""
    try:
        key = _hash_key(files)
    except OSError:
        return None
    digest = (read_hash_cache() if cache is None else cache).get(key)
    return digest if isinstance(digest, str) else None


def weights_hash(
    files: list[Path],
    *,
    cancel: CancelToken | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """sha256 over the weight files, cached by (path, size, mtime) so a load does not re-read
    gigabytes. ``cancel`` is polled and ``progress(done_bytes, total_bytes)`` called for every
    chunk read (never when the hash is cached), so a caller hashing gigabytes can stop it."""
    cache = read_hash_cache()
    key = _hash_key(files)
    if isinstance(cache.get(key), str):
        return str(cache[key])
    total = sum(f.stat().st_size for f in files)
    done = 0
    if progress is not None:
        progress(done, total)
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(functools.partial(fh.read, 1 << 22), b""):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                h.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    digest = h.hexdigest()
    cache[key] = digest
    try:
        _atomic_write_text(_hash_cache_file(), json.dumps(cache))
    except OSError as exc:  # a read-only cache only costs a re-hash next time
        log.warning("could not cache weight hash: %s", exc)
    return digest


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_model_folder(
    module: ClipModule,
    tokenizer: ClipTokenizer,
    folder: str | Path,
    *,
    name: str,
    preprocess: PreprocessConfig | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write a Hugging Face CLIP folder (readable by ClipDesk and transformers), atomically:
    the folder appears complete or not at all."""
    from safetensors.torch import save_file

    from clipdesk.model.convert import native_to_hf

    cfg = module.cfg
    pre = preprocess or PreprocessConfig(size=cfg.vision.image_size)
    folder = Path(folder)
    with staged_folder(folder, name, meta) as tmp:
        sd = {k: v.detach().to("cpu", torch.float32) for k, v in module.state_dict().items()}
        save_file(native_to_hf(sd), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(cfg.to_hf(), indent=2), encoding="utf-8")
        (tmp / "preprocessor_config.json").write_text(json.dumps(pre.to_hf(), indent=2))
        tokenizer.save(tmp / "tokenizer.json")
        (tmp / "tokenizer_config.json").write_text(
            json.dumps(
                {
                    "tokenizer_class": "CLIPTokenizer",
                    "model_max_length": cfg.text.context_length,
                    "bos_token": "<|startoftext|>",
                    "eos_token": "<|endoftext|>",
                    "unk_token": "<|endoftext|>",
                    "pad_token": "<|endoftext|>",
                },
                indent=2,
            )
        )
    return folder


@contextlib.contextmanager
def staged_folder(folder: Path, name: str, meta: dict[str, Any] | None) -> Iterator[Path]:
    """A staging folder for a model saved as ``folder``: the block writes the model's files
    into it, then ``clipdesk.json`` (``name``, ``meta``) is added and the whole replaces
    ``folder`` at once, so readers see it complete or not at all; on any error it is removed."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    # ".save-NAME-": the models folder's sweep recognises what a killed save leaves
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".save-{folder.name}-"))
    try:
        yield tmp
        (tmp / META_FILE).write_text(
            json.dumps({"name": name, "format_version": 1, **(meta or {})}, indent=2)
        )
        _apply_umask(tmp)
        replace_folder(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_folder(staging: Path, dest: Path) -> None:
    """Put a complete folder in place of ``dest`` (if any) by renames, so readers see the old
    folder or the new one, never a half-written one, even after a crash (see folder_swap)."""
    from clipdesk.model.folder_swap import swap_into_place

    swap_into_place(staging, dest)


def _apply_umask(folder: Path) -> None:
    """mkdtemp and safetensors create owner-only files; a saved model should get the permissions
    any file the user creates gets."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for f in folder.iterdir():
        f.chmod(0o666 & ~umask)
