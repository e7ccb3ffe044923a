"""Indexing throughput, side by side in one run (ratios, not absolute times: machines are noisy).

  1. model only       ClipDesk's forward pass on already-preprocessed pixels (the ceiling)
  2. ClipDesk          the whole pipeline: pending photos -> decode (JPEG draft) -> model ->
                       vectors committed in SQLite; decode in threads, and in processes
  3. reference         the usual way: PIL full-size decode + transformers CLIPProcessor +
                       CLIPModel.get_image_features, batch by batch

Same random ViT-B/32 weights for all (transformers ``CLIPConfig()`` defaults, ``save_pretrained``,
then ``clipdesk.model.load_model`` on that folder). Photos: generated 12-megapixel JPEGs
(4000x3000 synthetic scenes), cached under bench/out/.

Goals: ClipDesk >= 0.85x model-only, >= 2x the reference.

    python3 bench/index_bench.py [--n 32] [--batch 16] [--threads 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def make_photos(n: int, size: tuple[int, int]) -> list[Path]:
    from clipdesk.model.synth import scene_at, write_photo

    folder = OUT / f"photos_{size[0]}x{size[1]}"
    paths = []
    for i in range(n):
        path = folder / f"IMG_{i:04d}.jpg"
        if not path.exists():
            write_photo(scene_at("eval", 0, i), path, size=size, quality=92)
        paths.append(path)
    return paths


def make_model() -> Path:
    from tests.model import hf_reference as ref

    folder = OUT / "vit-b32-random"
    if not (folder / "model.safetensors").exists():
        hf = ref.build_hf_clip()
        ref.save_hf_folder(hf, folder, OUT / "vocab")
    return folder


def model_only(model, paths: list[Path], batch: int) -> float:
    from clipdesk.imaging.decode import decode_for_model

    pixels = torch.stack([model.preprocess(decode_for_model(p).image) for p in paths])
    model.encode_pixels(pixels[:batch])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(pixels), batch):
        model.encode_pixels(pixels[i : i + batch])
    return len(paths) / (time.perf_counter() - start)


def clipdesk_pipeline(model, paths: list[Path], batch: int, workers: int, decoder: str) -> float:
    from clipdesk.indexing.pipeline import IndexPipeline
    from clipdesk.library.store import Library
    from tests.support.pipeline_helpers import register

    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Path(tmp) / "lib.sqlite3")
        try:
            register(lib, paths[0].parent, paths)  # what a scan leaves: pending photos
            pipe = IndexPipeline(lib, model, batch_size=batch, workers=workers, decoder=decoder)
            start = time.perf_counter()
            report = pipe.run()
            elapsed = time.perf_counter() - start
            assert report.embedded == len(paths), report
        finally:
            lib.close()
    return len(paths) / elapsed


def reference(folder: Path, paths: list[Path], batch: int) -> float:
    from transformers import CLIPModel, CLIPProcessor

    from tests.model import hf_reference as ref

    hf = CLIPModel.from_pretrained(str(folder)).eval()
    processor = CLIPProcessor(
        image_processor=ref.hf_image_processor(224), tokenizer=ref.hf_tokenizer(OUT / "vocab")
    )
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(paths), batch):
            images = [Image.open(p).convert("RGB") for p in paths[i : i + batch]]
            inputs = processor(images=images, return_tensors="pt")
            feats = ref.features(hf.get_image_features(pixel_values=inputs["pixel_values"]))
            torch.nn.functional.normalize(feats, dim=-1).numpy()
    return len(paths) / (time.perf_counter() - start)


def decode_times(paths: list[Path]) -> tuple[float, float]:
    from clipdesk.imaging.decode import decode_for_model

    start = time.perf_counter()
    for p in paths:
        decode_for_model(p)
    ours = (time.perf_counter() - start) / len(paths)
    start = time.perf_counter()
    for p in paths:
        with Image.open(p) as im:
            im.convert("RGB")
    full = (time.perf_counter() - start) / len(paths)
    return ours, full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=32, help="photos (default 32)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--workers", type=int, default=2, help="decode workers (default 2)")
    ap.add_argument("--size", default="4000x3000")
    args = ap.parse_args()
    size = tuple(int(x) for x in args.size.split("x"))
    OUT.mkdir(parents=True, exist_ok=True)
    import logging

    logging.getLogger("transformers").setLevel(logging.ERROR)
    from clipdesk.model import load_model

    t0 = time.perf_counter()
    paths = make_photos(args.n, size)  # type: ignore[arg-type]
    folder = make_model()
    print(
        f"{len(paths)} photos {size[0]}x{size[1]} (avg {np.mean([p.stat().st_size for p in paths]) / 1e6:.1f} MB), "
        f"random ViT-B/32; set-up {time.perf_counter() - t0:.0f} s"
    )
    model = load_model(folder, device="cpu")
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}: {torch.get_num_threads()} thread(s); "
        f"{args.workers} decode worker(s); batch {args.batch}; {os.cpu_count()} CPU cores"
    )

    ours_decode, full_decode = decode_times(paths[:8])
    print(
        f"\ndecode one photo: ClipDesk (draft) {ours_decode * 1000:.0f} ms, "
        f"full-size PIL {full_decode * 1000:.0f} ms ({full_decode / ours_decode:.1f}x)"
    )

    runs = {
        "model only (forward pass)": lambda: model_only(model, paths, args.batch),
        "ClipDesk pipeline, threads": lambda: clipdesk_pipeline(
            model, paths, args.batch, args.workers, "threads"
        ),
        "ClipDesk pipeline, processes": lambda: clipdesk_pipeline(
            model, paths, args.batch, args.workers, "processes"
        ),
        "reference (CLIPProcessor + CLIPModel)": lambda: reference(folder, paths, args.batch),
    }
    rates = {}
    for name, run in runs.items():
        rates[name] = run()
        print(f"  {name}: {rates[name]:.2f} images/s", flush=True)
    base = rates["model only (forward pass)"]
    ref_rate = rates["reference (CLIPProcessor + CLIPModel)"]
    print(f"\n{'':40}{'images/s':>10}{'vs model':>10}{'vs reference':>14}")
    for name, rate in rates.items():
        print(f"{name:40}{rate:>10.2f}{rate / base:>9.2f}x{rate / ref_rate:>13.2f}x")
    best = max(rates["ClipDesk pipeline, threads"], rates["ClipDesk pipeline, processes"])
    print(
        f"\nClipDesk (best decoder) vs model-only: {best / base:.2f}x (goal >= 0.85x); "
        f"vs reference: {best / ref_rate:.2f}x (goal >= 2x)"
    )


if __name__ == "__main__":
    main()
