"""Downloading known CLIP checkpoints from the Hugging Face hub — the only network use ClipDesk has.

Files go to ``<models_dir>/.downloads/<name>/`` first; a partial file (``.<file>.part``) stays
there when the network drops or the user cancels, and the next attempt resumes it with an HTTP
range request. (huggingface_hub resumes only within one call and deletes its partial files on
failure, so we keep our own.) Every file is checked against the size and sha256 the hub
announces (LFS files carry their sha256 as ETag) and against the catalog's where pinned; the
model is loaded once before it is moved into place under its name. A catalog entry may take
files from more than one repository (OpenCLIP's multilingual models take their tokenizer from
the text model's own) and store a file under another name; each repository's commit is recorded.
An OpenCLIP repository without ``open_clip_config.json`` (older LAION uploads, which OpenCLIP
builds from its own model configs) gets the one the catalog entry describes, and
``clipdesk.json`` says ClipDesk wrote it. A repository outside the catalog is downloaded in the
layout its config files show (OpenCLIP hub, SigLIP, or Hugging Face CLIP).

Without a network the first request fails within :data:`CONNECT_TIMEOUT_S` seconds, with an
error that names the import alternative.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from clipdesk.common import paths
from clipdesk.common.errors import CancelledError, CheckpointError, ModelError
from clipdesk.common.progress import CancelToken, ProgressCallback, RateMeter
from clipdesk.model import installs, manager
from clipdesk.model.catalog import (
    CATALOG,
    HF_CLIP_FILES,
    OPENCLIP_CONFIG,
    OPENCLIP_HUB_FILES,
    SIGLIP_FILES,
    CatalogEntry,
    HubFile,
)

__all__ = ["CATALOG", "CatalogEntry", "HubFile", "catalog", "download_model", "lookup"]

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
CONNECT_TIMEOUT_S = 4.0  # TCP connect (and DNS) to the hub
METADATA_TIMEOUT_S = 8.0  # one HEAD request for a file's size and hash
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
OFFLINE_HINT = (
    "without a network, fetch the model's folder (config.json, model.safetensors, tokenizer.json) "
    "on another computer and import it: `clipdesk-cli models import FOLDER` or Settings › Models "
    "› Import"
)


# The catalog's records live in their own data module; re-exported here, where downloads use them.
_HF_CLIP_FILES = HF_CLIP_FILES
_LAYOUT_WORDS = {
    "hf-clip": "a CLIP model in the Hugging Face format",
    "siglip": "a SigLIP model in the Hugging Face format",
    "openclip-hub": "an OpenCLIP hub model",
}


def catalog() -> list[CatalogEntry]:
    return list(CATALOG.values())


def lookup(name_or_repo: str) -> CatalogEntry:
    """A catalog entry by its name or repository id; any other ``org/name`` repository gets an
    entry without an architecture or files: :func:`_repo_layout` chooses them once the hub can
    be asked."""
    for entry in CATALOG.values():
        if name_or_repo in (entry.name, entry.repo_id):
            return entry
    if re.fullmatch(r"[\w.-]+/[\w.-]+", name_or_repo):
        return CatalogEntry(
            name=name_or_repo.split("/")[1],
            repo_id=name_or_repo,
            description=f"{name_or_repo} from the Hugging Face hub",
            act="from config.json",
            files=(),
        )
    raise ModelError(
        f"unknown model {name_or_repo!r}",
        hint="known models: " + ", ".join(CATALOG) + " (or give a hub repository as org/name)",
    )


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or DEFAULT_ENDPOINT


def _offline(reason: str, endpoint: str) -> ModelError:
    return ModelError(
        f"cannot reach the Hugging Face hub at {endpoint} ({reason})", hint=OFFLINE_HINT
    )


def check_reachable(endpoint: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast when the hub cannot be reached: a TCP connect, DNS included, bounded by
    ``timeout`` (getaddrinfo has no timeout of its own, so it runs in a daemon thread)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise _offline("HF_HUB_OFFLINE is set", endpoint)
    parts = urlsplit(endpoint)
    if not parts.hostname:
        raise ModelError(f"HF_ENDPOINT {endpoint!r} is not a URL")
    # Behind a proxy (HTTPS_PROXY ...) the hub itself is not directly reachable; probe the proxy.
    import urllib.request

    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname):
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=connect, daemon=True, name="hub-probe")
    worker.start()
    worker.join(timeout + 0.5)
    if not outcome:
        raise _offline(f"no answer from {host} within {timeout:.0f} s", endpoint)
    if outcome[0] is not None:
        raise _offline(str(outcome[0]) or type(outcome[0]).__name__, endpoint)


class _ByteCounter:
    """A tqdm stand-in handed to huggingface_hub: turns byte counts into our progress reports
    and is where a cancel request interrupts a transfer."""

    def __init__(self, sink: _Transfer, **_: Any) -> None:
        self._sink = sink

    def update(self, n: int | float | None = 1) -> None:
        self._sink.add(int(n or 0))

    def close(self) -> None:
        pass

    def __enter__(self) -> _ByteCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class _Transfer:
    def __init__(
        self, total: int, done: int, progress: ProgressCallback | None, cancel: CancelToken | None
    ) -> None:
        self.done = done
        self.meter = RateMeter(total)
        self.progress = progress
        self.cancel = cancel
        self.label = ""

    def add(self, n: int) -> None:
        self.done += n
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        if self.progress is not None:
            self.progress(self.meter.update(self.done, self.label))

    def bar(self, **kwargs: Any) -> _ByteCounter:
        return _ByteCounter(self, **kwargs)


@dataclass
class _Remote:
    spec: HubFile
    repo: str
    url: str
    size: int | None
    sha256: str | None
    commit: str | None

    @property
    def local(self) -> str:
        return self.spec.local_name


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Network failure types of whichever HTTP client this huggingface_hub uses."""
    errors: list[type[BaseException]] = [TimeoutError, ConnectionError]
    for module, names in (
        ("httpx2", ("TimeoutException", "TransportError")),
        ("httpx", ("TimeoutException", "TransportError")),
        ("requests", ("ConnectionError", "Timeout")),
    ):
        try:
            mod = __import__(module)
        except ImportError:
            continue
        errors += [getattr(mod, n) for n in names if hasattr(mod, n)]
    return tuple(errors)


