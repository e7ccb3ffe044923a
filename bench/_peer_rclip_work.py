"""The work folder of bench/peer_rclip.py, its set-up, and how the two tools are run and timed.

    .peer-rclip/              (gitignored; ``--work`` puts it elsewhere)
      rclip-venv/             rclip 4.0.8 in a Python >= 3.12 (``peer_rclip.py --setup``)
      model/                  the random ViT-B-32-256 in both layouts (``_peer_rclip_model``)
      home/                   CLIPDESK_HOME: that model imported and active, nothing else
      pool-WxH/               generated photos of one size (a cache)
      photos-WxH-N/           hard links to the first N of a pool: a folder both tools index
      query-WxH-N/            N photos in each tool's index, made once, for the query timings:
        photos/, clipdesk.sqlite3, rclip/ (its RCLIP_DATADIR), done.json
      warmup-WxH-2/           two photos each tool indexes untimed before the rounds
      rounds/                 the fresh indexes of the indexing rounds

Every tool runs as a whole process from a clean environment: no CLIPDESK_* or RCLIP_* variable
of the caller's, no OMP/MKL thread count (each tool's own default is what is compared), no
network (HF_HUB_OFFLINE).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORK = ROOT / ".peer-rclip"
RCLIP_VERSION = "4.0.8"
MODEL_NAME = "peer-vit-b-32-256"
QUERY_INDEX = {  # how rclip's index of the query library is made (``ensure_query_library``)
    False: "written by rclip's own code from ClipDesk's vectors",
    True: "made by rclip's indexing",
}
RUNTIME_ENV = "CLIPDESK_RUNTIME"  # = clipdesk.model.runtime.RUNTIME_ENV, without importing it
_DROPPED_ENV = ("CLIPDESK_", "RCLIP_", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def find_python() -> str | None:
    """A Python rclip 4.x accepts (>= 3.12, < 3.14) that really runs (a pyenv shim without a
    selected version does not)."""
    candidates = [os.environ.get("PEER_RCLIP_PYTHON"), "python3.12", "python3.13"]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        candidates += [str(p) for p in sorted(pyenv.glob("3.1[23].*/bin/python3"))]
    for candidate in filter(None, candidates):
        exe = shutil.which(candidate) or candidate
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                [exe, "-c", "import sys; print((3, 12) <= sys.version_info[:2] < (3, 14))"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            if done.returncode == 0 and done.stdout.strip() == "True":
                return exe
    return None


@dataclass
class Run:
    """One whole process: wall time, CPU time, peak memory, output."""

    cmd: list[str]
    wall_s: float
    cpu_s: float
    peak_rss_mb: float  # the larger of its own peak (rusage) and its process tree's, sampled
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> Run:
        if self.returncode != 0:
            raise RuntimeError(
                f"{' '.join(self.cmd)} failed (exit {self.returncode}):\n"
                f"{self.stdout[-2000:]}\n{self.stderr[-4000:]}"
            )
        return self


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    with contextlib.suppress(psutil.Error):
        for member in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += member.memory_info().rss
    return total


def measure(
    cmd: list[str],
    env: dict[str, str],
    cwd: Path | None = None,
    *,
    sample_memory: bool = False,
    timeout_s: float = 7200,
) -> Run:
    """Run ``cmd`` to its end. The wall time is taken around a blocking wait (no polling step
    in it); memory sampling, when asked for, runs on a thread every 50 ms.

    A child's ru_maxrss starts at this process's own peak (Linux keeps the high-water mark of
    the pages it had before ``exec``, copied or shared from us), so this process stays small:
    torch and models only ever live in children."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            watcher = psutil.Process(proc.pid)
            while not done.wait(0.05):
                peak[0] = max(peak[0], _tree_rss(watcher))

        sampler = threading.Thread(target=sample, daemon=True) if sample_memory else None
        if sampler:
            sampler.start()
        killer = threading.Timer(timeout_s, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # rusage of this child alone
        finally:
            wall = time.perf_counter() - start
            killer.cancel()
            done.set()
        if sampler:
            sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            [str(c) for c in cmd],
            wall,
            usage.ru_utime + usage.ru_stime,
            max(usage.ru_maxrss * 1024, peak[0]) / 1e6,  # ru_maxrss is in KiB on Linux
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


@dataclass
class Tools:
    """How each tool is started, and with what environment."""

    work: Path
    runtime: str | None = None  # ClipDesk's CLIPDESK_RUNTIME; None: its own default
    clipdesk_threads: int | None = None
    base_env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_ENV)}
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        self.base_env = env

    @property
    def venv(self) -> Path:
        return self.work / "rclip-venv"

    @property
    def rclip_python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def home(self) -> Path:
        return self.work / "home"

    def rclip_ready(self) -> bool:
        return (self.venv / "bin" / "rclip").is_file() and any(
            self.venv.glob(f"lib/python3.*/site-packages/rclip-{RCLIP_VERSION}.dist-info")
        )

    def clipdesk(self, *args: object) -> list[str]:
        cli = Path(sys.executable).parent / "clipdesk-cli"
        head = [str(cli)] if cli.is_file() else [sys.executable, "-m", "clipdesk.cli"]
        return head + [str(a) for a in args]

    def rclip(self, *args: object) -> list[str]:
        return [str(self.venv / "bin" / "rclip"), *[str(a) for a in args]]

    def clipdesk_env(self) -> dict[str, str]:
        env = dict(self.base_env, CLIPDESK_HOME=str(self.home))
        if self.runtime:
            env[RUNTIME_ENV] = self.runtime
        if self.clipdesk_threads:
            env["CLIPDESK_THREADS"] = str(self.clipdesk_threads)
        return env

    def rclip_env(self, datadir: Path) -> dict[str, str]:
        return dict(self.base_env, RCLIP_DATADIR=str(datadir))


