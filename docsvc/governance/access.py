"""The one access rule: may this user do this action (on this object)?

Every web view, API route and object download declares its action with `rule(...)`; the route table
test fails for a route that declares none. The web gate applies the role check to every request and,
for routes naming a page or document, the object check below (loans, sensitive types) before the view
runs, so a content route cannot forget it.

Role-level `can(user, action)` answers "could this user ever": a viewer may VIEW_CONTENT in principle
(under a loan). The object-level answer is `content_grant(...)`, which also says which loan allows it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from docsvc.constants import Grant, LoanState, Role, SignRole
from docsvc.errors import Forbidden
from docsvc.i18n import _, lazy_gettext as _l
from docsvc.models import Customer, DestructionList, Document, DocumentType, Loan, LoanItem, Page, User, as_utc, utcnow


class Action(StrEnum):
    PUBLIC = "public"              # login page, health check, static files
    AUTHENTICATED = "authenticated"  # own account: password, tokens, own loans
    UPLOAD = "upload"
    VIEW_BATCH = "batch.view"
    RETRY = "batch.retry"
    VIEW_METADATA = "document.metadata"
    VIEW_CONTENT = "page.content"  # page text, image, thumbnail, words
    DOWNLOAD = "document.download"  # the original file
    PRINT = "document.print"  # the print-ready page of a document's page images
    SEARCH = "search"
    MANAGE_ACCOUNTS = "accounts.manage"
    LOAN_REQUEST = "loan.request"
    LOAN_DECIDE = "loan.decide"
    READ_AUDIT = "audit.read"
    MANAGE_CUSTOMERS = "customers.manage"  # create, edit, import customers; document types
    FILE = "document.file"  # inbox, page operations, linking, cover sheets
    CORRECT_CODE = "document.correct_code"  # change a 档号 (an approved, audited act)
    VIEW_RETENTION = "retention.view"  # schedules, due dates, the dashboard, holds, lists (metadata)
    MANAGE_RETENTION = "retention.manage"  # schedules, events, holds, storage-only, compiling lists
    APPRAISE = "destruction.appraise"  # the appraisal group's per-item decisions (鉴定)
    APPROVE_DESTRUCTION = "destruction.approve"  # the responsible leader; never the list's compiler
    SUPERVISE_DESTRUCTION = "destruction.supervise"  # 监销人: two distinct people, neither the compiler
    EXECUTE_DESTRUCTION = "destruction.execute"  # start the erasure of a supervised list
    READ_REGISTER = "destruction.register"  # the destruction register (PDF, CSV)
    UNFILE = "document.unfile"  # send a filed document back to the inbox to correct it (audited)
    VIEW_INTEGRITY = "integrity.view"  # fixity results: which originals are altered, missing or unexpected
    CHECK_FOUR_PROPERTIES = "integrity.four_properties"  # run the 四性检测 report over customer files
    RUN_MAINTENANCE = "maintenance.run"  # start backups and index rebuilds; watch everyone's long operations


STAFF = frozenset({Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST, Role.RECORDS_MANAGER,
                   Role.VIEWER, Role.APPROVER, Role.SUPERVISOR})
# Roles whose duty is the content itself: they read pages without a loan.
CONTENT_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST, Role.RECORDS_MANAGER})

_GRANTS: dict[Action, frozenset[Role]] = {
    Action.UPLOAD: frozenset({Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST}),
    Action.VIEW_BATCH: frozenset({Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST, Role.RECORDS_MANAGER}),
    Action.RETRY: frozenset({Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST}),
    Action.VIEW_METADATA: STAFF,
    # Viewers pass the role check; the object check then demands a loan (content_grant).
    Action.VIEW_CONTENT: CONTENT_ROLES | {Role.VIEWER},
    Action.DOWNLOAD: CONTENT_ROLES | {Role.VIEWER},
    Action.PRINT: CONTENT_ROLES | {Role.VIEWER},
    Action.SEARCH: STAFF,
    Action.MANAGE_ACCOUNTS: frozenset({Role.ADMIN}),
    Action.RUN_MAINTENANCE: frozenset({Role.ADMIN}),
    Action.LOAN_REQUEST: STAFF,
    Action.LOAN_DECIDE: frozenset({Role.APPROVER}),
    # Separation of duties: the administrator is audited, so only the auditor reads the trail.
    Action.READ_AUDIT: frozenset({Role.AUDITOR}),
    Action.MANAGE_CUSTOMERS: frozenset({Role.ADMIN, Role.ARCHIVIST, Role.RECORDS_MANAGER}),
    Action.FILE: frozenset({Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST}),
    Action.CORRECT_CODE: frozenset({Role.RECORDS_MANAGER}),
    Action.VIEW_RETENTION: frozenset({Role.RECORDS_MANAGER, Role.ARCHIVIST, Role.APPROVER, Role.SUPERVISOR,
                                      Role.AUDITOR}),
    Action.MANAGE_RETENTION: frozenset({Role.RECORDS_MANAGER}),
    Action.APPRAISE: frozenset({Role.RECORDS_MANAGER, Role.ARCHIVIST}),
    Action.APPROVE_DESTRUCTION: frozenset({Role.APPROVER}),
    Action.SUPERVISE_DESTRUCTION: frozenset({Role.SUPERVISOR}),
    Action.EXECUTE_DESTRUCTION: frozenset({Role.RECORDS_MANAGER}),
    Action.READ_REGISTER: frozenset({Role.RECORDS_MANAGER, Role.APPROVER, Role.SUPERVISOR, Role.AUDITOR}),
    # Un-filing reopens a filed document's pages to page operations: an archivist's decision.
    Action.UNFILE: frozenset({Role.ARCHIVIST, Role.RECORDS_MANAGER}),
    # The administrator restores from backup; the records manager answers for the records concerned.
    Action.VIEW_INTEGRITY: frozenset({Role.ADMIN, Role.RECORDS_MANAGER}),
    # A transfer's evidence: the archivists who prepare it, the records manager who answers for it, the
    # auditor who checks it, the administrator who keeps the store. It names records (档号, ids), never content.
    Action.CHECK_FOUR_PROPERTIES: frozenset({Role.ADMIN, Role.ARCHIVIST, Role.RECORDS_MANAGER, Role.AUDITOR}),
}

CONTENT_ACTIONS = frozenset({Action.VIEW_CONTENT, Action.DOWNLOAD, Action.PRINT})
# Actions that change a document's pages or description. On a sensitive document they need the
# `sensitive` grant like reading does: retyping an ID copy away from its type, or an answer naming its
# pages, would otherwise open it to anyone who may file.
HANDLING_ACTIONS = frozenset({Action.FILE, Action.CORRECT_CODE, Action.UNFILE, Action.RETRY})

SENSITIVE_REFUSAL = _l("This is a sensitive document (e.g. an ID copy): only users granted `sensitive` may see "
                       "or change it; hand it to a colleague who holds the grant.")


class SensitiveRefused(Forbidden):
    pass


def can(user: User | None, action: Action, obj: object | None = None, *,
        session: Session | None = None, now: datetime | None = None) -> bool:
    """May `user` do `action` (on `obj`, a Page or Document, when given)?"""
    if action == Action.PUBLIC:
        return True
    if user is None or not user.active:
        return False
    if action == Action.AUTHENTICATED:
        return True
    if not user.role_set & _GRANTS.get(action, frozenset()):
        return False
    if obj is not None and action in CONTENT_ACTIONS:
        assert session is not None, "object checks read loans: pass the session"
        return content_grant(session, user, obj, action, now) is not None
    if obj is not None and action in HANDLING_ACTIONS:
        return may_handle(user, obj)
    return True


def may_handle(user: User | None, obj: object) -> bool:
    """May `user` change (or be told about the pages of) `obj`, a Page or Document? Not a sensitive one
    without the grant."""
    document = obj.document if isinstance(obj, Page) else obj
    return not (isinstance(document, Document) and hides_identity(user, document))


def require_handling(user: User | None, obj: object) -> None:
    """For services handed documents in a request body (merge source, move target, bulk assign), where
    the web gate cannot see them. `user` None is the system itself (auto-filing, CLI)."""
    if user is not None and not may_handle(user, obj):
        raise SensitiveRefused(str(SENSITIVE_REFUSAL))


def may_see_sensitive(user: User | None) -> bool:
    """Sensitive document types (ID copies) are for users granted `sensitive`, whatever their roles."""
    return user is not None and user.active and Grant.SENSITIVE in user.grant_set


def is_sensitive(document: Document) -> bool:
    """The document's type is flagged sensitive in the document-type table (the one source).

    A code missing from the table is not sensitive. Loading `type_row` costs one query per type per
    session (a many-to-one by primary key); loops over many documents eager-load it.
    """
    return document.type_row is not None and document.type_row.sensitive


def hides_identity(user: User | None, document: Document) -> bool:
    """Whether `document` appears to `user` only under a placeholder (no title, contract number …)."""
    return is_sensitive(document) and not may_see_sensitive(user)


def sensitive_types(session: Session) -> frozenset[str]:
    """The codes of the types flagged sensitive: for checks over many rows (search), read once."""
    return frozenset(session.scalars(select(DocumentType.code).where(DocumentType.sensitive.is_(True))))


def is_storage_only(document: Document) -> bool:
    """Storage-only (限制处理), by the document itself or through its customer's whole file."""
    return document.storage_only_at is not None or (
        document.customer is not None and document.customer.storage_only_at is not None)


