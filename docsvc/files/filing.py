"""Filing: linking a document to its customer and type, and its 档号 (reference code).

The 档号 is built from a configurable pattern (default DA/T 22-2015 item level:
全宗号-门类代码·年度-保管期限-机构代码-件号). 件号 counts per distinct prefix, i.e. per year and
class; the counter row is locked by an UPDATE, so concurrent filings wait for each other, and the
UNIQUE constraint on documents.reference_code is the last word. A 档号 never changes by itself:
re-linking keeps it, and a correction is its own audited action with a reason.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from docsvc.governance.access import is_sensitive, require_handling
from docsvc.config import FilingSettings
from docsvc.errors import DomainError, NotAllowedNow
from docsvc.files.customers import get_customer, parse_date
from docsvc.files.doctypes import get_type
from docsvc.files.documents import mark_for_reindex
from docsvc.governance.disposition import refuse_if_destroyed
from docsvc.models import Customer, Document, DocumentType, FilingSequence, User, utcnow
from docsvc.governance import audit
from docsvc.governance.retention import recompute
from docsvc.i18n import _, lazy_gettext as _l

_SEQ_FIELD = re.compile(r"\{seq(?::[^}]*)?\}")


class FilingError(DomainError):
    pass


@dataclass(frozen=True)
class CodeParts:
    fonds: str
    category: str
    year: int
    retention: str
    org: str


def code_prefix(pattern: str, parts: CodeParts) -> str:
    """The pattern with everything but the 件号 filled in: the scope its sequence counts in."""
    return _SEQ_FIELD.sub("#", pattern).format(**parts.__dict__)


def render_code(pattern: str, parts: CodeParts, seq: int) -> str:
    return pattern.format(seq=seq, **parts.__dict__)


# What each part of a 档号 may hold. Letters and digits only: a 档号 becomes part of file names (the
# originals ZIP, exports), so "/", "\\" or ".." in one would be a path.
_PART_PATTERNS = {"fonds": r"[0-9A-Za-z]{1,16}", "category": r"[0-9A-Za-z]{1,8}", "year": r"\d{4}",
                  "retention": r"[A-Z]{1,2}\d{0,3}", "org": r"[0-9A-Za-z]{1,16}", "seq": r"\d{1,9}"}


def code_regex(pattern: str) -> re.Pattern[str]:
    """The configured 档号 pattern as a regular expression: its literal text as is, each field as above.

    The first occurrence of each field is a named group (`seq` is the 件号), so a code can be taken apart."""
    out, named = [], set()
    for literal, name, _spec, _conv in string.Formatter().parse(pattern):
        out.append(re.escape(literal))
        if name is not None:
            group = f"?P<{name}>" if name.isidentifier() and name not in named else "?:"
            named.add(name)
            out.append(f"({group}{_PART_PATTERNS.get(name, r'[0-9A-Za-z]{1,16}')})")
    return re.compile("".join(out))


def check_code(settings: FilingSettings, code: str) -> str:
    """`code` if it fits the configured pattern; every write of a 档号 passes here."""
    if not code_regex(settings.archive_code_pattern).fullmatch(code):
        example = render_code(settings.archive_code_pattern,
                              CodeParts(settings.fonds, settings.category, 2019, "D30", settings.org), 123)
        raise FilingError(_("Reference code “%(code)s” does not fit the configured pattern (e.g. %(example)s); "
                            "enter it in that form.", code=code, example=example))
    return code


def next_number(session: Session, scope: str) -> int:
    """Take the next 件号 in `scope` inside the caller's transaction (row-locked until it commits)."""
    for _attempt in range(3):
        taken = session.execute(
            update(FilingSequence).where(FilingSequence.scope == scope)
            .values(last=FilingSequence.last + 1).returning(FilingSequence.last)
        ).scalar()
        if taken is not None:
            return int(taken)
        try:
            with session.begin_nested():
                session.add(FilingSequence(scope=scope, last=1))
            return 1
        except IntegrityError:
            continue  # another filing created the row first: take a number from it
    raise FilingError(_("Could not take the next item number in %(scope)s; retry.", scope=scope))