def clipdesk_processes(home: Path) -> list[int]:
    """Processes running ClipDesk on ``home`` (an app or a server that could answer for the
    CLI): there must be none while the CLI is timed."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if proc.pid != os.getpid() and proc.environ().get("CLIPDESK_HOME") == str(home):
                found.append(proc.pid)
    return found


# --- set-up ------------------------------------------------------------------------------------


def setup_command(work: Path, options: list[str]) -> str:
    rel = os.path.relpath(Path(__file__).with_name("peer_rclip.py"), Path.cwd())
    extra = [] if work == DEFAULT_WORK else ["--work", str(work)]
    return " ".join(["python3", rel, "--setup", *extra, *options])


def missing_caches(
    tools: Tools,
    photos: int,
    size: tuple[int, int],
    query_photos: int,
    query_size: tuple[int, int],
    rclip_indexes: bool,
) -> list[str]:
    """What a run would have to make first (minutes to tens of minutes), checked cheaply."""
    missing = []
    if (
        not (tools.work / "model" / "manifest.json").is_file()
        or not (tools.home / "data" / "models" / MODEL_NAME).is_dir()
    ):
        missing.append("the random model")
    pool = tools.work / f"pool-{size[0]}x{size[1]}"
    if not pool.is_dir() or len(list(pool.glob("IMG_*.jpg"))) < photos:
        missing.append(f"{photos} photos {size[0]}x{size[1]}")
    done = tools.work / f"query-{query_size[0]}x{query_size[1]}-{query_photos}" / "done.json"
    if (
        not done.is_file()
        or json.loads(done.read_text()).get("rclip index") != QUERY_INDEX[rclip_indexes]
    ):
        missing.append(f"the {query_photos:,}-photo query library")
    return missing


def setup_venv(tools: Tools, python: str | None) -> None:
    """rclip in its own virtualenv. rclip 4.x runs ONNX Runtime and depends on no torch; the
    constraint file still pins torch to ClipDesk's version so that no dependency of a later
    release can pull a multi-gigabyte CUDA build in."""
    python = python or find_python()
    if python is None:
        raise SystemExit(
            "rclip 4.x needs Python >= 3.12 (< 3.14) and none was found; pass --python PATH "
            "or set PEER_RCLIP_PYTHON"
        )
    tools.work.mkdir(parents=True, exist_ok=True)
    if not (tools.venv / "bin" / "python").is_file():
        print(f"creating {tools.venv} with {python}", flush=True)
        subprocess.run([python, "-m", "venv", str(tools.venv)], check=True)
    from importlib.metadata import version

    pin = tools.work / "constraints.txt"
    pin.write_text(f"torch=={version('torch').split('+')[0]}\n", encoding="utf-8")
    print(f"pip install rclip=={RCLIP_VERSION} (constraints: {pin.read_text().strip()})")
    subprocess.run(
        [str(tools.rclip_python), "-m", "pip", "install", "-q", "-c", str(pin)]
        + [f"rclip=={RCLIP_VERSION}"],
        check=True,
    )
    has_torch = subprocess.run(
        [
            str(tools.rclip_python),
            "-c",
            "import importlib.util as u; print(bool(u.find_spec('torch')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    size = sum(p.stat().st_size for p in tools.venv.rglob("*") if p.is_file()) / 1e6
    print(f"rclip {RCLIP_VERSION} installed: {size:.0f} MB, torch in its venv: {has_torch}")


def ensure_model(tools: Tools, seed: int = 0) -> dict[str, object]:
    """The shared random model, and ClipDesk's copy of it imported into the private home. A
    rebuilt model invalidates everything indexed with the old one."""
    folder = tools.work / "model"
    manifest = folder / "manifest.json"  # = _peer_rclip_model.MANIFEST
    old = manifest.read_text() if manifest.is_file() else None
    started = time.perf_counter()
    built = measure(
        [sys.executable, str(Path(__file__).with_name("_peer_rclip_model.py")), str(folder)]
        + ["--seed", str(seed)],
        dict(os.environ, PYTHONPATH=str(ROOT)),
    ).check()
    facts: dict[str, object] = json.loads(built.stdout.strip().splitlines()[-1])
    if manifest.read_text() != old:
        print(f"built the random {facts['arch']} in {time.perf_counter() - started:.0f} s")
        shutil.rmtree(tools.home, ignore_errors=True)
        for stale in [*tools.work.glob("query-*"), tools.work / "rounds"]:
            shutil.rmtree(stale, ignore_errors=True)
    env = tools.clipdesk_env()
    if not (tools.home / "data" / "models" / MODEL_NAME).is_dir():
        hub = str(facts["hub"])
        measure(
            tools.clipdesk("models", "import", hub, "--name", MODEL_NAME, "--activate", "--yes"),
            env,
        ).check()
    # The runtime graphs, exported now (once; "already prepared" after) so that no timed run
    # pays for them; what the export measured goes into the report. A ClipDesk without ONNX
    # Runtime has no such command (argparse's exit 2) and nothing to prepare.
    prepared = measure(tools.clipdesk("models", "prepare", MODEL_NAME), env)
    if prepared.returncode != 2:
        facts["clipdesk_prepare"] = prepared.check().stdout.strip()
    return facts


def own_peak_mb() -> float:
    """This process's peak RSS: a floor under every child's ru_maxrss (see measure)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


