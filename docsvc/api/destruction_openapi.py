"""The destruction lists' part of the OpenAPI document (docsvc/api/destruction.py)."""
from __future__ import annotations

from typing import Any

from docsvc.api.customers_openapi import STR, _body, _id, _post
from docsvc.api.openapi_common import ERROR, FAIL, json_body as _json

LIST = {"type": "object", "properties": {
    "id": {"type": "integer"}, "title": {"type": "string"},
    "state": {"type": "string", "enum": ["draft", "appraisal", "submitted", "approved", "rejected", "supervised",
                                         "executing", "executed", "cancelled"]},
    "compiler": STR, "approver": {"type": "string", "nullable": True},
    "rejection_reason": {"type": "string", "nullable": True},
    "wait_until": {"type": "string", "format": "date-time", "nullable": True},
    "supervisors": {"type": "array", "items": STR},
    "register": {"type": "object", "properties": {"pdf_sha256": STR, "csv_sha256": STR}},
    "progress": {"type": "object", "properties": {k: {"type": "integer"} for k in ("total", "done", "destroyed", "held")}},
    "items": {"type": "array", "items": {"type": "object", "properties": {
        "position": {"type": "integer"}, "document_id": {"type": "integer"},
        "decision": {"type": "string", "enum": ["destroy", "extend", "keep"], "nullable": True},
        "until": {"type": "string", "format": "date", "nullable": True}, "reason": {"type": "string", "nullable": True},
        "result": {"type": "string", "nullable": True,
                   "enum": ["destroyed", "held_at_execution", "ineligible", "failed", "erasing"]},
        "result_detail": {"type": "object", "nullable": True,
                          "description": "the erasure plan, objects removed, originals cut apart, and the verification"}}}}}}


def add_destruction_paths(paths: dict[str, Any]) -> None:
    """Destruction lists (销毁清册): each step by the proper account (docs/retention.md, "Destruction")."""
    list_id = _id("list_id")
    base = "/api/v1/destruction-lists"
    paths[base] = {
        "get": {"summary": "Destruction lists", "responses": {"200": _json({"type": "object"}), **FAIL}},
        "post": {"summary": "Compile a destruction list from due documents (records manager)",
                 "requestBody": _body({"document_ids": {"type": "array", "items": {"type": "integer"}},
                                       "title": STR}, ["document_ids"]),
                 "responses": {"201": _json(LIST), "400": _json(ERROR), **FAIL}}}
    paths[f"{base}/{{list_id}}"] = {"get": {"summary": "A list: state, items with per-item result",
                                          "parameters": [list_id], "responses": {"200": _json(LIST), **FAIL}}}
    paths[f"{base}/{{list_id}}/appraisal"] = _post("Record appraisal decisions (鉴定)", _body({
        "decisions": {"type": "array", "items": {"type": "object", "properties": {
            "document_id": {"type": "integer"}, "decision": {"type": "string", "enum": ["destroy", "extend", "keep"]},
            "until": {"type": "string", "format": "date", "description": "extend: the new due date"},
            "reason": {"type": "string", "description": "required for extend and keep"}}}},
        "report": {"type": "string", "description": "the appraisal report (鉴定意见)"}}, ["decisions"]), LIST, list_id)
    paths[f"{base}/{{list_id}}/submit"] = _post("Submit the appraised list for approval", None, LIST, list_id)
    paths[f"{base}/{{list_id}}/approve"] = _post("Approve (an approver who is not the compiler); the waiting "
                                                 "period starts", _body({"note": STR}), LIST, list_id)
    paths[f"{base}/{{list_id}}/reject"] = _post("Reject back to the compiler", _body({"reason": STR}, ["reason"]),
                                                LIST, list_id)
    paths[f"{base}/{{list_id}}/supervise"] = _post("Confirm as supervisor (监销人): two distinct people, neither the "
                                                   "compiler nor the approver", _body({"note": STR}), LIST, list_id)
    paths[f"{base}/{{list_id}}/execute"] = _post("Queue the erasure of a supervised list (again, to complete one "
                                                 "a fault stopped); 202", None, LIST, list_id)
    paths[f"{base}/{{list_id}}/cancel"] = _post("Cancel before execution starts", _body({"reason": STR}, ["reason"]),
                                                LIST, list_id)
    for ext, media in (("pdf", "application/pdf"), ("csv", "text/csv")):
        paths[f"{base}/{{list_id}}/register.{ext}"] = {"get": {
            "summary": f"The destruction register ({ext.upper()}), once executed; its SHA-256 is checked",
            "parameters": [list_id],
            "responses": {"200": {"description": "the register", "content": {media: {}}}, "409": _json(ERROR), **FAIL}}}
