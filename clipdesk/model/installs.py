"""The models folder kept whole across crashes: one writer per model name, staging folders whose
leftovers can be told from a live import's, and the start-up sweep that tidies up after a crash.

Every install, replacement or removal of the model ``NAME`` holds ``.NAME.lock`` (see
:mod:`clipdesk.model.install_lock`: released by the operating system when its process dies) and
stages its files in ``.import-NAME-XXXXXXXX`` or ``.save-NAME-XXXXXXXX``; a replacement goes in
by :func:`clipdesk.model.folder_swap.swap_into_place`. :func:`sweep` takes each name's lock in
turn, so it never touches the work of a live process: it finishes or rolls back a swap that a
dead one interrupted and removes what such a process left behind, and says what it did.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clipdesk.common import paths
from clipdesk.common.errors import ModelError
from clipdesk.model import folder_swap
from clipdesk.model.install_lock import FileLock, holder_pid, try_holding

log = logging.getLogger(__name__)

DOWNLOADS = ".downloads"  # resumable partial downloads (clipdesk.model.download): kept
_MODEL_FILES = re.compile(
    r"^(config\.json|preprocessor_config\.json|tokenizer(_config)?\.json|clipdesk\.json|"
    r"metrics\.json|model\.safetensors|special_tokens_map\.json)$"
)
# What a writer of NAME leaves when it dies, and the kind of leftover each one is.
_LEFTOVERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\.(?P<name>.+)\.lock$"), "lock"),
    (re.compile(r"^\.(?P<name>.+)\.swap\.json$"), "journal"),
    (re.compile(r"^\.(?P<name>.+)\.swap\.json\..+\.tmp$"), "journal"),
    (re.compile(r"^\.(?P<name>.+)\.old$"), "backup"),
    (re.compile(r"^\.(?P<name>.+)\.removing$"), "removal"),
    (re.compile(r"^\.(?:import|save)-(?P<name>.+)-[a-z0-9_]{8}$"), "staging"),
    # ClipDesk before 0.2 saved through ".NAME-XXXXXXXX" (only taken if it holds model files)
    (re.compile(r"^\.(?P<name>[A-Za-z0-9][A-Za-z0-9._+-]{0,99})-[a-z0-9_]{8}$"), "old-staging"),
)


def lock_path(root: Path, name: str) -> Path:
    return root / f".{name}.lock"


@contextmanager
def writing(name: str, root: Path | None = None) -> Iterator[Path]:
    """Hold the model ``name`` for an install, replacement or removal (yields the models
    folder); a ModelError if another process holds it."""
    root = root or paths.models_dir()
    lock = FileLock(lock_path(root, name))
    if not lock.acquire():
        pid = holder_pid(lock.path)
        raise ModelError(
            f"another ClipDesk process{f' ({pid})' if pid else ''} is installing or removing "
            f"the model {name!r}",
            hint="wait until it has finished, then try again",
        )
    try:
        yield root
    finally:
        lock.release()


def new_staging(root: Path, name: str, kind: str = "import") -> Path:
    """An empty folder to build the model ``name`` in (the caller holds :func:`writing`)."""
    return Path(tempfile.mkdtemp(dir=root, prefix=f".{kind}-{name}-"))


@dataclass(frozen=True)
class InstallSweep:
    """What the sweep of the models folder did, and what it left there."""

    actions: tuple[str, ...] = ()  # interrupted installs finished or rolled back, leftovers removed
    leftovers: tuple[str, ...] = ()  # imports in progress, partial downloads, what resisted removal
    freed_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "actions": list(self.actions),
            "leftovers": list(self.leftovers),
            "freed_bytes": self.freed_bytes,
        }


def sweep(root: Path | None = None) -> InstallSweep:
    """Finish or roll back interrupted swaps and remove what dead writers left, name by name
    under each name's lock; what a live process is writing is listed, never touched. Never
    raises for a file it cannot remove: that is listed too."""
    root = root or paths.models_dir()
    if not root.is_dir():
        return InstallSweep()
    by_name: dict[str, list[tuple[str, Path]]] = {}
    for entry in sorted(root.iterdir()):
        kind, name = _leftover_kind(entry)
        if kind is not None:
            by_name.setdefault(name, []).append((kind, entry))
    actions: list[str] = []
    leftovers: list[str] = []
    freed = 0
    for name, items in by_name.items():
        # Taking and releasing the lock also removes a lock file a dead holder left.
        with try_holding(lock_path(root, name)) as got:
            if not got:
                leftovers.append(f"{name}: being installed by another ClipDesk process")
                continue
            try:
                done, bytes_freed = _tidy(root, name, items)
            except OSError as exc:
                leftovers.append(f"{name}: an interrupted install could not be tidied ({exc})")
                continue
            actions += done
            freed += bytes_freed
    leftovers += _partial_downloads(root)
    for line in actions:
        log.warning("models folder: %s", line)
    return InstallSweep(tuple(actions), tuple(leftovers), freed)


def _leftover_kind(entry: Path) -> tuple[str | None, str]:
    for pattern, kind in _LEFTOVERS:
        m = pattern.match(entry.name)
        if m is None:
            continue
        if kind == "old-staging" and not _holds_only_model_files(entry):
            return None, ""
        return kind, m.group("name")
    return None, ""


def _holds_only_model_files(folder: Path) -> bool:
    try:
        return folder.is_dir() and all(
            f.is_file() and _MODEL_FILES.match(f.name) for f in folder.iterdir()
        )
    except OSError:
        return False


def _tidy(root: Path, name: str, items: list[tuple[str, Path]]) -> tuple[list[str], int]:
    """One name's leftovers, its lock held: the swap journal first, since it says which of the
    other folders is the model's new version."""
    dest = root / name
    done: list[str] = []
    recovered = folder_swap.recover(dest)
    if recovered:
        done.append(recovered)
    freed = 0
    for kind, path in items:
        if not path.exists() or kind == "lock":
            continue
        if kind == "journal" and not path.name.endswith(".tmp"):
            continue  # recover() has read and removed it
        size = _size(path)
        restore = kind == "backup" and folder_swap.is_complete(path)
        if restore and not folder_swap.is_complete(dest):
            path.rename(dest)  # ClipDesk before the journal left the old folder aside
            done.append(f"restored {name}: an interrupted replacement had moved it aside")
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        freed += size
        if size:  # an empty folder (what a finished swap leaves of its staging) goes unsaid
            done.append(f"removed {_what(kind, name)} ({_megabytes(size)})")
    return done, freed


