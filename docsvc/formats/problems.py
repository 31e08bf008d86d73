"""Why an uploaded file cannot be read, in words an archivist can act on.

Every message says what happened and what to do next. The caller knows which upload the file was and
puts its name in front when it shows the message. The messages are stored texts (docsvc.i18n.stored):
the job keeps them on the file or the page, and each reader sees them in their own language.
"""

from __future__ import annotations

from docsvc.errors import Explained
from docsvc.i18n import stored


class FileProblem(Explained):
    """The file itself is the problem: retrying the same bytes will not help."""

    permanent = True


class UnsupportedFormat(FileProblem):
    """The content is not one of the accepted types, whatever its name says."""


class CorruptFile(FileProblem):
    """Empty, truncated or damaged data."""


class EncryptedFile(FileProblem):
    """A PDF that needs a password to open."""


class TooLarge(FileProblem):
    """More pixels or pages than the service will decode."""


class OddShape(FileProblem):
    """A page far too long for its width (or the other way) to be read as a page."""


def damaged(kind: str, detail: str) -> CorruptFile:
    """`detail`: what of the file is damaged, itself a stored text."""
    return CorruptFile(stored("The file is damaged: the %(kind)s %(detail)s. Re-scan or re-export it and upload "
                              "it again.", kind=kind, detail=detail))


EMPTY = stored("Empty file: the upload contains no data (0 bytes). Check the scanner or export and upload it again.")

ENCRYPTED = stored("The PDF is password-protected and cannot be read. Export it without a password (or remove the "
                   "password) and upload it again.")
