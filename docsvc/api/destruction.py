"""REST API for destruction lists (销毁清册): thin routes over governance.disposition and register."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, g, jsonify

from docsvc.errors import DomainError
from docsvc.governance import disposition, register
from docsvc.api import schemas as S
from docsvc.api.contract import CSV, PDF, contract
from docsvc.governance.access import Action, rule
from docsvc.http import client_ip, db, runtime
from docsvc.i18n import _

bp = Blueprint("api_destruction", __name__, url_prefix="/api/v1/destruction-lists")


def _list(list_id: int):  # type: ignore[no-untyped-def]
    return disposition.get_list(db(), list_id)


def _decisions(decisions: list[S.Appraisal.Decision]) -> list[disposition.DecisionInput]:
    out = []
    for d in decisions:
        try:
            until = date.fromisoformat(d.until) if d.until else None
        except ValueError as exc:
            raise DomainError(_("A decision's until must be a date YYYY-MM-DD (received %(value)s).",
                                value=d.until[:40])) from exc
        out.append(disposition.DecisionInput(d.document_id, d.decision, until, d.reason or None))
    return out


def _json(dlist) -> object:  # type: ignore[no-untyped-def]
    return jsonify(disposition.list_json(dlist))


@bp.route("", methods=["GET"])
@contract("Destruction lists", {200: S.DestructionLists})
@rule(Action.VIEW_RETENTION)
def index() -> object:
    return jsonify(lists=[disposition.list_json(d) for d in disposition.all_lists(db())])


@bp.route("", methods=["POST"])
@contract("Compile a destruction list from due documents (records manager)", {201: S.DestructionList},
          body=S.NewDestructionList, links={f"api_destruction.{e}": {"list_id": "id"} for e in (
              "show", "appraise", "submit", "approve", "reject", "supervise", "execute", "cancel")})
@rule(Action.MANAGE_RETENTION)
def create(body: S.NewDestructionList) -> object:
    dlist = disposition.create_list(db(), g.user, body.document_ids, title=body.title or None, index=runtime().index,
                                    ip=client_ip())
    return _json(dlist), 201


@bp.route("/<int:list_id>")
@contract("A list: state, items with per-item result", {200: S.DestructionList})
@rule(Action.VIEW_RETENTION)
def show(list_id: int) -> object:
    return _json(_list(list_id))


@bp.route("/<int:list_id>/appraisal", methods=["POST"])
@contract("Record appraisal decisions", {200: S.DestructionList}, body=S.Appraisal)
@rule(Action.APPRAISE)
def appraise(list_id: int, body: S.Appraisal) -> object:
    return _json(disposition.appraise(db(), g.user, _list(list_id), _decisions(body.decisions), report=body.report,
                                      ip=client_ip()))


@bp.route("/<int:list_id>/submit", methods=["POST"])
@contract("Submit the appraised list for approval", {200: S.DestructionList})
@rule(Action.MANAGE_RETENTION)
def submit(list_id: int) -> object:
    return _json(disposition.submit(db(), g.user, _list(list_id), ip=client_ip()))


@bp.route("/<int:list_id>/approve", methods=["POST"])
@contract("Approve (not the compiler); the waiting period starts", {200: S.DestructionList}, body=S.Note,
          body_required=False)
@rule(Action.APPROVE_DESTRUCTION)
def approve(list_id: int, body: S.Note) -> object:
    return _json(disposition.approve(db(), g.user, _list(list_id), runtime().settings, note=body.note or None,
                                     ip=client_ip()))


@bp.route("/<int:list_id>/reject", methods=["POST"])
@contract("Reject back to the compiler", {200: S.DestructionList}, body=S.Reason)
@rule(Action.APPROVE_DESTRUCTION)
def reject(list_id: int, body: S.Reason) -> object:
    return _json(disposition.reject(db(), g.user, _list(list_id), body.reason, ip=client_ip()))


@bp.route("/<int:list_id>/supervise", methods=["POST"])
@contract("Confirm as supervisor: two distinct people, neither compiler nor approver",
          {200: S.DestructionList}, body=S.Note, body_required=False)
@rule(Action.SUPERVISE_DESTRUCTION)
def supervise(list_id: int, body: S.Note) -> object:
    return _json(disposition.supervise(db(), g.user, _list(list_id), note=body.note or None, ip=client_ip()))


@bp.route("/<int:list_id>/execute", methods=["POST"])
@contract("Queue the erasure of a supervised list (again, to complete one a fault stopped)", {202: S.DestructionList})
@rule(Action.EXECUTE_DESTRUCTION)
def execute(list_id: int) -> object:
    return _json(disposition.start_execution(db(), g.user, _list(list_id), runtime().jobs, ip=client_ip())), 202


@bp.route("/<int:list_id>/cancel", methods=["POST"])
@contract("Cancel before execution starts", {200: S.DestructionList}, body=S.Reason)
@rule(Action.MANAGE_RETENTION)
def cancel(list_id: int, body: S.Reason) -> object:
    return _json(disposition.cancel(db(), g.user, _list(list_id), body.reason, ip=client_ip()))


@bp.route("/<int:list_id>/register.pdf", defaults={"ext": "pdf"})
@bp.route("/<int:list_id>/register.csv", defaults={"ext": "csv"})
@contract("The destruction register (PDF or CSV), once executed; its SHA-256 is checked", {200: (PDF, CSV)})
@rule(Action.READ_REGISTER)
def register_file(list_id: int, ext: str) -> Response:
    dlist = _list(list_id)
    data = register.download(db(), runtime().store, g.user, dlist, ext, ip=client_ip())
    media = "application/pdf" if ext == "pdf" else "text/csv; charset=utf-8"
    return Response(data, mimetype=media, headers={
        "Content-Disposition": f'attachment; filename="destruction-register-{list_id}.{ext}"'})
