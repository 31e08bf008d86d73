"""OpenAPI paths of the customer-file API (docsvc.api.customers)."""
from __future__ import annotations

from typing import Any

from docsvc.api.openapi_common import ERROR, FAIL, json_body as _json

CUSTOMER = {"type": "object", "properties": {
    "account": {"type": "string", "description": "户号"}, "name": {"type": "string", "description": "户名"},
    **{k: {"type": "string", "nullable": True} for k in (
        "address", "phone", "category", "voltage", "region", "industry", "location")},
    "grade": {"type": "string", "enum": ["一级", "二级", "三级"], "nullable": True},
    "stage": {"type": "string", "enum": ["apply", "design", "acceptance", "contract", "operation", "change", "closed"],
              "nullable": True},
    "status": {"type": "string", "enum": ["active", "closed"]},
    "closed_on": {"type": "string", "format": "date", "nullable": True},
    "tags": {"type": "array", "items": {"type": "string"}}}}
IMPORT_REPORT = {"type": "object", "properties": {
    **{k: {"type": "integer"} for k in ("created", "updated", "unchanged", "rejected")},
    "dry_run": {"type": "boolean"}, "applied": {"type": "boolean"},
    "encoding": {"type": "string", "nullable": True},
    "mapping": {"type": "object", "additionalProperties": {"type": "string"}},
    "errors": {"type": "array", "items": {"type": "object", "properties": {
        "row": {"type": "integer"}, "account": {"type": "string"}, "message": {"type": "string"}}}}}}
CHECKLIST = {"type": "object", "properties": {
    "account": {"type": "string"}, "name": {"type": "string"}, "stage": {"type": "string", "nullable": True},
    "complete": {"type": "boolean"}, "missing": {"type": "array", "items": {"type": "string"}},
    "items": {"type": "array", "items": {"type": "object", "properties": {
        "code": {"type": "string"}, "name": {"type": "string"}, "required": {"type": "boolean"},
        "present": {"type": "integer"}}}}}}
FILED_DOCUMENT = {"type": "object", "properties": {
    "id": {"type": "integer"}, "title": {"type": "string"}, "customer_account": {"type": "string", "nullable": True},
    "doc_type": {"type": "string", "nullable": True}, "document_date": {"type": "string", "format": "date", "nullable": True},
    "contract_number": {"type": "string", "nullable": True}, "business_ref": {"type": "string", "nullable": True},
    "archive_code": {"type": "string", "nullable": True, "description": "档号"},
    "location": {"type": "string", "nullable": True}, "notes": {"type": "string", "nullable": True},
    "filed_at": {"type": "string", "format": "date-time", "nullable": True}, "page_count": {"type": "integer"},
    "masked": {"type": "boolean", "description": "sensitive type and no `sensitive` grant: placeholder title, "
                                                 "contract_number, business_ref, notes and inbox_note withheld"}}}
DOCUMENT_TYPE_FIELDS = {
    "name_zh": {"type": "string", "maxLength": 100, "description": "中文名称 (required on create)"},
    "name_en": {"type": "string", "maxLength": 100},
    "retention": {"type": "string", "enum": ["Y", "D30", "D10"],
                  "description": "default retention class (保管期限) stamped into new 档号; required on create"},
    "sensitive": {"type": "boolean", "description": "content only for users granted `sensitive`; clearing it "
                                                    "needs that grant; a change re-indexes the type's pages"},
    "required_from": {"type": "string", "nullable": True, "enum": [
        "apply", "design", "acceptance", "contract", "operation", "change", "closed", None],
        "description": "business stage from which a customer file must hold this type"},
    "position": {"type": "integer", "minimum": 0, "maximum": 9999, "description": "order in lists and pickers"},
    "active": {"type": "boolean", "description": "false hides the type from pickers; its documents stay valid"}}
DOCUMENT_TYPE = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z0-9]{1,20}$"},
                                                  **DOCUMENT_TYPE_FIELDS}}
_REASONS = {"type": "array", "items": {"type": "string"}}
SUGGESTIONS = {"type": "object", "properties": {
    "suggestions": {"type": "array", "items": {"type": "object", "properties": {
        "account": {"type": "string"}, "name": {"type": "string"}, "confidence": {"type": "number"},
        "similarity": {"type": "integer", "nullable": True, "minimum": 0, "maximum": 100,
                       "description": "how closely the name or address read on the page matches the customer's, "
                                      "in percent (100: exactly; names read with errors match approximately); "
                                      "null when only the 户号 or contract number matched"},
        "by_account": {"type": "boolean", "description": "the page gives this customer's 户号 (ranked first)"},
        "reasons": _REASONS}}},
    "type_guess": {"type": "object", "nullable": True, "description": "the type the first page's title shows "
                   "(null when no type's phrase is on it)", "properties": {
        "code": {"type": "string"}, "name_zh": {"type": "string"}, "confidence": {"type": "number"},
        "ambiguous": {"type": "boolean", "description": "a second type came close: the operator chooses"},
        "reasons": _REASONS,
        "runner_up": {"type": "object", "nullable": True, "properties": {
            "code": {"type": "string"}, "name_zh": {"type": "string"}, "score": {"type": "number"}}}}},
    "autofile_confidence": {"type": "number"}}}
