"""SQLAlchemy 2.0 typed models. Schema changes go through Alembic (docsvc/migrations)."""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    select,
    String,
    Text,
    text,
    UniqueConstraint,
)
from flask_login import UserMixin
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from docsvc.constants import FileState, IndexState, JobState


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """A stored time as aware UTC: SQLite hands back naive datetimes, and everything stored is UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def utc_text(moment: datetime | None) -> str | None:
    """A stored time as the API gives it: ISO 8601 in UTC with its offset, the same on SQLite and PostgreSQL."""
    return as_utc(moment).isoformat() if moment is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    # Several roles per user, kept as a space-separated set: few roles, read on every request.
    roles: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    # Extra rights beyond the roles (see constants.Grant), space-separated like roles.
    grants: Mapped[str] = mapped_column(String(255), default="", server_default="")
    # Bumped on logout: every session opened before names an older generation and is refused (a copied
    # cookie dies with the logout, not 31 days later).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The interface language the person chose with the switch ("zh"/"en"); "" lets the browser decide.
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user")

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles.split())

    @property
    def grant_set(self) -> frozenset[str]:
        return frozenset(self.grants.split())

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """What the session cookie names: the user, their current password and session generation, so
        that changing the password or logging out ends every session opened before (the cookie is signed,
        not secret; the hash it digests carries a random salt, so this reveals nothing to test guesses
        against)."""
        digest = hashlib.sha256(f"{self.password_hash}:{self.session_generation or 0}".encode()).hexdigest()
        return f"{self.id}:{digest[:16]}"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(20))  # web, api, cli, watch
    customer_account: Mapped[str | None] = mapped_column(String(40))
    doc_type: Mapped[str | None] = mapped_column(String(20))

    files: Mapped[list["BatchFile"]] = relationship(
        back_populates="batch", order_by="BatchFile.position"
    )


class BatchFile(Base):
    """One uploaded file: the unit that fails alone when it is bad."""

    __tablename__ = "batch_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    original_key: Mapped[str | None] = mapped_column(String(200))
    media_type: Mapped[str | None] = mapped_column(String(60))
    page_count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=FileState.QUEUED)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None]
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", use_alter=True, name="fk_batch_files_duplicate_of")
    )
    # Separator sheets found by the split (JSON list): dropped from documents, kept on the record.
    separators: Mapped[str | None] = mapped_column(Text)
    # What the archivist should know of a file that was read: a PDF's scripts and embedded files, kept
    # in the original, never run or opened (migration 0009).
    warning: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    batch: Mapped[Batch] = relationship(back_populates="files")
    documents: Mapped[list["Document"]] = relationship(
        back_populates="batch_file", foreign_keys="Document.batch_file_id", order_by="Document.id"
    )


class Document(Base):
    __tablename__ = "documents"
    # Storage-only documents, read by every search of a user who is not a records manager (migration 0006).
    __table_args__ = (Index("ix_documents_storage_only", "id", postgresql_where=text("storage_only_at IS NOT NULL"),
                            sqlite_where=text("storage_only_at IS NOT NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_file_id: Mapped[int | None] = mapped_column(ForeignKey("batch_files.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    original_key: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(255), default="")
    customer_account: Mapped[str | None] = mapped_column(String(40), index=True)
    doc_type: Mapped[str | None] = mapped_column(String(20))
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Customer-file description (customer_account above mirrors customer.account for search and loans).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    doc_date: Mapped[date | None]  # the date the document was formed
    contract_no: Mapped[str | None] = mapped_column(String(60), index=True)
    business_ref: Mapped[str | None] = mapped_column(String(60))  # 工单号
    reference_code: Mapped[str | None] = mapped_column(String(80), unique=True)  # 档号
    location: Mapped[str | None] = mapped_column(String(120))
    notes: Mapped[str | None] = mapped_column(Text)
    filed_at: Mapped[datetime | None] = mapped_column(index=True)  # None: still in the unfiled inbox
    inbox_note: Mapped[str | None] = mapped_column(Text)  # why the split could not file it
    # Retention (governance.retention computes these; stored so due lists are index look-ups).
    contract_end: Mapped[date | None]  # trigger `contract_end`
    retention: Mapped[str | None] = mapped_column(String(10))  # class in force: Y / D30 / D10 / D<n>
    retention_status: Mapped[str] = mapped_column(  # constants.RetentionStatus
        String(16), default="unknown", server_default="unknown", index=True)
    due_on: Mapped[date | None] = mapped_column(index=True)  # first day destruction may be considered
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("retention_schedules.id", use_alter=True,
                                                               name="fk_documents_schedule"))
    # An appraisal's outcome overrides the schedule: extended to a date, or kept permanently.
    extended_until: Mapped[date | None]
    keep_permanently: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Storage-only (限制处理, PIPL): kept, retention runs on, content hidden but from records managers.
    storage_only_at: Mapped[datetime | None]
    storage_only_reason: Mapped[str | None] = mapped_column(String(500))
    # Destroyed: the row stays as the stub (档号, type, year, pages, class, list, date, method).
    destroyed_at: Mapped[datetime | None] = mapped_column(index=True)
    destruction_list_id: Mapped[int | None] = mapped_column(
        ForeignKey("destruction_lists.id", use_alter=True, name="fk_documents_destruction_list"))

    customer: Mapped["Customer | None"] = relationship()
    # doc_type is a plain code (documents may predate the table); the row, when the code is known.
    type_row: Mapped["DocumentType | None"] = relationship(
        primaryjoin="foreign(Document.doc_type) == DocumentType.code", viewonly=True)
    batch_file: Mapped[BatchFile | None] = relationship(
        back_populates="documents", foreign_keys=[batch_file_id]
    )
    pages: Mapped[list["Page"]] = relationship(back_populates="document", order_by="Page.number")


class Page(Base):
    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("document_id", "number", name="uq_pages_document_number"),
        Index("ix_pages_status", "status"),
        Index("ix_pages_index_state", "index_state"),
        Index("ix_pages_layout_version", "layout_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1-based position in its document
    source_index: Mapped[int] = mapped_column(Integer)  # 0-based page/frame in the original file
    status: Mapped[str] = mapped_column(String(12), default=JobState.QUEUED)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None]
    text: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(12))  # text_layer / ocr
    confidence: Mapped[float | None] = mapped_column(Float)
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    skew: Mapped[float | None] = mapped_column(Float)
    engine: Mapped[str | None] = mapped_column(String(20))
    engine_version: Mapped[str | None] = mapped_column(String(80))
    # Who produced the text (docsvc.ocr.readers) and the OCR layout version it was laid out with; NULL
    # for pages read before readers were recorded (migration 0009): an older, unknown reader.
    reader: Mapped[str | None] = mapped_column(String(200))
    layout_version: Mapped[int | None] = mapped_column(Integer)
    image_key: Mapped[str | None] = mapped_column(String(200))
    thumb_key: Mapped[str | None] = mapped_column(String(200))
    words_key: Mapped[str | None] = mapped_column(String(200))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # Resolution the stored image was drawn or scanned at; below the OCR dpi for a PDF page too large
    # for the pixel limit (an A0 drawing), drawn at the highest dpi within it (migration 0007).
    dpi: Mapped[int | None] = mapped_column(Integer)
    index_state: Mapped[str] = mapped_column(String(10), default=IndexState.NONE)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Turn applied when showing the page (operator's choice); the stored objects are never changed.
    view_rotation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set when a page was deleted into the recoverable bin (its number is then -id, out of the way).
    binned_at: Mapped[datetime | None]
    # A page moved in from another scan keeps its own original; None means the document's.
    original_key: Mapped[str | None] = mapped_column(String(200))
    media_type: Mapped[str | None] = mapped_column(String(60))

    document: Mapped[Document] = relationship(back_populates="pages")

    @property
    def source_key(self) -> str:
        return self.original_key or self.document.original_key

    @property
    def source_media_type(self) -> str:
        return self.media_type or self.document.media_type


class AuditEvent(Base):
    """One entry of the append-only, hash-chained audit trail. Written only by governance.audit.record."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred_at", "occurred_at"),
        Index("ix_audit_events_actor_name", "actor_name"),
        Index("ix_audit_events_action", "action"),
        Index("ix_audit_events_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)  # gapless position in the chain
    occurred_at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the trail outlives accounts
    actor_name: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    purpose: Mapped[str | None] = mapped_column(String(500))
    loan_id: Mapped[int | None] = mapped_column(Integer, index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)  # canonical JSON, stored as hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The single row every writer locks before appending: keeps the chain linear under concurrency."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class Loan(Base):
    """A loan (借阅) of a customer file or of listed documents, for reading during its term."""

    __tablename__ = "loans"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    customer_account: Mapped[str | None] = mapped_column(String(40), index=True)
    purpose: Mapped[str] = mapped_column(String(500))
    days: Mapped[int] = mapped_column(Integer)
    want_download: Mapped[bool] = mapped_column(Boolean, default=False)
    want_print: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # LoanState, never "expired"
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    renewal_of_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(String(500))
    allow_download: Mapped[bool] = mapped_column(Boolean, default=False)  # as approved
    allow_print: Mapped[bool] = mapped_column(Boolean, default=False)
    starts_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]

    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    items: Mapped[list["LoanItem"]] = relationship(back_populates="loan", order_by="LoanItem.document_id")


