"""Errors whose message is fit to show a user; translated only at the CLI and bot edges."""

from __future__ import annotations


class BriefbotError(Exception):
    """Base class: ``str(err)`` is a one-line reason a user can act on."""


class LoadError(BriefbotError):
    """A file or page could not be read into a report (corrupt, empty, binary, too big)."""


class FetchError(LoadError):
    """A URL could not be fetched (refused address, timeout, too big, HTTP error)."""


class QuestionError(BriefbotError):
    """A question that cannot be searched (empty or too long)."""


class StoreUnavailable(BriefbotError):
    """The Chroma store cannot be reached right now (server down, path locked)."""


class StoreBusy(BriefbotError):
    """Another ingest holds the store's write lock."""


class NotFound(BriefbotError):
    """No report matches the given id or path."""