def rclip_datadir(path: Path, model_data: Path, *, fresh: bool) -> Path:
    """An RCLIP_DATADIR holding the model "download" (links to the shared files)."""
    if fresh:
        shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    for f in model_data.iterdir():
        link = path / f.name
        if not link.exists():
            link.symlink_to(f.resolve())
    return path


def photo_folder(work: Path, n: int, size: tuple[int, int], name: str) -> Path:
    """A folder of exactly ``n`` generated photos (rclip indexes all of its working folder)."""
    import _camera_photos

    w, h = size
    pool = work / f"pool-{w}x{h}"
    have = len(list(pool.glob("IMG_*.jpg"))) if pool.is_dir() else 0
    if have < n:
        print(f"generating {n - have:,} photos {w}x{h} in {pool} (once) ...", flush=True)
    started = time.perf_counter()
    paths = _camera_photos.write_photos(pool, n, size)
    if have < n:
        print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    folder = work / f"{name}-{w}x{h}-{n}"
    photos = folder if name == "photos" else folder / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    wanted = {p.name for p in paths}
    for extra in photos.iterdir():
        if extra.name not in wanted:
            extra.unlink()
    for p in paths:
        link = photos / p.name
        if not link.exists():
            os.link(p, link)  # hard links: one page-cache copy for both tools
    return photos


# --- what the indexes hold ---------------------------------------------------------------------


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.is_file():
        return []
    con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def clipdesk_vectors(library: Path) -> dict[str, np.ndarray]:
    rows = _rows(
        library, "SELECT p.path, e.vector FROM embeddings e JOIN photos p ON p.id = e.photo_id"
    )
    return {path: np.frombuffer(blob, "<f4") for path, blob in rows}


def rclip_vectors(datadir: Path) -> dict[str, np.ndarray]:
    rows = _rows(
        datadir / "db.sqlite3", "SELECT filepath, vector FROM images WHERE deleted IS NULL"
    )
    return {path: np.frombuffer(blob, "<f4") for path, blob in rows}


def clipdesk_count(library: Path) -> int:
    rows = _rows(library, "SELECT count(*) FROM embeddings")
    return int(rows[0][0]) if rows else 0


def rclip_count(datadir: Path) -> int:
    rows = _rows(datadir / "db.sqlite3", "SELECT count(*) FROM images WHERE deleted IS NULL")
    return int(rows[0][0]) if rows else 0


