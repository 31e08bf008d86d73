"""Holds (冻结): while a hold is not released, nothing it covers can be listed for or destroyed.

A hold covers a customer's whole file (documents filed under it later too: the check reads the
document's customer at the moment it is asked), single documents, or a saved search.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from docsvc.models import Document, Hold, HoldTarget

if TYPE_CHECKING:
    from docsvc.search import SearchIndex


def held_document_ids(session: Session, document_ids: Iterable[int], index: "SearchIndex | None" = None) -> set[int]:
    """Which of `document_ids` are under at least one hold that has not been released.

    `index` evaluates saved-search holds (the retention half adds them; destruction passes it already).
    """
    ids = set(document_ids)
    if not ids:
        return set()
    live = select(HoldTarget).join(Hold).where(Hold.released_at.is_(None)).subquery()
    by_document = select(live.c.document_id).where(live.c.document_id.in_(ids))
    by_customer = (select(Document.id).join(live, live.c.customer_id == Document.customer_id)
                   .where(Document.id.in_(ids)))
    return set(session.scalars(by_document.union(by_customer)))
