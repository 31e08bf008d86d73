"""OpenAPI paths of the retention API (docsvc.api.retention)."""
from __future__ import annotations

from typing import Any

from docsvc.api.openapi_common import ERROR, FAIL, json_body as _json

STR = {"type": "string"}
NSTR = {"type": "string", "nullable": True}
DATE = {"type": "string", "format": "date", "nullable": True}
CLASS = {"type": "string", "pattern": "^(Y|D[1-9][0-9]{0,2})$", "description": "Y 永久, D30, D10 or D<years>"}
TRIGGER = {"type": "string", "enum": ["document_date", "account_closed", "contract_end", "event"]}
SCHEDULE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "doc_type": STR, "version": {"type": "integer"}, "retention": CLASS,
    "trigger": TRIGGER, "event_name": NSTR, "authority": STR, "parent_retention": NSTR, "reason": NSTR,
    "created_at": STR, "superseded_at": NSTR}}
PREVIEW = {"type": "object", "description": "the effect of the rule on the type's documents (nothing saved)",
           "properties": {k: {"type": "integer"} for k in ("documents", "changed", "become_due", "no_longer_due",
                                                           "unknown", "shortened")}
           | {"doc_type": STR, "examples": {"type": "array", "items": {"type": "object"}}}}
DUE = {"type": "object", "properties": {
    "document_id": {"type": "integer"}, "reference_code": NSTR, "doc_type": NSTR, "customer_account": NSTR,
    "title": {"type": "string", "description": "placeholder for sensitive types without the grant"},
    "retention": NSTR, "due_on": DATE, "held": {"type": "boolean"}}}
HOLD = {"type": "object", "properties": {
    "id": {"type": "integer"}, "name": STR, "reason": STR, "owner": NSTR, "query": NSTR,
    "customer_accounts": {"type": "array", "items": STR},
    "document_ids": {"type": "array", "items": {"type": "integer"}},
    "created_at": STR, "released_at": NSTR, "release_reason": NSTR}}
BAD = {"400": _json(ERROR, "bad body: the message says what to fix"), "409": _json(ERROR, "not in a state for this")}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": properties, "required": required}}}}


def _storage_only(summary: str, param: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    return {"post": {"summary": summary, "parameters": [param],
                     "requestBody": _body({"storage_only": {"type": "boolean", "default": True,
                                                            "description": "false clears it"},
                                           "reason": STR}, ["reason"]),
                     "responses": {"200": _json(response), **BAD, **FAIL}}}


def add_paths(paths: dict[str, Any]) -> None:
    paths["/api/v1/retention/schedules"] = {
        "get": {"summary": "The retention rule in force per document type, with its versions",
                "responses": {"200": _json({"type": "object", "properties": {
                    "schedules": {"type": "array", "items": SCHEDULE}}}), **FAIL}},
        "post": {"summary": "Save a new version of a type's rule (or only preview its effect with preview: true). "
                            "A rule shorter than parent_retention is refused; shortening a type with filed "
                            "documents needs reason.",
                 "requestBody": _body({"doc_type": STR, "retention": CLASS, "trigger": TRIGGER,
                                       "authority": {"type": "string", "description": "table and clause"},
                                       "event_name": {"type": "string", "description": "trigger event: e.g. 窃电案件结案"},
                                       "parent_retention": CLASS, "reason": STR,
                                       "preview": {"type": "boolean", "default": False}},
                                      ["doc_type", "retention", "trigger", "authority"]),
                 "responses": {"200": _json({"type": "object", "properties": {"preview": PREVIEW}}, "preview only"),
                               "201": _json({"type": "object", "properties": {
                                   "schedule": SCHEDULE, "documents_changed": {"type": "integer"}}}, "saved"),
                               **BAD, **FAIL}}}
    paths["/api/v1/retention/due"] = {"get": {
        "summary": "Documents due for appraisal (expired, not destroyed); format=csv for a spreadsheet",
        "parameters": [{"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}}],
        "responses": {"200": _json({"type": "object", "properties": {
            "total": {"type": "integer"}, "documents": {"type": "array", "items": DUE}}}), **FAIL}}}
    paths["/api/v1/retention/dashboard"] = {"get": {
        "summary": "The dashboard figures: due now, due within 90 days, held, storage-only, cannot compute, "
                   "destroyed this year, documents by due year",
        "responses": {"200": _json({"type": "object"}), **FAIL}}}
    paths["/api/v1/retention/events"] = {"post": {
        "summary": "Record a named event (e.g. 窃电案件结案) on a customer or a document; rules with trigger "
                   "`event` count from its latest date",
        "requestBody": _body({"name": STR, "occurred_on": {"type": "string", "format": "date"},
                              "customer_account": STR, "document_id": {"type": "integer"}, "note": STR},
                             ["name", "occurred_on"]),
        "responses": {"201": _json({"type": "object"}), **BAD, **FAIL}}}
    paths["/api/v1/holds"] = {
        "get": {"summary": "Holds (冻结), newest first, released ones included",
                "responses": {"200": _json({"type": "object", "properties": {
                    "holds": {"type": "array", "items": HOLD}}}), **FAIL}},
        "post": {"summary": "Place a hold on customers' whole files (documents filed later too), documents "
                            "and/or a saved search (evaluated whenever eligibility is checked)",
                 "requestBody": _body({"name": STR, "reason": STR,
                                       "customer_accounts": {"type": "array", "items": STR},
                                       "document_ids": {"type": "array", "items": {"type": "integer"}},
                                       "query": {"type": "string", "description": "search syntax as /api/v1/search"}},
                                      ["name", "reason"]),
                 "responses": {"201": _json(HOLD), **BAD, **FAIL}}}
    paths["/api/v1/holds/{hold_id}/release"] = {"post": {
        "summary": "Release a hold with a reason (items another hold covers stay held)",
        "parameters": [{"name": "hold_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "requestBody": _body({"reason": STR}, ["reason"]),
        "responses": {"200": _json(HOLD), **BAD, **FAIL}}}
    paths["/api/v1/documents/{document_id}/storage-only"] = _storage_only(
        "Set or clear storage-only (限制处理) on a document: content hidden from all but records managers",
        {"name": "document_id", "in": "path", "required": True, "schema": {"type": "integer"}},
        {"type": "object", "properties": {"document_id": {"type": "integer"}, "storage_only": {"type": "boolean"}}})
    paths["/api/v1/customers/{account}/storage-only"] = _storage_only(
        "Set or clear storage-only (限制处理) on a customer's whole file",
        {"name": "account", "in": "path", "required": True, "schema": STR},
        {"type": "object", "properties": {"customer_account": STR, "storage_only": {"type": "boolean"}}})
