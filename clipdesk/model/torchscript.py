"""Reading the weights out of a TorchScript archive without running it.

OpenAI's original checkpoints (``ViT-B-32.pt`` as the ``clip`` package downloads it) are
TorchScript archives: a zip with the module's code and a pickle of its attributes. ``torch.load``
would hand them to ``torch.jit.load``, which runs that code; ``weights_only=True`` refuses them.
Here the attribute pickle is read by an unpickler that knows exactly four things — script-module
placeholders, tensors, their storages and OrderedDict — and refuses any other global, so nothing
in the file can execute. The result is a plain state dict.

Nothing is inflated before it is known to fit: the archive's members are checked against the
sizes the pickle declares for its storages, and those against what the architecture the tensors'
shapes describe can hold (``budget``), so a few megabytes that inflate to gigabytes are refused
at once.
"""

from __future__ import annotations

import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from clipdesk.common import limits

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


class ArchiveTooLarge(ValueError):
    """An archive whose members would inflate beyond what its weights can need."""


def check_inflation(zf: zipfile.ZipFile) -> None:
    """Refuse an archive whose compressed members inflate far beyond their stored size: torch
    stores weights uncompressed, so only a bomb does that."""
    inflation = sum(max(0, i.file_size - i.compress_size) for i in zf.infolist())
    if inflation > limits.ARCHIVE_MAX_INFLATION_BYTES:
        total = sum(i.file_size for i in zf.infolist())
        raise ArchiveTooLarge(
            f"its members would inflate to {total / 1e9:.1f} GB, "
            f"{inflation / 1e6:,.0f} MB more than they take in the file"
        )


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


@dataclass(frozen=True)
class _Declared:
    """A storage as the pickle declares it, not read (the first, checking pass)."""

    key: str
    dtype: torch.dtype
    numel: int

    @property
    def nbytes(self) -> int:
        return self.numel * torch.empty((), dtype=self.dtype).element_size()


class _Unpickler(pickle.Unpickler):
    def __init__(
        self, data: bytes, archive: zipfile.ZipFile, prefix: str, *, read: bool = True
    ) -> None:
        import io

        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix
        self._read = read  # False: storages are declared only, tensors live on the meta device
        self._storages: dict[str, torch.storage.TypedStorage] = {}
        self.declared: dict[str, _Declared] = {}

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
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        if not self._read:
            self.declared[key] = _Declared(key, dtype, numel)
            return self.declared[key]  # type: ignore[return-value]
        if key not in self._storages:
            raw = self._read_member(f"{self._prefix}data/{key}")
            flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
            if flat.numel() < numel:
                raise pickle.UnpicklingError(f"storage {key} is truncated")
            # torch leaves TypedStorage.__init__/__new__ unannotated.
            self._storages[key] = torch.storage.TypedStorage(  # type: ignore[no-untyped-call]
                wrap_storage=flat.untyped_storage(), dtype=dtype, _internal=True
            )
        return self._storages[key]

    def _read_member(self, name: str) -> bytearray:
        """The member's bytes in one buffer of its declared size (checked by the first pass),
        without the second copy ``bytearray(zf.read(...))`` would make."""
        buf = bytearray(self._archive.getinfo(name).file_size)
        view = memoryview(buf)
        with self._archive.open(name) as fh:
            done = 0
            while done < len(buf):
                chunk = fh.read(min(len(buf) - done, 1 << 24))
                if not chunk:
                    raise pickle.UnpicklingError(f"{name} is truncated")
                view[done : done + len(chunk)] = chunk
                done += len(chunk)
        return buf


def _rebuild_tensor(
    storage: torch.storage.TypedStorage | _Declared,
    offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    requires_grad: bool = False,
    *_: Any,
) -> torch.Tensor:
    if isinstance(storage, _Declared):
        return torch.empty_strided(tuple(size), tuple(stride), dtype=storage.dtype, device="meta")
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


def read_state_dict(
    path: Path, budget: Callable[[dict[str, torch.Tensor]], int] | None = None
) -> dict[str, torch.Tensor]:
    """The tensors of a TorchScript archive, named as its module's state dict would name them.

    ``budget`` gets the tensors on the meta device (shapes and dtypes, no data) and says how many
    bytes of storage a model of that architecture may hold. Raises ``ArchiveTooLarge`` before
    inflating anything that does not fit, ``pickle.UnpicklingError`` for anything but weights
    in the attribute pickle."""
    with zipfile.ZipFile(path) as zf:
        check_inflation(zf)
        data_pkl = [i for i in zf.infolist() if i.filename.endswith("data.pkl")]
        data_pkl = [i for i in data_pkl if i.filename.count("/") == 1]
        if not data_pkl:
            raise pickle.UnpicklingError("no data.pkl in the archive")
        if data_pkl[0].file_size > limits.ARCHIVE_MAX_PICKLE_BYTES:
            raise ArchiveTooLarge(
                f"its attribute pickle is {data_pkl[0].file_size / 1e6:,.0f} MB; a model's "
                f"is under {limits.ARCHIVE_MAX_PICKLE_BYTES / 1e6:.0f} MB"
            )
        prefix = data_pkl[0].filename[: -len("data.pkl")]
        pickled = zf.read(data_pkl[0])
        checking = _Unpickler(pickled, zf, prefix, read=False)
        _check_sizes(zf, prefix, checking.declared, _tensors(checking.load()), budget)
        root = _Unpickler(pickled, zf, prefix).load()
    return _tensors(root)


def _tensors(root: object) -> dict[str, torch.Tensor]:
    if not isinstance(root, _ScriptObject):
        raise pickle.UnpicklingError("the archive does not hold a module")
    out: dict[str, torch.Tensor] = {}
    _flatten(root, "", out)
    return out


def _check_sizes(
    zf: zipfile.ZipFile,
    prefix: str,
    declared: dict[str, _Declared],
    meta: dict[str, torch.Tensor],
    budget: Callable[[dict[str, torch.Tensor]], int] | None,
) -> None:
    """Every storage member exactly as large as its declaration, and all of them together no
    larger than the architecture's budget: decided from the zip's directory, nothing read."""
    for storage in declared.values():
        info = zf.getinfo(f"{prefix}data/{storage.key}")  # KeyError: refused by the caller
        if info.file_size < storage.nbytes:
            raise pickle.UnpicklingError(f"storage {storage.key} is truncated")
        if info.file_size > storage.nbytes:
            raise ArchiveTooLarge(
                f"storage {storage.key} would inflate to {info.file_size:,} bytes where its "
                f"tensors declare {storage.nbytes:,}"
            )
    total = sum(s.nbytes for s in declared.values())
    allowed = budget(meta) if budget is not None else None
    if allowed is not None and total > allowed:
        raise ArchiveTooLarge(
            f"its tensors take {total / 1e6:,.0f} MB, more than the {allowed / 1e6:,.0f} MB "
            "a model of the architecture their shapes describe can hold"
        )
