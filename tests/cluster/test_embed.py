"""``cluster embed`` on a local Ray (two CPUs) with the bundled demo model: the shards hold what
the desktop's scan and index would (same vectors, same facts, same reasons for bad files), a
rerun skips what is done, a killed actor's batches are run again with every photo written once,
and an output folder of another model is refused.

One Ray for the module (starting one costs ~7 s here), quiet, with this module's ClipDesk home
for its workers; each run starts its own actors.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipdesk.cluster.shards import ShardError, read_shards, shard_files
from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import Progress
from clipdesk.model.manager import find_model
from clipdesk.services.cluster import ClusterService, EmbedRequest
from tests.support.cli_process import cli
from tests.support.photofiles import make_photo

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
# Ray Data's own context warns about its own deprecated settings as it starts
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")

N_PHOTOS = 20


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("ray-home")
    with pytest.MonkeyPatch.context() as mp:
        # The workers start with the environment of this moment: ClipDesk's own variables as
        # a run would pass them (the per-test homes come later, for the driver only).
        mp.setenv("CLIPDESK_HOME", str(home))
        mp.setenv("CLIPDESK_OCR", "off")
        ray.data.DataContext.get_current().enable_progress_bars = False
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
        )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """N_PHOTOS small photos (one turned by EXIF, with a date), a damaged JPEG, a text file
    named .jpg, a hidden folder, and a file of another type."""
    root = tmp_path_factory.mktemp("archive")
    for i in range(N_PHOTOS - 1):
        make_photo(root / ("trip" if i % 2 else "home") / f"IMG_{i:03d}.jpg", seed=i, size=72)
    turned = root / "home" / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x0132] = "2021:07:14 18:03:22"
    Image.new("RGB", (90, 60), (200, 30, 30)).save(turned, exif=exif.tobytes())
    good = (root / "home" / "IMG_000.jpg").read_bytes()
    (root / "trip" / "damaged.jpg").write_bytes(good[: len(good) // 3])
    (root / "trip" / "notes.jpg").write_text("not a photo at all\n")
    make_photo(root / ".hidden" / "skipped.jpg", seed=99)
    (root / "home" / "readme.txt").write_text("not listed")
    return root


@pytest.fixture(scope="module")
def demo() -> str:
    path = find_model("clipdesk-mini")
    assert path is not None, "the bundled demo model models/clipdesk-mini is missing"
    return str(path)


def _rows(out: Path) -> dict[str, tuple[object, np.ndarray | None]]:
    """path → (row, vector or None) over every shard; fails on a photo written twice."""
    found: dict[str, tuple[object, np.ndarray | None]] = {}
    for shard in read_shards(out):
        rows = shard.rows()
        ok, vectors = shard.vectors()
        by_position = dict(zip(ok.tolist(), vectors, strict=True))
        for i, row in enumerate(rows):
            assert row.path not in found, f"{row.path} is in the shards twice"
            found[row.path] = (row, by_position.get(i))
    return found


@pytest.fixture(scope="module")
def first_run(local_ray, photos: Path, demo: str, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("out")
    seen: list[Progress] = []
    request = EmbedRequest(
        out=str(out), inputs=(str(photos),), model=demo, runtime="torch", batch_size=8
    )
    summary = ClusterService().embed(request, progress=seen.append)
    return out, summary, seen


def test_the_shards_hold_the_desktops_vectors_facts_and_reasons(
    first_run, photos: Path, demo: str, tmp_path: Path
) -> None:
    from clipdesk.model import load_model
    from clipdesk.services.app import ClipDeskServices

    out, summary, seen = first_run
    assert (summary.listed, summary.embedded, summary.errors, summary.failed) == (
        N_PHOTOS + 2,
        N_PHOTOS,
        2,
        0,
    )
    assert summary.runtime_label == "torch-fp32"
    assert any(p.message == "Embedding photos" and p.total == N_PHOTOS + 2 for p in seen)
    rows = _rows(out)
    assert not any(".hidden" in p or p.endswith(".txt") for p in rows)

    model = load_model(demo, device="cpu", runtime="torch")
    with ClipDeskServices(tmp_path / "lib.sqlite3", model=model, device="cpu") as app:
        app.folders.add(photos)
        app.index()
        library = {str(p.path): p for p in app.library.photos()}
        ids, vectors = app.library.load_vectors(model.id)
    desktop = dict(zip(ids.tolist(), vectors, strict=True))
    assert set(library) == set(rows)
    worst = 0.0
    for path, photo in library.items():
        row, vector = rows[path]
        assert (row.size, row.mtime_ns, row.content_hash, row.kind) == (
            photo.size,
            photo.mtime_ns,
            photo.content_hash,
            photo.kind,
        )
        assert (row.meta.width, row.meta.height, row.meta.taken_at) == (
            photo.width,
            photo.height,
            photo.taken_at,
        )
        assert row.root == str(photos)
        assert row.error == photo.error  # the same words for a bad file
        if photo.error is None:
            assert vector is not None
            expected = desktop[photo.id].astype(np.float16).astype(np.float32)
            worst = max(worst, float(np.abs(vector - expected).max()))
        else:
            assert vector is None
    assert worst <= 1e-4
    turned = rows[str(photos / "home" / "turned.jpg")][0]
    assert (turned.meta.width, turned.meta.height) == (60, 90)
    assert "truncated" in rows[str(photos / "trip" / "damaged.jpg")][0].error


def test_a_rerun_skips_what_the_output_holds_and_embeds_what_changed(
    first_run, photos: Path, demo: str, tmp_path: Path
) -> None:
    out, _, _ = first_run
    copy = tmp_path / "out"
    copy.mkdir()
    for f in [*shard_files(out), out / "clipdesk-job.json"]:
        (copy / f.name).write_bytes(f.read_bytes())
    touched = photos / "home" / "IMG_002.jpg"
    changed = photos / "trip" / "IMG_003.jpg"
    try:
        os.utime(touched, ns=(time.time_ns(), time.time_ns()))  # same bytes, another mtime
        make_photo(changed, seed=1003, size=72)
        request = EmbedRequest(
            out=str(copy), inputs=(str(photos),), model=demo, runtime="torch", batch_size=8
        )
        summary = ClusterService().embed(request)
    finally:
        make_photo(changed, seed=3, size=72)  # the archive as the other tests know it
    assert (summary.embedded, summary.same_content, summary.unchanged) == (
        1,
        1,
        N_PHOTOS + 2 - 2,
    )
    assert summary.shards == 1
    rows = _rows(copy)
    assert rows[str(changed)][1] is not None


def _actor_pids() -> set[int]:
    import psutil

    found = set()
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "MapWorker(MapBatches(ShardEmbedder))" in cmdline:
            found.add(proc.pid)
    return found


def test_a_killed_actor_is_restarted_and_every_photo_is_written_once(
    local_ray, photos: Path, demo: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    box: dict[str, object] = {}
    request = EmbedRequest(
        out=str(out), inputs=(str(photos),), model=demo, runtime="torch", batch_size=1
    )

    def job() -> None:
        try:
            box["summary"] = ClusterService().embed(request)
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=job)
    worker.start()
    deadline = time.monotonic() + 120
    while len(list(out.glob("shard-*.parquet"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    pids = _actor_pids()
    assert len(pids) == 1 and worker.is_alive()
    written_before = len(list(out.glob("shard-*.parquet")))
    os.kill(pids.pop(), 9)
    worker.join(180)
    assert "error" not in box, box.get("error")
    summary = box["summary"]
    assert written_before < N_PHOTOS + 2  # the kill came mid-run
    assert (summary.embedded, summary.errors) == (N_PHOTOS, 2)
    rows = _rows(out)  # each photo exactly once
    assert len(rows) == N_PHOTOS + 2
    assert len(shard_files(out)) == N_PHOTOS + 2  # one per batch, retries replaced their own
    assert not list(out.glob(".*.tmp"))


def test_another_model_into_the_same_output_is_refused(
    first_run, photos: Path, tmp_path: Path
) -> None:
    from clipdesk.model.testing import tiny_random_model

    out, _, _ = first_run
    before = sorted(p.name for p in shard_files(out))
    other = tiny_random_model(tmp_path / "models")
    request = EmbedRequest(out=str(out), inputs=(str(photos),), model=str(other), runtime="torch")
    with pytest.raises(ShardError, match="another model") as caught:
        ClusterService().embed(request)
    assert "new output folder" in (caught.value.hint or "")
    assert sorted(p.name for p in shard_files(out)) == before


def test_the_cli_embeds_a_manifest_read_through_a_path_map(
    local_ray, photos: Path, demo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    recorded = "/mnt/archive"
    manifest = tmp_path / "paths.txt"
    manifest.write_text(
        "# three photos, one twice, one relative to the root\n"
        f"{recorded}/home/IMG_000.jpg\n"
        f"{recorded}/home/IMG_000.jpg\n"
        "trip/IMG_001.jpg\n"
        "\n"
        f"{recorded}/home/gone.jpg\n"
    )
    code, stdout, stderr = cli(
        capsys,
        "--json",
        "--model",
        demo,
        "--runtime",
        "torch",
        "cluster",
        "embed",
        "--manifest",
        str(manifest),
        "--root",
        recorded,
        "--map",
        f"{recorded}={photos}",
        "--out",
        str(tmp_path / "out"),
        "--batch-size",
        "4",
    )
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert (summary["listed"], summary["embedded"], summary["failed"]) == (3, 2, 1)
    assert summary["reasons"] == {"file not found": 1}
    rows = _rows(tmp_path / "out")
    assert set(rows) == {f"{recorded}/home/IMG_000.jpg", f"{recorded}/trip/IMG_001.jpg"}
    assert {row.root for row, _ in rows.values()} == {recorded}


def test_without_ray_the_command_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    code, _, stderr = cli(capsys, "cluster", "embed", str(tmp_path), "--out", str(tmp_path / "o"))
    assert code == 1
    assert "needs Ray" in stderr and "pip install 'clipdesk[cluster]'" in stderr


def test_a_request_the_cluster_cannot_serve_is_refused_before_anything_runs(
    local_ray, photos: Path, tmp_path: Path
) -> None:
    request = EmbedRequest(out=str(tmp_path / "out"), inputs=(str(photos),), concurrency=2)
    with pytest.raises(ClipDeskError, match="leave none of the cluster's 2 CPUs"):
        ClusterService().embed(request)
    request = EmbedRequest(out=str(tmp_path / "out"), inputs=(str(photos),), gpus_per_actor=1)
    with pytest.raises(ClipDeskError, match="need 1 GPU each; the cluster has 0"):
        ClusterService().embed(request)
