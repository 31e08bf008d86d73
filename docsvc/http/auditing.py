"""Audit events recorded for the current request: actor, address and loan filled in from it."""
from __future__ import annotations

from flask import Response, g, request

from docsvc.governance import audit
from docsvc.http.context import client_ip, db, runtime
from docsvc.models import Page

# What each content route's access is called in the audit trail.
CONTENT_EVENTS = {
    "documents.page": "page.view", "documents.page_image": "page.image",
    "documents.page_thumbnail": "page.thumbnail", "documents.page_words_json": "page.words",
    "documents.original": "document.download", "documents.print_document": "document.print",
    "api_v1.get_page_json": "page.text",
    "api_v1.page_image": "page.image", "api_v1.page_thumbnail": "page.thumbnail",
    "api_v1.page_words_json": "page.words",
}


def content_event() -> str:
    return CONTENT_EVENTS.get(request.endpoint or "", "content")


def object_kind(obj: object) -> str:
    return "page" if isinstance(obj, Page) else "document"


def audit_event(action: str, *, object_type: str | None = None, object_id: str | int | None = None,
                outcome: str = "ok", purpose: str | None = None, loan_id: int | None = None,
                detail: dict | None = None, commit: bool = False, read: bool = False) -> None:
    """Record an event for the current request (actor, IP and loan filled in); the caller commits
    with its change, or passes commit=True when the request changes nothing else. `read` marks an
    event recording a read of content, whose commit need not wait for the disk (unless configured)."""
    grant = g.get("grant")
    audit.record(db(), g.get("user"), action, object_type=object_type, object_id=object_id,
                 outcome=outcome, purpose=purpose, ip=client_ip(), detail=detail,
                 loan_id=loan_id if loan_id is not None else (grant.loan_id if grant else None),
                 durable=not read or runtime().settings.audit_durable_reads)
    if commit:
        db().commit()


def audit_content_access(response: Response) -> Response:
    """Every successful read of page or document content is an audit event, loan id included."""
    obj = g.get("content_object")
    if obj is not None and response.status_code < 400:
        audit_event(content_event(), object_type=object_kind(obj), object_id=obj.id, commit=True, read=True)
    return response
