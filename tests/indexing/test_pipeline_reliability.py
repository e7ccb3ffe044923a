"""Reliability of the indexing pipeline: fuzzed files and kill -9 at random moments.

The full runs are ``@pytest.mark.slow`` (``pytest -m slow tests/indexing/test_pipeline_reliability.py``);
a small fuzz runs with the normal suite.
"""

from __future__ import annotations

import io
import os
import random
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipdesk.indexing.pipeline import IndexPipeline
from clipdesk.library.store import Library
from clipdesk.model import load_model
from clipdesk.model.testing import tiny_random_model
from tests.support.pipeline_helpers import embedding_rows, register

EXTENSIONS = [".jpg", ".jpeg", ".png", ".webp", ".tif", ".gif", ".bmp", ".heic", ".nef", ".dng"]


def _bomb_png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = zlib.compress(b"\0" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(idat))
        + b"IDAT"
        + idat
        + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    )


def _valid(rng: random.Random, fmt: str) -> bytes:
    arr = np.random.default_rng(rng.randrange(1 << 30)).integers(0, 255, (96, 128, 3), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt)
    return buf.getvalue()


def write_fuzz_files(folder: Path, n: int, seed: int = 0) -> dict[str, str]:
    """n hostile files; returns name -> kind of damage."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = _valid(rng, "JPEG")
    kinds: dict[str, str] = {}
    for i in range(n):
        kind = ("random", "truncated_jpeg", "bomb_png", "bitflip", "empty", "header_only")[i % 6]
        ext = EXTENSIONS[rng.randrange(len(EXTENSIONS))]
        if kind == "random":
            data = rng.randbytes(rng.randrange(1, 20000))
        elif kind == "truncated_jpeg":
            ext, data = ".jpg", jpeg[: rng.randrange(2, len(jpeg) - 1)]
        elif kind == "bomb_png":
            ext, data = ".png", _bomb_png()
        elif kind == "bitflip":
            fmt, ext = rng.choice(
                [
                    ("JPEG", ".jpg"),
                    ("PNG", ".png"),
                    ("WEBP", ".webp"),
                    ("GIF", ".gif"),
                    ("TIFF", ".tif"),
                    ("BMP", ".bmp"),
                ]
            )
            data = bytearray(_valid(rng, fmt))
            for _ in range(rng.randrange(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            data = bytes(data)
        elif kind == "empty":
            data = b""
        else:  # a real signature, then garbage
            data = rng.choice(
                [
                    b"\xff\xd8\xff\xe0",
                    b"\x89PNG\r\n\x1a\n",
                    b"RIFF\0\0\0\0WEBP",
                    b"II*\0",
                    b"GIF89a",
                    b"BM",
                ]
            ) + rng.randbytes(rng.randrange(0, 64))
        name = f"f{i:04d}{ext}"
        (folder / name).write_bytes(data)
        kinds[name] = kind
    return kinds


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tiny_random_model(tmp_path_factory.mktemp("models"))


def _fuzz(tmp_path: Path, model_dir: Path, n: int) -> None:
    folder = tmp_path / "fuzz"
    kinds = write_fuzz_files(folder, n)
    lib = Library(tmp_path / "lib.sqlite3")
    try:
        register(lib, folder, sorted(folder.iterdir()))
        model = load_model(model_dir, device="cpu")
        report = IndexPipeline(lib, model, batch_size=16).run()  # must not raise
        assert report.embedded + report.failed == n
        photos = lib.photos()
        assert len(photos) == n
        for p in photos:
            kind = kinds[p.path.name]
            assert p.status in ("ok", "error"), (p.path.name, p.status)
            if p.status == "error":
                assert p.error and len(p.error) > 5, p
            if kind in ("random", "empty", "bomb_png", "header_only"):
                assert p.status == "error", (p.path.name, kind)
            if kind == "bomb_png":
                assert "30000×30000" in p.error
        assert lib.count_pending(model.id) == 0
        assert lib.integrity_check() == "ok"
    finally:
        lib.close()


def test_fuzzed_files_are_all_recorded(tmp_path, model_dir) -> None:
    _fuzz(tmp_path, model_dir, 60)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_thousand_fuzzed_files_zero_crashes(tmp_path, model_dir) -> None:
    _fuzz(tmp_path, model_dir, 1000)


_CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
from clipdesk.indexing.pipeline import IndexPipeline
from clipdesk.library.store import Library
from clipdesk.model import load_model

lib = Library(sys.argv[1])
model = load_model(sys.argv[2], device="cpu")

class Slow:  # a model as slow as a real one relative to the tiny photos
    def __getattr__(self, name):
        return getattr(model, name)
    def encode_pixels(self, px):
        time.sleep(0.02)
        return model.encode_pixels(px)

print("ready", flush=True)
IndexPipeline(lib, Slow(), batch_size=4, commit_size=8, commit_interval_s=0.2).run()
print("done", flush=True)
"""


@pytest.mark.slow
@pytest.mark.timeout(7200)
def test_kill_9_at_twenty_random_moments(tmp_path, model_dir) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = random.Random(1)
    n = 400
    paths = []
    for i in range(n):
        p = folder / f"p{i:04d}.jpg"
        Image.new("RGB", (160, 120), (rng.randrange(256), rng.randrange(256), i % 256)).save(p)
        paths.append(p)
    lib_path = tmp_path / "lib.sqlite3"
    lib = Library(lib_path)
    register(lib, folder, paths)
    model_id = load_model(model_dir, device="cpu").id
    lib.close()
    root = str(Path(__file__).resolve().parents[2])
    kills = 0
    progress = []
    while kills < 20:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(lib_path), str(model_dir), root],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        lib = Library(lib_path)
        try:
            assert lib.integrity_check() == "ok"
            rows = embedding_rows(lib)
            assert len(rows) == len(set(rows))
            progress.append(lib.count_pending(model_id))
            if progress[-1] == 0:  # finished before we could kill it: start over
                with lib.transaction() as conn:
                    conn.execute("DELETE FROM embeddings")
                    conn.execute("UPDATE photos SET status = 'pending'")
        finally:
            lib.close()
    # Now let it finish: every photo indexed exactly once.
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(lib_path), str(model_dir), root],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert proc.returncode == 0 and "done" in proc.stdout, proc.stderr
    lib = Library(lib_path)
    try:
        assert lib.integrity_check() == "ok"
        assert lib.counts()["ok"] == n and lib.count_pending(model_id) == 0
        rows = embedding_rows(lib)
        assert len(rows) == len(set(rows)) == n
        dupes = (
            lib.connection()
            .execute(
                "SELECT count(*) FROM (SELECT photo_id FROM embeddings GROUP BY photo_id, model_id "
                "HAVING count(*) > 1)"
            )
            .fetchone()[0]
        )
        assert dupes == 0
    finally:
        lib.close()
    # The kills interrupted real work: pending went down between some of them.
    assert any(a > b for a, b in zip(progress, progress[1:], strict=False)), progress
