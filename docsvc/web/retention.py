"""Retention pages: the dashboard, schedules (preview, then confirm), the due list, holds, storage-only toggles."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from docsvc.errors import DomainError
from docsvc.files.customers import get_customer, parse_date
from docsvc.files.doctypes import all_types
from docsvc.files.documents import get_document
from docsvc.governance import holds, retention
from docsvc.governance.access import Action, can, rule
from docsvc.governance.restriction import set_storage_only
from docsvc.governance.retention import RetentionError
from docsvc.http import client_ip, db, runtime
from docsvc.http.downloads import csv_attachment
from docsvc.http.errors import status_for
from docsvc.i18n import _

bp = Blueprint("retention", __name__)

RULE_FIELDS = ("doc_type", "retention", "trigger", "authority", "event_name", "parent_retention", "reason")


@bp.route("/retention")
@rule(Action.VIEW_RETENTION)
def dashboard() -> object:
    figures = retention.dashboard(db(), index=runtime().index)
    return render_template("retention/dashboard.html", figures=figures,
                           due=retention.due_documents(db(), g.user, index=runtime().index, limit=50))


@bp.route("/retention/due")
@rule(Action.VIEW_RETENTION)
def due() -> object:
    items = retention.due_documents(db(), g.user, index=runtime().index)
    if request.args.get("format") == "csv":
        return csv_attachment(retention.due_csv(items), "retention-due.csv")
    return render_template("retention/due.html", items=items)


def _schedules_page(values: dict[str, str] | None = None, error: str | None = None, status: int = 200) -> tuple[str, int]:
    current = retention.current_schedules(db())
    db().commit()  # version 1 seeded on first use
    history = {code: retention.schedule_history(db(), code) for code in current}
    return render_template("retention/schedules.html", current=dict(sorted(current.items())), history=history,
                           types={t.code: t for t in all_types(db(), active_only=False)}, values=values or {},
                           triggers=retention.TRIGGER_LABELS, label=retention.label, error=error), status


@bp.route("/retention/schedules")
@rule(Action.VIEW_RETENTION)
def schedules() -> object:
    code = request.args.get("doc_type", "")
    current = retention.current_schedules(db()).get(code)
    values = {"doc_type": code, "retention": current.retention, "trigger": current.trigger,
              "authority": current.authority, "event_name": current.event_name or "",
              "parent_retention": current.parent_retention or ""} if current else {}
    return _schedules_page(values)


@bp.route("/retention/schedules/preview", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def preview_schedule() -> object:
    values = {k: request.form.get(k, "") for k in RULE_FIELDS}
    try:
        draft = retention.draft_rule(db(), dict(values))
    except DomainError as exc:
        return _schedules_page(values, exc.message, status_for(exc))
    current = retention.current_schedules(db()).get(draft.doc_type)
    return render_template("retention/preview.html", values=values, draft=draft, current=current,
                           preview=retention.preview_rule(db(), draft), label=retention.label,
                           triggers=retention.TRIGGER_LABELS)


@bp.route("/retention/schedules", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def save_schedule() -> object:
    values = {k: request.form.get(k, "") for k in RULE_FIELDS}
    try:
        row, changed = retention.save_rule(db(), g.user, retention.draft_rule(db(), dict(values)), ip=client_ip())
    except DomainError as exc:
        db().rollback()
        return _schedules_page(values, exc.message, status_for(exc))
    flash(_("Saved version %(version)s of the %(code)s rule; the due dates of %(n)s document(s) were recomputed.",
            version=row.version, code=row.doc_type, n=changed))
    return redirect(url_for("retention.schedules"))


@bp.route("/retention/holds")
@rule(Action.VIEW_RETENTION)
def hold_list() -> object:
    return render_template("retention/holds.html", holds=[holds.hold_json(db(), h) for h in holds.list_holds(db())],
                           values={}, may_manage=can(g.user, Action.MANAGE_RETENTION))


@bp.route("/retention/holds", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def place_hold() -> object:
    form = request.form
    values = {k: form.get(k, "") for k in ("name", "reason", "customer_accounts", "document_ids", "query")}
    try:
        ids = [int(x) for x in values["document_ids"].replace("，", ",").replace(",", " ").split()]
    except ValueError:
        return _holds_error(values, _("Document ids are whole numbers, separated by spaces or commas."))
    try:
        hold = holds.place(db(), g.user, values["name"], values["reason"],
                           customer_accounts=values["customer_accounts"].replace("，", ",").replace(",", " ").split(),
                           document_ids=ids, query=values["query"] or None, ip=client_ip())
    except DomainError as exc:
        db().rollback()
        return _holds_error(values, exc.message, status_for(exc))
    flash(_("Hold placed: %(name)s (#%(id)s).", name=hold.name, id=hold.id))
    return redirect(url_for("retention.hold_list"))


def _holds_error(values: dict[str, str], message: str, status: int = 400) -> tuple[str, int]:
    return render_template("retention/holds.html", holds=[holds.hold_json(db(), h) for h in holds.list_holds(db())],
                           values=values, error=message, may_manage=True), status


@bp.route("/retention/holds/<int:hold_id>/release", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def release_hold(hold_id: int) -> object:
    hold = holds.release(db(), g.user, hold_id, request.form.get("reason", ""), ip=client_ip())
    flash(_("Hold #%(id)s released.", id=hold.id))
    return redirect(url_for("retention.hold_list"))


@bp.route("/documents/<int:document_id>/storage-only", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def document_storage_only(document_id: int) -> object:
    document = get_document(db(), document_id)
    on = request.form.get("storage_only") == "1"
    set_storage_only(db(), g.user, document, on, request.form.get("reason", ""), ip=client_ip())
    flash(_("Set to storage-only.") if on else _("Storage-only cleared."))
    return redirect(url_for("documents.show", document_id=document.id))


@bp.route("/customers/<account>/retention-events", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def customer_event(account: str) -> object:
    customer = get_customer(db(), account)
    occurred = parse_date(request.form.get("occurred_on", ""), _("Event date"))
    if occurred is None:
        raise RetentionError(_("Give the event's date (e.g. 2024-05-01)."))
    event = retention.record_event(db(), g.user, request.form.get("name", ""), occurred, customer=customer,
                                   note=request.form.get("note"), ip=client_ip())
    flash(_("Event “%(name)s” (%(day)s) recorded; the due dates of the file's documents were recomputed.",
            name=event.name, day=event.occurred_on.isoformat()))
    return redirect(url_for("customers.show", account=customer.account))


@bp.route("/customers/<account>/storage-only", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def customer_storage_only(account: str) -> object:
    customer = get_customer(db(), account)
    on = request.form.get("storage_only") == "1"
    set_storage_only(db(), g.user, customer, on, request.form.get("reason", ""), ip=client_ip())
    flash(_("The whole file is storage-only.") if on
          else _("Storage-only cleared for the file."))
    return redirect(url_for("customers.show", account=customer.account))
