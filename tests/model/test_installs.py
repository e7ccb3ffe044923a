"""Model installs survive kill -9 at any moment; the start-up sweep finishes or rolls back an
interrupted replacement, removes what killed imports left, leaves a live import alone, and says
what it did (issue #14, item 5)."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clipdesk.common import paths
from clipdesk.common.errors import ModelError
from clipdesk.model import manager
from clipdesk.model.testing import tiny_random_model
from tests.support.cli_process import REPO_ROOT, cli_json

NAME = "my-clip"


@pytest.fixture(scope="module")
def versions(tmp_path_factory) -> tuple[Path, Path]:
    """Two different models of one name: the installed one and its replacement."""
    root = tmp_path_factory.mktemp("versions")
    return (
        tiny_random_model(root / "v1", seed=1, name=NAME),
        tiny_random_model(root / "v2", seed=2, name=NAME),
    )


@pytest.fixture
def fresh_sweep(monkeypatch):
    """The next look at the models folder is a new start's (the sweep runs once a process)."""

    def reset() -> None:
        monkeypatch.setattr(manager, "_sweeps", {}, raising=False)

    reset()
    return reset


def _weights(folder: Path) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


def _debris(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


# --- the swap, crashed in this process at each step ---


class _Crash(BaseException):
    pass


@pytest.mark.parametrize("step", ["journal-written", "old-moved-aside", "new-in-place"])
def test_a_swap_crashed_at_any_step_is_finished_by_recover(versions, tmp_path, monkeypatch, step):
    from clipdesk.model import folder_swap

    v1, v2 = versions
    dest, staging = tmp_path / NAME, tmp_path / ".import-new"
    shutil.copytree(v1, dest)
    shutil.copytree(v2, staging)

    def crash(at: str) -> None:
        if at == step:
            raise _Crash

    monkeypatch.setattr(folder_swap, "_reached", crash)
    with pytest.raises(_Crash):
        folder_swap.swap_into_place(staging, dest)
    assert folder_swap.journal_path(dest).exists()
    done = folder_swap.recover(dest)
    assert done is not None and done.startswith(f"finished installing {NAME}")
    assert _weights(dest) == _weights(v2)
    assert _debris(tmp_path) == []


def test_a_swap_whose_new_folder_is_lost_rolls_back_to_the_old_one(versions, tmp_path, monkeypatch):
    from clipdesk.model import folder_swap

    v1, v2 = versions
    dest, staging = tmp_path / NAME, tmp_path / ".import-new"
    shutil.copytree(v1, dest)
    shutil.copytree(v2, staging)

    def crash(at: str) -> None:
        if at == "old-moved-aside":
            raise _Crash

    monkeypatch.setattr(folder_swap, "_reached", crash)
    with pytest.raises(_Crash):
        folder_swap.swap_into_place(staging, dest)
    (staging / "config.json").unlink()  # the new version is no longer whole
    assert folder_swap.recover(dest) == (
        f"restored the previous {NAME}: its replacement was interrupted and incomplete"
    )
    assert _weights(dest) == _weights(v1) and _debris(tmp_path) == []


# --- the sweep at start-up ---


def test_the_sweep_restores_a_model_that_a_crash_left_aside(versions, fresh_sweep):
    v1, _ = versions
    manager.import_model(v1)
    manager.set_active_model(NAME)
    root = paths.models_dir()
    (root / NAME).rename(root / f".{NAME}.old")  # what a kill between the two renames left
    fresh_sweep()
    assert manager.resolve_model(None) == root / NAME  # not the demo model, not an error
    assert [m.name for m in manager.list_models() if m.active] == [NAME]
    assert manager.recover_installs().actions == (
        f"restored {NAME}: an interrupted replacement had moved it aside",
    )
    assert _weights(root / NAME) == _weights(v1) and _debris(root) == []


def test_the_sweep_removes_what_killed_imports_left_and_says_so(versions, fresh_sweep):
    v1, _ = versions
    manager.import_model(v1)
    root = paths.models_dir()
    for i in range(4):
        stale = root / f".import-{NAME}-abcdef0{i}"
        shutil.copytree(v1, stale)
    shutil.copytree(v1, root / f".{NAME}.removing")
    (root / ".other.lock").write_text("12345")  # a dead writer's lock
    fresh_sweep()
    manager.list_models()
    assert _debris(root) == []
    sweep = manager.recover_installs()
    assert len(sweep.actions) == 5
    assert (
        sum("unfinished files of an interrupted install of my-clip" in a for a in sweep.actions)
        == 4
    )
    assert sweep.freed_bytes >= 5 * _size(v1)
    assert _weights(root / NAME) == _weights(v1)
    assert manager.recover_installs() is sweep  # once a process


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir())


