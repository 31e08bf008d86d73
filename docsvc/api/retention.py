"""REST API for retention: schedules (with the effect preview), the due list, events, holds, storage-only."""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from docsvc.errors import DomainError
from docsvc.files.customers import get_customer, parse_date
from docsvc.files.documents import get_document
from docsvc.governance import holds, retention
from docsvc.governance.access import Action, rule
from docsvc.governance.restriction import set_storage_only
from docsvc.http import client_ip, db, runtime

bp = Blueprint("api_retention", __name__, url_prefix="/api/v1")

RULE_FIELDS = ("doc_type", "retention", "trigger", "authority", "event_name", "parent_retention", "reason")


def _body() -> dict[str, object]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise DomainError("请求体应为 JSON 对象。 / The request body must be a JSON object.")
    return data


def _flag(body: dict[str, object], key: str, default: bool = False) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise DomainError(f"字段 {key} 应为 true 或 false。 / Field {key} must be true or false.")
    return value


def _list_of(body: dict[str, object], key: str, kind: type) -> list:  # type: ignore[type-arg]
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        what = "整数" if kind is int else "文字"
        raise DomainError(f"字段 {key} 应为{what}列表。 / Field {key} must be a list of "
                          f"{'integers' if kind is int else 'strings'}.")
    return value


def _text(body: dict[str, object], key: str) -> str:
    value = body.get(key) or ""
    if not isinstance(value, str):
        raise DomainError(f"字段 {key} 应为文字。 / Field {key} must be a string.")
    return value


@bp.route("/retention/schedules")
@rule(Action.VIEW_RETENTION)
def schedules() -> object:
    current = retention.current_schedules(db())
    db().commit()  # the seeding of version 1, on first use
    return jsonify(schedules=[retention.schedule_json(row) | {"versions": [
        retention.schedule_json(v) for v in retention.schedule_history(db(), code)]}
        for code, row in sorted(current.items())])


@bp.route("/retention/schedules", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def save_schedule() -> object:
    body = _body()
    draft = retention.draft_rule(db(), {k: body[k] for k in RULE_FIELDS if k in body})
    if _flag(body, "preview"):
        preview = retention.preview_rule(db(), draft)
        db().rollback()
        return jsonify(preview=preview.json())
    row, changed = retention.save_rule(db(), g.user, draft, ip=client_ip())
    return jsonify(schedule=retention.schedule_json(row), documents_changed=changed), 201


@bp.route("/retention/due")
@rule(Action.VIEW_RETENTION)
def due() -> object:
    items = retention.due_documents(db(), g.user, index=runtime().index)
    if request.args.get("format") == "csv":
        return Response("\ufeff" + retention.due_csv(items), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=retention-due.csv"})
    return jsonify(total=len(items), documents=[retention.due_json(i) for i in items])


@bp.route("/retention/dashboard")
@rule(Action.VIEW_RETENTION)
def dashboard() -> object:
    figures = retention.dashboard(db(), index=runtime().index)
    return jsonify(due_now=figures.due_now, due_within_90_days=figures.due_soon, held=figures.held,
                   storage_only=figures.storage_only, cannot_compute=figures.unknown,
                   destroyed_this_year=figures.destroyed_this_year, permanent=figures.permanent,
                   active_holds=figures.active_holds, by_due_year={str(y): n for y, n in figures.by_year})


@bp.route("/retention/events", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def record_event() -> object:
    body = _body()
    occurred = parse_date(_text(body, "occurred_on"), "事件日期 occurred_on")
    if occurred is None:
        raise DomainError("请填写事件日期 occurred_on（如 2024-05-01）。 / Give the event's date, occurred_on.")
    account, document_id = _text(body, "customer_account"), body.get("document_id")
    if document_id is not None and (not isinstance(document_id, int) or isinstance(document_id, bool)):
        raise DomainError("document_id 应为整数。 / document_id must be an integer.")
    event = retention.record_event(
        db(), g.user, _text(body, "name"), occurred, customer=get_customer(db(), account) if account else None,
        document=get_document(db(), document_id) if document_id is not None else None,
        note=_text(body, "note"), ip=client_ip())
    return jsonify(id=event.id, name=event.name, occurred_on=event.occurred_on.isoformat()), 201


@bp.route("/holds")
@rule(Action.VIEW_RETENTION)
def list_holds() -> object:
    return jsonify(holds=[holds.hold_json(db(), h) for h in holds.list_holds(db())])


@bp.route("/holds", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def place_hold() -> object:
    body = _body()
    hold = holds.place(db(), g.user, _text(body, "name"), _text(body, "reason"),
                       customer_accounts=_list_of(body, "customer_accounts", str),
                       document_ids=_list_of(body, "document_ids", int), query=_text(body, "query") or None,
                       ip=client_ip())
    return jsonify(holds.hold_json(db(), hold)), 201


@bp.route("/holds/<int:hold_id>/release", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def release_hold(hold_id: int) -> object:
    hold = holds.release(db(), g.user, hold_id, _text(_body(), "reason"), ip=client_ip())
    return jsonify(holds.hold_json(db(), hold))


@bp.route("/documents/<int:document_id>/storage-only", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def document_storage_only(document_id: int) -> object:
    body = _body()
    document = get_document(db(), document_id)
    set_storage_only(db(), g.user, document, _flag(body, "storage_only", True), _text(body, "reason"), ip=client_ip())
    return jsonify(document_id=document.id, storage_only=document.storage_only_at is not None)


@bp.route("/customers/<account>/storage-only", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def customer_storage_only(account: str) -> object:
    body = _body()
    customer = get_customer(db(), account)
    set_storage_only(db(), g.user, customer, _flag(body, "storage_only", True), _text(body, "reason"), ip=client_ip())
    return jsonify(customer_account=customer.account, storage_only=customer.storage_only_at is not None)
