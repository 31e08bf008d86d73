"""Domain errors with messages for the archivist; views map them to status codes."""
from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class DomainError(Exception):
    status = 400

    @property
    def message(self) -> str:
        return str(self)


class NotFound(DomainError, LookupError):
    status = 404


def require_found(row: T | None, what_zh: str, what_en: str, row_id: object) -> T:
    """The row, or NotFound naming it: "文档 #12 不存在。 / Document #12 does not exist."."""
    if row is None:
        raise NotFound(f"{what_zh} #{row_id} 不存在。 / {what_en} #{row_id} does not exist.")
    return row


class NotAllowedNow(DomainError):
    """The object exists but is not in a state for this action (retrying a page that did not fail)."""
    status = 409
