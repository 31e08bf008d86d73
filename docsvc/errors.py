"""Domain errors with messages for the archivist. They say what went wrong, never how HTTP answers:
each entry point maps them (docsvc.http.errors for the web and the API, click for the CLI)."""
from __future__ import annotations

from typing import TypeVar

from docsvc.i18n import shown

T = TypeVar("T")


class Explained(Exception):
    """An exception whose message a person reads, perhaps long after it was raised and in another language.

    It keeps its message as it was given: a stored text (docsvc.i18n.stored) when a job may keep it in the
    database, so that each reader sees it in their own language; a text already translated (`_()`) when it
    can only answer the request at hand. `message` and str() give it in the current language; `stored` is
    the form to keep (a page's error, a file's message)."""

    @property
    def stored(self) -> str:
        return str(self.args[0]) if self.args else ""

    @property
    def message(self) -> str:
        return shown(self.stored)

    def __str__(self) -> str:
        return self.message


class DomainError(Explained):
    """A request the rules refuse as given (bad input); the base of every domain error."""


class NotFound(DomainError, LookupError):
    pass


class Forbidden(DomainError):
    """The rules forbid this person this act (beyond what the role check at the gate already said)."""


class Conflict(DomainError):
    """The act collides with what exists (a duplicate account or type code)."""


class Corrupted(DomainError):
    """Stored data no longer matches what was recorded of it (a checksum): nothing a retry mends, a person must look."""


class Unavailable(DomainError):
    """A service the request needs (the object store, say) cannot be reached now: nothing was changed,
    and the same request is expected to succeed once the service is back."""


class TooManyRequests(DomainError):
    """The same client tried too often in a short time: it must wait before trying again."""


def require_found(row: T | None, message: str) -> T:
    """The row, or NotFound with `message`, a whole sentence in the reader's language:
    `require_found(session.get(Document, 12), _("Document #%(id)s does not exist.", id=12))`."""
    if row is None:
        raise NotFound(message)
    return row


class NotAllowedNow(Conflict):
    """The object exists but is not in a state for this action (retrying a page that did not fail)."""
