"""bench/run_all.py: every script runs, failures are reported, series become PNG plots."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def run_all(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("run_all_under_test", BENCH / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    fake = tmp_path / "bench"
    fake.mkdir()
    (fake / "_report.py").write_text((BENCH / "_report.py").read_text())
    monkeypatch.setattr(module, "BENCH", fake)
    return module, fake


def _script(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(
        "import sys\nsys.path.insert(0, __import__('os').path.dirname(__file__))\n"
        + textwrap.dedent(body)
        + "\nif __name__ == '__main__':\n    main()\n"
    )


def test_report_has_table_plots_outputs_and_missing_list(run_all, tmp_path):
    module, fake = run_all
    _script(
        fake,
        "search_bench.py",
        """
        from _report import record
        def main():
            print("photos  ours  peer")
            record(metrics={"ratio": 0.5},
                   series=[{"title": "Search latency vs library size", "x_label": "photos",
                            "y_label": "ms", "log_x": True,
                            "lines": {"ours": [[1000, 1.0], [100000, 9.0]],
                                      "peer": [[1000, 2.0], [100000, 30.0]]}}])
    """,
    )
    _script(
        fake,
        "broken_bench.py",
        """
        def main():
            raise SystemExit("no model here")
    """,
    )
    _script(fake, "_helper.py", "def main():\n    raise AssertionError('helpers never run')\n")
    scripts = module.discover()
    assert [p.name for p in scripts] == ["broken_bench.py", "search_bench.py"]

    out = tmp_path / "docs" / "benchmarks.md"
    # In its own process, as it is used: pyqtgraph's Qt objects stay out of pytest's process.
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run_all.py"),
            "--bench-dir",
            str(fake),
            "--out",
            str(out),
            "--timeout",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr  # one script failed
    text = out.read_text()
    assert "| `search_bench` | ok |" in text
    assert "| `broken_bench` | failed (exit 1) |" in text
    assert "no model here" in text
    assert "| ratio | 0.5 |" in text
    assert "![Search latency vs library size](benchmarks/search-bench-search-latency" in text
    assert "Not measured in this run (no benchmark reported it): indexing rate." in text
    pngs = sorted(p.name for p in (tmp_path / "docs" / "benchmarks").glob("*.png"))
    assert "memory-over-time.png" in pngs and "memory-peak.png" in pngs
    assert any(p.startswith("search-bench-") for p in pngs)
    for png in (tmp_path / "docs" / "benchmarks").glob("*.png"):
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_a_hanging_benchmark_is_stopped_and_reported(run_all, tmp_path):
    module, fake = run_all
    _script(
        fake,
        "slow_bench.py",
        """
        import time
        def main():
            print("starting", flush=True)
            time.sleep(60)
    """,
    )
    result = module.run_one(fake / "slow_bench.py", quick=True, timeout_s=2, threads=1)
    assert result.timed_out and result.status == "timed out"
    assert result.seconds < 30
    assert "starting" in result.output
    assert result.peak_rss_mb > 0


def test_no_benchmarks_is_an_error(run_all, tmp_path, capsys):
    module, _fake = run_all
    assert module.main(["--out", str(tmp_path / "r.md")]) == 1
    assert "no benchmark scripts" in capsys.readouterr().err


def test_real_bench_folder_scripts_are_discovered():
    spec = importlib.util.spec_from_file_location("run_all_real", BENCH / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH))
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
        del sys.modules[spec.name]
    names = {p.name for p in module.discover()}
    assert "scale_bench.py" in names and "run_all.py" not in names and "_report.py" not in names
    assert "search_box_bench.py" in names and "search_box_bench" in module.QUICK_ARGS


def test_the_search_box_bench_runs_small_and_prints_both_paths(tmp_path):
    """The real run is 100,000 photos (run_all's full size); a few hundred show it works."""
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "search_box_bench.py"),
            "--photos",
            "600",
            "--queries",
            "2",
            "--rounds",
            "1",
            "--cache",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "new p50" in out and "old p50" in out
    for case in ("phrase, best match", "phrase, newest first", "box cleared (browse)"):
        assert case in out
    assert "rows read per search: at most 64" in out
    assert list((tmp_path / "cache").glob("search-box-*-600-*.sqlite3"))  # kept for next time
