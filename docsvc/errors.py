"""Domain errors with messages for the archivist; views map them to status codes."""
from __future__ import annotations


class DomainError(Exception):
    status = 400

    @property
    def message(self) -> str:
        return str(self)


class NotFound(DomainError, LookupError):
    status = 404


class NotAllowedNow(DomainError):
    """The object exists but is not in a state for this action (retrying a page that did not fail)."""
    status = 409
