"""Peak memory of a piece of work, measured in a fresh interpreter.

``ru_maxrss`` is a high-water mark per process, so every measurement runs in its own child: the
child records its peak after the set-up (imports), does the work, and reports how far the peak
rose and how long the work took.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import json, resource, sys, time
def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
{setup}
_base = _peak_mb()
_start = time.monotonic()
result = None
{work}
print(json.dumps({{"growth_mb": _peak_mb() - _base, "peak_mb": _peak_mb(),
                  "seconds": time.monotonic() - _start, "result": result}}, default=str))
"""


@dataclass(frozen=True)
class Measured:
    growth_mb: float  # how far the peak RSS rose above the one after ``setup``
    peak_mb: float
    seconds: float
    result: Any  # what ``work`` left in ``result`` (JSON-able, or its str)


def measure(setup: str, work: str, *, timeout: float = 120) -> Measured:
    """Run ``setup`` then ``work`` (Python source, top level) in a child interpreter."""
    code = _CHILD.format(setup=setup, work=work)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Measured(data["growth_mb"], data["peak_mb"], data["seconds"], data["result"])


CLI_WRAPPER = """
import resource, sys
sys.argv = ["clipdesk-cli", *sys.argv[1:]]
from clipdesk.cli import main
try:
    code = main()
finally:
    print("PEAK_RSS_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
          file=sys.stderr)
sys.exit(code)
"""


def run_cli_measured(
    *argv: str, timeout: float = 300
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``clipdesk-cli ARGV`` in a child, with the child's peak RSS in MB."""
    done = subprocess.run(
        [sys.executable, "-c", CLI_WRAPPER, *argv],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    peaks = [line for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_MB")]
    assert peaks, done.stderr[-3000:]
    return done, float(peaks[-1].split()[1])
