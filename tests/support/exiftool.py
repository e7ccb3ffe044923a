"""Reading what exiftool (the reference reader of digiKam, Lightroom and darktable metadata) sees
in a file, for the XMP tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

EXIFTOOL = shutil.which("exiftool")


def exiftool(path: Path) -> dict:
    """Every tag exiftool reads from ``path`` by group (``XMP-dc:Subject``), file facts left out."""
    assert EXIFTOOL is not None
    out = subprocess.run(
        [EXIFTOOL, "-j", "-a", "-G1", "-struct", "-n", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)[0]
    return {
        k: v for k, v in data.items() if not k.startswith(("System:", "SourceFile", "ExifTool:"))
    }


def as_list(value) -> list:
    """exiftool gives a one-item list as the item itself."""
    return value if isinstance(value, list) else [value]
