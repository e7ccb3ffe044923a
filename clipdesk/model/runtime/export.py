"""Export a model's towers to ONNX once, on this machine: fp32, int8, the agreement check and the
speeds that let "auto" choose. Needs torch and the ``onnx`` package; serving the result does not.

Graphs are traced with a dynamic batch (and text length) by ``torch.onnx.export``; int8 is ONNX
Runtime's dynamic quantisation of the matrix products (weights int8 per output channel,
activations quantised on the fly), which is what makes the towers 2-3x faster on CPUs with VNNI.
Everything is written to a staging folder and renamed into place, so a crash or a cancel leaves
no half export that a later run would trust.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from clipdesk.common.errors import CancelledError, ModelError
from clipdesk.common.progress import CancelToken, Progress, ProgressCallback
from clipdesk.model.checkpoint import Checkpoint, load_checkpoint
from clipdesk.model.dual_encoder import DualEncoder
from clipdesk.model.preprocess import Preprocessor
from clipdesk.model.runtime import Precision, agreement, cache, label
from clipdesk.model.runtime.onnx_towers import OnnxTowers

log = logging.getLogger(__name__)

OPSET = 18
# ONNX fp32 vs torch on the probes, per vector component of the normalised embedding.
FP32_TOLERANCE = 1e-4


class ExportInterrupted(ModelError):
    """The export could not finish for a reason of the moment (a full or read-only disk, a child
    process that died), not because of the model: worth trying again later."""


STEPS = ("image tower", "text tower", "int8", "agreement", "speed")


class _Tower(nn.Module):
    """One tower of a DualEncoder as its own graph: one tensor in, features out."""

    def __init__(self, module: DualEncoder, tower: str) -> None:
        super().__init__()
        self.module, self.tower = module, tower

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tower == "image":
            return self.module.encode_image(x)
        return self.module.encode_text(x)


@contextlib.contextmanager
def _no_fast_paths() -> Iterator[None]:
    """nn.MultiheadAttention's fused inference path is not traceable to ONNX."""
    prev = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(prev)


