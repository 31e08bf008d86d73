"""The document-type table as an administrator edits it: list, add, change (deactivate instead of delete)."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from docsvc.governance.access import Action, rule
from docsvc.models import DocumentType
from docsvc.files.doctypes import (
    FIELD_LABELS, RETENTION_LABELS, STAGES, DocTypeError, all_types, create_type, find_type, stage_label, update_type,
)
from docsvc.http import client_ip, db
from docsvc.http.errors import status_for
from docsvc.i18n import _

bp = Blueprint("doctypes", __name__)

TEXT_FIELDS = ("name_zh", "name_en", "retention", "required_from", "position")


def _form_values() -> dict[str, object]:
    """The form as the service takes it: an unticked box is not sent, so it means False; an empty
    order keeps the current one (a new type goes last)."""
    values: dict[str, object] = {k: request.form.get(k, "") for k in TEXT_FIELDS}
    if not str(values["position"]).strip():
        del values["position"]
    values |= {k: request.form.get(k) == "1" for k in ("sensitive", "active")}
    return values


def _render_form(doc_type: DocumentType | None, values: dict[str, object], error: str | None = None,
                 status: int = 200) -> tuple[str, int]:
    return render_template("doctypes/edit.html", doc_type=doc_type, values=values, error=error,
                           retention_labels=RETENTION_LABELS, stages=STAGES, labels=FIELD_LABELS), status


@bp.route("/document-types")
@rule(Action.MANAGE_CUSTOMERS)
def index() -> object:
    return render_template("doctypes/index.html", types=all_types(db(), active_only=False),
                           retention_labels=RETENTION_LABELS, stage_label=stage_label, labels=FIELD_LABELS)


@bp.route("/document-types/new", methods=["GET", "POST"])
@rule(Action.MANAGE_CUSTOMERS)
def new() -> object:
    if request.method == "GET":
        return _render_form(None, {"code": "", "retention": "D30", "active": True, "sensitive": False})
    values = _form_values()
    code = request.form.get("code", "")
    try:
        doc_type = create_type(db(), g.user, code, values, ip=client_ip())
    except DocTypeError as exc:
        db().rollback()
        return _render_form(None, values | {"code": code}, exc.message, status_for(exc))
    flash(_("Document type %(code)s added.", code=doc_type.code))
    return redirect(url_for("doctypes.index"))


@bp.route("/document-types/<code>/edit", methods=["GET", "POST"])
@rule(Action.MANAGE_CUSTOMERS)
def edit(code: str) -> object:
    doc_type = find_type(db(), code)
    if request.method == "GET":
        return _render_form(doc_type, {f: getattr(doc_type, f) for f in (*TEXT_FIELDS, "sensitive", "active")})
    values = _form_values()
    was_sensitive = doc_type.sensitive
    try:
        update_type(db(), g.user, doc_type.code, values, ip=client_ip())
    except DocTypeError as exc:
        db().rollback()
        return _render_form(doc_type, values, exc.message, status_for(exc))
    flash(_("Document type %(code)s saved.", code=doc_type.code))
    if was_sensitive != doc_type.sensitive:
        flash(_("The search index is re-reading this type's pages with the new sensitive flag."))
    return redirect(url_for("doctypes.index"))
