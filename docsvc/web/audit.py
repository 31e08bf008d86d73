"""The auditor's view of the trail: filters (who, what, object, date), CSV export, integrity check."""
from __future__ import annotations

from flask import Blueprint, g, render_template, request

from docsvc.governance import audit
from docsvc.governance.access import Action, rule
from docsvc.http import client_ip, db, runtime
from docsvc.http.downloads import csv_download
from docsvc.http.params import page_number

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.route("/")
@rule(Action.READ_AUDIT)
def index() -> object:
    f = audit.filter_from(request.args)
    page = page_number(request.args)
    events = audit.find_events(db(), f, limit=audit.PAGE_SIZE, offset=(page - 1) * audit.PAGE_SIZE)
    return render_template("audit/index.html", events=events, page=page,
                           args={k: v for k, v in request.args.items() if k != "page"}, page_size=audit.PAGE_SIZE,
                           retention_days=runtime().settings.audit_retention_days, report=None)


@bp.route("/export.csv")
@rule(Action.READ_AUDIT)
def export() -> object:
    lines = audit.export_events(db(), g.user, audit.filter_from(request.args), ip=client_ip())
    return csv_download(lines, "audit.csv")


@bp.route("/verify", methods=["POST"])
@rule(Action.READ_AUDIT)
def verify() -> object:
    report = audit.verify_recorded(db(), runtime().store, g.user, ip=client_ip())
    return render_template("audit/index.html", events=[], args={}, page=1, page_size=audit.PAGE_SIZE,
                           retention_days=runtime().settings.audit_retention_days, report=report)
