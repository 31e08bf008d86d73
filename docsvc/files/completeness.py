"""Completeness (资料要齐全): which required document types a customer's file lacks for its stage."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from docsvc import exports
from docsvc.models import Customer, Document, DocumentType
from docsvc.files.doctypes import STAGE_CODES, required_types, stage_label, type_name
from docsvc.i18n import _, language


@dataclass
class CheckItem:
    code: str
    name: str
    required: bool
    present: int  # filed documents of this type


@dataclass
class Checklist:
    account: str
    name: str
    stage: str | None
    items: list[CheckItem]

    @property
    def missing(self) -> list[CheckItem]:
        return [i for i in self.items if i.required and not i.present]

    @property
    def complete(self) -> bool:
        return not self.missing

    def as_json(self) -> dict[str, object]:
        return {"account": self.account, "name": self.name, "stage": self.stage, "complete": self.complete,
                "missing": [i.code for i in self.missing],
                "items": [{"code": i.code, "name": i.name, "required": i.required, "present": i.present}
                          for i in self.items]}


def _filed_counts(session: Session, customer_ids: list[int]) -> dict[tuple[int, str], int]:
    rows = session.execute(
        select(Document.customer_id, Document.doc_type, func.count())
        .where(Document.customer_id.in_(customer_ids), Document.filed_at.is_not(None))
        .group_by(Document.customer_id, Document.doc_type))
    return {(cid, code): n for cid, code, n in rows}


def checklist(session: Session, customer: Customer) -> Checklist:
    counts = _filed_counts(session, [customer.id])
    required = {t.code for t in required_types(session, customer.stage)}
    items = [CheckItem(t.code, type_name(t), t.code in required, counts.get((customer.id, t.code), 0))
             for t in session.scalars(select(DocumentType).where(DocumentType.active.is_(True))
                                      .order_by(DocumentType.position))]
    return Checklist(customer.account, customer.name, customer.stage, items)


def incomplete(session: Session, *, region: str | None = None, grade: str | None = None,
               limit: int | None = None) -> list[Checklist]:
    """Every file missing a required type (customers without a stage have no requirement)."""
    query = select(Customer).where(Customer.stage.is_not(None)).order_by(Customer.account)
    if region:
        query = query.where(Customer.region == region)
    if grade:
        query = query.where(Customer.grade == grade)
    result: list[Checklist] = []
    customers = list(session.scalars(query))
    for start in range(0, len(customers), 900):
        result.extend(cl for cl in _checklists(session, customers[start:start + 900]) if not cl.complete)
        if limit and len(result) >= limit:
            return result[:limit]
    return result


def _checklists(session: Session, customers: list[Customer]) -> list[Checklist]:
    types = list(session.scalars(select(DocumentType).where(DocumentType.active.is_(True)).order_by(DocumentType.position)))
    counts = _filed_counts(session, [c.id for c in customers])
    required_by_stage: dict[str | None, set[str]] = {}
    lists = []
    for c in customers:
        if c.stage not in required_by_stage:
            required_by_stage[c.stage] = {t.code for t in required_types(session, c.stage)}
        req = required_by_stage[c.stage]
        lists.append(Checklist(c.account, c.name, c.stage,
                               [CheckItem(t.code, type_name(t), t.code in req, counts.get((c.id, t.code), 0)) for t in types]))
    return lists


def _incomplete_rows(session: Session) -> list[tuple[int, str]]:
    """(id, account) of every incomplete file, by the rule of `Checklist.complete` in SQL: one pass over
    the filed documents counts, per customer, the distinct types each stage requires; a customer is
    incomplete when its stage's count falls short."""
    required = {stage: sorted({t.code for t in required_types(session, stage)}) for stage in STAGE_CODES}
    required = {stage: codes for stage, codes in required.items() if codes}
    if not required:
        return []
    pairs = (select(Document.customer_id, Document.doc_type).where(Document.filed_at.is_not(None),
                                                                 Document.customer_id.is_not(None))
             .distinct().subquery())
    present = (select(pairs.c.customer_id, *(func.sum(case((pairs.c.doc_type.in_(codes), 1), else_=0)).label(f"n{i}")
                                             for i, codes in enumerate(required.values())))
               .group_by(pairs.c.customer_id).subquery())
    short = or_(*(and_(Customer.stage == stage, func.coalesce(present.c[f"n{i}"], 0) < len(codes))
                  for i, (stage, codes) in enumerate(required.items())))
    return [(cid, account) for cid, account in session.execute(
        select(Customer.id, Customer.account).outerjoin(present, present.c.customer_id == Customer.id)
        .where(Customer.stage.in_(list(required)), short).order_by(Customer.account))]


def incomplete_summary(session: Session, limit: int) -> tuple[int, list[Checklist]]:
    """How many files are incomplete, and the first `limit` of them by account: what `incomplete` finds,
    counted in the database instead of checking every file in Python (the home page shows it)."""
    rows = _incomplete_rows(session)
    first_ids = [cid for cid, _ in rows[:limit]]
    first = list(session.scalars(select(Customer).where(Customer.id.in_(first_ids)).order_by(Customer.account))) if first_ids else []
    return len(rows), _checklists(session, first)


def _header() -> list[str]:
    return [_("Account no."), _("Customer name"), _("Stage"), _("Missing")]


def _rows(lists: list[Checklist]) -> list[list[str]]:
    separator = "、" if language() == "zh" else ", "
    return [[c.account, c.name, stage_label(c.stage), separator.join(f"{i.code} {i.name}" for i in c.missing)]
            for c in lists]


def report_csv(lists: list[Checklist]) -> bytes:
    return exports.csv_bytes(_header(), _rows(lists))


def report_xlsx(lists: list[Checklist]) -> bytes:
    return exports.xlsx_bytes(_("Incomplete files"), _header(), _rows(lists))
