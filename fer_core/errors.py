"""Exception types a caller can act on. Every message is one sentence meant for the end user."""

from __future__ import annotations


class FerError(Exception):
    """Base class: the CLI prints `str(error)` on one line and exits non-zero; the dashboard shows it."""


class InputNotFoundError(FerError):
    """The path given does not exist."""


class InvalidImageError(FerError):
    """The file or upload is not a readable image (wrong type, truncated, empty, too large)."""


class InvalidVideoError(FerError):
    """The file or upload is not a decodable video, or it has no frames."""


class UnsupportedInputError(FerError):
    """The path exists but is neither an image nor a video this tool reads."""


class ModelNotFoundError(FerError):
    """The requested model name is not in the registry, or its files are missing."""


class DatasetError(FerError):
    """A training or evaluation dataset is malformed (missing classes, unreadable files, bad CSV)."""