def reads_storage_only(user: User | None) -> bool:
    """Only records managers read the content of storage-only documents (PIPL: kept, no longer used)."""
    return user is not None and user.active and Role.RECORDS_MANAGER in user.role_set
def may_sign(user: User, dlist: DestructionList, role: SignRole) -> str | None:
    """Why `user` may not sign `dlist` as `role` (None: they may): the two-person rules of 销毁.

    The approver is a different person from the compiler; each supervisor (监销人) differs from the
    compiler, the approver and the other supervisor. Web and API both ask here.
    """
    action = Action.APPROVE_DESTRUCTION if role == SignRole.APPROVER else Action.SUPERVISE_DESTRUCTION
    approving = role == SignRole.APPROVER
    names = {"user": user.username, "id": dlist.id}
    if not can(user, action):
        return (_("%(user)s does not hold the approver role for destruction lists; someone who does must sign.",
                  **names) if approving else
                _("%(user)s does not hold the supervisor role for destruction lists; someone who does must sign.",
                  **names))
    if user.id == dlist.compiler_id:
        return (_("%(user)s compiled destruction list #%(id)s and cannot approve it: the compiler never approves "
                  "their own list; another responsible person must.", **names)
                if approving else
                _("%(user)s compiled destruction list #%(id)s and cannot supervise it: the compiler never supervises "
                  "their own list; another supervisor must.", **names))
    if role == SignRole.SUPERVISOR:
        if user.id == dlist.approver_id:
            return _("%(user)s approved destruction list #%(id)s and cannot also supervise it; two other "
                     "supervisors must confirm it.", **names)
        if any(s.user_id == user.id and s.role == SignRole.SUPERVISOR for s in dlist.signoffs):
            return _("%(user)s has already supervised destruction list #%(id)s; the second supervisor must be "
                     "someone else.", **names)
    return None


