"""Document types (a configurable table) and the business stages that make them required.

The table is the one source of which types are sensitive (docsvc.governance.access.is_sensitive reads it).
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from docsvc.governance.access import may_see_sensitive
from docsvc.errors import Conflict, DomainError, Forbidden, NotFound
from docsvc.models import Document, DocumentType, User
from docsvc.governance import audit, retention
from docsvc.files.documents import mark_for_reindex
from docsvc.i18n import _, language

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
RETENTION_LABELS = {"Y": "永久 Permanent", "D30": "定期 30 年 30 years", "D10": "定期 10 年 10 years"}

# Fields a create or update may set, besides the code.
FIELDS = ("name_zh", "name_en", "retention", "sensitive", "required_from", "position", "active")
_LABELS = {"name_zh": "中文名称", "name_en": "英文名称", "retention": "保管期限", "sensitive": "敏感",
           "required_from": "必备环节", "position": "排序", "active": "启用"}
NAME_MAX = 100  # the columns' length
POSITION_MAX = 9999


class DocTypeError(DomainError):
    pass


class DuplicateType(DocTypeError, Conflict):
    pass


class DocTypeForbidden(DocTypeError, Forbidden):
    pass


def stage_label(code: str | None) -> str:
    for c, zh, en in STAGES:
        if c == code:
            return f"{zh} {en}"
    return ""


def type_name(doc_type: DocumentType) -> str:
    """The type's name in the reader's language: the English name when they read English and the type
    has one, else the Chinese (the name every type has)."""
    return doc_type.name_en if language() == "en" and doc_type.name_en else doc_type.name_zh


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


def find_type(session: Session, code: str) -> DocumentType:
    """The type with this code, active or not (get_type is for filing: active types only)."""
    doc_type = session.get(DocumentType, (code or "").strip().upper())
    if doc_type is None:
        raise NotFound(f"文档类型“{code}”不存在。 / Document type {code!r} does not exist.")
    return doc_type


def required_types(session: Session, stage: str | None) -> list[DocumentType]:
    """The types a file at `stage` must hold."""
    rank = stage_rank(stage)
    return [t for t in all_types(session) if t.required_from and 0 <= stage_rank(t.required_from) <= rank]


def create_type(session: Session, actor: User | None, code: str, values: Mapping[str, object], *,
                ip: str | None = None) -> DocumentType:
    """Add a type (audited, committed). Documents already carrying the code keep it and are re-indexed
    when the new type is sensitive. The caller queues the index job."""
    code = _code(code)
    if session.get(DocumentType, code) is not None:
        raise DuplicateType(f"类型代码“{code}”已存在，请在列表中编辑它。 / Type {code} already exists; edit it instead.")
    missing = [f for f in ("name_zh", "retention") if not str(values.get(f) or "").strip()]
    if missing:
        raise DocTypeError(f"新类型需要填写：{'、'.join(_LABELS[f] for f in missing)}。 / "
                           f"A new type needs: {', '.join(missing)}.")
    fields = clean_fields(values)
    doc_type = DocumentType(code=code, name_en="", sensitive=False, required_from=None, active=True,
                            position=(session.scalar(select(func.max(DocumentType.position))) or 0) + 1)
    return _apply(session, actor, doc_type, fields, "doctype.create", ip=ip, new=True)


def update_type(session: Session, actor: User | None, code: str, values: Mapping[str, object], *,
                ip: str | None = None) -> DocumentType:
    """Change a type's fields (only those given; audited with old and new values, committed).

    Un-flagging a sensitive type needs the `sensitive` grant: otherwise anyone managing types could
    open ID copies by clearing the flag. A changed flag re-indexes the type's pages; the caller queues
    the index job. Deactivating hides the type from pickers; its documents stay filed under it."""
    doc_type = find_type(session, code)
    if "code" in values and str(values["code"] or "").strip().upper() != doc_type.code:
        raise DocTypeError(_("A type's code cannot change (documents, cover sheets and search use it); create a new type and deactivate this one."))
    fields = clean_fields({k: v for k, v in values.items() if k != "code"})
    return _apply(session, actor, doc_type, fields, "doctype.update", ip=ip, new=False)


def _apply(session: Session, actor: User | None, doc_type: DocumentType, fields: dict[str, object],
           action: str, *, ip: str | None, new: bool) -> DocumentType:
    before = {f: None if new else getattr(doc_type, f) for f in FIELDS}
    was_sensitive = bool(before["sensitive"])
    if was_sensitive and fields.get("sensitive") is False and not may_see_sensitive(actor):
        refusal = (_("Only a user granted `sensitive` may clear a type's sensitive flag; ask a colleague who holds it."))
        audit.record(session, actor, action, object_type="document_type", object_id=doc_type.code, ip=ip,
                     outcome="denied", detail={"reason": refusal, "sensitive": {"old": True, "new": False}})
        session.commit()
        raise DocTypeForbidden(refusal)
    changes = {f: {"old": before[f], "new": v} for f, v in fields.items() if new or getattr(doc_type, f) != v}
    if "retention" in changes and not new:
        try:
            retention.check_class_change(session, doc_type.code, str(changes["retention"]["new"]))
        except retention.RetentionError as exc:
            raise DocTypeError(exc.message) from exc
    for field, change in changes.items():
        setattr(doc_type, field, change["new"])
    if new:
        session.add(doc_type)
        changes |= {f: {"old": None, "new": getattr(doc_type, f)} for f in FIELDS if f not in changes}
    if not changes:
        return doc_type
    session.flush()
    if was_sensitive != doc_type.sensitive:
        # Every indexed page carries its type's sensitive flag.
        mark_for_reindex(session, select(Document.id).where(Document.doc_type == doc_type.code))
    audit.record(session, actor, action, object_type="document_type", object_id=doc_type.code, ip=ip, detail={
        "changes": changes,
        # what an auditor looks for: the class that will stamp new 档号, and who may see the type
        "retention_rule_change": "retention" in changes,
        "access_change": was_sensitive != doc_type.sensitive,
    })
    session.commit()
    if "retention" in changes and not new:
        retention.follow_type_class(session, actor, doc_type, ip=ip)  # the type's rule gets a new version
    return doc_type


def _code(raw: str) -> str:
    code = (raw or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{1,20}", code):
        raise DocTypeError(f"类型代码“{code}”无效：请用 1–20 个英文字母或数字，例如 HT。 / "
                           f"Type code {code!r} is not valid: use 1–20 letters A–Z or digits, e.g. HT.")
    return code


def clean_fields(values: Mapping[str, object]) -> dict[str, object]:
    """The given fields, checked and normalised; a DocTypeError says what is wrong and how to fix it."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise DocTypeError(f"不认识的字段：{'、'.join(unknown)}。可以修改的有：{'、'.join(FIELDS)}。 / "
                           f"Unknown field(s) {', '.join(unknown)}; use {', '.join(FIELDS)}.")
    out: dict[str, object] = {}
    for field, raw in values.items():
        if field in ("name_zh", "name_en"):
            text = str(raw or "").strip()
            if field == "name_zh" and not text:
                raise DocTypeError(_("The Chinese name cannot be empty."))
            if len(text) > NAME_MAX:
                raise DocTypeError(f"{_LABELS[field]}太长（最多 {NAME_MAX} 字）。 / "
                                   f"The {field} is too long ({NAME_MAX} characters at most).")
            out[field] = text
        elif field == "retention":
            if raw not in RETENTION_CLASSES:
                raise DocTypeError(f"保管期限“{raw}”无效，应为 Y（永久）、D30（30 年）或 D10（10 年）。 / "
                                   "Retention must be Y (permanent), D30 (30 years) or D10 (10 years).")
            out[field] = raw
        elif field in ("sensitive", "active"):
            if not isinstance(raw, bool):
                raise DocTypeError(f"“{_LABELS[field]}”应为 true 或 false。 / {field} must be true or false.")
            out[field] = raw
        elif field == "required_from":
            if raw and raw not in STAGE_CODES:
                raise DocTypeError(f"业务环节“{raw}”无效，应为 {'、'.join(STAGE_CODES)} 之一，或留空。 / "
                                   f"Unknown stage {raw!r}; use one of {', '.join(STAGE_CODES)}, or none.")
            out[field] = raw or None
        elif field == "position":
            text = str(raw).strip()
            if isinstance(raw, bool) or not text.isdigit() or int(text) > POSITION_MAX:
                raise DocTypeError(f"排序“{raw}”无效：请填写 0 到 {POSITION_MAX} 之间的整数。 / "
                                   f"Order must be a whole number from 0 to {POSITION_MAX}.")
            out[field] = int(text)
    return out


def type_json(doc_type: DocumentType) -> dict[str, object]:
    return {"code": doc_type.code, "name_zh": doc_type.name_zh, "name_en": doc_type.name_en,
            "retention": doc_type.retention, "sensitive": doc_type.sensitive,
            "required_from": doc_type.required_from, "position": doc_type.position, "active": doc_type.active}
