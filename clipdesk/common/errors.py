"""Errors a user can act on.

Anything derived from :class:`ClipDeskError` is a known, user-fixable condition: the CLI prints its
message and ``cli_hint`` and exits non-zero, the GUI shows the message and ``hint`` in a dialog.
Every other exception is a bug and surfaces as one (logged with its traceback).
"""

from __future__ import annotations


class ClipDeskError(Exception):
    """A failure with a message for the user and, where useful, what to do next."""

    def __init__(self, message: str, hint: str | None = None, *, cli_hint: str | None = None):
        super().__init__(message)
        self.message = message
        # ``hint`` names no face's controls (the app shows it); ``cli_hint`` may name the CLI's
        # flags, where saying which one to pass is the most helpful thing.
        self.hint = hint
        self.cli_hint = cli_hint or hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ModelError(ClipDeskError):
    """A model cannot be found, read or used."""


class CheckpointError(ModelError):
    """A checkpoint file is malformed, truncated, unsafe or does not fit the architecture."""


class DeviceError(ClipDeskError):
    """The requested compute device is not available."""


class LibraryError(ClipDeskError):
    """The library database cannot be opened or written."""


class CancelledError(Exception):
    """A long job stopped because its cancel token was set (not an error for the user)."""
