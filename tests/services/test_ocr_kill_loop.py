"""kill -9 of ``clipdesk-cli ocr run`` at random moments with the real reader: after every kill
each photo either has its text (and owes no OCR) or still owes it, never neither, and the text
index holds what was read; a last clean run reads the rest (issue #17: "resumable after a crash,
the store's state is the truth"). Slow: ``pytest -m slow tests/services/test_ocr_kill_loop.py``.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clipdesk.library.store import Library
from clipdesk.model.testing import tiny_random_model
from tests.support.cli_process import REPO_ROOT, run_cli
from tests.support.text_photos import text_photo

WORDS = [
    "harbour",
    "bakery",
    "museum",
    "garden",
    "station",
    "bridge",
    "market",
    "castle",
    "temple",
    "palace",
    "forest",
    "island",
    "valley",
    "river",
    "summer",
    "winter",
    "morning",
    "evening",
    "library",
    "theatre",
    "kitchen",
    "garage",
    "office",
    "school",
]


def state(library: Path) -> tuple[set[int], set[int], set[int]]:
    """(all photos, photos whose text was read, photos still owed OCR)."""
    con = sqlite3.connect(library)
    try:
        photos = {r[0] for r in con.execute("SELECT id FROM photos")}
        read = {
            r[0] for r in con.execute("SELECT photo_id FROM photo_text WHERE ocr_at IS NOT NULL")
        }
        owed = {r[0] for r in con.execute("SELECT photo_id FROM photo_steps WHERE step = 'ocr'")}
    finally:
        con.close()
    return photos, read, owed


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_9_during_the_ocr_pass_loses_no_photo_and_no_text(tmp_path, reading_text) -> None:
    for i, word in enumerate(WORDS):  # big enough that a card takes a few tenths of a second
        text_photo(tmp_path / "Cards" / f"card-{i}.jpg", word.upper(), size=(1600, 1200))
    model = tiny_random_model(tmp_path / "models")
    library = tmp_path / "lib.sqlite3"
    argv = ["--library", str(library), "--model", str(model), "--device", "cpu"]
    for step in (["folders", "add", str(tmp_path / "Cards")], ["index", "--no-ocr"]):
        done = run_cli(*argv, *step)
        assert done.returncode == 0, done.stderr
    photos, read, owed = state(library)
    assert len(photos) == len(WORDS) and owed == photos and not read

    rng = random.Random(17)
    kills, progress = 0, []
    for _ in range(6):
        proc = subprocess.Popen(  # the reading_text fixture has CLIPDESK_OCR unset here
            [sys.executable, "-m", "clipdesk.cli", *argv, "ocr", "run"],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        # killed a few photos into the pass, at a random moment within the next photo's read
        before, goal = len(state(library)[1]), rng.randint(1, 3)
        deadline = time.monotonic() + 120
        while len(state(library)[1]) < before + goal and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        kills += proc.returncode == -signal.SIGKILL
        photos, read, owed = state(library)
        assert read | owed == photos  # every photo is read or still owed: none dropped
        assert not read & owed  # a photo's text and the deletion of its row are one commit
        progress.append(len(read))
    print(f"kills {kills}; photos read after each {progress}")
    assert kills == 6, kills
    assert progress[0] > 0 and progress[-1] < len(WORDS)  # each kill landed mid-pass

    final = run_cli(*argv, "ocr", "run", timeout=600)
    assert final.returncode == 0, final.stderr
    photos, read, owed = state(library)
    assert read == photos and not owed
    with Library(library) as lib:
        names = {p.id: p.path.stem for p in lib.photos()}
        found = 0
        for i, word in enumerate(WORDS):
            hits = set(lib.match_words([word]).ids.tolist())
            found += any(names[h] == f"card-{i}" for h in hits)
    assert found >= len(WORDS) - 1, found  # the reader may miss one card; the index misses none
