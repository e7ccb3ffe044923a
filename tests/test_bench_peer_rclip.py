"""bench/peer_rclip.py without rclip: it says how to set rclip up instead of failing, and under
bench/run_all it does not spend the time limit making its caches. (The measuring itself needs
rclip's own virtualenv and minutes; it is run by hand, see docs/benchmarks.md.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _run(work: Path, result: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIPDESK_BENCH")}
    env["CLIPDESK_BENCH_JSON"] = str(result)  # as bench/run_all runs it
    return subprocess.run(
        [sys.executable, str(BENCH / "peer_rclip.py"), "--work", str(work), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_without_rclip_it_prints_the_setup_command_and_measures_nothing(tmp_path):
    work, result = tmp_path / "peer", tmp_path / "result.json"
    done = _run(work, result, "--photos", "20")
    assert done.returncode == 0, done.stderr
    assert "rclip is not installed" in done.stdout
    assert f"peer_rclip.py --setup --work {work} --photos 20" in done.stdout
    assert "pip install rclip==4.0.8" in done.stdout
    assert json.loads(result.read_text())["metrics"]["status"].startswith("not set up")
    assert not work.exists()  # nothing made, nothing downloaded


def test_under_run_all_missing_caches_are_named_not_made(tmp_path):
    work, result = tmp_path / "peer", tmp_path / "result.json"
    # what a finished pip install leaves, as far as the benchmark looks
    (work / "rclip-venv" / "bin").mkdir(parents=True)
    (work / "rclip-venv" / "bin" / "rclip").write_text("")
    (work / "rclip-venv" / "lib" / "python3.12" / "site-packages" / "rclip-4.0.8.dist-info").mkdir(
        parents=True
    )
    done = _run(work, result)
    assert done.returncode == 0, done.stderr
    assert (
        "not made yet: the random model, 200 photos 4000x3000, the 10,000-photo query library"
        in done.stdout
    )
    assert sorted(p.name for p in work.iterdir()) == ["rclip-venv"]
