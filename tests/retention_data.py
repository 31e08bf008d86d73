"""Building blocks for the retention tests: customers and filed documents made directly, no scans."""
from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy.orm import Session

from docsvc.config import FilingSettings
from docsvc.constants import IndexState
from docsvc.files import filing
from docsvc.files.customers import AccountRule, create_customer, find_customer
from docsvc.files.doctypes import get_type
from docsvc.governance import retention
from docsvc.i18n import shown
from docsvc.models import Customer, Document
from tests.factories import add_document

RULE = AccountRule(r"^\d{10}$")


def why_not(session: Session, document_ids: list[int], **options: object) -> dict[int, str | None]:
    """retention.eligible's verdicts as a reader sees them (they are stored texts), in the current language."""
    return {i: shown(reason) if reason else None
            for i, reason in retention.eligible(session, document_ids, **options).items()}  # type: ignore[arg-type]


def customer(session: Session, account: str, name: str = "宏达机械制造有限公司", **values: object) -> Customer:
    return find_customer(session, account) or create_customer(session, None, RULE, account, {"name": name, **values})


def filed(session: Session, account: str, doc_type: str, doc_date: date | None, *, title: str = "",
          text: str | None = None, contract_end: date | None = None) -> Document:
    """A document with one page filed under `account` as `doc_type` (committed); `text` is its page's
    text, left for the index job to pick up."""
    seed = f"{account}{doc_type}{doc_date}{title}{text}{id(object())}".encode()
    document = add_document(session, sha256=hashlib.sha256(seed).hexdigest(), original_key="originals/x",
                            media_type="application/pdf", title=title or f"{doc_type} {doc_date}",
                            texts=[text] if text is not None else [], index_state=IndexState.PENDING,
                            doc_date=doc_date, contract_end=contract_end, page_count=1)
    filing.file_document(session, None, document, customer(session, account), get_type(session, doc_type),
                         FilingSettings())
    session.commit()
    return document