# What a page operation answers: never the page's text (an operation is not a read).
PAGE_STATE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "document_id": {"type": "integer"}, "number": {"type": "integer"},
    "status": {"type": "string"}, "error": {"type": "string", "nullable": True},
    "view_rotation": {"type": "integer"}, "binned": {"type": "boolean"}}}


def _body(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"content": {"application/json": {"schema": schema}}}


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


ACCOUNT = {"name": "account", "in": "path", "required": True, "schema": {"type": "string"}}
STR = {"type": "string"}


def _post(summary: str, body: dict[str, Any] | None, response: dict[str, Any], param: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "parameters": [param],
                          "responses": {"200": _json(response), "400": _json(ERROR), "409": _json(ERROR), **FAIL}}
    if body:
        op["requestBody"] = body
    return {"post": op}


def add_paths(paths: dict[str, Any]) -> None:
    paths["/api/v1/customers"] = {
        "get": {"summary": "List customers; search by 户号 prefix or name", "parameters": [
            {"name": "q", "in": "query", "schema": STR}, {"name": "page", "in": "query", "schema": {"type": "integer"}},
            {"name": "per_page", "in": "query", "schema": {"type": "integer", "maximum": 200}}],
            "responses": {"200": _json({"type": "object", "properties": {
                "total": {"type": "integer"}, "customers": {"type": "array", "items": CUSTOMER}}}), **FAIL}},
        "post": {"summary": "Create a customer", "requestBody": _body(CUSTOMER["properties"], ["account", "name"]),
                 "responses": {"201": _json(CUSTOMER), "400": _json(ERROR), "409": _json(ERROR, "account exists"), **FAIL}}}
    paths["/api/v1/customers/{account}"] = {
        "get": {"summary": "One customer", "parameters": [ACCOUNT], "responses": {"200": _json(CUSTOMER), **FAIL}},
        "patch": {"summary": "Change customer fields", "parameters": [ACCOUNT],
                  "requestBody": _body(CUSTOMER["properties"]),
                  "responses": {"200": _json(CUSTOMER), "400": _json(ERROR), **FAIL}}}
    paths["/api/v1/customers/import"] = {"post": {
        "summary": "Import customers from CSV (UTF-8/GBK) or XLSX; upsert by 户号, all or nothing",
        "parameters": [{"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]},
                        "description": "csv: the row errors as a CSV file"}],
        "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}, "dry_run": {"type": "string", "enum": ["true", "false"]},
            "skip_rejected": {"type": "string", "enum": ["true", "false"]},
            "map_account": {"type": "string", "description": "source column for a field (map_<field>)"}},
            "required": ["file"]}}}},
        "responses": {"200": _json(IMPORT_REPORT), "422": _json(IMPORT_REPORT, "rows rejected; nothing written"),
                      "400": _json(ERROR), **FAIL}}}
    paths["/api/v1/customers/{account}/completeness"] = {"get": {
        "summary": "Checklist of required document types for the customer's stage", "parameters": [ACCOUNT],
        "responses": {"200": _json(CHECKLIST), **FAIL}}}
    paths["/api/v1/customers/{account}/file.pdf"] = {"get": {
        "summary": "The customer file as one PDF: contents pages (户号, 户名; per document type, title, 档号, date, "
                   "pages and start page), then every page image with its text as an invisible, searchable layer. "
                   "Documents the caller may not download (sensitive types without the grant; for viewers, any "
                   "not under an approved loan allowing download) are left out and listed as withheld. Audited.",
        "parameters": [ACCOUNT],
        "responses": {"200": {"description": "PDF (Content-Disposition: attachment)", "content": {"application/pdf": {
            "schema": {"type": "string", "format": "binary"}}}},
            **FAIL, "403": _json(ERROR, "nothing in the file may be downloaded by the caller")}}}
    paths["/api/v1/completeness"] = {"get": {
        "summary": "All incomplete customer files", "parameters": [
            {"name": "region", "in": "query", "schema": STR}, {"name": "grade", "in": "query", "schema": STR},
            {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv", "xlsx"]}}],
        "responses": {"200": _json({"type": "object", "properties": {
            "total": {"type": "integer"}, "files": {"type": "array", "items": CHECKLIST}}}), **FAIL}}}
    paths["/api/v1/document-types"] = {
        "get": {"summary": "The document-type table (inactive types included)",
                "responses": {"200": _json({"type": "object", "properties": {
                    "types": {"type": "array", "items": DOCUMENT_TYPE}}}), **FAIL}},
        "post": {"summary": "Add a document type (audited as doctype.create)",
                 "requestBody": _body(DOCUMENT_TYPE["properties"], ["code", "name_zh", "retention"]),
                 "responses": {"201": _json(DOCUMENT_TYPE), "400": _json(ERROR),
                               "409": _json(ERROR, "the code exists"), **FAIL}}}
    type_code = {"name": "code", "in": "path", "required": True, "schema": STR}
    paths["/api/v1/document-types/{code}"] = {
        "get": {"summary": "One document type", "parameters": [type_code],
                "responses": {"200": _json(DOCUMENT_TYPE), **FAIL}},
        "patch": {"summary": "Change a document type's fields (audited as doctype.update with old and new values); "
                             "the code itself cannot change",
                  "parameters": [type_code], "requestBody": _body(DOCUMENT_TYPE_FIELDS),
                  "responses": {"200": _json(DOCUMENT_TYPE), "400": _json(ERROR), **FAIL,
                                "403": _json(ERROR, "not allowed; clearing the sensitive flag needs the "
                                                    "`sensitive` grant")}}}
    document = paths.setdefault("/api/v1/documents/{document_id}", {})
    document["patch"] = {
        "summary": "Describe a document; with customer_account and doc_type it is linked and filed (档号 assigned)",
        "parameters": [_id("document_id")],
        "requestBody": _body({"customer_account": STR, "doc_type": STR, "title": STR,
                              "document_date": {"type": "string", "format": "date"}, "contract_number": STR,
                              "business_ref": STR, "location": STR, "notes": STR}),
        "responses": {"200": _json(FILED_DOCUMENT), "400": _json(ERROR), **FAIL}}
    doc_id = _id("document_id")
    paths["/api/v1/documents/{document_id}/reference-code"] = _post(
        "Correct a 档号 (records manager; reason required; audited)",
        _body({"reference_code": STR, "reason": STR}, ["reference_code", "reason"]), FILED_DOCUMENT, doc_id)
    paths["/api/v1/documents/{document_id}/unfile"] = _post(
        "Send a filed document back to the inbox so its pages can be corrected (archivist or records manager; "
        "reason required; audited; the 档号 stays)", _body({"reason": STR}, ["reason"]), FILED_DOCUMENT, doc_id)
    paths["/api/v1/documents/{document_id}/suggestions"] = {"get": {
        "summary": "Customers proposed from the OCR text, and the document type guessed from the first page, "
                   "each with a confidence", "parameters": [doc_id],
        "responses": {"200": _json(SUGGESTIONS), **FAIL}}}
    paths["/api/v1/documents/{document_id}/split"] = _post(
        "Split: pages from at_page on become a new unfiled document", _body({"at_page": {"type": "integer"}}, ["at_page"]),
        FILED_DOCUMENT, doc_id)
    paths["/api/v1/documents/{document_id}/merge"] = _post(
        "Append an unfiled document's pages", _body({"source_document_id": {"type": "integer"}}, ["source_document_id"]),
        FILED_DOCUMENT, doc_id)
    paths["/api/v1/documents/{document_id}/reorder"] = _post(
        "Put the pages in this order", _body({"page_ids": {"type": "array", "items": {"type": "integer"}}}, ["page_ids"]),
        FILED_DOCUMENT, doc_id)
    paths["/api/v1/inbox"] = {"get": {"summary": "Unfiled documents", "responses": {"200": _json({"type": "object"}), **FAIL}}}
    paths["/api/v1/inbox/assign"] = {"post": {
        "summary": "Link and file several documents to one customer and type",
        "requestBody": _body({"document_ids": {"type": "array", "items": {"type": "integer"}},
                              "customer_account": STR, "doc_type": STR}, ["document_ids", "customer_account", "doc_type"]),
        "responses": {"200": _json({"type": "object"}), "400": _json(ERROR), **FAIL}}}
    page_id = _id("page_id")
    paths["/api/v1/pages/{page_id}/move"] = _post(
        "Move the page to another document", _body({"document_id": {"type": "integer"}, "position": {"type": "integer"}},
                                                   ["document_id"]), PAGE_STATE, page_id)
    paths["/api/v1/pages/{page_id}/rotate"] = _post(
        "Turn the page's view (the stored images are never changed)",
        _body({"degrees": {"type": "integer", "enum": [90, 180, 270, -90]}}), PAGE_STATE, page_id)
    paths["/api/v1/pages/{page_id}/delete"] = _post("Delete the page of an unfiled document into the bin", None,
                                                    PAGE_STATE, page_id)
    paths["/api/v1/pages/{page_id}/restore"] = _post("Restore a page from the bin", None, PAGE_STATE, page_id)
    paths["/api/v1/pages/{page_id}/purge"] = _post("Remove a binned page for good", None, {"type": "object"}, page_id)
    paths["/api/v1/cover-sheets"] = {"get": {
        "summary": "Printable cover sheets: one A4 page per (account, type) pair",
        "parameters": [{"name": "account", "in": "query", "required": True, "schema": STR,
                        "description": "repeatable, paired with type"},
                       {"name": "type", "in": "query", "required": True, "schema": STR}],
        "responses": {"200": {"description": "PDF", "content": {"application/pdf": {
            "schema": {"type": "string", "format": "binary"}}}}, "400": _json(ERROR), **FAIL}}}
