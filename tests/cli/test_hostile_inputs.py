"""``clipdesk-cli`` on hostile input, as a user's shell runs it: a damaged library, photos padded
to gigabytes and category files built to exhaust the parser end in a clear message (or a normal
run) with bounded memory, never in a traceback."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from tests.support.cli_process import run_cli
from tests.support.peak_memory import run_cli_measured

GB = 1024**3


def _jpeg(path: Path, seed: int, pad_to: int = 0) -> Path:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (seed * 40 % 256, 90, 200)).save(buf, "JPEG")
    with open(path, "wb") as fh:
        fh.write(buf.getvalue())
        if pad_to:
            fh.truncate(pad_to)  # sparse: no disk used for the padding
    return path


def _library_with_photos(tmp_path: Path) -> Path:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        _jpeg(photos / f"photo_{i:03d}.jpg", i)
    library = tmp_path / "lib.sqlite3"
    done = run_cli("--library", str(library), "folders", "add", str(photos))
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(library)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the main file
    conn.close()
    return library


def _flip(library: Path, marker: bytes, offset: int) -> None:
    data = bytearray(library.read_bytes())
    at = data.find(marker)
    assert at > 0, marker
    data[at + offset] ^= 0xFF
    library.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "marker,offset",
    [(b"photo_001", 4), (b"sqlite_autoindex_labels_1", 20)],
    ids=["a stored path", "the schema"],
)
def test_index_on_a_byte_flipped_library_says_it_is_damaged(tmp_path, marker, offset):
    library = _library_with_photos(tmp_path)
    _flip(library, marker, offset)
    done = run_cli("--library", str(library), "--device", "cpu", "index", timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode != 0
    assert "damaged" in done.stderr and "clipdesk-cli doctor" in done.stderr


def test_importing_a_100000_deep_category_file_is_a_clear_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(
        '{"format": "clipdesk-categories", "version": 1, "categories": ' + "[" * 100_000
    )
    done = run_cli(
        "--library", str(tmp_path / "lib.sqlite3"), "tags", "categories", "import", str(path)
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1 and "nested more than" in done.stderr


def test_a_template_that_pads_every_prompt_is_refused(tmp_path):
    path = tmp_path / "cats.json"
    path.write_text(
        '{"format": "clipdesk-categories", "version": 1, "categories": [{"name": "Padded", '
        '"templates": ["{label:>900000000}"], "labels": ["beach"]}]}'
    )
    done = run_cli(
        "--library", str(tmp_path / "lib.sqlite3"), "tags", "categories", "import", str(path)
    )
    assert done.returncode == 1 and "formats a placeholder" in done.stderr, done.stderr


@pytest.mark.slow
def test_indexing_two_photos_padded_to_2_gb_stays_within_1_gb_of_a_normal_run(tmp_path):
    runs = {}
    for name, pad in (("normal", 0), ("padded", 2 * GB)):
        photos = tmp_path / name
        photos.mkdir()
        for i in range(2):
            _jpeg(photos / f"p{i}.jpg", i, pad)
        library = str(tmp_path / f"{name}.sqlite3")
        added = run_cli("--library", library, "folders", "add", str(photos))
        assert added.returncode == 0, added.stderr
        done, peak_mb = run_cli_measured("--library", library, "--device", "cpu", "index")
        assert done.returncode == 0 and "Indexed 2 photos" in done.stdout, done.stderr
        runs[name] = peak_mb
    assert runs["padded"] - runs["normal"] < 1024, runs