class LoanItem(Base):
    __tablename__ = "loan_items"
    __table_args__ = (UniqueConstraint("loan_id", "document_id", name="uq_loan_items_loan_document"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)

    loan: Mapped[Loan] = relationship(back_populates="items")


class Customer(Base):
    """An electricity account (户) and its paper file."""

    __tablename__ = "customers"
    # Storage-only files, read by every search of a user who is not a records manager (migration 0006).
    __table_args__ = (Index("ix_customers_storage_only", "id", postgresql_where=text("storage_only_at IS NOT NULL"),
                            sqlite_where=text("storage_only_at IS NOT NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(40), unique=True)  # 户号
    name: Mapped[str] = mapped_column(String(200), index=True)  # 户名
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(40))
    category: Mapped[str | None] = mapped_column(String(40))  # 用电类别
    voltage: Mapped[str | None] = mapped_column(String(20))  # 电压等级
    grade: Mapped[str | None] = mapped_column(String(10))  # 一级 / 二级 / 三级
    region: Mapped[str | None] = mapped_column(String(80), index=True)
    industry: Mapped[str | None] = mapped_column(String(80))
    stage: Mapped[str | None] = mapped_column(String(20))  # business stage, for completeness
    status: Mapped[str] = mapped_column(String(10), default="active")  # active / closed
    closed_on: Mapped[date | None]  # 销户 date: a retention trigger
    storage_only_at: Mapped[datetime | None]  # the whole file is storage-only (限制处理)
    storage_only_reason: Mapped[str | None] = mapped_column(String(500))
    tags: Mapped[str] = mapped_column(String(300), default="")  # space-separated
    location: Mapped[str | None] = mapped_column(String(120))  # paper file: box / shelf
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DocumentType(Base):
    """A configurable document type (seeded from DOMAIN.md)."""

    __tablename__ = "document_types"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    retention: Mapped[str] = mapped_column(String(10))  # Y / D30 / D10
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    required_from: Mapped[str | None] = mapped_column(String(20))  # the stage from which it must be present
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def aliases(self) -> list[str]:
        """Names an archivist may type after 类型: for "身份证明 / 营业执照 / 土地证明" each part is a name of its own."""
        return [part.strip() for name in (self.name_zh, self.name_en) for part in (name or "").split("/") if part.strip()]

    @classmethod
    def alias_map(cls, session: Session) -> dict[str, str]:
        """Every alias → its type code, inactive types too (old documents keep them): for the query language."""
        return {alias: row.code for row in session.scalars(select(cls)) for alias in row.aliases}


class FilingSequence(Base):
    """The last 件号 given out per year and class; the row lock makes numbering safe under concurrency."""

    __tablename__ = "filing_sequences"

    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)



class RetentionSchedule(Base):
    """One version of a document type's retention rule (a row of the 保管期限表).

    Versions are never edited: a change adds a version and ends the previous one (`superseded_at`),
    so every due date can say which rule, with which authority, produced it.
    """

    __tablename__ = "retention_schedules"
    __table_args__ = (UniqueConstraint("doc_type", "version", name="uq_retention_schedules_type_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(20), index=True)
    version: Mapped[int] = mapped_column(Integer)
    retention: Mapped[str] = mapped_column(String(10))  # Y / D30 / D10 / D<n>
    trigger: Mapped[str] = mapped_column(String(20))  # constants.RetentionTrigger
    event_name: Mapped[str | None] = mapped_column(String(60))  # trigger `event`: e.g. 窃电案件结案
    authority: Mapped[str] = mapped_column(String(300))  # table and clause
    # The parent rule's class (national or group minimum); this rule may lengthen it, never shorten it.
    parent_retention: Mapped[str | None] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(500))  # why a period was shortened
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    superseded_at: Mapped[datetime | None]


class RetentionEvent(Base):
    """A named event that starts a retention period (trigger `event`), on a document or a customer."""

    __tablename__ = "retention_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), index=True)  # e.g. 窃电案件结案
    occurred_on: Mapped[date]
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Hold(Base):
    """A hold (冻结): while it is not released, nothing it covers can be listed for or destroyed."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(1000))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A saved search: every document it finds when a list is built or executed is held.
    query: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(index=True)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    release_reason: Mapped[str | None] = mapped_column(String(1000))

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    targets: Mapped[list["HoldTarget"]] = relationship(back_populates="hold", order_by="HoldTarget.id")


class HoldTarget(Base):
    """What a hold covers: a customer's whole file (documents filed later too) or one document."""

    __tablename__ = "hold_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("holds.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)

    hold: Mapped[Hold] = relationship(back_populates="targets")


class DestructionList(Base):
    """A destruction list (销毁清册) and its way from draft to executed (constants.ListState)."""

    __tablename__ = "destruction_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    compiler_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    appraisal_report: Mapped[str | None] = mapped_column(Text)  # 鉴定报告: the group's conclusion
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(String(1000))
    wait_until: Mapped[datetime | None]  # the waiting period after approval
    method: Mapped[str | None] = mapped_column(String(200))  # e.g. 电子文件彻底删除
    execution_started_at: Mapped[datetime | None]
    executed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(1000))
    # The register, frozen once executed: its objects and their SHA-256 (also in the audit trail).
    register_pdf_key: Mapped[str | None] = mapped_column(String(200))
    register_pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    register_csv_key: Mapped[str | None] = mapped_column(String(200))
    register_csv_sha256: Mapped[str | None] = mapped_column(String(64))
    # The language the register is written in ("zh"/"en"): the executor's, so it can be generated again alike.
    register_language: Mapped[str | None] = mapped_column(String(8))

    compiler: Mapped[User] = relationship(foreign_keys=[compiler_id])
    approver: Mapped[User | None] = relationship(foreign_keys=[approver_id])
    items: Mapped[list["DestructionItem"]] = relationship(back_populates="list", order_by="DestructionItem.position")
    signoffs: Mapped[list["DestructionSignoff"]] = relationship(back_populates="list", order_by="DestructionSignoff.id")


class DestructionItem(Base):
    """One document on a list: the appraisal decision and, after execution, the per-item result.

    The register columns are copied in when the list is submitted, so the register does not depend
    on the document row (whose description is reduced to a stub by the destruction).
    """

    __tablename__ = "destruction_items"
    __table_args__ = (UniqueConstraint("list_id", "document_id", name="uq_destruction_items_list_document"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("destruction_lists.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 序号
    decision: Mapped[str | None] = mapped_column(String(10))  # constants.Decision; None: not yet appraised
    until: Mapped[date | None]  # decision `extend`: the new due date
    reason: Mapped[str | None] = mapped_column(String(1000))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    # Register snapshot.
    reference_code: Mapped[str | None] = mapped_column(String(80))
    title: Mapped[str | None] = mapped_column(String(255))
    year: Mapped[int | None] = mapped_column(Integer)
    retention: Mapped[str | None] = mapped_column(String(10))
    kept_years: Mapped[int | None] = mapped_column(Integer)  # 已保管期限
    page_count: Mapped[int | None] = mapped_column(Integer)
    # Execution.
    result: Mapped[str | None] = mapped_column(String(20))  # constants.ItemResult
    result_detail: Mapped[str | None] = mapped_column(Text)  # JSON: what was removed and verified
    executed_at: Mapped[datetime | None]

    list: Mapped[DestructionList] = relationship(back_populates="items")
    document: Mapped[Document] = relationship()


class DestructionSignoff(Base):
    """A signature on a list: the approver's decision or a supervisor's (监销人) confirmation."""

    __tablename__ = "destruction_signoffs"
    __table_args__ = (UniqueConstraint("list_id", "user_id", "role", name="uq_destruction_signoffs_list_user_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("destruction_lists.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(16))  # approver / supervisor
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(String(500))

    list: Mapped[DestructionList] = relationship(back_populates="signoffs")
    user: Mapped[User] = relationship()


class DestroyedOriginal(Base):
    """The SHA-256 of every original erased by a destruction: a re-upload of it is noticed."""

    __tablename__ = "destroyed_originals"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("destruction_lists.id"))
    destroyed_at: Mapped[datetime] = mapped_column(default=utcnow)


class FixityCheck(Base):
    """The last fixity look at one object under originals/ (governance.fixity): when, and what it found.

    `since` is when the current outcome was first seen, so a problem is audited once, when it appears.
    """

    __tablename__ = "fixity_checks"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    checked_at: Mapped[datetime | None] = mapped_column(index=True)  # None: re-read it first
    outcome: Mapped[str] = mapped_column(String(12), index=True)  # constants.FixityOutcome
    found_sha256: Mapped[str | None] = mapped_column(String(64))  # what the bytes hash to (altered)
    size: Mapped[int | None] = mapped_column(BigInteger)
    since: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEntry(Base):
    """A job still to be handed to the queue (docsvc.jobs.outbox): written in the transaction of the change
    that needs it, removed once the queue has taken it. What Redis could not take waits here for the sweep."""

    __tablename__ = "job_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    stage: Mapped[str] = mapped_column(String(16))  # docsvc.jobs.Stage
    row_id: Mapped[int | None]  # the batch file, page or list the job serves; None for the index job
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Operation(Base):
    """One run of long work a person watches (docsvc.operations): what it is, where it stands, who started it,
    and what came of it. The progress lives here, not in the browser or a queue, so a page reloaded (or
    opened on another computer) shows the run where it is. `status`, `attempts` and `claimed_at` follow the
    jobs' claim rules (docsvc.pipeline.jobstate)."""

    __tablename__ = "operations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # constants.OperationKind
    status: Mapped[str] = mapped_column(String(12), default=JobState.QUEUED, index=True)
    stage: Mapped[str] = mapped_column(String(32), default="", server_default="")
    done: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # What to do (JSON): the backup folder, the import's mapping, the customer's 户号…
    params: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    # What came of it (JSON): counts, a report; and the file it produced, if any.
    summary: Mapped[str | None] = mapped_column(Text)
    result_key: Mapped[str | None] = mapped_column(String(300))
    result_name: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)  # docsvc.i18n.stored: shown in the reader's language
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_at: Mapped[datetime | None]
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the command line
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    started_by: Mapped[User | None] = relationship()
