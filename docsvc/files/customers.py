"""Customers (户): validation, create, update, look-up. The 户号 is the key archivists use."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from docsvc.errors import Conflict, DomainError, NotFound
from docsvc.models import AuditEvent, Customer, Document, User
from docsvc.governance import audit
from docsvc.constants import GRADES
from docsvc.files.customer_words import DATE_FORMATS, STATUS_WORDS
from docsvc.files.doctypes import STAGE_CODES
from docsvc.files.documents import mark_for_reindex
from docsvc.i18n import _, lazy_gettext as _l

STATUSES = ("active", "closed")
# Fields a create/update may set, besides the account itself.
FIELDS = ("name", "address", "phone", "category", "voltage", "grade", "region", "industry", "stage",
          "status", "closed_on", "tags", "location")
# What each field is called on screen, in the form and in messages about it.
FIELD_LABELS = {"account": _l("Account no."), "name": _l("Customer name"), "address": _l("Address"),
                "phone": _l("Phone"), "category": _l("Category"), "voltage": _l("Voltage"), "grade": _l("Grade"),
                "region": _l("Region"), "industry": _l("Industry"), "stage": _l("Stage"), "status": _l("Status"),
                "closed_on": _l("Closing date"), "tags": _l("Tags"), "location": _l("Paper-file location")}
_LENGTHS = {"name": 200, "address": 300, "phone": 40, "category": 40, "voltage": 20, "region": 80,
            "industry": 80, "tags": 300, "location": 120}


class CustomerError(DomainError):
    pass


class DuplicateAccount(CustomerError, Conflict):
    pass


@dataclass(frozen=True)
class AccountRule:
    pattern: str

    def check(self, account: str) -> str:
        account = (account or "").strip()
        if not re.fullmatch(self.pattern, account):
            raise CustomerError(_("Account number “%(account)s” does not match the pattern %(pattern)s; check it.",
                                  account=account, pattern=self.pattern))
        return account


def clean_fields(values: dict[str, object]) -> dict[str, object]:
    """Validate and normalise the customer fields present in `values`; raises CustomerError."""
    out: dict[str, object] = {}
    for key in FIELDS:
        if key not in values:
            continue
        raw = values[key]
        if key == "closed_on":
            out[key] = parse_date(raw, str(FIELD_LABELS["closed_on"]))
            continue
        text = "" if raw is None else str(raw).strip()
        if key == "tags":
            text = " ".join(text.replace(",", " ").replace("，", " ").split())
        if len(text) > _LENGTHS.get(key, 20):
            raise CustomerError(_("%(field)s is too long (%(n)s characters at most).", field=FIELD_LABELS[key],
                                  n=_LENGTHS.get(key, 20)))
        out[key] = text if key == "tags" else (text or None)
    if "name" in out and not out["name"]:
        raise CustomerError(_("The customer name is required."))
    if out.get("grade") and out["grade"] not in GRADES:
        raise CustomerError(_("Grade “%(grade)s” is not valid; use %(grades)s.", grade=out["grade"],
                              grades=", ".join(GRADES)))
    if "status" in out:
        status = STATUS_WORDS.get(str(out["status"] or ""), out["status"] or "active")
        if status not in STATUSES:
            raise CustomerError(_("Status “%(status)s” is not valid; use active or closed.", status=out["status"]))
        out["status"] = status
    if out.get("stage") and out["stage"] not in STAGE_CODES:
        raise CustomerError(_("Stage “%(stage)s” is not valid; use one of %(stages)s.", stage=out["stage"],
                              stages=", ".join(STAGE_CODES)))
    return out


def check_closing(fields: dict[str, object]) -> None:
    if fields.get("status") == "closed" and not fields.get("closed_on"):
        raise CustomerError(_("A closed account needs its closing date (retention counts from it)."))


def parse_date(raw: object, label: str) -> date | None:
    """Dates as archivists type them, and as Excel stores them (serial day numbers)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if 1 <= raw < 2958466:  # Excel's 1900 date system, counted from 1899-12-30
            return date(1899, 12, 30) + timedelta(days=int(raw))
    text = str(raw).strip()
    if isinstance(raw, str) and text.isdigit() and len(text) <= 5:  # a serial number typed as text (not 0: no loop)
        return parse_date(int(text), label)
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text.split(" ")[0].split("T")[0], fmt).date()
        except ValueError:
            continue
    raise CustomerError(_("%(field)s “%(text)s” is not a date (e.g. 2024-05-01).", field=label, text=text))


