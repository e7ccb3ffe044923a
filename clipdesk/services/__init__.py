"""The one API of ClipDesk: the GUI (``clipdesk.ui``) and the CLI (``clipdesk.cli``) are thin faces
over it, and import nothing else of ClipDesk but :mod:`clipdesk.services.records` and
:mod:`clipdesk.common` (errors, progress, logging).

``ClipDeskServices`` is the facade: one library, one model, one search index, with an attribute
per area (``folders``, ``tags``, ``heads``, ``training``, ``models``, ``runtimes``,
``status_report``, ``settings``); each workflow is written once, in that area's module here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

__all__ = ["ClipDeskServices"]


def __getattr__(name: str) -> object:
    # Lazy: the GUI imports small service modules (clipdesk.services.images) before its first
    # paint, and the facade pulls in numpy, torch and SQLite, which must load after it.
    if name == "ClipDeskServices":
        from clipdesk.services.app import ClipDeskServices

        return ClipDeskServices
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
