"""REST API for retention: schedules (with the effect preview), the due list, events, holds, storage-only."""
from __future__ import annotations

from flask import Blueprint, g, jsonify

from docsvc.errors import DomainError
from docsvc.files.customers import get_customer, parse_date
from docsvc.files.documents import get_document
from docsvc.governance import holds, retention
from docsvc.api import schemas as S
from docsvc.api.contract import CSV, contract
from docsvc.governance.access import Action, rule
from docsvc.governance.restriction import set_storage_only
from docsvc.http import client_ip, db, runtime
from docsvc.http.downloads import csv_attachment
from docsvc.http.params import scalar_values
from docsvc.i18n import _

bp = Blueprint("api_retention", __name__, url_prefix="/api/v1")

RULE_FIELDS = ("doc_type", "retention", "trigger", "authority", "event_name", "parent_retention", "reason")


@bp.route("/retention/schedules")
@contract("The retention rule in force per document type, with its versions", {200: S.Schedules})
@rule(Action.VIEW_RETENTION)
def schedules() -> object:
    current = retention.current_schedules(db())
    db().commit()  # the seeding of version 1, on first use
    return jsonify(schedules=[retention.schedule_json(row) | {"versions": [
        retention.schedule_json(v) for v in retention.schedule_history(db(), code)]}
        for code, row in sorted(current.items())])


@bp.route("/retention/schedules", methods=["POST"])
@contract("Save a new version of a type's rule (201), or only preview its effect with preview: true (200)",
          {200: S.PreviewOnly, 201: S.SavedRule}, body=S.RuleIn)
@rule(Action.MANAGE_RETENTION)
def save_schedule(body: S.RuleIn) -> object:
    draft = retention.draft_rule(db(), scalar_values(body.model_dump(exclude_unset=True), RULE_FIELDS))
    if body.preview:
        preview = retention.preview_rule(db(), draft)
        db().rollback()
        return jsonify(preview=preview.json())
    row, changed = retention.save_rule(db(), g.user, draft, ip=client_ip())
    return jsonify(schedule=retention.schedule_json(row), documents_changed=changed), 201


@bp.route("/retention/due")
@contract("Documents due for appraisal; format=csv for a spreadsheet", {200: (S.DueList, CSV)}, query=S.FormatQuery)
@rule(Action.VIEW_RETENTION)
def due(query: S.FormatQuery) -> object:
    items = retention.due_documents(db(), g.user, index=runtime().index)
    if query.format == "csv":
        return csv_attachment(retention.due_csv(items), "retention-due.csv")
    return jsonify(total=len(items), documents=[retention.due_json(i) for i in items])


@bp.route("/retention/dashboard")
@contract("The retention dashboard's figures", {200: S.Dashboard})
@rule(Action.VIEW_RETENTION)
def dashboard() -> object:
    figures = retention.dashboard(db(), index=runtime().index)
    return jsonify(due_now=figures.due_now, due_within_90_days=figures.due_soon, held=figures.held,
                   storage_only=figures.storage_only, cannot_compute=figures.unknown,
                   destroyed_this_year=figures.destroyed_this_year, permanent=figures.permanent,
                   active_holds=figures.active_holds, by_due_year={str(y): n for y, n in figures.by_year})


@bp.route("/retention/events", methods=["POST"])
@contract("Record a named event on a customer or a document; rules with trigger `event` count from it",
          {201: S.RetentionEvent}, body=S.RetentionEventIn)
@rule(Action.MANAGE_RETENTION)
def record_event(body: S.RetentionEventIn) -> object:
    occurred = parse_date(body.occurred_on, _("Event date (occurred_on)"))
    if occurred is None:
        raise DomainError(_("Give the event's date, occurred_on."))
    account, document_id = body.customer_account, body.document_id
    event = retention.record_event(
        db(), g.user, body.name, occurred, customer=get_customer(db(), account) if account else None,
        document=get_document(db(), document_id) if document_id is not None else None, note=body.note,
        ip=client_ip())
    return jsonify(id=event.id, name=event.name, occurred_on=event.occurred_on.isoformat()), 201


@bp.route("/holds")
@contract("Holds, newest first, released ones included", {200: S.Holds})
@rule(Action.VIEW_RETENTION)
def list_holds() -> object:
    return jsonify(holds=[holds.hold_json(db(), h) for h in holds.list_holds(db())])


@bp.route("/holds", methods=["POST"])
@contract("Place a hold on customers' files, documents and/or a saved search", {201: S.Hold}, body=S.NewHold,
          links={"api_retention.release_hold": {"hold_id": "id"}})
@rule(Action.MANAGE_RETENTION)
def place_hold(body: S.NewHold) -> object:
    hold = holds.place(db(), g.user, body.name, body.reason, customer_accounts=body.customer_accounts,
                       document_ids=body.document_ids, query=body.query or None, ip=client_ip())
    return jsonify(holds.hold_json(db(), hold)), 201


@bp.route("/holds/<int:hold_id>/release", methods=["POST"])
@contract("Release a hold with a reason", {200: S.Hold}, body=S.Reason)
@rule(Action.MANAGE_RETENTION)
def release_hold(hold_id: int, body: S.Reason) -> object:
    hold = holds.release(db(), g.user, hold_id, body.reason, ip=client_ip())
    return jsonify(holds.hold_json(db(), hold))


@bp.route("/documents/<int:document_id>/storage-only", methods=["POST"])
@contract("Set or clear storage-only (restriction of processing) on a document", {200: S.DocumentStorageOnly},
          body=S.StorageOnlyIn)
@rule(Action.MANAGE_RETENTION)
def document_storage_only(document_id: int, body: S.StorageOnlyIn) -> object:
    document = get_document(db(), document_id)
    set_storage_only(db(), g.user, document, body.storage_only, body.reason, ip=client_ip())
    return jsonify(document_id=document.id, storage_only=document.storage_only_at is not None)


@bp.route("/customers/<account>/storage-only", methods=["POST"])
@contract("Set or clear storage-only (restriction of processing) on a customer's whole file", {200: S.CustomerStorageOnly},
          body=S.StorageOnlyIn)
@rule(Action.MANAGE_RETENTION)
def customer_storage_only(account: str, body: S.StorageOnlyIn) -> object:
    customer = get_customer(db(), account)
    set_storage_only(db(), g.user, customer, body.storage_only, body.reason, ip=client_ip())
    return jsonify(customer_account=customer.account, storage_only=customer.storage_only_at is not None)
