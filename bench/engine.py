"""ClipDesk's CLIP engine vs transformers' CLIPModel, side by side in one run.

Same random ViT-B/32 weights (transformers' CLIPConfig defaults) on the CPU in fp32:
- image embedding throughput (img/s) at batch 1, 8 and 32, from preprocessed pixels;
- text latency (ms) for one search phrase, tokenizer included, and for a batch of 64 labels;
- import time of ``clipdesk.model`` beyond torch, measured in fresh interpreters.

Ratios > 1 mean ClipDesk is faster. Runs alternate between the two engines and the median of
each is kept, so background load hits both alike.

    python3 bench/engine.py [--threads N] [--repeats N] [--quick]

``--catalog`` instead times every architecture of the model catalog (clipdesk/model/catalog.py)
with random weights, built from the catalog's config facts without downloading anything: images/s
at batch 8 and one phrase's text latency, the figures Settings › Models scales to the user's
machine. ``--write`` stores them in clipdesk/model/assets/catalog_speeds.json with this machine's
description and the date (``--only KEY ...`` re-measures some and keeps the others, on the same
machine only). On 2 CPU cores the whole catalog takes about 5 minutes: ViT-H/14 and ViT-L/14 run
only the minimum of 2 timed batches.

    python3 bench/engine.py --catalog --write [--only ViT-B-32 RN50-quickgelu] [--threads N]

``--runtimes`` times the runtimes ClipDesk can serve the same random ViT-B/32 with (PyTorch fp32
and bf16 autocast, ONNX Runtime fp32 and int8, exported as ClipDesk exports every model) beside
transformers' CLIPModel: both towers, each one's agreement with PyTorch fp32, and load_model's time
after imports for both runtimes (goal <= 0.3 s).

    python3 bench/engine.py --runtimes [--threads N] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# Wall time by default; "cpu" (this process's CPU time) keeps ratios meaningful on a machine
# shared with other jobs, where wall time mostly measures the neighbours.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: allocator, oneDNN kernels, caches
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def paired(
    ours: Callable[[], object], theirs: Callable[[], object], repeats: int, rounds: int = 3
) -> tuple[float, float]:
    """Median seconds per call of each, measured in alternating rounds."""
    a, b = [], []
    for _ in range(rounds):
        a.append(median_time(ours, repeats))
        b.append(median_time(theirs, repeats))
    return statistics.median(a), statistics.median(b)


IMPORT_PROBE = """
import time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
import clipdesk.model
from clipdesk.model import load_model
t2 = time.perf_counter()
import clipdesk.model.engine
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def import_times(runs: int) -> tuple[float, float, float]:
    """Medians over fresh interpreters of: `import torch`; then `import clipdesk.model; from
    clipdesk.model import load_model`; then the rest of the engine (paid at the first load)."""
    rows = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE],
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout
        rows.append([float(x) for x in out.split()])
    return tuple(statistics.median(col) for col in zip(*rows, strict=True))  # type: ignore[return-value]


def report_imports(runs: int) -> None:
    torch_s, ours_s, engine_s = import_times(runs)
    print(f"\nimport time (median of {runs} fresh interpreters): torch itself {torch_s:.3f} s")
    print(f"  then clipdesk.model + load_model   {ours_s:+.3f} s (goal < 0.5 s)")
    print(f"  then the engine, at the first load {engine_s:+.3f} s")


def run_catalog(args: argparse.Namespace) -> None:
    import datetime

    import torch

    from clipdesk.model import speed
    from clipdesk.model.catalog import ARCHITECTURES

    if args.threads:
        torch.set_num_threads(args.threads)
    keys = args.only or list(ARCHITECTURES)
    unknown = [k for k in keys if k not in ARCHITECTURES]
    if unknown:
        raise SystemExit(f"unknown architectures {unknown}; known: {', '.join(ARCHITECTURES)}")
    machine = speed.machine_description()
    if args.device != "cpu":
        machine += (
            f", {torch.cuda.get_device_name() if args.device.startswith('cuda') else args.device}"
        )
    print(f"{machine}; torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}")
    print(f"{'architecture':30}{'images/s':>10}{'batches':>9}{'text ms':>10}{'params':>14}{'s':>7}")
    measured: dict[str, speed.ArchSpeed] = {}
    for key in keys:
        t0 = time.perf_counter()
        s = speed.time_architecture(ARCHITECTURES[key], device=args.device)
        measured[key] = s
        print(
            f"{key:30}{s.images_per_s:>10.2f}{s.iterations:>9}{s.text_ms:>10.1f}"
            f"{s.params:>14,}{time.perf_counter() - t0:>7.0f}",
            flush=True,
        )
    if not args.write:
        return
    old = speed.load_catalog_speeds()
    if args.only and old is not None:
        if (old.machine, old.device, old.threads) != (
            machine,
            args.device,
            torch.get_num_threads(),
        ):
            raise SystemExit("the stored speeds come from another machine: measure them all")
        measured = {**old.archs, **measured}
    speed.save_catalog_speeds(
        speed.CatalogSpeeds(
            machine=machine,
            device=args.device,
            threads=torch.get_num_threads(),
            measured=datetime.date.today().isoformat(),
            batch=speed.BATCH,
            archs=measured,
        )
    )
    print(f"written to {speed.SPEEDS_FILE.relative_to(ROOT)}")


