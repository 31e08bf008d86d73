"""Loans (借阅) in the browser: request, my loans and the approver's queue, decide, return, renew."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from docsvc.governance.access import Action, can, loan_state, rule
from docsvc.constants import MAX_LOAN_DAYS
from docsvc.governance import loans as loan_service
from docsvc.http import client_ip, db
from docsvc.i18n import _
from docsvc.http.params import MAX_INT, int_field

bp = Blueprint("loans", __name__, url_prefix="/loans")


def parse_document_ids(raw: str) -> tuple[int, ...]:
    parts = raw.replace("，", ",").replace(",", " ").split()
    if not all(p.isdigit() and len(p) <= 10 and int(p) <= MAX_INT for p in parts):
        raise loan_service.LoanError(_("Document ids are numbers separated by commas or spaces."))
    return tuple(int(p) for p in parts)


@bp.route("/")
@rule(Action.LOAN_REQUEST)
def index() -> object:
    groups = loan_service.group_loans(loan_service.visible_loans(db(), g.user))
    return render_template("loans/index.html", groups=groups, state=loan_state,
                           may_decide=can(g.user, Action.LOAN_DECIDE), max_days=MAX_LOAN_DAYS,
                           prefill=request.args)


@bp.route("/", methods=["POST"])
@rule(Action.LOAN_REQUEST)
def create() -> object:
    form = request.form
    loan = loan_service.request_loan(db(), g.user, loan_service.LoanRequest(
        purpose=form.get("purpose", ""), days=int_field(form, "days", 0, maximum=366),
        customer_account=form.get("customer_account") or None,
        document_ids=parse_document_ids(form.get("document_ids", "")),
        want_download=form.get("want_download") == "1", want_print=form.get("want_print") == "1"),
        ip=client_ip())
    flash(_("Loan request #%(id)s submitted for approval.", id=loan.id))
    return redirect(url_for("loans.index"))


@bp.route("/<int:loan_id>/decide", methods=["POST"])
@rule(Action.LOAN_DECIDE)
def decide(loan_id: int) -> object:
    approve = request.form.get("decision") == "approve"
    loan_service.decide(db(), g.user, loan_id, approve, note=request.form.get("note", ""),
                        allow_download=request.form.get("allow_download") == "1",
                        allow_print=request.form.get("allow_print") == "1", ip=client_ip())
    flash(_("Loan #%(id)s approved.", id=loan_id) if approve else _("Loan #%(id)s rejected.", id=loan_id))
    return redirect(url_for("loans.index"))


@bp.route("/<int:loan_id>/return", methods=["POST"])
@rule(Action.LOAN_REQUEST)
def give_back(loan_id: int) -> object:
    loan_service.return_loan(db(), g.user, loan_id, ip=client_ip())
    flash(_("Loan #%(id)s returned.", id=loan_id))
    return redirect(url_for("loans.index"))


@bp.route("/<int:loan_id>/renew", methods=["POST"])
@rule(Action.LOAN_REQUEST)
def renew(loan_id: int) -> object:
    loan = loan_service.renew(db(), g.user, loan_id, int_field(request.form, "days", 7, minimum=1, maximum=366), ip=client_ip())
    flash(_("Loan request #%(id)s submitted for approval.", id=loan.id))
    return redirect(url_for("loans.index"))
