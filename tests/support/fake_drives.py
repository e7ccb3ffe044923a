"""Pretend that directories are mount points of other drives, without mounting anything.

``FakeDrives`` patches ``os.stat`` so that every path at or below a registered directory reports
that drive's ``st_dev`` (what a mounted volume looks like to the scanner); unregistering the
directory is "unmounting" it: the directory then has its parent's device again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest


class _Stat:
    """A stat result with another st_dev; everything else is the real file's."""

    def __init__(self, real: os.stat_result, device: int) -> None:
        self._real = real
        self.st_dev = device

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __getitem__(self, index: int) -> Any:
        return self.st_dev if index == 2 else self._real[index]


class FakeDrives:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.mounted: dict[str, int] = {}
        self._next = 0x7F000000
        real_stat = os.stat

        def fake_stat(path: Any, *args: Any, **kwargs: Any) -> Any:
            result = real_stat(path, *args, **kwargs)
            if isinstance(path, int):
                return result
            text = os.path.abspath(os.fsdecode(os.fspath(path)))
            for mount, device in self.mounted.items():
                if text == mount or text.startswith(mount + os.sep):
                    return _Stat(result, device)
            return result

        monkeypatch.setattr(os, "stat", fake_stat)

    def mount(self, directory: Path, device: int | None = None) -> int:
        """``directory`` is now the root of a drive (a new device number unless given)."""
        if device is None:
            self._next += 1
            device = self._next
        self.mounted[os.path.abspath(directory)] = device
        return device

    def unmount(self, directory: Path) -> None:
        del self.mounted[os.path.abspath(directory)]
