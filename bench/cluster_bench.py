"""The Ray pipeline beside ``clipdesk-cli index`` on one machine: what the engine costs.

Both sides get the same generated photos, the same model and runtime, and a private ClipDesk
home, each as the user runs it (a new process, cold):

  desktop   ``clipdesk-cli folders add DIR`` (the scan: hash, type, EXIF), then
            ``clipdesk-cli index --no-scan --no-ocr`` (decode + embed + SQLite)
  ray       ``clipdesk-cli cluster embed DIR --out OUT`` (a local Ray started by the run: listing,
            hash, EXIF, decode on CPU tasks, a model actor writing Parquet shards)

End to end is the wall time of the processes (model loads, Ray's start-up included); steady is
the rate once running, which is what a long job goes at, so it is what the time per million
photos is read from: the desktop's is the scan's wall time plus the index run's own time; Ray's
is the run's wall time less that of a rerun that skips every photo (Ray's start, the probe, the
listing and the actor's model load: the fixed cost of a job, whatever its size).

    python3 bench/cluster_bench.py [--n 500] [--size 1600x1200] [--model demo|vit-b32|PATH]
                                   [--runtime torch|onnx] [--batch 32]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from _report import quick, record  # noqa: E402


def make_photos(n: int, size: tuple[int, int]) -> Path:
    from clipdesk.model.synth import scene_at, write_photo

    folder = OUT / f"cluster_photos_{size[0]}x{size[1]}"
    for i in range(n):
        path = folder / f"IMG_{i:04d}.jpg"
        if not path.exists():
            write_photo(scene_at("eval", 1, i), path, size=size, quality=90)
    # exactly n: a folder cached by a larger run holds more
    extra = sorted(folder.glob("IMG_*.jpg"))[n:]
    if extra:
        folder = OUT / f"cluster_photos_{size[0]}x{size[1]}_{n}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            link = folder / f"IMG_{i:04d}.jpg"
            if not link.exists():
                link.symlink_to(OUT / f"cluster_photos_{size[0]}x{size[1]}" / link.name)
    return folder


def resolve_model(name: str) -> str:
    if name == "demo":
        from clipdesk.model.manager import find_model

        found = find_model("clipdesk-mini")
        if found is None:
            raise SystemExit("the bundled demo model models/clipdesk-mini is missing")
        return str(found)
    if name == "vit-b32":
        from index_bench import make_model  # random ViT-B/32 weights (transformers' CLIPConfig)

        return str(make_model())
    return name


def cli(home: Path, *argv: str) -> tuple[float, dict]:
    env = {**os.environ, "CLIPDESK_HOME": str(home), "CLIPDESK_OCR": "off"}
    env.pop("CLIPDESK_LIBRARY", None)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "clipdesk.cli", "--json", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"clipdesk-cli {' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100 if quick() else 500)
    ap.add_argument("--size", default="1600x1200", help="photo size, WIDTHxHEIGHT")
    ap.add_argument("--model", default="demo", help="demo, vit-b32 (random weights) or a path")
    ap.add_argument("--runtime", default="torch", choices=["torch", "onnx"])
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    photos = make_photos(args.n, (w, h))
    model = resolve_model(args.model)
    common = ["--model", model, "--runtime", args.runtime]
    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmp:
        home, lib = Path(tmp) / "home", Path(tmp) / "lib.sqlite3"
        if args.runtime == "onnx":  # the one-off export, outside both timings
            cli(home, *common, "models", "prepare", model)
        scan_s, _ = cli(home, "--library", str(lib), "folders", "add", str(photos))
        index_s, index = cli(
            home, "--library", str(lib), *common, "index", "--no-scan", "--no-ocr",
            "--batch-size", str(args.batch),
        )  # fmt: skip
        embed = ["cluster", "embed", str(photos), "--out", str(Path(tmp) / "shards")]
        ray_s, ray = cli(home, *common, *embed, "--batch-size", str(args.batch))
        # the same again: everything skipped, so what is left is the run's fixed cost (Ray,
        # the probe, the listing, the actor's model load)
        rerun_s, rerun = cli(home, *common, *embed, "--batch-size", str(args.batch))
    run = index["index"]
    assert run["embedded"] == args.n and ray["embedded"] == args.n, (run, ray)
    assert rerun["skipped_unchanged"] == args.n, rerun
    desk_wall = scan_s + index_s
    desk_e2e, ray_e2e = args.n / desk_wall, args.n / ray_s
    # desktop steady: the scan's wall time (hashing, EXIF) and the index run's own time
    desk_steady = args.n / (scan_s + run["seconds"])
    ray_steady = args.n / (ray_s - rerun_s)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"{args.n} photos {w}x{h}, model {Path(model).name} on {index['runtime']}, "
        f"batch {args.batch}, {cores} cores; ray: {ray['actors']} actor(s)"
    )
    rows = [
        ("end to end, s (processes)", desk_wall, ray_s, ray_s / desk_wall),
        ("end to end, photos/s", desk_e2e, ray_e2e, ray_e2e / desk_e2e),
        ("steady, photos/s", desk_steady, ray_steady, ray_steady / desk_steady),
        ("fixed cost, s", index_s - run["seconds"], rerun_s, None),
    ]
    print(f"{'':28} {'desktop':>9} {'ray':>9} {'ray/desktop':>12}")
    for label, desk, other, ratio in rows:
        tail = f"{ratio:>12.2f}" if ratio is not None else f"{'':>12}"
        print(f"{label:28} {desk:>9.1f} {other:>9.1f} {tail}")
    print(
        "fixed cost: desktop, the index process but its run (start, model load); ray, a rerun "
        "that skips every photo (Ray's start, the probe, the listing, the actor's model load)"
    )
    for name, rate in (("desktop", desk_steady), ("ray", ray_steady)):
        print(f"{name:>8}: {1e6 / rate / 3600:.1f} h per million photos at the steady rate")
    record(
        metrics={
            "cluster: desktop photos/s (steady)": round(desk_steady, 2),
            "cluster: ray photos/s (steady)": round(ray_steady, 2),
            "cluster: ray / desktop (steady)": round(ray_steady / desk_steady, 3),
            "cluster: ray / desktop (end to end)": round(ray_e2e / desk_e2e, 3),
        }
    )


if __name__ == "__main__":
    main()