@dataclass(frozen=True)
class ContentGrant:
    """Why access is allowed: by duty (loan_id None) or under this loan."""
    loan_id: int | None
    allow_download: bool
    allow_print: bool


BY_DUTY = ContentGrant(loan_id=None, allow_download=True, allow_print=True)


def content_grant(session: Session, user: User, obj: object, action: Action = Action.VIEW_CONTENT,
                  now: datetime | None = None) -> ContentGrant | None:
    """The grant under which `user` may see (or download, or print) the content of `obj`, or None."""
    document = obj.document if isinstance(obj, Page) else obj
    if not isinstance(document, Document) or not user.active:
        return None
    if is_sensitive(document) and not may_see_sensitive(user):
        return None
    if is_storage_only(document) and not reads_storage_only(user):
        return None
    if user.role_set & CONTENT_ROLES:
        return BY_DUTY
    if Role.VIEWER not in user.role_set:
        return None
    for loan in active_loans(session, user, now, document=document):
        if action == Action.DOWNLOAD and not loan.allow_download:
            continue
        if action == Action.PRINT and not loan.allow_print:
            continue
        return ContentGrant(loan_id=loan.id, allow_download=loan.allow_download, allow_print=loan.allow_print)
    return None


def loan_state(loan: Loan, now: datetime | None = None) -> LoanState:
    """The loan's state at `now`: an approved loan past its due time has expired, with no job needed."""
    if loan.status == LoanState.APPROVED and loan.due_at is not None and as_utc(now or utcnow()) >= as_utc(loan.due_at):
        return LoanState.EXPIRED
    return LoanState(loan.status)


