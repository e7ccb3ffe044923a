"""One tool held warm in its own process, answering timed requests for bench/peer_rclip.py.

    python _peer_rclip_serve.py clipdesk LIBRARY   (ClipDesk's venv; CLIPDESK_HOME set)
    python _peer_rclip_serve.py rclip              (rclip's venv; cwd = the photo folder,
                                                    RCLIP_DATADIR set)

JSON lines in and out. The first line out says the process is ready (and its threads and
runtime); then each request ``{"op": "text", "q": ...}`` is a whole search for ten photos
(text encoding, ranking, the rows), timed here, around the call the tool's own CLI makes;
``{"op": "vector", "q": ...}`` returns the phrase's L2-normalised text vector;
``{"op": "quit"}`` ends it. :class:`Server` is the other end, in the benchmark. Runs under
rclip's Python (>= 3.12) too, so it imports nothing from ClipDesk at module level and each
tool's code only inside its own branch.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Vector = list[float]


class Server:
    """A warm tool's process, seen from the benchmark."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path | None) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.info = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the warm {self.name} process ended (exit {self.proc.wait()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def ask(self, req: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError, ValueError):  # it may have ended already
            self.proc.stdin.write('{"op": "quit"}\n')
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _serve(
    info: dict[str, Any], text: Callable[[str], str], vector: Callable[[str], Vector]
) -> None:
    print(json.dumps({"ready": True, **info}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "quit":
            break
        if req["op"] == "vector":
            print(json.dumps({"vector": vector(req["q"])}), flush=True)
            continue
        start = time.perf_counter()
        top = text(req["q"])
        ms = (time.perf_counter() - start) * 1e3
        print(json.dumps({"ms": ms, "top": top}), flush=True)


def clipdesk(library: str) -> None:
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.services.search import PhotoSearch

    app = ClipDeskServices(library)
    try:
        app.find(PhotoSearch(text="warm up", limit=10))  # library, model and index loaded
        model = app.search_model()
        info = {
            "runtime": getattr(model, "runtime_label", "torch-fp32"),
            # a text query on ONNX Runtime never needs torch; say whether it was loaded
            "torch_loaded": "torch" in sys.modules,
        }
        if "torch" in sys.modules:
            info["torch_threads"] = sys.modules["torch"].get_num_threads()

        def text(q: str) -> str:
            return str(app.find(PhotoSearch(text=q, limit=10))[0].photo.path)

        def vector(q: str) -> Vector:
            return [float(x) for x in model.encode_texts([q])[0]]

        _serve(info, text, vector)
    finally:
        app.close()


def rclip() -> None:
    from rclip import main as rmain

    cwd = os.getcwd()
    # what rclip's CLI does with --no-indexing, minus the process
    rc, model, db = rmain.init_rclip(cwd, 8, no_indexing=True)
    try:
        rc.search("warm up", cwd, 10)
        options = model._session_text.get_session_options()
        info = {
            "runtime": "onnxruntime fp32",
            "ort_intra_op_threads": options.intra_op_num_threads,
            "torch_loaded": "torch" in sys.modules,
        }

        def text(q: str) -> str:
            return str(rc.search(q, cwd, 10)[0].filepath)

        def vector(q: str) -> Vector:
            return [float(x) for x in model.compute_text_features([q])[0]]

        _serve(info, text, vector)
    finally:
        rc.close()
        model.close()
        db.close()


if __name__ == "__main__":
    if sys.argv[1] == "clipdesk":
        clipdesk(sys.argv[2])
    else:
        rclip()
