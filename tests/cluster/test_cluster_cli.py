"""The face of ``cluster embed`` without Ray: its arguments, its progress lines for a log file,
and the summary's words."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest

from clipdesk.cli.cluster import ProgressLines
from clipdesk.common.progress import Progress
from clipdesk.services.records import EmbedSummary
from tests.support.cli_process import cli


def test_progress_for_a_log_file_is_a_line_now_and_then_with_rate_and_eta() -> None:
    stream = io.StringIO()
    lines = ProgressLines(stream, every_s=3600)
    lines(Progress(0, None, message="Loading the model on a worker"))
    lines(Progress(10, 1000, 12.5, 42.2, "Embedding photos"))
    lines(Progress(20, 1000, 12.5, 78.4, "Embedding photos"))  # within the interval: silent
    lines(Progress(1000, 1000, 12.5, 0.0, "Finished"))
    assert stream.getvalue().splitlines() == [
        "Loading the model on a worker…",
        "Embedding photos: 10/1,000 (12.5 photos/s, ETA 42 s)",
        "Finished: 1,000/1,000 (12.5 photos/s)",
    ]


def test_the_summary_names_what_was_skipped_and_the_top_reasons() -> None:
    summary = EmbedSummary(
        "/shared/v", "mini@1", "torch-fp32", listed=10, embedded=5, errors=2, failed=1,
        unchanged=1, same_content=1, seconds=2.0,
        reasons=Counter({"file not found": 1, "not an image (a text file)": 2}),
    )  # fmt: skip
    text = summary.describe()
    assert text.splitlines()[0].startswith("Embedded 5 of 10 photos in 2 s (2.5/s)")
    assert "skipped 2 already in the output (1 unchanged, 1 with the same content" in text
    assert "      2  not an image (a text file)" in text
    assert summary.as_json()["reasons"] == {"not an image (a text file)": 2, "file not found": 1}


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        ([], "Give photo folders or --manifest FILE"),
        (["IN", "--manifest", "m.txt"], "Give photo folders or --manifest FILE"),
        (["IN", "--root", "/r"], "--root goes with --manifest"),
        (["IN", "--gpus-per-actor", "many"], "is not a number of GPUs"),
    ],
)
def test_arguments_that_do_not_go_together_are_refused(
    argv: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(tmp_path) if a == "IN" else a for a in argv]
    code, _, stderr = cli(capsys, "cluster", "embed", *argv, "--out", str(tmp_path / "out"))
    assert code == 1 and said in stderr