def active_loans(session: Session, user: User, now: datetime | None = None,
                 document: Document | None = None) -> list[Loan]:
    """Approved, unreturned loans of `user` in force at `now` (covering `document` when given)."""
    moment = as_utc(now or utcnow())
    query = select(Loan).where(Loan.requester_id == user.id, Loan.status == LoanState.APPROVED,
                               Loan.starts_at <= moment, Loan.due_at > moment)
    if document is not None:
        covers = Loan.id.in_(select(LoanItem.loan_id).where(LoanItem.document_id == document.id))
        if document.customer_account:
            covers = or_(covers, Loan.customer_account == document.customer_account)
        query = query.where(covers)
    return list(session.scalars(query.order_by(Loan.id)))


@dataclass(frozen=True)
class ContentScope:
    """Whose content a user may see: everything, or these documents and customer files."""
    all: bool
    document_ids: frozenset[int] = frozenset()
    customer_accounts: frozenset[str] = frozenset()
    sensitive: bool = False  # may sensitive document types appear at all
    sensitive_types: frozenset[str] = frozenset()  # codes flagged sensitive when the scope was read
    # Storage-only documents and customer files whose content is hidden from this user.
    hidden_document_ids: frozenset[int] = frozenset()
    hidden_accounts: frozenset[str] = frozenset()

    def covers(self, document_id: int, customer_account: str | None, doc_type: str | None) -> bool:
        if (doc_type or "") in self.sensitive_types and not self.sensitive:
            return False
        if document_id in self.hidden_document_ids or (customer_account or "") in self.hidden_accounts:
            return False
        return self.all or document_id in self.document_ids or (
            customer_account is not None and customer_account in self.customer_accounts)


def content_filter(session: Session, user: User | None, now: datetime | None = None) -> ContentScope:
    """For search: which documents' text and snippets this user may see at `now`."""
    codes = sensitive_types(session)
    if user is None or not user.active:
        return ContentScope(all=False, sensitive_types=codes)
    sensitive = may_see_sensitive(user)
    hidden: dict[str, frozenset] = {}  # type: ignore[type-arg]
    if not reads_storage_only(user):
        hidden = {"hidden_document_ids": frozenset(session.scalars(
                      select(Document.id).where(Document.storage_only_at.is_not(None)))),
                  "hidden_accounts": frozenset(session.scalars(
                      select(Customer.account).where(Customer.storage_only_at.is_not(None))))}
    if user.role_set & CONTENT_ROLES:
        return ContentScope(all=True, sensitive=sensitive, sensitive_types=codes, **hidden)
    if Role.VIEWER not in user.role_set:
        return ContentScope(all=False, sensitive=sensitive, sensitive_types=codes, **hidden)
    loans = active_loans(session, user, now)
    ids = session.scalars(select(LoanItem.document_id).where(LoanItem.loan_id.in_([l.id for l in loans]))) if loans else []
    return ContentScope(all=False, document_ids=frozenset(ids), sensitive=sensitive,
                        customer_accounts=frozenset(l.customer_account for l in loans if l.customer_account),
                        sensitive_types=codes, **hidden)


F = TypeVar("F", bound=Callable[..., object])
RULE_ATTR = "_docsvc_access_rule"


def rule(action: Action) -> Callable[[F], F]:
    """Declare the action a view performs; enforcement happens in the blueprint's before_request."""
    def mark(view: F) -> F:
        setattr(view, RULE_ATTR, action)
        return view
    return mark


def declared_rule(view: Callable[..., object]) -> Action | None:
    return getattr(view, RULE_ATTR, None)


# Role questions other modules ask besides "may this user do that action now": kept here so every
# role rule is read in this one module.
LOAN_OVERSEERS = frozenset({Role.APPROVER, Role.AUDITOR, Role.ADMIN})


def role_allows(user: User, action: Action) -> bool:
    """The role half of `can`: would the user's roles allow `action` (e.g. acting on someone else's token
    or loan), whatever the object."""
    return bool(user.role_set & _GRANTS.get(action, frozenset()))


def reads_content_by_duty(user: User) -> bool:
    """Whose duty is the content itself: they read pages without a loan."""
    return bool(user.role_set & CONTENT_ROLES)


def sees_every_loan(user: User) -> bool:
    """Approvers, auditors and administrators see every loan; others see their own."""
    return bool(user.role_set & LOAN_OVERSEERS)
