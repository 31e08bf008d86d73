"""The API contract: per route, its request body, query and response models (docsvc.api.schemas), declared
with `@contract(...)` beside the view; the OpenAPI document is generated from these declarations and the
app's URL map, and requests are validated by the same models before the view runs.

A route the document cannot describe is a failing test (tests/test_api_contract.py), not a silent gap."""
from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, request
from pydantic import BaseModel, ValidationError

from docsvc.api import schemas
from docsvc.http.params import BadInput, json_object
from docsvc.i18n import _, lazy_gettext as _l

F = TypeVar("F", bound=Callable[..., object])
CONTRACT_ATTR = "api_contract"
REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Media:
    """A response that is not JSON: a file of this media type."""
    media_type: str
    description: str


PDF = Media("application/pdf", "PDF")
CSV = Media("text/csv", "CSV (UTF-8 with a BOM, for Excel)")
XLSX = Media("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel workbook")
IMAGE = Media("image/*", "the image")
Response = type[BaseModel] | Media | tuple[type[BaseModel] | Media, ...]


@dataclass(frozen=True)
class Contract:
    summary: str
    responses: dict[int, Response]
    body: type[BaseModel] | None = None  # JSON body, validated
    form: type[BaseModel] | None = None  # multipart/form-data, documented (files are checked by the view)
    query: type[BaseModel] | None = None  # query string, validated
    body_required: bool = True
    forms: bool = False  # the body may come as a form too (fields as text), e.g. from a plain HTML form
    # later calls on what this one created: endpoint → {its path parameter: the answer's field}
    links: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404, 409, 429))


def contract(summary: str, responses: dict[int, Response], **kwargs: Any) -> Callable[[F], F]:
    """Declare a view's contract and validate its request body and query by it (400 naming the field)."""
    declared = Contract(summary, responses, **kwargs)

    def decorate(view: F) -> F:
        wants = set(inspect.signature(view).parameters)  # a view taking `body` / `query` gets the model

        @wraps(view)
        def validated(*args: object, **url_args: object) -> object:
            if declared.query is not None:
                query = validate(declared.query, _query_values(declared.query))
                if "query" in wants:
                    url_args["query"] = query
            if declared.body is not None:
                body = validate(declared.body, _body_values(declared))
                if "body" in wants:
                    url_args["body"] = body
            return view(*args, **url_args)
        setattr(validated, CONTRACT_ATTR, declared)
        return validated  # type: ignore[return-value]
    return decorate


# Views mounted on the API from docsvc/http (shared with the web, which may not import docsvc.api).
MOUNTED: dict[str, Contract] = {
    "api_v1.page_image": Contract("The page image", {200: IMAGE}),
    "api_v1.page_thumbnail": Contract("The page thumbnail", {200: Media("image/jpeg", "JPEG thumbnail")}),
    "api_v1.page_words_json": Contract("Words with boxes in image pixels", {200: schemas.PageWords}),
}


def _body_values(declared: Contract) -> dict[str, object]:
    """The JSON object sent ({} for an optional body not sent), or the form's filled-in fields where the
    route takes forms too."""
    if declared.forms and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {k: v for k, v in request.form.items() if v != ""}
    if not declared.body_required and not request.get_data(cache=True):
        return {}
    return json_object()


def contract_for(app: Flask, endpoint: str) -> Contract | None:
    view = app.view_functions.get(endpoint)
    return getattr(view, CONTRACT_ATTR, None) or MOUNTED.get(endpoint)


def _query_values(model: type[BaseModel]) -> dict[str, object]:
    """The query string as the model reads it: lists for list fields, else the last value; empty values
    count as absent (a form left blank)."""
    out: dict[str, object] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in request.args:
            continue
        values = request.args.getlist(key)
        if getattr(info.annotation, "__origin__", None) is list:
            out[key] = values
        elif values[-1] != "":
            out[key] = values[-1]
    return out


def validate(model: type[BaseModel], data: object) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadInput(_message(exc)) from exc


# What pydantic's error types mean, for the reader; `name` is the field, the rest pydantic's context.
_PROBLEMS = {
    "missing": _l("%(name)s is required."),
    "int_parsing": _l("%(name)s must be a whole number."),
    "int_from_float": _l("%(name)s must be a whole number."),
    "int_type": _l("%(name)s must be a whole number."),
    "float_parsing": _l("%(name)s must be a number."),
    "float_type": _l("%(name)s must be a number."),
    "bool_parsing": _l("%(name)s must be true or false."),
    "bool_type": _l("%(name)s must be true or false."),
    "string_type": _l("%(name)s must be text."),
    "list_type": _l("%(name)s must be a list."),
    "dict_type": _l("%(name)s must be a JSON object."),
    "model_type": _l("%(name)s must be a JSON object."),
    "greater_than_equal": _l("%(name)s must be at least %(ge)s."),
    "less_than_equal": _l("%(name)s must be at most %(le)s."),
    "too_long": _l("%(name)s may hold at most %(max_length)s items."),
    "literal_error": _l("%(name)s must be one of %(expected)s."),
}