def _what(kind: str, name: str) -> str:
    return {
        "backup": f"the previous version of {name}, left by an interrupted replacement",
        "removal": f"what an interrupted removal of {name} left",
        "journal": f"an unfinished note of an install of {name}",
    }.get(kind, f"the unfinished files of an interrupted install of {name}")


def _partial_downloads(root: Path) -> list[str]:
    downloads = root / DOWNLOADS
    if not downloads.is_dir():
        return []
    out = []
    for folder in sorted(downloads.iterdir()):
        size = _size(folder)
        if size:
            out.append(
                f"{folder.name}: a partial download ({_megabytes(size)}); downloading "
                f"{folder.name} again resumes it, removing {folder} frees the space"
            )
    return out


def leftovers(root: Path | None = None) -> list[str]:
    """What the models folder holds besides models, now (no lock taken, nothing changed)."""
    root = root or paths.models_dir()
    if not root.is_dir():
        return []
    found = []
    for entry in sorted(root.iterdir()):
        kind, name = _leftover_kind(entry)
        if kind in (None, "lock"):
            continue
        live = FileLock(lock_path(root, name))
        busy = not live.acquire()
        live.release()
        state = "in use by a running install" if busy else "left by an interrupted install"
        found.append(f"{entry.name}: {state} of {name} ({_megabytes(_size(entry))})")
    return found + _partial_downloads(root)


def _size(path: Path) -> int:
    try:
        if path.is_file():
            return path.stat().st_size
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    except OSError:
        return 0


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} KB"