def assign_code(session: Session, document: Document, doc_type: DocumentType, settings: FilingSettings,
                today: date | None = None) -> str:
    year = (document.doc_date or today or utcnow().date()).year
    parts = CodeParts(settings.fonds, settings.category, year, doc_type.retention, settings.org)
    scope = code_prefix(settings.archive_code_pattern, parts)
    while True:
        code = check_code(settings, render_code(settings.archive_code_pattern, parts, next_number(session, scope)))
        # A number may already be taken by a corrected code; skip it rather than collide.
        if session.scalar(select(Document.id).where(Document.reference_code == code)) is None:
            document.reference_code = code
            return code


def file_document(session: Session, actor: User | None, document: Document, customer: Customer,
                  doc_type: DocumentType, settings: FilingSettings, *, how: str = "manual",
                  confidence: float | None = None, basis: dict[str, object] | None = None,
                  ip: str | None = None) -> Document:
    """Link `document` to `customer` and `doc_type` and file it (档号 given on first filing).

    `basis` is what an automatic decision rested on (threshold, evidence), kept in the audit event.
    Adds to the caller's transaction; the caller commits and enqueues the index job.
    """
    before = (document.customer_account, document.doc_type, document.reference_code)
    first_filing = document.filed_at is None
    document.customer, document.customer_account, document.doc_type = customer, customer.account, doc_type.code
    session.expire(document, ["type_row"])  # a view-only link: reload it for the new code
    if document.location is None and customer.location:
        document.location = customer.location
    if first_filing:
        document.filed_at = utcnow()
        document.inbox_note = None
    if document.reference_code is None:
        assign_code(session, document, doc_type, settings)
    session.flush()
    mark_for_reindex(session, [document.id])
    recompute(session, [document.id])  # its type's rule and its customer's closing date now apply
    detail: dict[str, object] = {
        "customer_account": customer.account, "doc_type": doc_type.code,
        "reference_code": document.reference_code, "how": how, "confidence": confidence,
        "before": {"customer_account": before[0], "doc_type": before[1], "reference_code": before[2]}}
    if basis is not None:
        detail["basis"] = basis
    audit.record(session, actor, "document.file" if first_filing else "document.relink",
                 object_type="document", object_id=document.id, ip=ip, detail=detail)
    return document


def unfile_document(session: Session, actor: User | None, document: Document, *, reason: str,
                    ip: str | None = None) -> None:
    """Send a document back to the inbox: the customer link goes, the 档号 stays with the document.

    The one way to correct a filed document's pages (page operations refuse filed documents); the caller
    checks the archivist's right (Action.UNFILE) and commits."""
    if not reason.strip():
        raise FilingError(_("Give a reason for unfiling."))
    refuse_if_destroyed(document)
    if document.filed_at is None:
        raise NotAllowedNow(_("Document #%(id)s is not filed.", id=document.id))
    before = (document.customer_account, document.doc_type)
    document.customer, document.customer_account, document.filed_at = None, None, None
    mark_for_reindex(session, [document.id])
    recompute(session, [document.id])
    audit.record(session, actor, "document.unlink", object_type="document", object_id=document.id, ip=ip,
                 detail={"before": {"customer_account": before[0], "doc_type": before[1]}, "reason": reason.strip(),
                         "reference_code": document.reference_code})


