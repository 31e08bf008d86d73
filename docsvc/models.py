"""SQLAlchemy 2.0 typed models. Schema changes go through Alembic (docsvc/migrations)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from flask_login import UserMixin
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from docsvc.constants import FileState, IndexState, JobState


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user")

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles.split())

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active


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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    batch: Mapped[Batch] = relationship(back_populates="files")
    documents: Mapped[list["Document"]] = relationship(
        back_populates="batch_file", foreign_keys="Document.batch_file_id", order_by="Document.id"
    )


class Document(Base):
    __tablename__ = "documents"

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
    image_key: Mapped[str | None] = mapped_column(String(200))
    thumb_key: Mapped[str | None] = mapped_column(String(200))
    words_key: Mapped[str | None] = mapped_column(String(200))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    index_state: Mapped[str] = mapped_column(String(10), default=IndexState.NONE)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    document: Mapped[Document] = relationship(back_populates="pages")
