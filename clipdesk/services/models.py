"""Models, for both faces: what is installed (and which one is active), what can be downloaded,
importing, downloading, removing, and the one way to activate a model.

Activating stores the choice in the shared settings (so ``clipdesk-cli models list``, ``status``
and the app name the same model) and, in a running app, switches the services over to it: search
stays on the old model's vectors until every photo has been embedded with the new one (see
:meth:`clipdesk.services.app.ClipDeskServices.set_model`).

Listing, importing and downloading need no library: ``ModelService()`` without an app serves the
welcome page before any library is open.

An install (import, download) then prepares the model for ONNX Runtime (its one-off export, with
progress, cancellable: :mod:`clipdesk.services.runtimes`); the export's failure or cancel never
undoes the install, the model runs on PyTorch and :class:`Installed` says why. Removing a model
removes its export unless another installed model has the same weights.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from clipdesk.common.progress import CancelToken, ProgressCallback
from clipdesk.services.runtimes import Preparation, RuntimeService
from clipdesk.services.settings import SettingsService

if TYPE_CHECKING:
    from clipdesk.model.download import CatalogEntry
    from clipdesk.model.installs import InstallSweep
    from clipdesk.model.manager import ModelInfo
    from clipdesk.model.runtime.cache import CacheEntry
    from clipdesk.model.speed import Probe
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.services.model_catalog import CatalogTable
    from clipdesk.services.switch_cost import ReembedEstimate, SwitchCost

log = logging.getLogger(__name__)

OnClash = Literal["error", "replace", "rename"]


@dataclass(frozen=True)
class Activation:
    """What activating a model did."""

    active: str | None  # the model's name or path; None: the bundled demo model
    shared_vectors: int = 0  # image vectors copied from a model with the same image tower
    reembed: bool = False  # photos must be embedded again with the new model

    def to_json(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "shared_vectors": self.shared_vectors,
            "reembed": self.reembed,
        }


@dataclass(frozen=True)
class Installed:
    """A model just installed (imported or downloaded), and how its preparation for ONNX
    Runtime went (the install stands whatever that says)."""

    info: ModelInfo
    runtime: Preparation

    @property
    def name(self) -> str:
        return self.info.name

    def to_json(self) -> dict[str, Any]:
        return {**self.info.to_json(), "runtime": self.runtime.to_json()}


@dataclass(frozen=True)
class LoadedModel:
    """The model a running app uses, and the one search uses while it re-embeds."""

    name: str
    id: str
    device: str
    is_demo: bool
    searching_with: str | None = None  # the previous model, while re-embedding for this one
    recovered: tuple[str, ...] = ()  # what the start-up sweep of the models folder did
    runtime: str = ""  # what serves it: "onnx-int8", "torch-fp32" ...
    prepare: bool = False  # an export for ONNX Runtime is owed: prepare_active() does it
    runtime_note: str = ""  # why ONNX Runtime does not serve it, where it should


class ModelService:
    def __init__(self, app: ClipDeskServices | None = None) -> None:
        self.app = app
        self.settings = app.settings if app is not None else SettingsService()
        self.runtimes = app.runtimes if app is not None else RuntimeService()

    # --- what there is ------------------------------------------------------------------------
    def installed(self) -> list[ModelInfo]:
        """Installed models, user ones first; ``active`` marks the one in use."""
        from clipdesk.model import manager

        return manager.list_models()

    def recovery(self) -> InstallSweep:
        """What the start-up sweep of the models folder did (an install a crash interrupted
        finished or rolled back, what killed imports left removed) and what it left there (an
        import in progress, partial downloads). The sweep runs once per process, before the
        installed models are first listed or loaded; both faces show what it did."""
        from clipdesk.model import manager

        return manager.recover_installs()

    def active(self) -> str | None:
        """The active model's name or path; None: the default (the bundled demo model)."""
        from clipdesk.model import manager

        return manager.get_active_model()

    @property
    def default_model(self) -> str:
        """The model used when none is chosen."""
        from clipdesk.model.manager import DEMO_MODEL

        return DEMO_MODEL

    def catalog(self) -> list[CatalogEntry]:
        """Models known for download (nothing is fetched to list them)."""
        from clipdesk.model.download import catalog

        return catalog()

    # --- the picker's table (Settings › Models, `clipdesk-cli models catalog`) ---------------
    def catalog_table(self) -> CatalogTable:
        """Installed and downloadable models with size, speed on this computer, published
        quality and languages (nothing is measured or fetched to list them)."""
        from clipdesk.model import speed
        from clipdesk.services import download_rate
        from clipdesk.services.model_catalog import build_table

        probe = speed.cached_probe(self.probe_device())
        return build_table(
            self.installed(),
            self.catalog(),
            speed.load_catalog_speeds(),
            probe,
            download_rate.current(),
        )

    def probe_device(self) -> str:
        """The device the model runs on here, as the probe times it."""
        from clipdesk.model.device import select_device

        requested = self.app.device if self.app is not None else self.settings.device()
        return str(select_device(requested, allow_fallback=True))

    def speed_probed(self) -> bool:
        """Whether this computer's speed was measured (with the device the model uses)."""
        from clipdesk.model import speed

        return speed.cached_probe(self.probe_device()) is not None

    def probe_speed(self, cancel: CancelToken | None = None) -> Probe:
        """Time a small reference model here (a few seconds) so the table's speeds are this
        computer's; the result is kept in the user's cache until the machine or device changes."""
        from clipdesk.model import speed

        return speed.run_probe(self.probe_device(), cancel=cancel)

    def switch_cost(self, name: str) -> SwitchCost | None:
        """What working out the cost of switching to the installed model ``name`` needs, read
        cheaply: the library's counts and the models' ids from small files, no weights (None: no
        library open). The app runs it on its database thread."""
        from clipdesk.model import speed
        from clipdesk.model.manager import find_model
        from clipdesk.services.model_catalog import entry_of
        from clipdesk.services.switch_cost import switch_cost

        app = self.app
        folder = find_model(name)
        if app is None or folder is None or not app.library_path.exists():
            return None
        installed = self.installed()
        info = next((m for m in installed if m.path == folder), None)
        entry = entry_of(info) if info is not None else None
        rate = None
        if entry is not None and entry.arch is not None:
            probe = speed.cached_probe(self.probe_device())
            rate = speed.estimate(entry.arch.key, speed.load_catalog_speeds(), probe)
        return switch_cost(app.library, name, folder, installed, rate)

    def identify(
        self,
        cost: SwitchCost,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
    ) -> SwitchCost:
        """``cost`` with the model ids it still lacks (``cost.unknown()``), by hashing those
        weights: seconds to minutes a model, so the app runs it in its jobs pool."""
        from clipdesk.services.switch_cost import identify

        return identify(cost, cancel, progress)

    def reembed_estimate(
        self,
        name: str,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
    ) -> ReembedEstimate | None:
        """What switching to the installed model ``name`` costs the open library: how many
        photos are embedded again and how long that takes here (None: no library open). The
        same figures Settings shows before a switch (``clipdesk-cli models activate`` too)."""
        cost = self.switch_cost(name)
        return None if cost is None else self.identify(cost, cancel, progress).estimate()

    def devices(self) -> list[str]:
        """The compute devices of this computer (cpu, cuda:0, mps ...)."""
        from clipdesk.model.device import available_devices

        return [d.name for d in available_devices()]

    # --- installing ---------------------------------------------------------------------------
    def import_model(
        self,
        source: str | Path,
        name: str | None = None,
        *,
        on_clash: OnClash = "error",
        act: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Installed:
        """Copy a Hugging Face CLIP folder or a state-dict file into the models folder (it is
        loaded first: a broken checkpoint is refused before anything is copied), then prepare
        it for ONNX Runtime (``progress``: the export's steps)."""
        from clipdesk.model import manager

        replaced = self._replaced(source, name, on_clash)
        info = manager.import_model(source, name, on_clash=on_clash, act=act)
        if cancel is not None:
            cancel.raise_if_cancelled()
        return self._prepared(info, replaced, progress, cancel)

    def download(
        self,
        name_or_repo: str,
        name: str | None = None,
        *,
        on_clash: OnClash = "error",
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        prepare_progress: ProgressCallback | None = None,
    ) -> Installed:
        """Download a catalog model (or any Hugging Face CLIP repository) and install it, then
        prepare it for ONNX Runtime (``prepare_progress``, default ``progress``: the export's
        steps)."""
        from clipdesk.model.download import download_model
        from clipdesk.services.download_rate import RateRecorder

        replaced = self._replaced(None, name, on_clash)
        timed = RateRecorder(progress)  # the next download's estimate: this one's speed
        info = download_model(
            name_or_repo, name=name, on_clash=on_clash, progress=timed, cancel=cancel
        )
        timed.save()
        return self._prepared(info, replaced, prepare_progress or progress, cancel)

    def _replaced(
        self, source: str | Path | None, name: str | None, on_clash: OnClash
    ) -> CacheEntry | None:
        """The export of the model an install with ``on_clash="replace"`` replaces, if any."""
        from clipdesk.common import paths
        from clipdesk.model.runtime.cache import find_entry

        if on_clash != "replace":
            return None
        if name is None and source is not None:
            src = Path(source).expanduser()
            name = src.stem if src.is_file() else src.name
        folder = paths.models_dir() / name if name else None
        return find_entry(folder) if folder is not None and folder.is_dir() else None

    def _prepared(
        self,
        info: ModelInfo,
        replaced: CacheEntry | None,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> Installed:
        done = self.runtimes.try_prepare(info.path, progress=progress, cancel=cancel)
        if done.outcome in ("failed", "cancelled"):
            log.warning("%s", done.note)
        self.runtimes.forget(replaced)  # kept when the new weights are the same
        return Installed(info, done)

    def remove(self, name: str) -> None:
        """Delete a user-installed model (the active one falls back to the default), and its
        export for ONNX Runtime unless another installed model has the same weights."""
        from clipdesk.common import paths
        from clipdesk.model import manager
        from clipdesk.model.runtime.cache import find_entry

        folder = paths.models_dir() / name
        entry = find_entry(folder) if folder.is_dir() else None
        manager.remove_model(name)
        self.runtimes.forget(entry)

    # --- activation ---------------------------------------------------------------------------
    def activate(self, name: str | None, device: str | None = None) -> Activation:
        """Make ``name`` (an installed name or a checkpoint path; None: the default) the active
        model, and ``device`` (if given) the device it runs on, for both faces; a running app
        switches over to it (search keeps the old vectors until the new ones are made)."""
        from clipdesk.model.manager import find_model
        from clipdesk.training.versions import needs_reembedding, share_vectors

        before = self.settings.model()
        app = self.app
        # A version with the same image tower (a text-only fine-tune) takes the library's image
        # vectors and tag heads as they are, so switching to it re-embeds nothing.
        folder = find_model(name) if name else None
        library = app.library if app is not None and app.library_path.exists() else None
        shared = share_vectors(library, folder) if library is not None and folder else 0
        active = self.settings.set_model(name)  # refuses a model that is not there
        if device:
            device = self.settings.set_device(device)
        if app is not None:
            moved = device is not None and device != app.device
            if device is not None:
                app.device = device
            if moved or active != (app.model_source or before):
                app.set_model(active)
        reembed = bool(library is not None and folder and needs_reembedding(library, folder))
        log.info("active model: %s", active or self.default_model)
        return Activation(active, shared, reembed)

    def source(self) -> Path:
        """Where the app's model lives: the one asked for, else the active one, else the demo."""
        from clipdesk.model.manager import resolve_model

        return resolve_model(self.app.model_source if self.app is not None else None)

    def active_is_demo(self) -> bool:
        """Whether the app's model (the one asked for, else the active one) is the bundled demo
        model, told without loading it: from the loaded model, else its folder's clipdesk.json.
        A model that cannot be found is not the demo (the demo is bundled: a missing one was
        the user's choice)."""
        from clipdesk.common.errors import ClipDeskError
        from clipdesk.services.model_catalog import read_meta

        loaded = self.app.model_if_loaded if self.app is not None else None
        if loaded is not None:
            return bool(getattr(loaded, "is_demo", False))
        try:
            folder = self.source()
        except ClipDeskError:
            return False
        return bool(read_meta(folder).get("demo", False))

    # --- the running app's model ----------------------------------------------------------------
    def load(self) -> LoadedModel:
        """Load the active model and the search index (slow: torch and the weights), after the
        sweep of the models folder (so an interrupted install is finished before the model is
        looked for)."""
        self.recovery()
        self._app().searcher()  # loads the active model (and the search one) and their vectors
        return self.loaded()

    def loaded(self) -> LoadedModel:
        """The running app's model, and the one search uses while it re-embeds."""
        app = self._app()
        active = app.model
        searching = app.search_model()
        label = str(getattr(active, "runtime_label", ""))
        path = getattr(active, "path", None)
        # ONNX Runtime serving it, or nothing to export it from: nothing is owed
        settled = label.startswith("onnx") or path is None
        return LoadedModel(
            active.name,
            active.id,
            str(active.device),
            bool(active.is_demo),
            searching.name if searching.id != active.id else None,
            self.recovery().actions,
            runtime=label,
            prepare=not settled and _safely(lambda: self.runtimes.owed(path), False),
            runtime_note="" if settled else _safely(lambda: self.runtimes.failure(path), ""),
        )

    def prepare_active(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> LoadedModel:
        """Export the app's model for ONNX Runtime if it is owed one (after start-up, after a
        switch: the app's background job), then serve it with ONNX Runtime; the model as it
        is served then. An export that fails leaves it on PyTorch, with a note."""
        self._app().runtimes.prepare_active(progress=progress, cancel=cancel)
        return self.load()

    def _app(self) -> ClipDeskServices:
        if self.app is None:
            raise RuntimeError("this ModelService has no library open")
        return self.app


def _safely(fn: Any, default: Any) -> Any:
    """What the runtime files say, or ``default`` when they cannot be read: a model that
    loaded is served whatever the export's bookkeeping says."""
    from clipdesk.common.errors import ClipDeskError

    try:
        return fn()
    except (ClipDeskError, OSError):
        log.warning("could not tell the model's runtime", exc_info=True)
        return default