def _metadata(entry: CatalogEntry, endpoint: str) -> list[_Remote]:
    remotes: list[_Remote] = []
    chosen: set[str] = set()  # one_of groups a file was found for
    for spec in entry.files:
        if spec.one_of in chosen:
            continue  # an earlier alternative is there
        repo = spec.repo or entry.repo_id
        revision = spec.revision if spec.repo else entry.revision
        meta = _remote_metadata(repo, spec.name, revision, endpoint)
        if meta is None:
            # An alternative that is absent is no error: the next one is tried. A config the
            # catalog can write itself is not required either.
            if not spec.required or spec.one_of is not None or _writes(entry, spec):
                continue
            raise ModelError(f"{repo} has no {spec.name}; it is not {_LAYOUT_WORDS[entry.layout]}")
        if spec.one_of is not None:
            chosen.add(spec.one_of)
        etag = (meta.etag or "").strip('"').lower()
        remotes.append(
            _Remote(
                spec=spec,
                repo=repo,
                url=meta.location,
                size=spec.size if spec.size is not None else meta.size,
                sha256=spec.sha256 or (etag if _SHA256.match(etag) else None),
                commit=meta.commit_hash,
            )
        )
    for group in dict.fromkeys(f.one_of for f in entry.files if f.one_of and f.required):
        if group not in chosen:
            names = [f.name for f in entry.files if f.one_of == group]
            raise ModelError(
                f"{entry.repo_id} has none of {', '.join(names)}; it is not "
                f"{_LAYOUT_WORDS[entry.layout]}"
            )
    return remotes


def _writes(entry: CatalogEntry, spec: HubFile) -> bool:
    """Whether ``spec`` is an open_clip_config.json this entry can write when the hub has none."""
    return (
        spec.repo is None
        and spec.local_name == OPENCLIP_CONFIG
        and entry.openclip_config() is not None
    )


def _repo_layout(entry: CatalogEntry, endpoint: str) -> tuple[CatalogEntry, bytes | None]:
    """``entry`` (a repository outside the catalog) with the files of the layout the
    repository's config shows, as :func:`~clipdesk.model.families.detect.folder_kind` tells it
    for an installed folder, and the config.json fetched to tell (None: the layout needs none).
    A config.json of a family ClipDesk does not run is refused before any weights are fetched."""
    from clipdesk.model.families import detect

    if _remote_exists(entry.repo_id, OPENCLIP_CONFIG, entry.revision, endpoint):
        return replace(entry, files=OPENCLIP_HUB_FILES, repo_layout="openclip-hub"), None
    config = _small_file(entry.repo_id, "config.json", entry.revision, endpoint)
    if config is None:
        raise ModelError(
            f"{entry.repo_id} has neither config.json nor {OPENCLIP_CONFIG}; it is not a "
            "CLIP model ClipDesk can download",
            hint="check the repository name; " + detect.SUPPORTED,
        )
    with tempfile.TemporaryDirectory() as tmp:  # folder_kind reads a folder's files
        path = Path(tmp) / "config.json"
        path.write_bytes(config)
        try:
            kind = detect.folder_kind(Path(tmp))
        except CheckpointError as exc:
            # The message names the file; the user knows it as the repository's, not a temp one.
            message = exc.message.replace(str(path), f"{entry.repo_id}/config.json")
            raise CheckpointError(message, hint=exc.hint, cli_hint=exc.cli_hint) from None
    if kind == "siglip":
        return replace(entry, files=SIGLIP_FILES, repo_layout="siglip"), config
    return replace(entry, files=HF_CLIP_FILES, repo_layout="hf-clip"), config


