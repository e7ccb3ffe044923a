"""How the towers run: PyTorch (every device, training) or ONNX Runtime (the CPU, fp32 or int8).

A runtime and a precision together make a label ("onnx-int8", "torch-fp32") that the library
records with every vector and that search results name. ONNX Runtime serves a model once its
graphs are exported (:mod:`.export`, cached by :mod:`.cache`); "auto" takes the faster of the two
as measured on this machine at export, and torch on a GPU. Nothing here imports torch but
:mod:`.export` and :mod:`.torch_towers`, so a text query on ONNX Runtime never loads it.
"""

from __future__ import annotations

from typing import Literal, get_args

RuntimeChoice = Literal["auto", "torch", "onnx"]
Runtime = Literal["torch", "onnx"]
Precision = Literal["fp32", "int8", "fp16", "bf16"]

RUNTIME_CHOICES: tuple[str, ...] = get_args(RuntimeChoice)
RUNTIME_ENV = "CLIPDESK_RUNTIME"  # overrides the setting, for one process (tests, scripts)

_NAMES = {"torch": "PyTorch", "onnx": "ONNX Runtime"}


def label(runtime: Runtime, precision: Precision) -> str:
    """The name a vector's origin is recorded under: ``"onnx-int8"``, ``"torch-fp32"``."""
    return f"{runtime}-{precision}"


def describe(runtime_label: str) -> str:
    """``"onnx-int8"`` -> ``"ONNX Runtime int8"``, for people."""
    runtime, _, precision = runtime_label.partition("-")
    return f"{_NAMES.get(runtime, runtime)} {precision}".strip()


def precision_of(runtime_label: str) -> str:
    return runtime_label.partition("-")[2]


def configured_choice() -> str:
    """The runtime this process uses: ``CLIPDESK_RUNTIME``, else the shared setting."""
    import os

    from clipdesk.common import config

    return os.environ.get(RUNTIME_ENV, "").strip() or config.load().runtime


def check_choice(value: str, what: str = "runtime") -> RuntimeChoice:
    from clipdesk.common.errors import ModelError

    choice = value.strip().lower()
    if choice not in RUNTIME_CHOICES:
        raise ModelError(
            f"unknown {what} {value!r}",
            hint="choose auto, torch or onnx",
            cli_hint="use --runtime auto, torch or onnx",
        )
    return choice  # type: ignore[return-value]
