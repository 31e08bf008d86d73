"""Pieces every part of the OpenAPI document uses (openapi.py for batches, documents and search;
customers_openapi.py for the customer files)."""
from __future__ import annotations

from typing import Any


def json_body(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = {"type": "object", "properties": {"error": {"type": "string"}}}
FAIL = {"401": json_body(ERROR, "no or bad token"), "403": json_body(ERROR, "not allowed"),
        "404": json_body(ERROR, "not found")}
