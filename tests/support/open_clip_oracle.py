"""OpenCLIP's own model code as an independent oracle, from the ``open-clip-torch`` wheel.

The wheel depends on torchvision, which has no working build beside our torch, so it is never
installed: ``pip download --no-deps`` fetches it once into a cache, it is unpacked, and only the
modules the models need are imported, with a stand-in for the one torchvision name their import
chain touches (``torchvision.ops.misc.FrozenBatchNorm2d``, used only to freeze batch norms, which
the tests never do). The package's ``__init__`` (which imports torchvision's transforms) is not run,
and OpenCLIP's hub-folder writer is compiled from its module's source (``hub_writer``).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import subprocess
import sys
import types
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, Union

import pytest

VERSION = "3.3.0"
WHEEL = f"open_clip_torch-{VERSION}-py3-none-any.whl"
SHA256 = "c549ad5ed6bfc119cc11105033c0a2b9d7a2a4afeb40a58a09aab3da1a0043ce"


def cache_dir() -> Path:
    root = os.environ.get("CLIPDESK_TEST_WHEELS") or Path.home() / ".cache" / "clipdesk-test-wheels"
    return Path(root)


def wheel_root() -> Path:
    """The unpacked wheel (downloaded on first use); skips the test when pip cannot fetch it."""
    import hashlib

    cache = cache_dir()
    unpacked = cache / f"open_clip_torch-{VERSION}"
    if (unpacked / "open_clip" / "model.py").is_file():
        return unpacked
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / WHEEL
    if not wheel.is_file():
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "-d",
                str(cache),
                f"open-clip-torch=={VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0 or not wheel.is_file():
            why = f"open-clip-torch {VERSION} could not be downloaded: {done.stderr[-300:]}"
            if os.environ.get("CI"):  # CI must run the conformance tests, not skip them
                pytest.fail(why)
            pytest.skip(why)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert digest == SHA256, f"{wheel}: sha256 {digest}, expected {SHA256}"
    staging = cache / f".unpacking-{os.getpid()}"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(staging)
    staging.rename(unpacked)
    return unpacked


def model_configs_dir() -> Path:
    return wheel_root() / "open_clip" / "model_configs"


def model_config(name: str) -> dict[str, Any]:
    """The wheel's ``model_configs/<name>.json`` (an OpenCLIP architecture's model_cfg)."""
    return json.loads((model_configs_dir() / f"{name}.json").read_text())


@functools.cache
def hub_writer() -> Callable[..., None]:
    """OpenCLIP's own hub-folder writer, ``push_to_hf_hub.save_for_hf`` (with the
    ``save_config_for_hf`` it calls), compiled from the wheel's source. The module itself cannot
    be imported: it imports open_clip.factory, whose transform module needs eleven
    torchvision.transforms names that the stand-in rightly does not fake; the two writer
    functions use none of them."""
    import ast

    import safetensors.torch
    import torch

    path = wheel_root() / "open_clip" / "push_to_hf_hub.py"
    wanted = ("save_config_for_hf", "save_for_hf")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    body: list[ast.stmt] = [
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted
    ]
    assert [n.name for n in body] == list(wanted)
    constants = import_module("constants")
    namespace: dict[str, Any] = {
        "json": json,
        "Path": Path,
        "torch": torch,
        "safetensors": safetensors,
        "_has_safetensors": True,
        "Optional": Optional,
        "Union": Union,
        "HFTokenizer": object,  # only an annotation
        "HF_WEIGHTS_NAME": constants.HF_WEIGHTS_NAME,
        "HF_SAFE_WEIGHTS_NAME": constants.HF_SAFE_WEIGHTS_NAME,
        "HF_CONFIG_NAME": constants.HF_CONFIG_NAME,
    }
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), namespace)
    return namespace["save_for_hf"]  # type: ignore[no-any-return]


def _stand_in_torchvision() -> dict[str, types.ModuleType]:
    from importlib.machinery import ModuleSpec

    from torch import nn

    class FrozenBatchNorm2d(nn.Module):  # only named by open_clip.utils.freeze_batch_norm_2d
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("the oracle never freezes batch norms")

    modules = {}
    for name in ("torchvision", "torchvision.ops", "torchvision.ops.misc"):
        modules[name] = types.ModuleType(name)
        modules[name].__spec__ = ModuleSpec(name, None)
    modules["torchvision.ops.misc"].FrozenBatchNorm2d = FrozenBatchNorm2d  # type: ignore[attr-defined]
    return modules


def import_module(name: str) -> types.ModuleType:
    """``open_clip.<name>`` (e.g. "model", "modified_resnet", "tokenizer") from the wheel."""
    root = wheel_root()
    import transformers  # noqa: F401  (imported first: it must not see the stand-in)

    if "open_clip" not in sys.modules:
        package = types.ModuleType("open_clip")
        package.__path__ = [str(root / "open_clip")]  # a package without running its __init__
        sys.modules["open_clip"] = package
    # The stand-in exists only while open_clip's modules are imported; nothing else sees it.
    stand_in = _stand_in_torchvision()
    if any(n in sys.modules for n in stand_in):
        return importlib.import_module(f"open_clip.{name}")
    sys.modules.update(stand_in)
    try:
        return importlib.import_module(f"open_clip.{name}")
    finally:
        for n in stand_in:
            sys.modules.pop(n, None)
