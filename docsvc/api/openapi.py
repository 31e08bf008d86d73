"""The OpenAPI document served at /api/v1/openapi.json."""
from __future__ import annotations

from typing import Any

from docsvc.api.customers_openapi import add_paths
from docsvc.api.destruction_openapi import add_destruction_paths
from docsvc.api.four_properties_openapi import add_paths as add_four_properties_paths
from docsvc.api.retention_openapi import add_paths as add_retention_paths
from docsvc.api.openapi_common import ERROR, FAIL, json_body as _json


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


COUNTS = {"type": "object", "properties": {k: {"type": "integer"} for k in ("pages_total", "pages_done", "pages_failed")}}
FILE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "name": {"type": "string"},
    "status": {"type": "string", "enum": ["queued", "running", "done", "partial", "failed", "duplicate"]},
    "error": {"type": "string", "nullable": True},
    "warning": {"type": "string", "nullable": True,
                "description": "what to know of a file that was read: a PDF's JavaScript and embedded files, "
                               "kept in the original, never run or opened"},
    "document_ids": {"type": "array", "items": {"type": "integer"}}}}
BATCH = {"type": "object", "properties": {
    "id": {"type": "integer"},
    "status": {"type": "string", "enum": ["queued", "running", "done", "partial", "failed"]},
    "counts": COUNTS, "files": {"type": "array", "items": FILE}}}
PAGE_STATUS = {"type": "object", "properties": {
    "id": {"type": "integer"}, "number": {"type": "integer"}, "status": {"type": "string"},
    "error": {"type": "string", "nullable": True}}}
DOCUMENT = {"type": "object", "properties": {
    "id": {"type": "integer"}, "title": {"type": "string"}, "media_type": {"type": "string"},
    "sha256": {"type": "string"}, "customer_account": {"type": "string", "nullable": True},
    "doc_type": {"type": "string", "nullable": True}, "page_count": {"type": "integer"},
    "pages": {"type": "array", "items": PAGE_STATUS},
    "destroyed_at": {"type": "string", "format": "date-time", "nullable": True,
                     "description": "set on the stub of a destroyed document (its pages and content are gone)"},
    "destruction_list_id": {"type": "integer", "nullable": True},
    "masked": {"type": "boolean", "description": "sensitive type and no `sensitive` grant: placeholder title, "
                                                 "contract_number, business_ref, notes and inbox_note withheld"}}}
PAGE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "document_id": {"type": "integer"}, "number": {"type": "integer"},
    "status": {"type": "string"}, "text": {"type": "string", "nullable": True},
    "source": {"type": "string", "enum": ["text_layer", "ocr"], "nullable": True},
    "confidence": {"type": "number", "nullable": True}, "rotation": {"type": "integer"},
    "engine": {"type": "string", "nullable": True}, "engine_version": {"type": "string", "nullable": True},
    "width": {"type": "integer", "nullable": True}, "height": {"type": "integer", "nullable": True},
    "dpi": {"type": "integer", "nullable": True,
            "description": "resolution of the stored image; below the OCR dpi for a PDF page too large for "
                           "the pixel limit at it, which is drawn at the highest dpi within the limit"}}}