def _export(module: DualEncoder, tower: str, example: torch.Tensor, path: Path) -> None:
    import warnings

    axes = {0: "batch"} if tower == "image" else {0: "batch", 1: "length"}
    with _no_fast_paths(), warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes, not the user's business
        torch.onnx.export(
            _Tower(module, tower).eval(),
            (example,),
            str(path),
            input_names=["pixels" if tower == "image" else "ids"],
            output_names=["features"],
            dynamic_axes={"pixels" if tower == "image" else "ids": axes, "features": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def _quantize(src: Path, dest: Path) -> None:
    import warnings

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    # onnxruntime's quantiser advises on the root logger about a pre-processing step that only
    # matters for static quantisation; that is not the user's business. It calls
    # logging.warning(), which gives a root logger without handlers a stderr handler for the
    # rest of the process (logging.basicConfig): a handler that takes nothing prevents that.
    guard = logging.NullHandler()
    root.addHandler(guard)
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(
                src,
                dest,
                # Gather: the token embedding, 100 MB of a ViT-B/32's text tower in fp32; int8
                # there makes a query's session open 2-4x faster (the agreement check covers it).
                op_types_to_quantize=["MatMul", "Gemm", "Gather"],
                per_channel=True,
                weight_type=QuantType.QInt8,
            )
    finally:
        root.setLevel(level)
        root.removeHandler(guard)


def _preoptimise(path: Path) -> None:
    """Rewrite the graph as ONNX Runtime's portable ("extended") optimiser leaves it, so that a
    query's session opens without optimising it again: 40-60 ms instead of 75-110 for a
    ViT-B/32's text tower, the larger part of a one-shot CLI query. Serving checks the version
    (see :class:`.onnx_towers.OnnxTowers`): another ONNX Runtime optimises as usual."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.log_severity_level = 3
    tmp = path.with_name(path.name + ".opt")
    so.optimized_model_filepath = str(tmp)
    ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    os.replace(tmp, path)


def _probe_inputs(ckpt: Checkpoint) -> tuple[np.ndarray, np.ndarray]:
    pre = Preprocessor(ckpt.preprocess)
    images = agreement.probe_images(size=max(ckpt.preprocess.size, 64))
    pixels = np.stack([pre.to_array(im) for im in images]).astype(np.float32)
    ids = ckpt.tokenizer.ids(list(agreement.PHRASES))
    return pixels, ids


def _torch_features(
    module: DualEncoder, pixels: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    with torch.inference_mode():
        img = module.encode_image(torch.from_numpy(pixels)).float().numpy()
        txt = module.encode_text(torch.from_numpy(ids)).float().numpy()
    return img, txt


def _max_normalised_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(agreement.normalise(a) - agreement.normalise(b)).max())


def _timed(fn: Callable[[], object], repeats: int = 3) -> float:
    fn()  # warm-up: first runs allocate
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _speeds(
    module: DualEncoder, towers: Mapping[Precision, OnnxTowers], pixels: np.ndarray, ids: np.ndarray
) -> dict[str, dict[str, float]]:
    """Images/s on a batch of 8 and one short phrase's time, per runtime: what "auto" compares."""
    batch = pixels[:8]
    one = ids[:1, : max(4, int((ids[0] != 0).sum()) + 1)]
    out: dict[str, dict[str, float]] = {}
    with torch.inference_mode():
        t_img = _timed(lambda: module.encode_image(torch.from_numpy(batch)))
        t_txt = _timed(lambda: module.encode_text(torch.from_numpy(one)))
    out[label("torch", "fp32")] = {"image_per_s": len(batch) / t_img, "text_ms": t_txt * 1e3}
    for tw in towers.values():
        precision = tw.precision
        t_img = _timed(lambda tw=tw: tw.image(batch))  # type: ignore[misc]
        t_txt = _timed(lambda tw=tw: tw.text(one))  # type: ignore[misc]
        out[label("onnx", precision)] = {"image_per_s": len(batch) / t_img, "text_ms": t_txt * 1e3}
    return {k: {m: round(v, 3) for m, v in d.items()} for k, d in out.items()}


def variant_of(ckpt: Checkpoint) -> str:
    """What besides the weights makes an export: the facts the manifest keeps (preprocessing,
    scoring, dimensions) and the tokenizer's recipe and files. Two folders of the same weights
    with another preprocessor or tokenizer get exports of their own, never each other's."""
    import hashlib
    import tempfile

    facts = {k: v for k, v in facts_of(ckpt).items() if k not in ("name", "meta")}
    h = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode())
    with tempfile.TemporaryDirectory() as tmp:
        recipe = ckpt.tokenizer.recipe(Path(tmp))
        h.update(json.dumps(recipe, sort_keys=True, default=str).encode())
        for f in sorted(Path(tmp).iterdir()):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:8]


def export_model(
    path: str | Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    threads: int | None = None,
    keep_fp32: bool = False,
) -> cache.CacheEntry:
    """The model at ``path`` exported for ONNX Runtime (or its existing export), cached by its
    weights hash. Raises ModelError when the export disagrees with torch, CancelledError when
    cancelled (nothing is left behind). The fp32 graphs are kept only where int8 does not agree
    (they are then what ONNX Runtime serves) or when ``keep_fp32`` (benchmarks): a ViT-B/32's
    fp32 towers are 600 MB, a second copy of the weights."""
    from clipdesk.model.device import default_cpu_threads

    path = Path(path).expanduser()
    from clipdesk.model.families import weight_files_of

    files = weight_files_of(path)
    ckpt = load_checkpoint(path)
    variant = variant_of(ckpt)
    existing = cache.entry_for_hash(ckpt.weights_hash, variant)
    if existing is not None:
        return cache.add_source(existing, files)
    token = cancel or CancelToken()

    def step(i: int) -> None:
        if i < len(STEPS):  # the last report comes once the export is in place
            token.raise_if_cancelled()
        if progress is not None:
            progress(
                Progress(
                    i,
                    len(STEPS),
                    message=f"Preparing {ckpt.name}: {STEPS[i]}"
                    if i < len(STEPS)
                    else f"Prepared {ckpt.name}",
                )
            )

    root = cache.cache_root()
    staging = root / f".staging-{ckpt.weights_hash[:16]}-{os.getpid()}"
    try:
        # in the try: a models folder that cannot be written is said as such, not a traceback
        root.mkdir(parents=True, exist_ok=True)
        _sweep_stale(root)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        manifest = _export_into(
            staging, ckpt, files, step, threads or default_cpu_threads(), keep_fp32
        )
        final = cache.entry_folder(ckpt.weights_hash, variant)
        token.raise_if_cancelled()  # the last moment a cancel leaves nothing behind
        _discard_unreadable(final, ckpt.weights_hash, variant)
        try:
            staging.rename(final)
        except OSError:  # another process exported the same weights meanwhile
            found = cache.entry_for_hash(ckpt.weights_hash, variant)
            if found is None:
                raise
            return cache.add_source(found, files)
        step(len(STEPS))
        log.info("exported %s for ONNX Runtime: %s", ckpt.name, manifest["agreement"])
        # as every later reader sees it (lists, not the tuples the facts were made of)
        return cache.CacheEntry(final, json.loads(json.dumps(manifest)))
    except CancelledError:
        raise
    except ModelError:
        raise
    except OSError as exc:
        raise ExportInterrupted(
            f"could not write the ONNX export of {ckpt.name} ({exc})",
            hint="check that the disk holding your models has free space and can be written",
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


STALE_S = 24 * 3600


def _sweep_stale(root: Path) -> None:
    """Remove what exports that died (killed, a power cut) left: their staging folders hold
    hundreds of MB that nothing else removes. A folder untouched for a day is no export still
    running (the longest step writes a file within minutes)."""
    cutoff = time.time() - STALE_S
    for folder in root.iterdir():
        if not folder.name.startswith((".staging-", ".discarded-")):
            continue
        try:
            stale = folder.stat().st_mtime < cutoff
        except OSError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)