def correct_code(session: Session, actor: User | None, document: Document, new_code: str, reason: str,
                 settings: FilingSettings, *, ip: str | None = None) -> Document:
    """Change a 档号: a separate, audited act with its reason. Commits."""
    refuse_if_destroyed(document)  # the register names it by this 档号
    new_code, reason = new_code.strip(), reason.strip()
    if not reason:
        raise FilingError(_("A reference-code correction needs a reason."))
    if not new_code:
        raise FilingError(_("The new reference code is empty."))
    check_code(settings, new_code)
    if document.reference_code is None:
        raise NotAllowedNow(_("Document #%(id)s is not filed yet: it has no reference code to correct.",
                              id=document.id))
    other = session.scalar(select(Document.id).where(Document.reference_code == new_code, Document.id != document.id))
    if other is not None:
        raise FilingError(_("Reference code %(code)s is already used by document #%(other)s.",
                            code=new_code, other=other))
    old = document.reference_code
    document.reference_code = new_code
    mark_for_reindex(session, [document.id])
    audit.record(session, actor, "document.reference_code.correct", object_type="document",
                 object_id=document.id, ip=ip, detail={"old": old, "new": new_code, "reason": reason})
    session.commit()
    return document


MASKED_VALUE = _l("[sensitive, withheld]")
SENSITIVE_DETAIL = frozenset({"title", "contract_number", "business_ref", "notes"})
EDITABLE = ("title", "document_date", "contract_number", "contract_end", "business_ref", "location", "notes")
_COLUMNS = {"title": "title", "document_date": "doc_date", "contract_number": "contract_no",
            "contract_end": "contract_end", "business_ref": "business_ref", "location": "location", "notes": "notes"}
_DATES = {"document_date": _l("Document date"), "contract_end": _l("Contract end date")}


def update_document(session: Session, actor: User | None, document: Document, values: dict[str, object],
                    settings: FilingSettings, *, ip: str | None = None) -> Document:
    """Set a document's description and, given customer_account and/or doc_type, link and file it. Commits."""
    require_handling(actor, document)  # a sensitive document's description and type need the grant
    refuse_if_destroyed(document)
    changes: dict[str, object] = {}
    for key in EDITABLE:
        if key not in values:
            continue
        raw = values[key]
        if key in _DATES:
            value: object = parse_date(raw, str(_DATES[key]))
        else:
            value = (str(raw).strip() if raw is not None else "") or (None if key != "title" else "")
            if key == "title" and len(str(value)) > 255:
                raise FilingError(_("The title is too long (255 characters at most)."))
        if getattr(document, _COLUMNS[key]) != value:
            changes[key] = value
            setattr(document, _COLUMNS[key], value)
    account = values.get("customer_account")
    code = values.get("doc_type")
    if account is not None or code is not None:
        customer = get_customer(session, str(account)) if account else document.customer
        doc_type = get_type(session, str(code)) if code else document.type_row
        if customer is None or doc_type is None:
            raise FilingError(_("Filing needs both a customer account and a type."))
        if customer.id != document.customer_id or doc_type.code != document.doc_type or document.filed_at is None:
            file_document(session, actor, document, customer, doc_type, settings, ip=ip)
    if changes:
        mark_for_reindex(session, [document.id])
        if changes.keys() & _DATES.keys():  # retention triggers
            recompute(session, [document.id])
        # The trail is read by auditors without the `sensitive` grant: an ID copy's description is not kept
        # in clear there, only which fields changed.
        hidden = is_sensitive(document)
        audit.record(session, actor, "document.update", object_type="document", object_id=document.id, ip=ip,
                     detail={k: str(MASKED_VALUE) if hidden and k in SENSITIVE_DETAIL else
                             (v.isoformat() if isinstance(v, date) else v) for k, v in changes.items()})
    session.commit()
    return document


# In the inbox: unfiled documents with pages.
_IN_INBOX = (Document.filed_at.is_(None), Document.page_count > 0)


def inbox(session: Session, limit: int = 200) -> list[Document]:
    """Unfiled documents with pages, oldest first: what the operator works through."""
    return list(session.scalars(select(Document).where(*_IN_INBOX).order_by(Document.id).limit(limit)))


def inbox_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Document).where(*_IN_INBOX)) or 0)
