"""Storage-only (限制处理, PIPL): a document or a customer's whole file kept but no longer used.

Its content (page text, images, downloads, search text and snippets) is hidden from everyone but
records managers; the catalogue entry stays and retention goes on. The hiding itself is the access
rule's (docsvc.governance.access: content_grant and content_filter); this module sets and clears
the state, audited.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from docsvc.errors import DomainError
from docsvc.governance import audit
from docsvc.governance.disposition import refuse_if_destroyed
from docsvc.models import Customer, Document, User, utcnow
from docsvc.i18n import _


class RestrictionError(DomainError):
    pass


def set_storage_only(session: Session, actor: User | None, target: Document | Customer, on: bool, reason: str, *,
                     ip: str | None = None, now: datetime | None = None) -> None:
    """Set (`on`) or clear storage-only on a document or a whole customer file, with a reason; commits.

    Changes the search index's view of the file only through the access rule, so nothing is re-indexed."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise RestrictionError(_("Give the reason for setting or clearing storage-only (500 characters at most)."))
    if isinstance(target, Document):
        refuse_if_destroyed(target)
    kind, ident = ("document", target.id) if isinstance(target, Document) else ("customer", target.account)
    before = target.storage_only_at is not None
    if before == on:
        unchanged = {("document", True): _("Document %(id)s is already storage-only; nothing to change."),
                     ("document", False): _("Document %(id)s is not storage-only; nothing to change."),
                     ("customer", True): _("Customer %(id)s is already storage-only; nothing to change."),
                     ("customer", False): _("Customer %(id)s is not storage-only; nothing to change.")}
        raise RestrictionError(unchanged[kind, on] % {"id": ident})
    target.storage_only_at = (now or utcnow()) if on else None
    target.storage_only_reason = reason if on else None
    audit.record(session, actor, "storage_only.set" if on else "storage_only.clear", object_type=kind,
                 object_id=ident, ip=ip, now=now, detail={"reason": reason, "old": before, "new": on})
    session.commit()

