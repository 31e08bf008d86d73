"""Loans (借阅): request, approve or reject, return, renew; every step is audited in its transaction.

Expiry needs no job: `access.loan_state` and `access.active_loans` compare the due time with the
clock handed in, so access ends at the due time by itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from babel.support import LazyProxy
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from docsvc.governance.access import Action, can, is_sensitive, loan_state, may_see_sensitive, role_allows, sees_every_loan
from docsvc.constants import MAX_LOAN_DAYS, LoanState
from docsvc.errors import DomainError, Forbidden, NotAllowedNow, require_found
from docsvc.models import Document, Loan, LoanItem, User, utc_text, utcnow
from docsvc.governance import audit
from docsvc.i18n import _, lazy_gettext as _l
from docsvc.labels import label


class LoanError(DomainError):
    pass


class LoanForbidden(Forbidden):
    pass


@dataclass(frozen=True)
class LoanRequest:
    purpose: str
    days: int
    customer_account: str | None = None
    document_ids: tuple[int, ...] = ()
    want_download: bool = False
    want_print: bool = False


def request_loan(session: Session, user: User, req: LoanRequest, *, ip: str | None = None,
                 renewal_of: Loan | None = None, now: datetime | None = None) -> Loan:
    purpose = req.purpose.strip()
    if not purpose:
        raise LoanError(_("Give the purpose of the loan."))
    if not 1 <= req.days <= MAX_LOAN_DAYS:
        raise LoanError(_("The term must be 1 to %(max)s days.", max=MAX_LOAN_DAYS))
    account = (req.customer_account or "").strip() or None
    ids = tuple(dict.fromkeys(req.document_ids))
    if bool(account) == bool(ids):
        raise LoanError(_("Name either one customer account (the whole file) or some document ids, not both."))
    missing = [i for i in ids if session.get(Document, i) is None]
    if missing:
        raise LoanError(_("No such documents: %(ids)s.", ids=", ".join(map(str, missing))))
    loan = Loan(requester_id=user.id, customer_account=account, purpose=purpose, days=req.days,
                want_download=req.want_download, want_print=req.want_print, status=LoanState.PENDING,
                requested_at=now or utcnow(), renewal_of_id=renewal_of.id if renewal_of else None)
    loan.items = [LoanItem(document_id=i) for i in ids]
    session.add(loan)
    session.flush()
    audit.record(session, user, "loan.renew" if renewal_of else "loan.request", object_type="loan",
                 object_id=loan.id, purpose=purpose, loan_id=loan.id, ip=ip, now=now,
                 detail={"customer_account": account, "document_ids": list(ids), "days": req.days,
                         "want_download": req.want_download, "want_print": req.want_print,
                         "renewal_of": renewal_of.id if renewal_of else None})
    session.commit()
    return loan


def get_loan(session: Session, loan_id: int) -> Loan:
    return require_found(session.get(Loan, loan_id), _("Loan request #%(id)s does not exist.", id=loan_id))


def covers_sensitive(session: Session, loan: Loan) -> bool:
    query = select(Document).options(joinedload(Document.type_row))
    if loan.customer_account:
        query = query.where(Document.customer_account == loan.customer_account)
    else:
        query = query.where(Document.id.in_([i.document_id for i in loan.items]))
    return any(is_sensitive(d) for d in session.scalars(query))


def decide(session: Session, approver: User, loan_id: int, approve: bool, *, note: str = "",
           allow_download: bool | None = None, allow_print: bool | None = None,
           ip: str | None = None, now: datetime | None = None) -> Loan:
    """Approve or reject a pending loan. The approver is never the requester; sensitive files need
    an approver granted `sensitive`. An approval may allow less than was asked, never more."""
    loan = get_loan(session, loan_id)
    moment = now or utcnow()
    refusal = _decision_refusal(session, approver, loan)
    if refusal:
        audit.record(session, approver, "loan.approve" if approve else "loan.reject", object_type="loan",
                     object_id=loan.id, outcome="denied", loan_id=loan.id, ip=ip, now=moment,
                     detail={"reason": audit.as_recorded(refusal)})
        session.commit()
        raise LoanForbidden(str(refusal))
    if loan.status != LoanState.PENDING:
        raise NotAllowedNow(_("Loan #%(id)s was already decided (%(state)s).", id=loan.id,
                               state=label("loan_state", loan.status)))
    loan.decided_by_id, loan.decided_at, loan.decision_note = approver.id, moment, note.strip() or None
    if approve:
        loan.status = LoanState.APPROVED
        loan.allow_download = loan.want_download if allow_download is None else (allow_download and loan.want_download)
        loan.allow_print = loan.want_print if allow_print is None else (allow_print and loan.want_print)
        loan.starts_at, loan.due_at = moment, moment + timedelta(days=loan.days)
    else:
        loan.status = LoanState.REJECTED
    audit.record(session, approver, "loan.approve" if approve else "loan.reject", object_type="loan",
                 object_id=loan.id, loan_id=loan.id, purpose=loan.purpose, ip=ip, now=moment,
                 detail={"note": loan.decision_note, "allow_download": loan.allow_download,
                         "allow_print": loan.allow_print,
                         "due_at": utc_text(loan.due_at)})
    session.commit()
    return loan


def _decision_refusal(session: Session, approver: User, loan: Loan) -> LazyProxy | None:
    """Why `approver` may not decide `loan`, untranslated: the trail records it in both languages."""
    if not can(approver, Action.LOAN_DECIDE):
        return _l("Only an approver may decide loans.")
    if approver.id == loan.requester_id:
        return _l("You cannot decide your own loan; another approver must.")
    if covers_sensitive(session, loan) and not may_see_sensitive(approver):
        return _l("The file holds sensitive documents (ID copies): an approver granted `sensitive` must decide.")
    return None


def return_loan(session: Session, user: User, loan_id: int, *, ip: str | None = None,
                now: datetime | None = None) -> Loan:
    """End a loan early: the borrower returns it, or an approver takes it back."""
    loan = get_loan(session, loan_id)
    if user.id != loan.requester_id and not role_allows(user, Action.LOAN_DECIDE):
        raise LoanForbidden(_("Only the borrower or an approver may return this loan."))
    moment = now or utcnow()
    if loan_state(loan, moment) != LoanState.APPROVED:
        raise NotAllowedNow(_("Loan #%(id)s is not open (%(state)s).", id=loan.id,
                              state=label("loan_state", loan_state(loan, moment))))
    loan.status, loan.returned_at = LoanState.RETURNED, moment
    audit.record(session, user, "loan.return", object_type="loan", object_id=loan.id, loan_id=loan.id,
                 ip=ip, now=moment)
    session.commit()
    return loan


def renew(session: Session, user: User, loan_id: int, days: int, *, ip: str | None = None,
          now: datetime | None = None) -> Loan:
    """A renewal is a new request for the same file, decided like any other."""
    old = get_loan(session, loan_id)
    if old.requester_id != user.id:
        raise LoanForbidden(_("You can renew only your own loans."))
    return request_loan(session, user, LoanRequest(
        purpose=old.purpose, days=days, customer_account=old.customer_account,
        document_ids=tuple(i.document_id for i in old.items), want_download=old.want_download,
        want_print=old.want_print), ip=ip, renewal_of=old, now=now)


def visible_loans(session: Session, user: User) -> list[Loan]:
    """Approvers and auditors see every loan; everyone else their own."""
    query = select(Loan).order_by(Loan.id.desc())
    if not sees_every_loan(user):
        query = query.where(Loan.requester_id == user.id)
    return list(session.scalars(query))


def group_loans(loans: list[Loan], now: datetime | None = None) -> dict[str, list[Loan]]:
    """pending / open / overdue (expired, never returned) / past (returned, rejected)."""
    groups: dict[str, list[Loan]] = {"pending": [], "open": [], "overdue": [], "past": []}
    for loan in loans:
        state = loan_state(loan, now)
        key = {LoanState.PENDING: "pending", LoanState.APPROVED: "open", LoanState.EXPIRED: "overdue"}.get(state, "past")
        groups[key].append(loan)
    return groups


def loan_json(loan: Loan, now: datetime | None = None) -> dict[str, object]:
    return {
        "id": loan.id, "requester": loan.requester.username, "customer_account": loan.customer_account,
        "document_ids": [i.document_id for i in loan.items], "purpose": loan.purpose, "days": loan.days,
        "want_download": loan.want_download, "want_print": loan.want_print,
        "state": str(loan_state(loan, now)), "requested_at": utc_text(loan.requested_at),
        "decided_by": loan.decided_by.username if loan.decided_by else None,
        "allow_download": loan.allow_download, "allow_print": loan.allow_print,
        "starts_at": utc_text(loan.starts_at),
        "due_at": utc_text(loan.due_at),
        "returned_at": utc_text(loan.returned_at),
        "renewal_of": loan.renewal_of_id,
    }