def _message(exc: ValidationError) -> str:
    """The first problem, naming the field, in the reader's language, e.g. "at_page must be a whole number."."""
    error = exc.errors(include_url=False)[0]
    name = ".".join(str(part) for part in error["loc"]) or "body"
    problem = _PROBLEMS.get(error["type"])
    if problem is None:  # a kind of problem not named above: pydantic's own (English) words say it
        return _("%(name)s is not valid: %(problem)s.", name=name, problem=error["msg"])
    return str(problem) % {**error.get("ctx", {}), "name": name}


# -------------------------------------------------------------------------------------------- document

def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared API route in `app`'s URL map."""
    models: set[type[BaseModel]] = {schemas.Error}
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: dict[str, str] = {}
    linked: list[tuple[dict[str, Any], Contract]] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/"):
            continue
        declared = contract_for(app, rule.endpoint)
        if declared is None:
            continue
        path = re.sub(r"<(?:([a-z]+):)?([a-z_]+)>", r"{\2}", rule.rule)
        parameters = [{"name": arg, "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
                       if f"<int:{arg}>" in rule.rule else {"type": "string"}}
                      for arg in sorted(rule.arguments) if arg not in (rule.defaults or {})]
        operation: dict[str, Any] = {"operationId": f"{rule.endpoint}:{path}", "summary": declared.summary,
                                     "responses": {}}
        if declared.query is not None:
            parameters += _query_parameters(declared.query)
        if parameters:
            operation["parameters"] = parameters
        for media, model in (("application/json", declared.body), ("multipart/form-data", declared.form)):
            if model is not None:
                models.add(model)
                operation["requestBody"] = {"required": declared.body_required,
                                            "content": {media: {"schema": {"$ref": REF.format(model=model.__name__)}}}}
        for status, answer in sorted(declared.responses.items()):
            operation["responses"][str(status)] = _response(answer, models)
        for status in declared.errors:
            operation["responses"].setdefault(str(status), _response(schemas.Error, models))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = operation
        operation_ids.setdefault(rule.endpoint, operation["operationId"])
        linked.append((operation, declared))
    for operation, declared in linked:
        _add_links(operation, declared, operation_ids)
    return {
        "openapi": "3.1.0",
        "info": {"title": "docsvc API", "version": "1",
                 "description": "Scanned customer files: upload, OCR progress, pages, search, filing, loans, "
                                "retention. Every call needs `Authorization: Bearer <token>` "
                                "(`docsvc token create NAME`). Generated from the typed models in "
                                "docsvc/api/schemas.py (docs/api.md)."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": _component_schemas(models)},
        "security": [{"bearer": []}],
        "paths": paths,
    }


def _add_links(operation: dict[str, Any], declared: Contract, operation_ids: dict[str, str]) -> None:
    """OpenAPI links on the first success answer: which later calls name the object it created, by which
    field of the answer (what schemathesis's stateful run follows)."""
    if not declared.links:
        return
    status = str(min(s for s in declared.responses if s < 300))
    operation["responses"][status]["links"] = {
        target.rsplit(".", 1)[-1]: {"operationId": operation_ids[target],
                                    "parameters": {name: f"$response.body#/{source}" for name, source in args.items()}}
        for target, args in declared.links.items()}


def _response(answer: Response, models: set[type[BaseModel]]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    descriptions = []
    for one in answer if isinstance(answer, tuple) else (answer,):
        if isinstance(one, Media):
            content[one.media_type] = {"schema": {"type": "string", "format": "binary"}}
            descriptions.append(one.description)
        else:
            models.add(one)
            content["application/json"] = {"schema": {"$ref": REF.format(model=one.__name__)}}
            descriptions.append("refused: `error` says why and what to do" if one is schemas.Error else "JSON")
    return {"description": " or ".join(descriptions), "content": content}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF, by_alias=True)
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title" and not (k == "default" and v is None)}
        # A query string has no null: an optional parameter is one that may be left out.
        branches = [b for b in prop.pop("anyOf", ()) if b != {"type": "null"}]
        if branches:
            prop |= branches[0] if len(branches) == 1 else {"anyOf": branches}
        description = prop.pop("description", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if prop.get("type") == "array":
            parameter |= {"style": "form", "explode": True}
        if description:
            parameter["description"] = description
        out.append(parameter)
    return out


def _component_schemas(models: set[type[BaseModel]]) -> dict[str, Any]:
    """Every model's JSON schema, nested models lifted into components beside it."""
    components: dict[str, Any] = {}
    for model in sorted(models, key=lambda m: m.__name__):
        schema = model.model_json_schema(ref_template=REF, by_alias=True)
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return components
