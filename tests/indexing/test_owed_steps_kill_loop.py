"""kill -9 of ``clipdesk-cli index`` at random moments, some of them the instant a batch of vectors
is committed: once a clean run has finished, every photo has the model's tags and its sidecar
keyword (issue #14, item 1). Slow: ``pytest -m slow tests/indexing/test_owed_steps_kill_loop.py``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clipdesk.model.testing import tiny_random_model
from tests.support.owed_work import lost_work, photos_with_keywords

REPO_ROOT = Path(__file__).resolve().parents[2]

# `clipdesk-cli index` as a user runs it, committing every 8 photos (so that a run of 80 photos
# has commits to be killed between) and, given a number k > 0, killing itself with SIGKILL right
# after its k-th commit, before anything that follows the commit has run.
CHILD = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[1])
kill_after = int(sys.argv[2])
from clipdesk.services.app import ClipDeskServices

index = ClipDeskServices.index
ClipDeskServices.index = lambda self, *a, **kw: index(self, *a, commit_size=8, **kw)
if kill_after:
    committed, seen = ClipDeskServices._on_embedded, [0]

    def die_after_commit(self, ids, vectors):
        seen[0] += 1
        if seen[0] >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        committed(self, ids, vectors)

    ClipDeskServices._on_embedded = die_after_commit
from clipdesk.cli import main

print("ready", flush=True)
sys.exit(main(sys.argv[3:]))
"""


def run_index(argv: list[str], kill_after: int) -> subprocess.Popen[str]:
    env = {**os.environ, "CLIPDESK_LOG": "clipdesk=ERROR"}
    env.pop("CLIPDESK_LIBRARY", None)
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(REPO_ROOT), str(kill_after), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_9_at_random_moments_loses_no_tag_and_no_keyword(tmp_path) -> None:
    photos = photos_with_keywords(tmp_path / "photos", 80, size=64)
    model = tiny_random_model(tmp_path / "models")
    library = tmp_path / "lib.sqlite3"
    argv = ["--library", str(library), "--model", str(model), "--device", "cpu"]
    added = subprocess.run(
        [sys.executable, "-m", "clipdesk.cli", *argv, "folders", "add", str(tmp_path / "photos")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    argv += ["index", "--no-scan", "--batch-size", "4", "--workers", "1"]
    rng = random.Random(14)
    kills, interrupted, embedded = 0, [], []
    for _ in range(10):
        by_itself = rng.random() < 0.6  # right after a commit, else at a random moment
        proc = run_index(argv, rng.randint(1, 2) if by_itself else 0)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        if not by_itself:
            time.sleep(rng.uniform(0.0, 2.0))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=120)
        proc.stdout.close()
        kills += proc.returncode == -signal.SIGKILL
        now = lost_work(library)
        interrupted.append(len(set(now.untagged) | set(now.keyword_lost)))
        embedded.append(now.photos)
    print(f"kills {kills}; embedded {embedded}; owed work cut off {interrupted}")
    assert kills >= 8, kills
    assert max(interrupted) > 0  # kills did land between a commit and what follows it
    assert embedded[0] < len(photos) <= embedded[-1] or embedded[-1] < len(photos)

    final = run_index(argv, 0)
    out, _ = final.communicate(timeout=300)
    assert final.returncode == 0, out
    after = lost_work(library)
    assert after.photos == len(photos)
    assert after.untagged == [] and after.keyword_lost == []
