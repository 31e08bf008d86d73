"""Destruction lists (销毁清册) in the browser: each step for the proper role, progress, the register.

Thin: every view parses the form and calls governance.disposition (or register); the two-person
rules and the states are enforced there, so the web and the API cannot differ.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, flash, g, jsonify, redirect, render_template, request, url_for

from docsvc.constants import Decision, ListState, SignRole
from docsvc.errors import DomainError
from docsvc.governance import disposition, register
from docsvc.localtime import moment_text
from docsvc.governance.access import Action, can, may_sign, rule
from docsvc.http import client_ip, db, runtime
from docsvc.http.params import as_int
from docsvc.i18n import _, language

bp = Blueprint("destruction", __name__, url_prefix="/destruction")


def _back(list_id: int, message: str) -> object:
    flash(message)
    return redirect(url_for("destruction.show", list_id=list_id))


@bp.route("/")
@rule(Action.VIEW_RETENTION)
def index() -> object:
    may_compile = can(g.user, Action.MANAGE_RETENTION)
    due = disposition.due_documents(db()) if may_compile else []
    return render_template("destruction/index.html", lists=disposition.all_lists(db()), due=due,
                           may_compile=may_compile)


@bp.route("/", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def create() -> object:
    ids = [as_int(i, "document_id", minimum=1) for i in request.form.getlist("document_id")]
    dlist = disposition.create_list(db(), g.user, ids, title=request.form.get("title") or None,
                                    index=runtime().index, ip=client_ip())
    return _back(dlist.id, _("Destruction list #%(id)s compiled (%(n)s items); appraise each item.", id=dlist.id,
                             n=len(ids)))


@bp.route("/<int:list_id>")
@rule(Action.VIEW_RETENTION)
def show(list_id: int) -> object:
    dlist = disposition.get_list(db(), list_id)
    return render_template(
        "destruction/show.html", dlist=dlist, progress=disposition.list_json(dlist)["progress"],
        supervisors=disposition.supervisors(dlist), Decision=Decision, ListState=ListState,
        passed_over={i.document_id: disposition.passed_over(i) for i in dlist.items},
        may_appraise=can(g.user, Action.APPRAISE) and dlist.state in disposition.APPRAISABLE,
        may_manage=can(g.user, Action.MANAGE_RETENTION),
        approve_refusal=may_sign(g.user, dlist, SignRole.APPROVER),
        supervise_refusal=may_sign(g.user, dlist, SignRole.SUPERVISOR),
        may_execute=can(g.user, Action.EXECUTE_DESTRUCTION),
        may_read_register=can(g.user, Action.READ_REGISTER))


@bp.route("/<int:list_id>/progress")
@rule(Action.VIEW_RETENTION)
def progress(list_id: int) -> object:
    dlist = disposition.get_list(db(), list_id)
    return jsonify(state=dlist.state, **disposition.list_json(dlist)["progress"])  # type: ignore[arg-type]


@bp.route("/<int:list_id>/appraisal", methods=["POST"])
@rule(Action.APPRAISE)
def appraise(list_id: int) -> object:
    dlist = disposition.get_list(db(), list_id)
    decisions = []
    for item in dlist.items:
        choice = request.form.get(f"decision_{item.document_id}")
        if not choice:
            continue
        raw_until = request.form.get(f"until_{item.document_id}") or ""
        try:
            until = date.fromisoformat(raw_until) if raw_until else None
        except ValueError as exc:
            raise DomainError(_("The new due date of document #%(id)s, “%(value)s”, must be YYYY-MM-DD.",
                                id=item.document_id, value=raw_until)) from exc
        decisions.append(disposition.DecisionInput(item.document_id, choice, until,
                                                   request.form.get(f"reason_{item.document_id}") or None))
    disposition.appraise(db(), g.user, dlist, decisions, report=request.form.get("report"), ip=client_ip())
    return _back(list_id, _("Decisions recorded for %(n)s items.", n=len(decisions)))


@bp.route("/<int:list_id>/submit", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def submit(list_id: int) -> object:
    disposition.submit(db(), g.user, disposition.get_list(db(), list_id), ip=client_ip())
    return _back(list_id, _("Submitted for approval."))


@bp.route("/<int:list_id>/approve", methods=["POST"])
@rule(Action.APPROVE_DESTRUCTION)
def approve(list_id: int) -> object:
    dlist = disposition.approve(db(), g.user, disposition.get_list(db(), list_id), runtime().settings,
                                note=request.form.get("note") or None, ip=client_ip())
    return _back(list_id, _("Approved; the waiting period runs until %(moment)s.",
                            moment=moment_text(dlist.wait_until, language(), runtime().settings.timezone)))


@bp.route("/<int:list_id>/reject", methods=["POST"])
@rule(Action.APPROVE_DESTRUCTION)
def reject(list_id: int) -> object:
    disposition.reject(db(), g.user, disposition.get_list(db(), list_id), request.form.get("reason", ""),
                       ip=client_ip())
    return _back(list_id, _("Rejected back to the compiler."))


@bp.route("/<int:list_id>/supervise", methods=["POST"])
@rule(Action.SUPERVISE_DESTRUCTION)
def supervise(list_id: int) -> object:
    disposition.supervise(db(), g.user, disposition.get_list(db(), list_id), note=request.form.get("note") or None,
                          ip=client_ip())
    return _back(list_id, _("Supervision confirmed."))


@bp.route("/<int:list_id>/execute", methods=["POST"])
@rule(Action.EXECUTE_DESTRUCTION)
def execute(list_id: int) -> object:
    disposition.start_execution(db(), g.user, disposition.get_list(db(), list_id), runtime().jobs, ip=client_ip())
    return _back(list_id, _("Destruction started; this page shows its progress."))


@bp.route("/<int:list_id>/cancel", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def cancel(list_id: int) -> object:
    disposition.cancel(db(), g.user, disposition.get_list(db(), list_id), request.form.get("reason", ""),
                       ip=client_ip())
    return _back(list_id, _("The list is cancelled."))


@bp.route("/<int:list_id>/register.pdf", defaults={"ext": "pdf"})
@bp.route("/<int:list_id>/register.csv", defaults={"ext": "csv"})
@rule(Action.READ_REGISTER)
def register_file(list_id: int, ext: str) -> Response:
    data = register.download(db(), runtime().store, g.user, disposition.get_list(db(), list_id), ext, ip=client_ip())
    media = "application/pdf" if ext == "pdf" else "text/csv; charset=utf-8"
    return Response(data, mimetype=media, headers={
        "Content-Disposition": f'attachment; filename="destruction-register-{list_id}.{ext}"'})
