"""Errors about removable media and the folders custody reads from or writes to."""

from __future__ import annotations

from custody.errors import BadInputError


class MediaError(BadInputError):
    """A medium custody will not mount, read or write, with what was seen on it."""


class MediaReadError(MediaError):
    """A folder or file on media that custody will not read."""


class MediaWriteError(MediaError):
    """A write that did not happen, or did not read back as written."""
