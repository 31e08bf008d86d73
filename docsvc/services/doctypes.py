"""Document types (a configurable table) and the business stages that make them required."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from docsvc.errors import DomainError, NotFound
from docsvc.models import DocumentType

# Business stages of a supply relationship, in order (DOMAIN.md: 申请 → 设计/施工 → 验收送电 → 合同签订
# → 运行中检查 → 变更 → 销户). A type required from a stage is required at every later stage too.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("apply", "申请", "Application"),
    ("design", "设计/施工", "Design / construction"),
    ("acceptance", "验收送电", "Acceptance and energising"),
    ("contract", "合同签订", "Contract signed"),
    ("operation", "运行中检查", "In operation"),
    ("change", "变更", "Changed"),
    ("closed", "销户", "Closed"),
)
STAGE_CODES = tuple(code for code, _, _ in STAGES)
RETENTION_CLASSES = ("Y", "D30", "D10")


class DocTypeError(DomainError):
    pass


def stage_label(code: str | None) -> str:
    for c, zh, en in STAGES:
        if c == code:
            return f"{zh} {en}"
    return ""


def stage_rank(code: str | None) -> int:
    return STAGE_CODES.index(code) if code in STAGE_CODES else -1


def all_types(session: Session, *, active_only: bool = True) -> list[DocumentType]:
    query = select(DocumentType).order_by(DocumentType.position, DocumentType.code)
    if active_only:
        query = query.where(DocumentType.active.is_(True))
    return list(session.scalars(query))


def get_type(session: Session, code: str) -> DocumentType:
    doc_type = session.get(DocumentType, (code or "").strip().upper())
    if doc_type is None or not doc_type.active:
        known = "、".join(t.code for t in all_types(session))
        raise DocTypeError(f"文档类型“{code}”不存在。可用类型：{known}。 / "
                           f"Unknown document type {code!r}; use one of: {known}.")
    return doc_type


def sensitive_codes(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(select(DocumentType.code).where(DocumentType.sensitive.is_(True))))


def required_types(session: Session, stage: str | None) -> list[DocumentType]:
    """The types a file at `stage` must hold."""
    rank = stage_rank(stage)
    return [t for t in all_types(session) if t.required_from and 0 <= stage_rank(t.required_from) <= rank]


def save_type(session: Session, code: str, *, name_zh: str, name_en: str, retention: str, sensitive: bool,
              required_from: str | None, active: bool = True) -> DocumentType:
    code = code.strip().upper()
    if not code.isalnum() or len(code) > 20:
        raise DocTypeError(f"类型代码“{code}”无效：只能用字母和数字。 / Type code {code!r} must be letters and digits.")
    if retention not in RETENTION_CLASSES:
        raise DocTypeError(f"保管期限“{retention}”无效，应为 Y、D30 或 D10。 / Retention must be Y, D30 or D10.")
    if required_from and required_from not in STAGE_CODES:
        raise DocTypeError(f"业务环节“{required_from}”无效。 / Unknown stage {required_from!r}.")
    doc_type = session.get(DocumentType, code)
    if doc_type is None:
        doc_type = DocumentType(code=code, position=len(all_types(session, active_only=False)) + 1)
        session.add(doc_type)
    doc_type.name_zh, doc_type.name_en, doc_type.retention = name_zh.strip(), name_en.strip(), retention
    doc_type.sensitive, doc_type.required_from, doc_type.active = sensitive, required_from or None, active
    return doc_type


def type_json(doc_type: DocumentType) -> dict[str, object]:
    return {"code": doc_type.code, "name_zh": doc_type.name_zh, "name_en": doc_type.name_en,
            "retention": doc_type.retention, "sensitive": doc_type.sensitive,
            "required_from": doc_type.required_from, "active": doc_type.active}


def require_type(session: Session, code: str) -> DocumentType:
    try:
        return get_type(session, code)
    except DocTypeError as exc:
        raise NotFound(exc.message) from exc