SEARCH = {"type": "object", "properties": {
    "query": {"type": "string"},
    "total": {"type": "integer", "description": "matching pages the caller may see (an estimate when approximate)"},
    "approximate": {"type": "boolean", "description":
                    "true when the query had more candidate pages than are confirmed per search: total, "
                    "total_documents and facet counts are then estimates (shown as 约 N / about N) from the "
                    "confirmed pages, and only ever count pages the caller may find; the listed documents, "
                    "their pages and matching_pages are exact"},
    "total_documents": {"type": "integer"},
    "document_id": {"type": "integer", "nullable": True,
                    "description": "the document_id parameter, when given: the one result then lists "
                                   "per_page of that document's matching pages, in page order"},
    "page": {"type": "integer"},
    "per_page": {"type": "integer", "description": "documents per page (pages, with document_id)"},
    "page_count": {"type": "integer"},
    "facets": {"type": "object", "description": "'type' and 'year' → matching pages per value",
               "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}}},
    "results": {"type": "array", "items": {"type": "object", "properties": {
        "document_id": {"type": "integer"}, "score": {"type": "number"},
        "title": {"type": "string", "nullable": True}, "doc_type": {"type": "string", "nullable": True},
        "customer_account": {"type": "string", "nullable": True},
        "customer_name": {"type": "string", "nullable": True},
        "reference_code": {"type": "string", "nullable": True},
        "doc_date": {"type": "string", "format": "date", "nullable": True},
        "matching_pages": {"type": "integer"},
        "pages": {"type": "array", "items": {"type": "object", "properties": {
            "page_id": {"type": "integer"}, "page_number": {"type": "integer"},
            "snippet": {"type": "string", "description": "HTML; hits inside <mark>…</mark>"},
            "highlights": {"type": "array", "items": {"type": "string"},
                           "description": "matched strings as they read on the page (for boxing)"},
            "masked": {"type": "boolean", "description": "text hidden: sensitive page or no loan"},
            "score": {"type": "number"}}}}}}}}}

LOAN = {"type": "object", "properties": {
    "id": {"type": "integer"}, "requester": {"type": "string"},
    "customer_account": {"type": "string", "nullable": True},
    "document_ids": {"type": "array", "items": {"type": "integer"}}, "purpose": {"type": "string"},
    "days": {"type": "integer"}, "state": {"type": "string", "enum": ["pending", "approved", "rejected", "returned", "expired"]},
    "want_download": {"type": "boolean", "description": "asked for in the request"},
    "want_print": {"type": "boolean", "description": "asked for in the request"},
    "allow_download": {"type": "boolean", "description": "granted by the approver"},
    "allow_print": {"type": "boolean", "description": "granted by the approver: GET /documents/{id}/print"},
    "starts_at": {"type": "string", "format": "date-time", "nullable": True},
    "due_at": {"type": "string", "format": "date-time", "nullable": True},
    "renewal_of": {"type": "integer", "nullable": True}}}
AUDIT_EVENT = {"type": "object", "properties": {
    "seq": {"type": "integer"}, "occurred_at": {"type": "string", "format": "date-time"},
    "actor": {"type": "string", "nullable": True}, "action": {"type": "string"},
    "object_type": {"type": "string", "nullable": True}, "object_id": {"type": "string", "nullable": True},
    "outcome": {"type": "string"}, "purpose": {"type": "string", "nullable": True},
    "loan_id": {"type": "integer", "nullable": True}, "ip": {"type": "string", "nullable": True},
    "detail": {"type": "object", "nullable": True}, "hash": {"type": "string"}}}
DECISION = {"content": {"application/json": {"schema": {"type": "object", "properties": {
    "note": {"type": "string"}, "allow_download": {"type": "boolean"}, "allow_print": {"type": "boolean"}}}}}}

BINARY = {"description": "bytes", "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}}
def openapi_document() -> dict[str, Any]:
    page_id = [_path_id("page_id")]
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "docsvc API", "version": "1",
                 "description": "Scanned customer files: upload, OCR progress, pages, search. "
                                "Every call needs `Authorization: Bearer <token>` (`docsvc token create NAME`)."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/me": {"get": {"summary": "The token's user", "responses": {"200": _json({"type": "object"}), **FAIL}}},
            "/api/v1/batches": {"post": {
                "summary": "Upload files as a new batch",
                "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "customer_account": {"type": "string"}, "doc_type": {"type": "string"},
                    "reason_for_destroyed": {"type": "string", "description":
                                             "why content erased by a destruction list is stored again (audited); "
                                             "without it such a file is refused with 409"}},
                    "required": ["files"]}}}},
                "responses": {"202": _json(BATCH, "accepted; poll GET /api/v1/batches/{id}"), "400": _json(ERROR), **FAIL}}},
            "/api/v1/batches/{batch_id}": {"get": {
                "summary": "Batch progress and per-file outcome", "parameters": [_path_id("batch_id")],
                "responses": {"200": _json(BATCH), **FAIL}}},
            "/api/v1/batches/{batch_id}/retry": {"post": {
                "summary": "Retry every failed file and page of the batch", "parameters": [_path_id("batch_id")],
                "responses": {"202": _json({"type": "object", "properties": {"queued": {"type": "integer"}}}), **FAIL}}},
            "/api/v1/documents/{document_id}": {"get": {
                "summary": "Document metadata and its pages", "parameters": [_path_id("document_id")],
                "responses": {"200": _json(DOCUMENT), **FAIL}}},
            "/api/v1/pages/{page_id}": {"get": {
                "summary": "Page text, source, confidence, rotation", "parameters": page_id,
                "responses": {"200": _json(PAGE), **FAIL}}},
            "/api/v1/pages/{page_id}/retry": {"post": {
                "summary": "Retry a failed page", "parameters": page_id,
                "responses": {"202": _json(PAGE_STATUS), "409": _json(ERROR, "page has not failed"), **FAIL}}},
            "/api/v1/pages/{page_id}/image": {"get": {"summary": "Page image (upright, deskewed)",
                                                      "parameters": page_id, "responses": {"200": BINARY, **FAIL}}},
            "/api/v1/pages/{page_id}/thumbnail": {"get": {"summary": "Page thumbnail (JPEG)",
                                                          "parameters": page_id, "responses": {"200": BINARY, **FAIL}}},
            "/api/v1/pages/{page_id}/words": {"get": {
                "summary": "Words with boxes in image pixels", "parameters": page_id,
                "responses": {"200": _json({"type": "object", "properties": {
                    "width": {"type": "integer"}, "height": {"type": "integer"}, "source": {"type": "string"},
                    "words": {"type": "array", "items": {"type": "object", "properties": {
                        "text": {"type": "string"}, "box": {"type": "array", "items": {"type": "integer"}},
                        "conf": {"type": "number"}}}}}}), **FAIL}}},
            "/api/v1/loans": {
                "post": {"summary": "Request a loan of a customer file or of documents",
                         "requestBody": {"required": True, "content": {"application/json": {"schema": {
                             "type": "object", "properties": {
                                 "customer_account": {"type": "string"},
                                 "document_ids": {"type": "array", "items": {"type": "integer"}},
                                 "purpose": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 31},
                                 "allow_download": {"type": "boolean", "description": "ask to download originals"},
                                 "allow_print": {"type": "boolean", "description": "ask to print page images"}},
                             "required": ["purpose", "days"]}}}},
                         "responses": {"201": _json(LOAN), "400": _json(ERROR), **FAIL}},
                "get": {"summary": "Loans: pending, open, overdue (expired, not returned), past; own loans unless approver/auditor",
                        "parameters": [{"name": "state", "in": "query", "schema": {
                            "type": "string", "enum": ["pending", "open", "overdue", "past"]}}],
                        "responses": {"200": _json({"type": "object", "additionalProperties": {
                            "type": "array", "items": LOAN}}), **FAIL}}},
            **{f"/api/v1/loans/{{loan_id}}/{step}": {"post": {
                "summary": summary, "parameters": [_path_id("loan_id")],
                **({"requestBody": DECISION} if step != "return" else {}),
                "responses": {"200": _json(LOAN), "409": _json(ERROR, "not in a state for this"), **FAIL}}}
               for step, summary in (("approve", "Approve (approver other than the requester)"),
                                     ("reject", "Reject"), ("return", "Return early (borrower or approver)"))},
            "/api/v1/audit": {"get": {
                "summary": "Audit trail (auditor only), newest first",
                "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}, "description": d} for n, d in (
                    ("actor", "username"), ("action", "prefix, e.g. page. or loan.approve"),
                    ("object", "type:id, type, or id"), ("from", "YYYY-MM-DD or ISO time, UTC"),
                    ("to", "YYYY-MM-DD (inclusive) or ISO time"))] + [
                    {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}},
                    {"name": "page", "in": "query", "schema": {"type": "integer"}},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer", "maximum": 1000}}],
                "responses": {"200": {"description": "events", "content": {
                    "application/json": {"schema": {"type": "object", "properties": {
                        "events": {"type": "array", "items": AUDIT_EVENT}}}},
                    "text/csv": {"schema": {"type": "string"}}}}, **FAIL}}},
            "/api/v1/search": {"get": {
                "summary": "Full-text search over pages, grouped by document",
                "parameters": [
                    {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "default": 1}},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer", "default": 20, "maximum": 100}},
                    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["relevance", "date"]}},
                    {"name": "document_id", "in": "query", "schema": {"type": "integer", "minimum": 1},
                     "description": "list every matching page of this document (a document hit otherwise "
                                    "lists its best few, with matching_pages counting all), paged by page and "
                                    "per_page, in page order; the same access rules apply"}],
                "responses": {"200": _json(SEARCH), "400": _json(ERROR, "malformed query"), **FAIL}}},
        },
    }
    add_paths(document["paths"])
    add_retention_paths(document["paths"])
    add_destruction_paths(document["paths"])
    add_four_properties_paths(document["paths"])
    return document
