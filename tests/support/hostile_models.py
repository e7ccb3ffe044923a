"""Hostile model files for the limit tests (small on disk), and a probe that imports one in a
fresh process and reports the error, the time taken and the memory it cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
_CHUNK = 1 << 24

# Run in a fresh interpreter: the baseline is the peak after torch and the model code are
# imported, the growth what the import of the file added to it.
_PROBE = r"""
import json, resource, sys, time
import clipdesk.model.checkpoint  # torch and the model code: part of the baseline
from clipdesk.common.errors import ClipDeskError
from clipdesk.model import manager

def peak():
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb if sys.platform == "darwin" else kb * 1024

base, start = peak(), time.monotonic()
try:
    manager.import_model(sys.argv[1], name="hostile")
    out = {"error": None, "hint": None}
except ClipDeskError as exc:
    out = {"error": exc.message, "hint": exc.hint}
out.update(seconds=time.monotonic() - start, growth_bytes=peak() - base)
print(json.dumps(out))
"""


def probe_import(path: Path, timeout: float = 60) -> dict[str, Any]:
    """``models import PATH`` in a fresh process under this test's ClipDesk home: its error
    (None if it was imported), ``seconds`` and ``growth_bytes`` of peak RSS above baseline. A
    run past ``timeout`` fails the test (the child is killed)."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path)],
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def torchscript_archive(model_folder: Path, path: Path) -> Path:
    """A TorchScript archive of a ClipDesk model folder, as OpenAI's ``ViT-B-32.pt`` is one."""
    import torch

    from clipdesk.model.checkpoint import load_checkpoint

    module = load_checkpoint(model_folder).module
    size = module.cfg.vision.image_size
    pixels, ids = torch.randn(1, 3, size, size), torch.tensor([[49406, 320, 49407]])
    with warnings.catch_warnings():  # tracing warns about the data-dependent pooling index
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, (pixels, ids), check_trace=False)
        torch.jit.save(traced, str(path))  # deprecated in favour of torch.export
    return path


class _RepeatedZeros:
    """A stand-in for the zip writer's compressor that deflates 16 MiB zero chunks from one
    precomputed block (identical after a full flush), so gigabytes are "compressed" in a moment."""

    def __init__(self) -> None:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        self._block = c.compress(bytes(_CHUNK)) + c.flush(zlib.Z_FULL_FLUSH)
        self._end = c.flush()

    def compress(self, data: bytes) -> bytes:
        assert len(data) == _CHUNK and not any(data[:64])
        return self._block

    def flush(self) -> bytes:
        return self._end


def inflating_copy(archive: Path, out: Path, inflate_to: int) -> Path:
    """``archive`` with its first weight storage replaced by a deflated member of
    ``inflate_to`` zero bytes (a multiple of 16 MiB): a few MB on disk."""
    assert inflate_to % _CHUNK == 0
    zeros = bytes(_CHUNK)
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        storages = [i for i in src.infolist() if "/data/" in i.filename]
        victim = storages[0].filename
        for item in src.infolist():
            if item.filename != victim:
                dst.writestr(item, src.read(item))
                continue
            info = zipfile.ZipInfo(victim, date_time=item.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(info, "w", force_zip64=True) as fh:
                fh._compressor = _RepeatedZeros()  # type: ignore[attr-defined]
                for _ in range(inflate_to // _CHUNK):
                    fh.write(zeros)
    return out


def padded_copy(archive: Path, out: Path, extra: int) -> Path:
    """``archive`` with ``extra`` stored zero bytes after its first weight storage."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        victim = next(i.filename for i in src.infolist() if "/data/" in i.filename)
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data + bytes(extra) if item.filename == victim else data)
    return out


def edit_json(path: Path, edit: dict[str, Any]) -> None:
    """Set dotted keys (``vision_config.patch_size``) of the JSON file at ``path``."""
    data = json.loads(path.read_text())
    for dotted, value in edit.items():
        *parents, key = dotted.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[key] = value
    path.write_text(json.dumps(data))
