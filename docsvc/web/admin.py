"""Administration: accounts (create, roles, the `sensitive` grant, disable/enable, last login), the
integrity panel (fixity: the last run and every original altered, missing or unexpected; the work waiting:
index backlog, jobs the queue has not taken, claims of workers that died; which readers produced the
pages' text and how many pages an older one did) and the 四性检测 report (choose customer files, run,
read it, download it as PDF, CSV or JSON)."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from docsvc import operations
from docsvc.constants import Grant, Role
from docsvc.governance import fixity
from docsvc.governance.access import Action, rule
from docsvc.governance.accounts import AccountError, create_user, list_users, update_account
from docsvc.files.four_properties import PROPERTY_LABELS, RESULT_LABELS, SHOWN_FINDINGS, Property
from docsvc.files.four_properties_report import summary_lines
from docsvc.http import client_ip, db, runtime
from docsvc.http.params import flag
from docsvc.i18n import _
from docsvc.http.four_properties import report_format, run_report
from docsvc.pipeline import reread
from docsvc.pipeline.jobstate import backlog

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/accounts")
@rule(Action.MANAGE_ACCOUNTS)
def accounts() -> object:
    return render_template("admin/accounts.html", users=list_users(db()), roles=[r.value for r in Role],
                           grants=[gr.value for gr in Grant])


@bp.route("/accounts", methods=["POST"])
@rule(Action.MANAGE_ACCOUNTS)
def create() -> object:
    try:
        create_user(db(), request.form.get("username", ""), request.form.get("password", ""),
                    request.form.getlist("roles"), request.form.get("display_name", ""),
                    actor=g.user, ip=client_ip(), grants=request.form.getlist("grants"))
        flash(_("Account created."))
    except AccountError as exc:
        db().rollback()
        flash(str(exc))
    return redirect(url_for("admin.accounts"))


@bp.route("/accounts/<int:user_id>", methods=["POST"])
@rule(Action.MANAGE_ACCOUNTS)
def update(user_id: int) -> object:
    try:
        user = update_account(db(), g.user, user_id, roles=request.form.getlist("roles"),
                              grants=request.form.getlist("grants"), active=request.form.get("active") == "1",
                              ip=client_ip())
        flash(_("Account %(username)s saved.", username=user.username))
    except AccountError as exc:
        db().rollback()
        flash(str(exc))
    return redirect(url_for("admin.accounts"))


@bp.route("/integrity")
@rule(Action.VIEW_INTEGRITY)
def integrity() -> object:
    return render_template("admin/integrity.html", fixity=fixity.dashboard(db()), readers=reread.readers_summary(db()),
                           backlog=backlog(db()), backup_dir=runtime().settings.backup_dir)


@bp.route("/four-properties")
@rule(Action.CHECK_FOUR_PROPERTIES)
def four_properties() -> object:
    return render_template("admin/four_properties.html", report=None, form={})


@bp.route("/four-properties", methods=["POST"])
@rule(Action.CHECK_FOUR_PROPERTIES)
def run_four_properties() -> object:
    """Run the report; show it, or hand it out as the download the pressed button asks for."""
    form = request.form
    fmt = report_format(form.get("format", "html"), allowed=("html", "pdf", "csv", "json"))
    accounts = form.get("customer_accounts", "").replace("，", " ").replace(",", " ").split()
    if fmt != "html":  # a file: made in the background, offered on its progress page when done
        operation = operations.start_four_properties(db(), runtime(), g.user, accounts, fmt,
                                                     recompute=bool(flag(form, "recompute")),
                                                     all_pages=bool(flag(form, "all_pages")), ip=client_ip())
        return redirect(url_for("operations.show", operation_id=operation.id))
    report = run_report(accounts, form)
    return render_template("admin/four_properties.html", report=report, form=form,
                           summary=summary_lines(report, runtime().settings.timezone), properties=list(Property),
                           property_labels=PROPERTY_LABELS, result_labels=RESULT_LABELS,
                           shown=SHOWN_FINDINGS)
