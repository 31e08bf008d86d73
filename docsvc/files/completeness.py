"""Completeness (资料要齐全): which required document types a customer's file lacks for its stage."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docsvc.models import Customer, Document, DocumentType
from docsvc.files.doctypes import required_types, stage_label


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
    items = [CheckItem(t.code, t.name_zh, t.code in required, counts.get((customer.id, t.code), 0))
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
    types = list(session.scalars(select(DocumentType).where(DocumentType.active.is_(True)).order_by(DocumentType.position)))
    required_by_stage: dict[str | None, set[str]] = {}
    result: list[Checklist] = []
    customers = list(session.scalars(query))
    for start in range(0, len(customers), 900):
        chunk = customers[start:start + 900]
        counts = _filed_counts(session, [c.id for c in chunk])
        for c in chunk:
            if c.stage not in required_by_stage:
                required_by_stage[c.stage] = {t.code for t in required_types(session, c.stage)}
            req = required_by_stage[c.stage]
            items = [CheckItem(t.code, t.name_zh, t.code in req, counts.get((c.id, t.code), 0)) for t in types]
            cl = Checklist(c.account, c.name, c.stage, items)
            if not cl.complete:
                result.append(cl)
                if limit and len(result) >= limit:
                    return result
    return result


REPORT_HEADER = ["户号 account", "户名 name", "业务环节 stage", "缺少 missing"]


def _rows(lists: list[Checklist]) -> list[list[str]]:
    return [[c.account, c.name, stage_label(c.stage), "、".join(f"{i.code} {i.name}" for i in c.missing)] for c in lists]


def report_csv(lists: list[Checklist]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(REPORT_HEADER)
    writer.writerows(_rows(lists))
    return buf.getvalue().encode("utf-8-sig")


def report_xlsx(lists: list[Checklist]) -> bytes:
    from openpyxl import Workbook  # heavy, and only this export writes XLSX: loaded when asked for

    book = Workbook(write_only=True)
    sheet = book.create_sheet("不完整档案")
    sheet.append(REPORT_HEADER)
    for row in _rows(lists):
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
