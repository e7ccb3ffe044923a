"""``clipdesk-cli`` as a user's shell runs it: another process, with this test's ClipDesk home
(the same shared settings file as the app or services under test) and no ``--library`` unless
the test gives one, so what the faces agree on is read from disk, not from this process; and
``cli``, through main() in this process, for tests that read its output and exit code only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *argv: str,
    env: dict[str, str] | None = None,
    unset: tuple[str, ...] = (),
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``clipdesk-cli ARGV``; the environment is this test's (CLIPDESK_HOME included) with
    ``env`` on top and CLIPDESK_LIBRARY (and ``unset``) removed, so the settings decide."""
    full = {**os.environ, **(env or {})}
    for name in ("CLIPDESK_LIBRARY", *unset):
        full.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "clipdesk.cli", *argv],
        cwd=REPO_ROOT,
        env=full,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


def cli_json(*argv: str, timeout: float = 300) -> Any:
    """``clipdesk-cli --json ARGV``'s output, parsed; fails the test on a non-zero exit."""
    done = run_cli("--json", *argv, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``clipdesk-cli ARGV`` through main() in this process: its exit code, stdout and stderr."""
    from clipdesk.cli import main  # here: the tests that only spawn the CLI never load it

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err