def _remote_exists(repo: str, name: str, revision: str, endpoint: str) -> bool:
    return _remote_metadata(repo, name, revision, endpoint) is not None


def _remote_metadata(repo: str, name: str, revision: str, endpoint: str) -> Any:
    """The hub's metadata of one file (None: the repository has no such file)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    url = hf_hub_url(repo, name, revision=revision, endpoint=endpoint)
    try:
        return get_hf_file_metadata(url, timeout=METADATA_TIMEOUT_S, endpoint=endpoint)
    except EntryNotFoundError:
        return None
    except HfHubHTTPError as exc:
        if _status(exc) == 404:
            return None
        raise _refused(repo, name, exc) from None
    except _transport_errors() as exc:
        raise _offline(f"{type(exc).__name__} while asking for {name}", endpoint) from None


def _status(exc: Any) -> int | None:
    return exc.response.status_code if exc.response is not None else None


def _refused(repo: str, name: str, exc: Any) -> ModelError:
    """The error for an HTTP error status (an HfHubHTTPError) the hub gave for ``name``."""
    status = _status(exc)
    if status in (401, 403):
        return ModelError(
            f"{repo}: {name} is not available (HTTP {status})",
            hint="check the repository name; private models are not supported",
        )
    return ModelError(f"{repo}: the hub refused {name} ({exc})", hint=OFFLINE_HINT)


def _small_file(repo: str, name: str, revision: str, endpoint: str) -> bytes | None:
    """A small file's bytes (None: the repository has no such file); a config is read before
    the download is laid out, so at most a bounded number of bytes is fetched."""
    import io

    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get

    from clipdesk.common import limits

    meta = _remote_metadata(repo, name, revision, endpoint)
    if meta is None:
        return None
    if meta.size is not None and meta.size > limits.MODEL_JSON_MAX_BYTES:
        raise ModelError(f"{repo}: {name} is {meta.size} bytes, not a model config")
    buf = io.BytesIO()
    try:
        http_get(
            meta.location,
            buf,
            expected_size=meta.size,
            displayed_filename=name,
            # no progress bar for a few kilobytes (see _fetch for the type: ignore)
            tqdm_class=_Transfer(0, 0, None, None).bar,  # type: ignore[arg-type]
        )
    except HfHubHTTPError as exc:
        raise _refused(repo, name, exc) from None
    except _transport_errors() as exc:
        raise _offline(f"{type(exc).__name__} while fetching {name}", endpoint) from None
    return buf.getvalue()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch(remote: _Remote, staging: Path, transfer: _Transfer) -> None:
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get

    final = staging / remote.local
    if final.is_file() and (remote.size is None or final.stat().st_size == remote.size):
        return  # finished and verified by an earlier attempt
    part = staging / f".{remote.local}.part"
    have = part.stat().st_size if part.is_file() else 0
    if remote.size is not None and have > remote.size:
        part.unlink()
        have = 0
    if have:
        log.info("resuming %s at %d bytes", remote.local, have)
    transfer.label = remote.local
    try:
        with open(part, "ab") as fh:
            http_get(
                remote.url,
                fh,
                resume_size=have,
                expected_size=remote.size,
                displayed_filename=remote.spec.name,
                # huggingface_hub annotates tqdm_class as type[tqdm] but only calls it to make
                # the bar; a factory returning our duck-typed counter does that job.
                tqdm_class=transfer.bar,  # type: ignore[arg-type]
            )
            fh.flush()
            os.fsync(fh.fileno())
    except (CancelledError, KeyboardInterrupt):
        raise
    except _transport_errors() as exc:
        raise ModelError(
            f"the download of {remote.spec.name} was interrupted ({type(exc).__name__})",
            hint="run the download again: it resumes where it stopped",
        ) from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelError(
            f"could not download {remote.spec.name}: {exc}",
            hint="run the download again: it resumes where it stopped",
        ) from None
    size = part.stat().st_size
    if remote.size is not None and size != remote.size:
        raise ModelError(
            f"{remote.spec.name}: got {size} bytes, expected {remote.size}",
            hint="run the download again: it resumes where it stopped",
        )
    if remote.sha256 is not None:
        digest = _sha256(part)
        if digest != remote.sha256:
            part.unlink()
            raise ModelError(
                f"{remote.spec.name}: sha256 {digest[:16]}… does not match the expected "
                f"{remote.sha256[:16]}…; the damaged file was deleted",
                hint="run the download again",
            )
    os.replace(part, final)


def download_model(
    name_or_repo: str,
    *,
    name: str | None = None,
    on_clash: manager.OnClash = "error",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    endpoint: str | None = None,
) -> manager.ModelInfo:
    """Download a catalog model (or any HF CLIP repository) and install it under ``name``."""
    entry = lookup(name_or_repo)
    target = manager.target_for(name or entry.name, on_clash)
    endpoint = (endpoint or hub_endpoint()).rstrip("/")
    check_reachable(endpoint)
    fetched: dict[str, bytes] = {}  # small files already read to lay the download out
    if not entry.files:
        entry, config = _repo_layout(entry, endpoint)
        if config is not None:
            fetched["config.json"] = config
    remotes = _metadata(entry, endpoint)
    with installs.writing(target):  # one download or install of this name at a time
        _download_into_place(entry, target, remotes, endpoint, progress, cancel, fetched)
    log.info("downloaded %s as %s", entry.repo_id, target)
    return next(m for m in manager.list_models() if m.name == target)


def _download_into_place(
    entry: CatalogEntry,
    target: str,
    remotes: list[_Remote],
    endpoint: str,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    fetched: Mapping[str, bytes] | None = None,
) -> None:
    from clipdesk.model.checkpoint import load_checkpoint

    staging = paths.models_dir() / ".downloads" / target
    staging.mkdir(parents=True, exist_ok=True)
    for r in remotes:
        data = (fetched or {}).get(r.local)
        # Only bytes of the size the hub gives now: it may have changed since they were read.
        if data is not None and r.repo == entry.repo_id and r.size == len(data):
            (staging / r.local).write_bytes(data)  # _fetch takes a file of the right size
    written = entry.openclip_config()
    if written is not None:
        # One an earlier attempt wrote would pass for the hub's own (only its size is checked).
        (staging / OPENCLIP_CONFIG).unlink(missing_ok=True)
    total = sum(r.size or 0 for r in remotes)
    free = shutil.disk_usage(staging).free
    if total > free:
        raise ModelError(
            f"not enough disk space: the model needs {total / 1e6:.0f} MB, "
            f"{free / 1e6:.0f} MB are free in {staging.parent}"
        )
    already = sum(_present_bytes(staging, r) for r in remotes)
    transfer = _Transfer(total, already, progress, cancel)
    for remote in remotes:
        _fetch(remote, staging, transfer)
    if cancel is not None:
        cancel.raise_if_cancelled()
    generated: dict[str, str] = {}
    # openclip_config() is None for an entry without an architecture
    if written is not None and entry.arch and not (staging / OPENCLIP_CONFIG).is_file():
        (staging / OPENCLIP_CONFIG).write_text(json.dumps(written, indent=2), encoding="utf-8")
        generated[OPENCLIP_CONFIG] = (
            f"written by ClipDesk from its catalog entry {entry.name!r} (OpenCLIP's "
            f"{entry.arch.key} model config and the preprocessing of these weights): "
            f"{entry.repo_id} has none"
        )
    load_checkpoint(staging)  # refuses a repository that is not a usable CLIP model
    commits = {repo: entry.revision for repo in entry.repos}
    for r in remotes:
        if r.commit:
            commits[r.repo] = r.commit
    meta: dict[str, Any] = {
        "name": target,
        "source": "download",
        "origin": f"{endpoint}/{entry.repo_id}",
        "revision": commits[entry.repo_id],
        "description": entry.description,
    }
    if len(commits) > 1:
        meta["revisions"] = commits
    if generated:
        meta["written_by_clipdesk"] = generated
    (staging / manager.META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    manager.install_folder(staging, target)


def _present_bytes(staging: Path, remote: _Remote) -> int:
    for candidate in (staging / remote.local, staging / f".{remote.local}.part"):
        if candidate.is_file():
            return candidate.stat().st_size
    return 0