def _discard_unreadable(folder: Path, weights_hash: str, variant: str) -> None:
    """Delete an export of these weights that cannot be read (damaged, or of another format),
    whose folder the new export takes; moved aside first, so no reader sees it half deleted."""
    if not folder.exists() or cache.entry_for_hash(weights_hash, variant) is not None:
        return
    aside = folder.with_name(f".discarded-{folder.name}-{os.getpid()}")
    try:
        folder.rename(aside)
    except FileNotFoundError:  # another export discarded it first
        return
    if aside.is_dir():
        shutil.rmtree(aside, ignore_errors=True)
    else:
        aside.unlink()


def _export_into(
    folder: Path,
    ckpt: Checkpoint,
    files: list[Path],
    step: Callable[[int], None],
    threads: int,
    keep_fp32: bool,
) -> dict[str, Any]:
    module = ckpt.module.eval()
    pixels, ids = _probe_inputs(ckpt)
    names = {t: {"fp32": f"{t}-fp32.onnx", "int8": f"{t}-int8.onnx"} for t in cache.TOWERS}
    step(0)
    _export(module, "image", torch.from_numpy(pixels[:2]), folder / names["image"]["fp32"])
    step(1)
    _export(module, "text", torch.from_numpy(ids[:2]), folder / names["text"]["fp32"])
    step(2)
    for t in cache.TOWERS:
        _quantize(folder / names[t]["fp32"], folder / names[t]["int8"])
        for precision in ("fp32", "int8"):
            _preoptimise(folder / names[t][precision])
    step(3)
    ref_img, ref_txt = _torch_features(module, pixels, ids)
    precisions: tuple[Precision, ...] = ("fp32", "int8")
    towers = {
        p: OnnxTowers({t: folder / names[t][p] for t in cache.TOWERS}, p, threads)
        for p in precisions
    }
    fp32_img, fp32_txt = towers["fp32"].image(pixels), towers["fp32"].text(ids)
    # A batch of another size and shorter texts: the graphs must not have kept the trace's shapes.
    odd_img = towers["fp32"].image(pixels[:3])
    odd_txt = towers["fp32"].text(ckpt.tokenizer.ids(["a dog", "a red car at night"]))
    ref_odd_txt = _torch_features(
        module, pixels[:1], ckpt.tokenizer.ids(["a dog", "a red car at night"])
    )[1]
    fp32_diff = max(
        _max_normalised_diff(ref_img, fp32_img),
        _max_normalised_diff(ref_txt, fp32_txt),
        _max_normalised_diff(ref_img[:3], odd_img),
        _max_normalised_diff(ref_odd_txt, odd_txt),
    )
    if not fp32_diff <= FP32_TOLERANCE:
        raise ModelError(
            f"the ONNX export of {ckpt.name} does not match PyTorch (max difference "
            f"{fp32_diff:.2g}); ClipDesk keeps using PyTorch for it",
            hint="this model's architecture traces differently; please report it",
        )
    int8_img, int8_txt = towers["int8"].image(pixels), towers["int8"].text(ids)
    agreed = agreement.check(fp32_img, int8_img, fp32_txt, int8_txt)
    step(4)
    speed = _speeds(module, towers, pixels, ids)
    for tw in towers.values():
        tw.close()
    if agreed["passed"] and not keep_fp32:
        for t in cache.TOWERS:
            (folder / names[t].pop("fp32")).unlink()
    manifest: dict[str, Any] = {
        "format": cache.FORMAT,
        "weights_hash": ckpt.weights_hash,
        "name": ckpt.name,
        "sources": [cache.stat_source(files)],
        "facts": facts_of(ckpt),
        "tokenizer": ckpt.tokenizer.recipe(folder),
        "files": names,
        "opset": OPSET,
        "onnxruntime": _ort_version(),
        "preoptimised_by": _ort_version(),
        "fp32_max_diff": fp32_diff,
        "agreement": {"int8": agreed},
        "speed": speed,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    cache.write_manifest(folder, manifest)
    return manifest


def facts_of(ckpt: Checkpoint) -> dict[str, Any]:
    """What the engine needs of a model besides its towers, as JSON."""
    from dataclasses import asdict

    module = ckpt.module
    return {
        "name": ckpt.name,
        "family": module.family,
        "scoring": module.scoring,
        "embed_dim": module.embed_dim,
        "logit_scale": float(module.logit_scale.detach().exp().item()),
        "logit_bias": module.logit_bias,
        "preprocess": asdict(ckpt.preprocess),
        "meta": ckpt.meta,
    }


def _ort_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


# --- in a child process ---
# The app exports in a child process: an export holds torch, the whole model and a tracer for
# tens of seconds in steps that cannot be interrupted, and a child can be stopped at once (quit,
# cancel) and gives all that memory back when it ends.


def _child(path: str, threads: int | None, keep_fp32: bool, queue: Any) -> None:
    def relay(p: Progress) -> None:
        queue.put(("progress", p.done, p.total, p.message))

    try:
        entry = export_model(path, progress=relay, threads=threads, keep_fp32=keep_fp32)
    except ModelError as exc:
        interrupted = isinstance(exc, ExportInterrupted)
        queue.put(("error", exc.message, exc.hint, exc.cli_hint, interrupted))
    except Exception as exc:  # anything else is a bug, but the parent must hear of it
        queue.put(("error", f"the export failed: {type(exc).__name__}: {exc}", None, None, False))
    else:
        queue.put(("done", str(entry.folder)))


def export_in_child(
    path: str | Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    threads: int | None = None,
    keep_fp32: bool = False,
) -> cache.CacheEntry:
    """:func:`export_model` in a child process; ``cancel`` stops it within a tenth of a second
    (the child is killed, its staging folder removed)."""
    import multiprocessing
    import queue as queues

    ctx = multiprocessing.get_context("spawn")  # fork would copy the app's threads and torch
    messages = ctx.Queue()
    child = ctx.Process(
        target=_child,
        args=(str(path), threads, keep_fp32, messages),
        name="clipdesk-export",
        daemon=True,
    )
    child.start()
    try:
        while True:
            if cancel is not None and cancel.cancelled:
                raise CancelledError("cancelled")
            try:
                msg = messages.get(timeout=0.1)
            except queues.Empty:
                if not child.is_alive() and messages.empty():
                    code = child.exitcode or 0
                    # a signal (a negative code) is most often the out-of-memory killer
                    why = "killed: the machine may be out of memory" if code < 0 else f"exit {code}"
                    raise ExportInterrupted(
                        f"the export of {path} stopped ({why})",
                        hint="the model keeps running on PyTorch; preparing it is tried again "
                        "on the next start",
                    ) from None
                continue
            if msg[0] == "progress" and progress is not None:
                progress(Progress(msg[1], msg[2], message=msg[3]))
            elif msg[0] == "error":
                kind = ExportInterrupted if msg[4] else ModelError
                raise kind(msg[1], msg[2], cli_hint=msg[3])
            elif msg[0] == "done":
                entry = cache.read_entry(Path(msg[1]))
                if entry is None:
                    raise ModelError(f"{msg[1]}: the export's manifest is unreadable")
                return entry
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        for staging in cache.cache_root().glob(f".staging-*-{child.pid}"):
            shutil.rmtree(staging, ignore_errors=True)
        messages.close()