def test_the_sweep_leaves_a_live_install_alone(versions, fresh_sweep):
    from clipdesk.model import installs

    v1, _ = versions
    root = paths.models_dir()
    with installs.writing(NAME):  # what a live import in another process holds
        staging = installs.new_staging(root, NAME)
        shutil.copytree(v1, staging, dirs_exist_ok=True)
        sweep = installs.sweep(root)
        assert staging.is_dir() and sweep.actions == ()
        assert sweep.leftovers == (f"{NAME}: being installed by another ClipDesk process",)
        assert any("in use by a running install" in line for line in installs.leftovers(root))
        with pytest.raises(ModelError, match="another ClipDesk process .* is installing"):
            manager.import_model(v1, NAME)
    after = installs.sweep(root)  # the writer is gone: what it left is debris now
    assert not staging.exists() and _debris(root) == []
    assert after.actions == (
        f"removed the unfinished files of an interrupted install of {NAME} "
        f"({_size(v1) / 1e6:.1f} MB)",
    )


def test_partial_downloads_are_listed_and_kept(fresh_sweep):
    part = paths.models_dir() / ".downloads" / "clip-vit-base-patch32" / ".model.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 300_000)
    (leftover,) = manager.recover_installs().leftovers
    assert leftover.startswith("clip-vit-base-patch32: a partial download (0.3 MB)")
    assert part.exists()


# --- kill -9 in another process at the dangerous moments ---

_CHILD = r"""
import os, shutil, signal, sys, time
from pathlib import Path

source, point, name = sys.argv[1], sys.argv[2], sys.argv[3]
real_rename, real_copy = Path.rename, shutil.copy2
copies = []


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def rename(self, target):
    if point == "before-first-rename" and self.name == name:
        die()
    out = real_rename(self, target)
    if point == "old-moved-aside" and self.name == name:
        die()
    if point == "new-in-place" and Path(target).name == name:
        die()
    return out


def copy2(src, dst, **kwargs):
    out = real_copy(src, dst, **kwargs)
    copies.append(dst)
    if len(copies) == 2 and point == "while-staging":
        die()
    if len(copies) == 2 and point == "pause-while-staging":
        Path(os.environ["READY_FILE"]).write_text("ready")
        time.sleep(300)
    return out


Path.rename = rename
shutil.copy2 = copy2
from clipdesk.model import manager

manager.import_model(source, name, on_clash="replace")
"""


def _start_import(source: Path, point: str, ready: Path | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "READY_FILE": str(ready or "")}
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(source), point, NAME],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("while-staging", "v1"),
        ("before-first-rename", "either"),
        ("old-moved-aside", "either"),
        ("new-in-place", "v2"),
    ],
)
def test_a_replacement_killed_at_any_moment_leaves_one_whole_model(versions, point, expected):
    v1, v2 = versions
    manager.import_model(v1)
    manager.set_active_model(NAME)
    child = _start_import(v2, point)
    _, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, err
    root = paths.models_dir()

    listed = cli_json("models", "list")  # the next start, in a new process
    assert [m["name"] for m in listed["models"] if m["active"]] == [NAME]
    assert listed["recovered"], listed
    assert _debris(root) == []
    weights = _weights(root / NAME)
    allowed = {"v1": {_weights(v1)}, "v2": {_weights(v2)}}.get(
        expected, {_weights(v1), _weights(v2)}
    )
    assert weights in allowed


@pytest.mark.slow
def test_a_live_import_in_another_process_is_never_swept(versions, tmp_path):
    v1, v2 = versions
    manager.import_model(v1)
    ready = tmp_path / "ready"
    child = _start_import(v2, "pause-while-staging", ready)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert child.poll() is None and time.monotonic() < deadline, child.stderr
            time.sleep(0.1)
        root = paths.models_dir()
        staging = [p for p in root.iterdir() if p.name.startswith(f".import-{NAME}-")]
        assert len(staging) == 1

        listed = cli_json("models", "list")
        assert staging[0].is_dir()
        assert listed["leftovers"] == [f"{NAME}: being installed by another ClipDesk process"]
    finally:
        child.kill()
        child.wait(timeout=30)

    listed = cli_json("models", "list")
    assert not staging[0].exists() and _debris(root) == []
    assert listed["recovered"] and "interrupted install of my-clip" in listed["recovered"][0]
    assert _weights(root / NAME) == _weights(v1)