def get_customer(session: Session, account: str) -> Customer:
    customer = session.scalars(select(Customer).where(Customer.account == (account or "").strip())).first()
    if customer is None:
        raise NotFound(_("No customer with account number %(account)s; import or create it first.", account=account))
    return customer


def find_customer(session: Session, account: str) -> Customer | None:
    return session.scalars(select(Customer).where(Customer.account == (account or "").strip())).first()


def file_documents(session: Session, customer: Customer) -> list[Document]:
    """The documents of a customer's file, by type and 档号: the order of the file view and its PDF."""
    return list(session.scalars(select(Document).where(Document.customer_id == customer.id)
                                .options(selectinload(Document.pages), selectinload(Document.type_row))
                                .order_by(Document.doc_type, Document.reference_code)))


def file_history(session: Session, customer: Customer, documents: list[Document], *, with_access: bool,
                 limit: int = 100) -> list[AuditEvent]:
    """What happened to the customer and the documents of its file, newest first: its changes, and with
    `with_access` (auditors) also who read, downloaded, printed or exported it and the refused attempts —
    who looked at a customer's papers is itself personal information, part of the audit trail."""
    ids = [str(d.id) for d in documents]
    query = (select(AuditEvent)
             .where(((AuditEvent.object_type == "document") & AuditEvent.object_id.in_(ids))
                    | ((AuditEvent.object_type == "customer") & (AuditEvent.object_id == customer.account))))
    if not with_access:
        query = query.where(AuditEvent.action.not_in(audit.ACCESS_EVENTS), AuditEvent.outcome != "denied")
    return list(session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit)))


def search_customers(session: Session, q: str = "", *, limit: int = 50, offset: int = 0) -> tuple[list[Customer], int]:
    query = select(Customer)
    q = q.strip()
    if q:
        query = query.where(or_(Customer.account.startswith(q), Customer.name.contains(q)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Customer.account).limit(limit).offset(offset)).all()
    return list(rows), total


def create_customer(session: Session, actor: User | None, rule: AccountRule, account: str,
                    values: dict[str, object], *, ip: str | None = None) -> Customer:
    account = rule.check(account)
    fields = clean_fields({"status": "active", **values})
    if "name" not in fields:
        raise CustomerError(_("The customer name is required."))
    check_closing(fields)
    if find_customer(session, account) is not None:
        raise DuplicateAccount(_("Account %(account)s already exists; edit that customer instead.", account=account))
    customer = Customer(account=account, **fields)
    session.add(customer)
    session.flush()
    audit.record(session, actor, "customer.create", object_type="customer", object_id=account, ip=ip,
                 detail=_loggable(fields))
    session.commit()
    return customer


def update_customer(session: Session, actor: User | None, account: str, values: dict[str, object], *,
                    ip: str | None = None) -> Customer:
    customer = get_customer(session, account)
    fields = clean_fields(values)
    merged = {k: getattr(customer, k) for k in FIELDS} | fields
    check_closing(merged)
    changed = {k: v for k, v in fields.items() if getattr(customer, k) != v}
    for key, value in changed.items():
        setattr(customer, key, value)
    if changed:
        _reindex_customer(session, customer)
        if "closed_on" in changed:  # a retention trigger (account_closed)
            from docsvc.governance.retention import recompute

            recompute(session, customer_id=customer.id)
        audit.record(session, actor, "customer.update", object_type="customer", object_id=customer.account,
                     ip=ip, detail=_loggable(changed))
    session.commit()
    return customer


def _reindex_customer(session: Session, customer: Customer) -> None:
    """The customer's name is on every indexed page of its file."""
    ids = list(session.scalars(select(Document.id).where(Document.customer_id == customer.id)))
    mark_for_reindex(session, ids)


def _loggable(fields: dict[str, object]) -> dict[str, object]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in fields.items()}


def customer_json(customer: Customer) -> dict[str, object]:
    return {
        "account": customer.account, "name": customer.name, "address": customer.address, "phone": customer.phone,
        "category": customer.category, "voltage": customer.voltage, "grade": customer.grade,
        "region": customer.region, "industry": customer.industry, "stage": customer.stage,
        "status": customer.status, "closed_on": customer.closed_on.isoformat() if customer.closed_on else None,
        "tags": customer.tags.split() if customer.tags else [], "location": customer.location,
    }