def run_runtimes(args: argparse.Namespace) -> None:
    import os

    import numpy as np
    import torch
    from transformers import CLIPConfig, CLIPModel

    from clipdesk.model.runtime.export import export_model
    from clipdesk.model.runtime.onnx_towers import OnnxTowers
    from tests.model import hf_reference as ref

    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    repeats = 2 if args.quick else args.repeats
    rounds = 2 if args.quick else args.rounds
    tmp = tempfile.TemporaryDirectory()
    os.environ["CLIPDESK_HOME"] = tmp.name  # the export goes to this run's own models folder
    from clipdesk.model.engine import load_model

    torch.manual_seed(0)
    hf = CLIPModel(CLIPConfig()).eval()
    folder = ref.save_hf_folder(hf, Path(tmp.name) / "b32", Path(tmp.name) / "vocab")
    tokenizer = ref.hf_tokenizer(Path(tmp.name) / "vocab")
    t0 = time.perf_counter()
    entry = export_model(folder, keep_fp32=True, threads=threads)
    print(
        f"torch {torch.__version__}, {threads} threads, random ViT-B/32 (transformers' defaults); "
        f"exported in {time.perf_counter() - t0:.0f} s, int8 agreement {entry.manifest['agreement']['int8']}"
    )
    loads = {}
    for runtime in ("torch", "onnx") * 2:  # the second of each counts: files in the page cache
        t0 = time.perf_counter()
        load_model(folder, "cpu", runtime=runtime)
        loads[runtime] = time.perf_counter() - t0
    print(
        f"load_model after imports: PyTorch {loads['torch']:.3f} s, ONNX Runtime "
        f"{loads['onnx']:.3f} s (goal <= 0.3 s)"
    )
    torch_model = load_model(folder, "cpu", runtime="torch")
    torch.set_num_threads(threads)
    module = torch_model.module
    onnx = {p: OnnxTowers(entry.files(p), p, threads) for p in ("fp32", "int8")}  # type: ignore[arg-type]

    rng = np.random.default_rng(0)
    pixels = rng.standard_normal((32, 3, 224, 224), dtype=np.float32)
    ids_one = tokenizer(["kids on a beach at sunset"], return_tensors="np")["input_ids"]
    labels = [f"a photo of a {w}" for w in ("dog", "cat", "beach", "mountain") * 16]
    ids_64 = tokenizer(labels, padding=True, return_tensors="np")["input_ids"]

    def torch_run(tower: str, bf16: bool) -> Callable[[np.ndarray], np.ndarray]:
        @torch.inference_mode()
        def run(x: np.ndarray) -> np.ndarray:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                t = torch.from_numpy(x)
                out = module.encode_image(t) if tower == "image" else module.encode_text(t)
            return out.float().numpy()

        return run

    def onnx_run(tower: str, precision: str) -> Callable[[np.ndarray], np.ndarray]:
        tw = onnx[precision]
        return tw.image if tower == "image" else tw.text  # type: ignore[return-value]

    @torch.inference_mode()
    def hf_run_image(x: np.ndarray) -> np.ndarray:
        return ref.features(hf.get_image_features(pixel_values=torch.from_numpy(x))).numpy()

    @torch.inference_mode()
    def hf_run_text(x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(x)
        return ref.features(hf.get_text_features(input_ids=t, attention_mask=(t > -1))).numpy()

    names = ["PyTorch fp32", "PyTorch bf16", "ONNX fp32", "ONNX int8", "transformers"]
    cases = [
        ("image batch 1", "image", pixels[:1]),
        ("image batch 8", "image", pixels[:8]),
        ("image batch 32", "image", pixels[:32]),
        ("text one phrase", "text", ids_one),
        ("text 64 labels", "text", ids_64),
    ]
    if args.quick:
        cases = [c for c in cases if c[0] != "image batch 32"]
    print(f"\n{'':18}" + "".join(f"{n:>14}" for n in names) + "   (img/s or ms; cosine to fp32)")
    for title, tower, x in cases:
        runs = [
            torch_run(tower, False),
            torch_run(tower, True),
            onnx_run(tower, "fp32"),
            onnx_run(tower, "int8"),
            hf_run_image if tower == "image" else hf_run_text,
        ]
        ref_out = runs[0](x)
        times = {n: [] for n in names}
        for _ in range(rounds):  # alternating rounds: background load hits every runtime alike
            for n, run in zip(names, runs, strict=True):
                times[n].append(median_time(lambda run=run, x=x: run(x), repeats))
        cells, cosines = [], []
        for n, run in zip(names, runs, strict=True):
            t = statistics.median(times[n])
            cells.append(
                f"{len(x) / t:>8.1f} img/s" if tower == "image" else f"{t * 1e3:>11.1f} ms"
            )
            out = run(x)
            cos = (
                (out * ref_out).sum(1)
                / np.linalg.norm(out, axis=1)
                / np.linalg.norm(ref_out, axis=1)
            )
            cosines.append(f"{cos.min():>14.5f}")
        base = statistics.median(times["transformers"])
        best = min(statistics.median(times[n]) for n in names[:4])
        print(
            f"{title:18}"
            + "".join(f"{c:>14}" for c in cells)
            + f"   fastest ClipDesk {base / best:.2f}x transformers"
        )
        print(f"{'':18}" + "".join(cosines))
    tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, batch 32 skipped")
    parser.add_argument("--no-imports", action="store_true", help="skip the import-time part")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per figure")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time, or process CPU time for busy shared machines",
    )
    parser.add_argument("--catalog", action="store_true", help="time every catalog architecture")
    parser.add_argument("--write", action="store_true", help="with --catalog: store the speeds")
    parser.add_argument("--only", nargs="+", metavar="KEY", help="with --catalog: these only")
    parser.add_argument("--device", default="cpu", help="with --catalog: cpu, cuda, mps")
    parser.add_argument(
        "--runtimes", action="store_true", help="PyTorch fp32/bf16 and ONNX Runtime fp32/int8"
    )
    args = parser.parse_args()
    if args.runtimes:
        run_runtimes(args)
        return
    if args.catalog:
        run_catalog(args)
        return
    global clock
    clock = CLOCKS[args.clock]
    logging.getLogger("transformers").setLevel(logging.ERROR)

    import numpy as np
    import torch
    from transformers import CLIPConfig, CLIPModel

    from clipdesk.model import load_model
    from tests.model import hf_reference as ref

    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = 2 if args.quick else args.repeats
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU fp32, "
        f"random ViT-B/32 weights, {args.clock} clock"
    )

    if not args.no_imports:
        report_imports(3 if args.quick else 5)

    torch.manual_seed(0)
    hf = CLIPModel(CLIPConfig()).eval()
    with tempfile.TemporaryDirectory() as tmp:
        folder = ref.save_hf_folder(hf, Path(tmp) / "b32", Path(tmp) / "vocab")
        tokenizer = ref.hf_tokenizer(Path(tmp) / "vocab")
        ours = load_model(folder, device="cpu")
        if args.threads:
            torch.set_num_threads(args.threads)  # load_model may adjust it; keep both equal

    rng = np.random.default_rng(0)
    pixels = torch.from_numpy(
        rng.standard_normal((max(args.batches + [4]), 3, 224, 224), dtype=np.float32)
    )

    print(f"\n{'image embedding':24}{'ClipDesk':>12}{'transformers':>14}{'ratio':>8}")
    worst = float("inf")
    for batch in [b for b in args.batches if b <= 8] if args.quick else args.batches:
        px = pixels[:batch]

        def run_ours(px=px) -> object:
            return ours.encode_pixels(px)

        @torch.inference_mode()
        def run_theirs(px=px) -> object:
            out = ref.features(hf.get_image_features(pixel_values=px))
            return torch.nn.functional.normalize(out, dim=-1).numpy()

        a, b = paired(run_ours, run_theirs, repeats, args.rounds)
        worst = min(worst, b / a)
        print(f"  batch {batch:<16}{batch / a:>8.1f} img/s{batch / b:>8.1f} img/s{b / a:>8.2f}x")

    print(f"\n{'text':24}{'ClipDesk':>12}{'transformers':>14}{'ratio':>8}")
    labels = [f"a photo of a {w}" for w in ("dog", "cat", "beach", "mountain") * 16]
    for label, texts in (("one phrase", ["kids on a beach at sunset"]), ("64 labels", labels)):

        def text_ours(texts=texts) -> object:
            return ours.encode_texts(texts)

        @torch.inference_mode()
        def text_theirs(texts=texts) -> object:
            batch = tokenizer(texts, padding=True, return_tensors="pt")
            out = ref.features(hf.get_text_features(**batch))
            return torch.nn.functional.normalize(out, dim=-1).numpy()

        a, b = paired(text_ours, text_theirs, repeats * 2, args.rounds)
        worst = min(worst, b / a)
        print(f"  {label:22}{a * 1e3:>9.1f} ms{b * 1e3:>11.1f} ms{b / a:>8.2f}x")

    diff = np.abs(ours.encode_pixels(pixels[:4]) - run_theirs(pixels[:4])).max()
    print(f"\nmax abs diff of image embeddings: {diff:.1e}")
    print(f"slowest ratio: {worst:.2f}x (goal >= 1.0)")


if __name__ == "__main__":
    main()
