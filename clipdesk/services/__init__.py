"""The one API of ClipDesk: the GUI (``clipdesk.ui``) and the CLI (``clipdesk.cli``) are thin faces
over it, and import nothing else of ClipDesk but :mod:`clipdesk.services.records` and
:mod:`clipdesk.common` (errors, progress, logging).

``ClipDeskServices`` is the facade: one library, one model, one search index, with an attribute
per area (``folders``, ``tags``, ``heads``, ``training``, ``models``, ``status_report``,
``settings``); each workflow is written once, in that area's module here.
"""

from clipdesk.services.app import ClipDeskServices

__all__ = ["ClipDeskServices"]
