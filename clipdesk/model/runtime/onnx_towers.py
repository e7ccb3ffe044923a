"""The towers on ONNX Runtime (CPU), from the graphs :mod:`.export` wrote.

Sessions are made on first use, one tower at a time, so a text query never reads the image
tower. Two kinds of work get their own sessions and threads: a batch (indexing) uses every core,
a single query one thread of its own. Neither spins while waiting for work: on two shared cores a
spinning pool takes the core the other kind of work (or another program) needs, which is what
made a warm query 40x slower under load.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from clipdesk.common.errors import ModelError
from clipdesk.model.runtime import Precision, Runtime

if TYPE_CHECKING:
    import onnxruntime as ort

Tower = Literal["image", "text"]
Work = Literal["batch", "query"]


def session_options(threads: int, *, prepack: bool = True) -> ort.SessionOptions:
    """``prepack``: repack weights for the matrix kernels when the session opens; a query's
    session skips it, since it opens faster that way at about the same speed for one input."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if not prepack:
        so.add_session_config_entry("session.disable_prepacking", "1")
    so.log_severity_level = 3  # warnings about unused initialisers are not the user's business
    return so


class OnnxTowers:
    runtime: Runtime = "onnx"

    def __init__(
        self,
        files: Mapping[str, Path],
        precision: Precision,
        threads: int,
        *,
        preoptimised_by: str | None = None,
    ) -> None:
        self.files = files
        self.precision: Precision = precision
        self.threads = max(1, threads)
        # The ONNX Runtime version that optimised the graphs at export: with the same version, a
        # query's session skips the optimiser (the batch session still runs it, for the
        # hardware-specific layouts that pay off over many batches).
        self.preoptimised_by = preoptimised_by
        self._sessions: dict[tuple[Tower, Work], ort.InferenceSession] = {}
        self._opening: dict[tuple[Tower, Work], threading.Lock] = {}
        self._lock = threading.Lock()

    def session(self, tower: Tower, work: Work) -> ort.InferenceSession:
        key = (tower, work)
        with self._lock:
            found = self._sessions.get(key)
            if found is not None:
                return found
            opening = self._opening.setdefault(key, threading.Lock())
        # Each session opens under its own lock: a query's must not wait for the index job's
        # (seconds for a ViT-B/32 image tower whose weights are repacked), nor the reverse.
        with opening:
            with self._lock:
                found = self._sessions.get(key)
            if found is None:
                found = self._open(tower, work)
                with self._lock:
                    self._sessions[key] = found
            return found

    def _open(self, tower: Tower, work: Work) -> ort.InferenceSession:
        import onnxruntime as ort

        path = self.files[tower]  # KeyError for a tower the export lacks: a bug, not input
        threads = self.threads if work == "batch" else 1
        options = session_options(threads, prepack=work == "batch")
        if work == "query" and self.preoptimised_by == ort.__version__:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        try:
            return ort.InferenceSession(
                str(path),
                options,
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(
                f"{path}: ONNX Runtime cannot read the exported {tower} tower ({exc})",
                hint="prepare the model for the fast runtime again, or use the PyTorch runtime",
                cli_hint="run `clipdesk-cli models prepare NAME` again, or pass --runtime torch",
            ) from exc

    def warm(self, tower: str) -> None:
        """Open ``tower``'s query session on a thread of its own, so that it opens while the
        caller does other work (a one-shot search reads the library's vectors meanwhile)."""
        if (tower, "query") not in self._sessions and tower in ("image", "text"):
            threading.Thread(
                target=self._warm, args=(tower,), name="clipdesk-onnx-open", daemon=True
            ).start()

    def _warm(self, tower: str) -> None:
        with contextlib.suppress(ModelError):  # said when the session is used
            self.session("image" if tower == "image" else "text", "query")

    def _run(self, tower: Tower, array: np.ndarray, work: Work) -> np.ndarray:
        sess = self.session(tower, work)
        name = sess.get_inputs()[0].name
        out = sess.run(None, {name: array})[0]
        return np.asarray(out, dtype=np.float32)

    def image(self, pixels: np.ndarray) -> np.ndarray:
        pixels = np.ascontiguousarray(pixels, dtype=np.float32)
        return self._run("image", pixels, "batch" if len(pixels) > 1 else "query")

    def text(self, ids: np.ndarray) -> np.ndarray:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        return self._run("text", ids, "batch" if len(ids) > 8 else "query")

    def close(self) -> None:
        with self._lock:
            self._sessions.clear()
