"""Holds (冻结): while a hold is not released, nothing it covers can be listed for or destroyed.

A hold covers a customer's whole file (documents filed under it later too: the check reads the
document's customer at the moment it is asked), single documents, or a saved search (its query is
run again every time the question is asked, over the catalogue and the text as a content-role user
sees them, so a document indexed later is caught too). An item stays held while any hold covers it.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from docsvc.errors import DomainError, NotAllowedNow, require_found
from docsvc.governance import audit
from docsvc.models import Customer, Document, DocumentType, Hold, HoldTarget, User, utc_text, utcnow
from docsvc.search import SearchIndex, access_restriction
from docsvc.i18n import _

_QUERY_PAGE = 100  # documents per search page when a saved-search hold is evaluated
_ID_CHUNK = 10_000  # ids per IN (…) list: well under SQLite's limit on parameters

class HoldError(DomainError):
    pass


def held_document_ids(session: Session, document_ids: Iterable[int], index: SearchIndex | None = None) -> set[int]:
    """Which of `document_ids` are under at least one hold that has not been released.

    `index` makes saved-search holds count; without it only the customer and document targets do."""
    ids = set(document_ids)
    if not ids:
        return set()
    held: set[int] = set()
    ordered = sorted(ids)
    for i in range(0, len(ordered), _ID_CHUNK):
        held |= _held_by_target(session, ordered[i:i + _ID_CHUNK])
    if index is not None:
        queries = session.scalars(select(Hold.query).where(Hold.released_at.is_(None), Hold.query.is_not(None)))
        for query in queries:
            held |= query_matches(session, index, query, ids - held)
    return held


def _held_by_target(session: Session, ids: list[int] | None) -> set[int]:
    """Documents (of `ids`, or all when None) that a live hold covers by document or by customer."""
    live = select(HoldTarget).join(Hold).where(Hold.released_at.is_(None)).subquery()
    by_document = select(live.c.document_id).where(live.c.document_id.is_not(None))
    by_customer = select(Document.id).join(live, live.c.customer_id == Document.customer_id)
    if ids is not None:
        by_document = by_document.where(live.c.document_id.in_(ids))
        by_customer = by_customer.where(Document.id.in_(ids))
    return set(session.scalars(by_document.union(by_customer)))


def all_held_document_ids(session: Session, index: SearchIndex | None = None) -> set[int]:
    """Every document under a live hold (for the dashboard); saved searches count when `index` is given."""
    held = _held_by_target(session, None)
    if index is not None:
        for query in session.scalars(select(Hold.query).where(Hold.released_at.is_(None), Hold.query.is_not(None))):
            held |= query_matches(session, index, query, None)
    return held


def query_matches(session: Session, index: SearchIndex, query: str, document_ids: Iterable[int] | None) -> set[int]:
    """Which of `document_ids` (every document when None) the saved search `query` finds, reading
    everything (no access filter: a hold must see what a content-role user would). Restricted to
    those documents, the search pages through at most len(document_ids) hits, in date order (exact
    per result page)."""
    if document_ids is None:
        restrict = None
    else:
        ids = sorted(set(document_ids))
        if not ids:
            return set()
        restrict = access_restriction(allowed_document_ids=ids)
    aliases = DocumentType.alias_map(session)
    found: set[int] = set()
    page = 1
    while True:
        results = index.search(query, page=page, per_page=_QUERY_PAGE, sort="date", restrict=restrict,
                               mask_sensitive=False, type_aliases=aliases)
        found |= {hit.document_id for hit in results.documents}
        if len(results.documents) < _QUERY_PAGE:
            return found
        page += 1


def place(session: Session, actor: User | None, name: str, reason: str, *,
          customer_accounts: Sequence[str] = (), document_ids: Sequence[int] = (), query: str | None = None,
          ip: str | None = None, now: datetime | None = None) -> Hold:
    """Place a hold on customers' files, documents and/or a saved search; audited, committed.

    A saved search is parsed now, so a hold never silently holds nothing."""
    name, reason, query = (name or "").strip(), (reason or "").strip(), (query or "").strip() or None
    if not name or len(name) > 200:
        raise HoldError(_("Give the hold a name (200 characters at most)."))
    if not reason or len(reason) > 1000:
        raise HoldError(_("Give the reason for the hold (1000 characters at most)."))
    if query is not None and len(query) > 500:
        raise HoldError(_("The saved search is too long (500 characters at most)."))
    accounts = list(dict.fromkeys(str(a).strip() for a in customer_accounts if str(a).strip()))
    ids = list(dict.fromkeys(document_ids))
    if not accounts and not ids and query is None:
        raise HoldError(_("A hold needs at least one customer account, document or saved search."))
    customers = {c.account: c for c in session.scalars(select(Customer).where(Customer.account.in_(accounts)))}
    missing = [a for a in accounts if a not in customers]
    if missing:
        raise HoldError(_("These customer accounts are not in the customer table: %(accounts)s. Check the accounts.",
                          accounts=", ".join(missing)))
    known = set(session.scalars(select(Document.id).where(Document.id.in_(ids)))) if ids else set()
    unknown = [str(i) for i in ids if i not in known]
    if unknown:
        raise HoldError(_("These documents do not exist: %(ids)s.", ids="#" + ", #".join(unknown)))
    if query is not None:
        from docsvc.search import QueryError
        from docsvc.search.query import compile_query

        try:
            compile_query(query, DocumentType.alias_map(session))
        except QueryError as exc:
            raise HoldError(_("The saved search cannot be used: %(problem)s", problem=str(exc))) from exc
    hold = Hold(name=name, reason=reason, owner_id=actor.id if actor else None, query=query,
                created_at=now or utcnow())
    hold.targets = ([HoldTarget(customer_id=customers[a].id) for a in accounts]
                    + [HoldTarget(document_id=i) for i in ids])
    session.add(hold)
    session.flush()
    audit.record(session, actor, "hold.place", object_type="hold", object_id=hold.id, ip=ip, now=now,
                 detail={"name": name, "reason": reason, "customer_accounts": accounts, "document_ids": ids,
                         "query": query})
    session.commit()
    return hold


def release(session: Session, actor: User | None, hold_id: int, reason: str, *, ip: str | None = None,
            now: datetime | None = None) -> Hold:
    """Release a hold with a reason; audited, committed. Items another hold covers stay held."""
    hold = require_found(session.get(Hold, hold_id), _("Hold #%(id)s does not exist.", id=hold_id))
    reason = (reason or "").strip()
    if not reason or len(reason) > 1000:
        raise HoldError(_("Give the reason for releasing the hold."))
    if hold.released_at is not None:
        raise NotAllowedNow(_("Hold #%(id)s was already released on %(day)s.", id=hold.id,
                              day=f"{hold.released_at:%Y-%m-%d}"))
    hold.released_at, hold.released_by_id, hold.release_reason = now or utcnow(), actor.id if actor else None, reason
    audit.record(session, actor, "hold.release", object_type="hold", object_id=hold.id, ip=ip, now=now,
                 detail={"name": hold.name, "reason": reason})
    session.commit()
    return hold


def list_holds(session: Session, *, include_released: bool = True) -> list[Hold]:
    query = select(Hold).options(selectinload(Hold.targets), selectinload(Hold.owner)).order_by(Hold.id.desc())
    if not include_released:
        query = query.where(Hold.released_at.is_(None))
    return list(session.scalars(query))


def hold_json(session: Session, hold: Hold) -> dict[str, object]:
    accounts = dict(session.execute(select(Customer.id, Customer.account).where(
        Customer.id.in_([t.customer_id for t in hold.targets if t.customer_id]))).all())
    return {"id": hold.id, "name": hold.name, "reason": hold.reason,
            "owner": hold.owner.username if hold.owner else None, "query": hold.query,
            "customer_accounts": [accounts[t.customer_id] for t in hold.targets if t.customer_id],
            "document_ids": [t.document_id for t in hold.targets if t.document_id],
            "created_at": utc_text(hold.created_at),
            "released_at": utc_text(hold.released_at),
            "release_reason": hold.release_reason}

