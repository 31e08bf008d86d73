"""Who a scanned document belongs to, proposed from its OCR text: 户号, contract numbers, customer names.

Each proposal carries a confidence; only proposals at or above the configured threshold may file a
document by themselves (`autofile`), everything else waits for the operator in the inbox.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from docsvc.config import FilingSettings
from docsvc.models import Customer, Document, User
from docsvc.services.filing import file_document

# Digits of 户号 length stand alone (not inside a longer number such as a meter number).
_ACCOUNT = re.compile(r"(?<!\d)(\d{10})(?!\d)")
_LABELLED_ACCOUNT = re.compile(r"户号[:：]?\s*(\d{6,20})")
_CONTRACT = re.compile(r"\b([A-Z]{2,4}-\d{4}-\d{4,8})\b")
_NAME = re.compile(r"(?:户名|用电人|用户名称|客户名称|申请人)[:：]\s*([^\s　,，。；;]{2,40})")
_ORG_SUFFIX = re.compile(r"([\u4e00-\u9fff（）()]{2,30}(?:有限公司|公司|厂|学校|医院|中心|合作社))")


@dataclass
class Suggestion:
    account: str
    name: str
    confidence: float
    reasons: list[str] = field(default_factory=list)


def _text(document: Document) -> str:
    return unicodedata.normalize("NFKC", "\n".join(p.text or "" for p in document.pages if p.binned_at is None))


def suggest(session: Session, document: Document, limit: int = 3) -> list[Suggestion]:
    text = _text(document)
    if not text.strip():
        return []
    scores: dict[int, Suggestion] = {}

    def add(customer: Customer, confidence: float, reason: str) -> None:
        s = scores.setdefault(customer.id, Suggestion(customer.account, customer.name, 0.0))
        # Independent pieces of evidence add up: 1 - Π(1 - c).
        s.confidence = round(1 - (1 - s.confidence) * (1 - confidence), 3)
        s.reasons.append(reason)

    labelled = set(_LABELLED_ACCOUNT.findall(text))
    accounts = labelled | set(_ACCOUNT.findall(text))
    if accounts:
        for c in session.scalars(select(Customer).where(Customer.account.in_(accounts))):
            add(c, 0.9 if c.account in labelled else 0.6, f"户号 {c.account}")
    contracts = set(_CONTRACT.findall(text))
    if contracts:
        rows = session.execute(select(Document.contract_no, Customer).join(Customer, Document.customer_id == Customer.id)
                               .where(Document.contract_no.in_(contracts)))
        for contract, c in rows:
            add(c, 0.8, f"合同号 {contract}")
    names = set(_NAME.findall(text)) | set(_ORG_SUFFIX.findall(text))
    if names:
        for c in session.scalars(select(Customer).where(Customer.name.in_(names))):
            add(c, 0.7, f"户名 {c.name}")
    ranked = sorted(scores.values(), key=lambda s: -s.confidence)
    if len(ranked) > 1:
        # Two customers named on one page: neither is certain.
        for s in ranked:
            s.confidence = round(s.confidence * 0.8, 3)
    return ranked[:limit]


def autofile(session: Session, document: Document, settings: FilingSettings, actor: User | None = None) -> bool:
    """File an unfiled document with a known type by its best suggestion, if confident enough. No commit."""
    if document.filed_at is not None or document.type_row is None:
        return False
    best = next(iter(suggest(session, document, limit=1)), None)
    if best is None or best.confidence < settings.autofile_confidence:
        return False
    customer = session.scalars(select(Customer).where(Customer.account == best.account)).one()
    file_document(session, actor, document, customer, document.type_row, settings, how="suggestion",
                  confidence=best.confidence)
    return True
