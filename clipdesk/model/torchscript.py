"""Reading the weights out of a TorchScript archive without running it.

OpenAI's original checkpoints (``ViT-B-32.pt`` as the ``clip`` package downloads it) are
TorchScript archives: a zip with the module's code and a pickle of its attributes. ``torch.load``
would hand them to ``torch.jit.load``, which runs that code; ``weights_only=True`` refuses them.
Here the attribute pickle is read by an unpickler that knows exactly four things — script-module
placeholders, tensors, their storages and OrderedDict — and refuses any other global, so nothing
in the file can execute. The result is a plain state dict.
"""

from __future__ import annotations

import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "DoubleStorage": torch.float64,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


def is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for n in names)


class _ScriptObject:
    """Stands in for a ``__torch__.*`` class: keeps the attributes, has no behaviour."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {}


def _identity(value: Any, *_: Any) -> Any:
    return value


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str) -> None:
        import io

        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix
        self._storages: dict[str, torch.storage.TypedStorage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            return _ScriptObject
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch.jit._pickle" and name.startswith("build_"):
            return _identity  # list/tuple builders for plain attributes
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")

    def persistent_load(self, pid: Any) -> torch.storage.TypedStorage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, dtype, key, _location, numel = pid
        if not isinstance(dtype, torch.dtype):
            raise pickle.UnpicklingError(f"unexpected storage type {dtype!r}")
        if key not in self._storages:
            raw = bytearray(self._archive.read(f"{self._prefix}data/{key}"))
            flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
            if flat.numel() < numel:
                raise pickle.UnpicklingError(f"storage {key} is truncated")
            # torch leaves TypedStorage.__init__/__new__ unannotated.
            self._storages[key] = torch.storage.TypedStorage(  # type: ignore[no-untyped-call]
                wrap_storage=flat.untyped_storage(), dtype=dtype, _internal=True
            )
        return self._storages[key]


def _rebuild_tensor(
    storage: torch.storage.TypedStorage,
    offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    requires_grad: bool = False,
    *_: Any,
) -> torch.Tensor:
    if not isinstance(storage, torch.storage.TypedStorage):
        raise pickle.UnpicklingError("tensor without a storage")
    t = torch.empty((0,), dtype=storage.dtype)
    t.set_(storage._untyped_storage, int(offset), tuple(size), tuple(stride))
    return t


def _flatten(obj: _ScriptObject, prefix: str, out: dict[str, torch.Tensor], depth: int = 0) -> None:
    if depth > 64:
        raise pickle.UnpicklingError("module nesting too deep")
    for name, value in obj.state.items():
        if isinstance(value, torch.Tensor):
            out[prefix + name] = value.clone()  # own memory, not the archive buffer
        elif isinstance(value, _ScriptObject):
            _flatten(value, f"{prefix}{name}.", out, depth + 1)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a TorchScript archive, named as its module's state dict would name them.
    Raises ``pickle.UnpicklingError`` for anything else in the attribute pickle."""
    with zipfile.ZipFile(path) as zf:
        data_pkl = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if not data_pkl:
            raise pickle.UnpicklingError("no data.pkl in the archive")
        prefix = data_pkl[0][: -len("data.pkl")]
        root = _Unpickler(zf.read(data_pkl[0]), zf, prefix).load()
    if not isinstance(root, _ScriptObject):
        raise pickle.UnpicklingError("the archive does not hold a module")
    out: dict[str, torch.Tensor] = {}
    _flatten(root, "", out)
    return out