def vector_runtimes(library: Path) -> dict[str, int]:
    """How many of the library's vectors each runtime made (a library older than the runtime
    column says nothing: {})."""
    rows = _rows(
        library, "SELECT coalesce(runtime, 'unrecorded'), count(*) FROM embeddings GROUP BY 1"
    )
    return {str(k): int(v) for k, v in rows}


def read_files(paths: Iterable[Path]) -> int:
    """Read every file once, so both tools find the same things in the page cache."""
    total = 0
    for p in paths:
        if p.is_file():
            with open(p, "rb") as f:
                while chunk := f.read(1 << 22):
                    total += len(chunk)
    return total


@dataclass
class QueryLibrary:
    photos: Path
    clipdesk: Path  # the library file
    rclip: Path  # RCLIP_DATADIR
    rclip_index: str  # how rclip's index was made

    def files(self) -> list[Path]:
        return [
            *self.clipdesk.parent.glob(self.clipdesk.name + "*"),
            *self.rclip.glob("db.sqlite3*"),
        ]


def ensure_query_library(
    tools: Tools, model_data: Path, n: int, size: tuple[int, int], *, rclip_indexes: bool = False
) -> QueryLibrary:
    """``n`` small photos in a library of each tool (cached), for the CLI and warm query
    timings; how small they are does not matter there, a text query reads vectors. ClipDesk
    indexes them. rclip's index is written by rclip's own database code from ClipDesk's
    vectors (``_peer_rclip_seed``: rclip's ONNX fp32 image tower at ~5 img/s here would take
    half an hour for 10,000), or with ``rclip_indexes`` rclip indexes them itself."""
    photos = photo_folder(tools.work, n, size, "query")
    how = QUERY_INDEX[rclip_indexes]
    lib = QueryLibrary(photos, photos.parent / "clipdesk.sqlite3", photos.parent / "rclip", how)
    done = photos.parent / "done.json"
    if done.is_file() and json.loads(done.read_text()).get("rclip index") != how:
        for f in lib.rclip.glob("db.sqlite3*"):
            f.unlink()
    done.unlink(missing_ok=True)
    rclip_datadir(lib.rclip, model_data, fresh=False)
    if clipdesk_count(lib.clipdesk) < n:
        print(f"indexing the {n:,} query photos with ClipDesk (once) ...", flush=True)
        env = tools.clipdesk_env()
        measure(tools.clipdesk("--library", lib.clipdesk, "folders", "add", photos), env).check()
        run = measure(tools.clipdesk("--library", lib.clipdesk, "index", "--no-ocr"), env).check()
        print(f"  {n / run.wall_s:.1f} img/s", flush=True)
    if rclip_count(lib.rclip) < n and rclip_indexes:
        print(f"indexing the {n:,} query photos with rclip (once) ...", flush=True)
        run = measure(tools.rclip("-f", "a red car"), tools.rclip_env(lib.rclip), photos).check()
        print(f"  {n / run.wall_s:.1f} img/s", flush=True)
    elif rclip_count(lib.rclip) < n:
        _seed_rclip(tools, lib)
    counts = (clipdesk_count(lib.clipdesk), rclip_count(lib.rclip))
    if counts != (n, n):
        raise RuntimeError(f"query library: ClipDesk has {counts[0]}, rclip {counts[1]} of {n}")
    done.write_text(json.dumps({"photos": n, "size": list(size), "rclip index": how}))
    return lib


def _seed_rclip(tools: Tools, lib: QueryLibrary) -> None:
    ours = {Path(p).name: v for p, v in clipdesk_vectors(lib.clipdesk).items()}
    names = sorted(p.name for p in lib.photos.glob("*.jpg"))
    print(f"writing rclip's index of the {len(names):,} query photos (once) ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "vectors.npy", np.stack([ours[name] for name in names]))
        (Path(tmp) / "names.json").write_text(json.dumps(names))
        seed = [str(tools.rclip_python), str(Path(__file__).with_name("_peer_rclip_seed.py"))]
        db = lib.rclip / "db.sqlite3"
        seed += [str(db), f"{tmp}/vectors.npy", f"{tmp}/names.json"]
        measure(seed, tools.rclip_env(lib.rclip), lib.photos).check()
    # rclip's default run checks the folder: had a row not matched what its walk sees, it
    # would have embedded that photo again, with a vector of its own
    before = rclip_vectors(lib.rclip)
    measure(tools.rclip("-f", "a red car"), tools.rclip_env(lib.rclip), lib.photos).check()
    after = rclip_vectors(lib.rclip)
    if after.keys() != before.keys() or any(
        not np.array_equal(after[p], before[p]) for p in before
    ):
        raise RuntimeError(f"{db}: rclip re-indexed the rows written for it")
