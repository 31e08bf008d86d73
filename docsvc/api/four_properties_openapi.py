"""The 四性检测 report's part of the OpenAPI document (docsvc/api/four_properties.py)."""
from __future__ import annotations

from typing import Any

from docsvc.api.openapi_common import ERROR, FAIL, json_body

STR = {"type": "string"}
NSTR = {"type": "string", "nullable": True}
RESULT = {"type": "string", "enum": ["pass", "warning", "person", "not_applicable"],
          "description": "person: needs a person; not_applicable is never counted as passed"}
FINDING = {"type": "object", "properties": {
    "result": RESULT, "message": STR, "reference_code": NSTR, "document_id": {"type": "integer", "nullable": True},
    "page_number": {"type": "integer", "nullable": True}, "customer_account": NSTR,
    "subject": {"type": "string", "nullable": True, "description": "an object key, a 档号 series or an audit event"}}}
CHECK = {"type": "object", "properties": {
    "code": {"type": "string", "description": "AU-1 … SE-4 (docs/integrity.md, 四性检测)"},
    "property": {"type": "string", "enum": ["authenticity", "integrity", "usability", "security"]},
    "name_zh": STR, "name_en": STR, "what": STR, "action": STR, "result": RESULT,
    "examined": {"type": "integer"}, "note": NSTR, "not_applicable": NSTR,
    "findings": {"type": "array", "items": FINDING}}}
REPORT = {"type": "object", "properties": {
    "standard": STR, "started_at": {"type": "string", "format": "date-time"},
    "finished_at": {"type": "string", "format": "date-time"},
    "scope": {"type": "object", "properties": {"customer_accounts": {"type": "array", "items": STR, "nullable": True},
                                               "all": {"type": "boolean"}}},
    "fixity": {"type": "string", "enum": ["recomputed", "last_fixity_result"]},
    "pages_decoded": {"type": "string", "enum": ["first", "all"]},
    "totals": {"type": "object", "additionalProperties": {"type": "integer"}},
    "outcome": {"type": "string", "enum": ["passed", "warnings", "needs_person"]},
    "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
    "checks": {"type": "array", "items": CHECK}}}


def add_paths(paths: dict[str, Any]) -> None:
    paths["/api/v1/four-properties"] = {"post": {
        "summary": "Run the 四性检测 report (DA/T 70-2018) over customer files (archivist, records manager, "
                   "auditor, administrator); the run is audited",
        "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
            "customer_accounts": {"type": "array", "items": STR,
                                  "description": "户号 of the files to check; absent or empty: every file"},
            "recompute": {"type": "boolean", "description": "re-read each original's SHA-256 now"},
            "all_pages": {"type": "boolean", "description": "decode every page, not only the first"},
            "format": {"type": "string", "enum": ["json", "csv", "pdf"], "default": "json"}}}}}},
        "responses": {"200": {"description": "the report", "content": {
            "application/json": {"schema": REPORT}, "text/csv": {"schema": STR},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
            "400": json_body(ERROR), **FAIL}}}
