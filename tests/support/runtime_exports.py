"""One real ONNX Runtime export per test module, handed to each test's private home.

An export takes seconds even for a tiny model; a module makes one (:func:`export_once`, in a
module-scoped fixture) and each test copies it into its own home (:meth:`SharedExport.seed`).
A model with the same weights anywhere is then prepared by the real export code in milliseconds:
``export_model`` finds the entry by the weights hash and records the new copy as a source.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from clipdesk.model.runtime import cache
from clipdesk.model.runtime.cache import CacheEntry


@dataclass(frozen=True)
class SharedExport:
    model: Path  # the tiny model the export was made from
    folder: Path  # its export (.runtimes/<hash16>), in the module's own home
    weights_hash: str

    def seed(self, *, keep_source: bool = True) -> Path:
        """Copy the export into the current home's models folder; returns the copy. Without
        ``keep_source`` it forgets the module's model folder, as if only the copies a test
        makes had been exported."""
        dest = cache.cache_root() / self.folder.name
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(self.folder, dest)
        if not keep_source:
            entry = cache.read_entry(dest)
            assert entry is not None
            cache.write_manifest(dest, {**entry.manifest, "sources": []})
        return dest

    def copy_model(self, dest: Path) -> Path:
        """Another copy of the model's folder (same weights, another path): owed an export."""
        shutil.copytree(self.model, dest)
        return dest


def export_once(
    tmp_path_factory: pytest.TempPathFactory, name: str = "tiny-random"
) -> SharedExport:
    """A tiny random model and its real export, made in a home of their own."""
    from clipdesk.model.runtime.export import export_model
    from clipdesk.model.testing import tiny_random_model

    home = tmp_path_factory.mktemp("export-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIPDESK_HOME", str(home))
        model = tiny_random_model(home / "src", name=name)
        entry: CacheEntry = export_model(model)
    return SharedExport(model, entry.folder, entry.weights_hash)
