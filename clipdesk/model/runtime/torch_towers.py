"""The towers on PyTorch: any device, half precision on GPUs, the module the trainer uses."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np
import torch

from clipdesk.model.device import autocast_dtype
from clipdesk.model.dual_encoder import DualEncoder
from clipdesk.model.runtime import Precision, Runtime

_PRECISION: dict[torch.dtype | None, Precision] = {
    None: "fp32",
    torch.float16: "fp16",
    torch.bfloat16: "bf16",
}


class TorchTowers:
    runtime: Runtime = "torch"

    def __init__(self, module: DualEncoder, device: torch.device) -> None:
        self.module: DualEncoder = module.to(device).eval()
        self.device = device
        self._amp_dtype = autocast_dtype(device)
        self.precision: Precision = _PRECISION[self._amp_dtype]
        # One forward at a time: the module is shared by indexing and queries.
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        if self._amp_dtype is None:
            yield
        else:
            with torch.autocast(device_type=self.device.type, dtype=self._amp_dtype):
                yield

    @torch.inference_mode()
    def image(self, pixels: np.ndarray | torch.Tensor) -> np.ndarray:
        x = torch.from_numpy(pixels) if isinstance(pixels, np.ndarray) else pixels
        with self._lock, self._autocast():
            feats = self.module.encode_image(x.to(self.device, non_blocking=True))
        out: np.ndarray = feats.float().cpu().numpy()
        return out

    @torch.inference_mode()
    def text(self, ids: np.ndarray) -> np.ndarray:
        with self._lock, self._autocast():
            feats = self.module.encode_text(torch.from_numpy(ids).to(self.device))
        out: np.ndarray = feats.float().cpu().numpy()
        return out

    def warm(self, tower: str) -> None:
        """Nothing to open: the module holds both towers."""

    def close(self) -> None:
        """The module stays: the trainer and the speed probe may still hold it."""
