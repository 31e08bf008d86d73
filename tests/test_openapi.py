"""The OpenAPI document is generated from the routes' declared models and describes every API route."""
from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi


def test_openapi_document_lists_every_api_route_and_method(app: Flask, client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served - documented == set(), "routes missing from the OpenAPI document"
    assert documented - served == set(), "documented routes the app does not serve"
    validate_openapi(document)  # a valid OpenAPI 3.1 document (openapi-spec-validator, which schemathesis brings)


def test_a_field_the_document_does_not_declare_fails_its_schema(client: FlaskClient) -> None:
    """What makes drift visible: response models forbid undeclared fields (tests/test_api_contract.py)."""
    document = client.get("/api/v1/openapi.json").get_json()
    page = document["paths"]["/api/v1/pages/{page_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    validator = Draft202012Validator({**page["schema"], "components": document["components"]})
    declared = {"id": 1, "document_id": 1, "number": 1, "status": "done", "error": None, "text": "合同",
                "source": "ocr", "confidence": 0.9, "rotation": 0, "skew": 0.5, "engine": "rapidocr",
                "engine_version": "1", "width": 2480, "height": 3508, "dpi": 300}
    assert list(validator.iter_errors(declared)) == []
    assert [e.validator for e in validator.iter_errors(declared | {"reader": "rapidocr 1"})] == ["additionalProperties"]
    assert [e.validator for e in validator.iter_errors({k: v for k, v in declared.items() if k != "skew"})] == ["required"]


def test_a_malformed_request_is_refused_by_its_model_naming_the_field(client: FlaskClient, users) -> None:  # type: ignore[no-untyped-def]
    bearer = {"Authorization": f"Bearer {users.token('chief', 'admin', 'archivist', 'records_manager')}"}
    response = client.post("/api/v1/holds", json={"name": "x", "reason": "y", "document_ids": ["abc"]}, headers=bearer)
    assert response.status_code == 400
    assert response.get_json()["error"] == "参数 document_ids.0 应为整数。"
    response = client.get("/api/v1/search", query_string={"q": "合同", "sort": "size"}, headers=bearer)
    assert response.status_code == 400 and "sort" in response.get_json()["error"]
