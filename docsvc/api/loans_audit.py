"""REST API for loans and the audit trail (bearer tokens; same services and rules as the web)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from docsvc.api import schemas as S
from docsvc.api.contract import CSV, contract
from docsvc.governance.access import Action, rule
from docsvc.governance import audit
from docsvc.governance import loans as loan_service
from docsvc.http import client_ip, db
from docsvc.http.downloads import csv_download

bp = Blueprint("api_loans_audit", __name__, url_prefix="/api/v1")


@bp.route("/loans", methods=["POST"])
@contract("Request a loan of a customer file or of documents (JSON, or a form: document_ids as \"12, 13\")",
          {201: S.Loan}, body=S.NewLoan, forms=True,
          links={f"api_loans_audit.{e}": {"loan_id": "id"} for e in ("approve_loan", "reject_loan", "return_loan")})
@rule(Action.LOAN_REQUEST)
def create_loan(body: S.NewLoan) -> object:
    loan = loan_service.request_loan(db(), g.user, loan_service.LoanRequest(
        purpose=body.purpose, days=body.days, customer_account=body.customer_account or None,
        document_ids=tuple(body.document_ids), want_download=bool(body.allow_download),
        want_print=bool(body.allow_print)), ip=client_ip())
    return jsonify(loan_service.loan_json(loan)), 201


def _decide(loan_id: int, approve: bool, body: S.LoanDecision) -> object:
    loan = loan_service.decide(db(), g.user, loan_id, approve, note=body.note, allow_download=body.allow_download,
                               allow_print=body.allow_print, ip=client_ip())
    return jsonify(loan_service.loan_json(loan))


@bp.route("/loans/<int:loan_id>/approve", methods=["POST"])
@contract("Approve (an approver other than the requester)", {200: S.Loan}, body=S.LoanDecision,
          body_required=False)
@rule(Action.LOAN_DECIDE)
def approve_loan(loan_id: int, body: S.LoanDecision) -> object:
    return _decide(loan_id, True, body)


@bp.route("/loans/<int:loan_id>/reject", methods=["POST"])
@contract("Reject", {200: S.Loan}, body=S.LoanDecision, body_required=False)
@rule(Action.LOAN_DECIDE)
def reject_loan(loan_id: int, body: S.LoanDecision) -> object:
    return _decide(loan_id, False, body)


@bp.route("/loans/<int:loan_id>/return", methods=["POST"])
@contract("Return early (borrower or approver)", {200: S.Loan})
@rule(Action.LOAN_REQUEST)
def return_loan(loan_id: int) -> object:
    return jsonify(loan_service.loan_json(loan_service.return_loan(db(), g.user, loan_id, ip=client_ip())))


@bp.route("/loans")
@contract("Loans: pending, open, overdue, past; own loans unless approver or auditor", {200: S.LoanGroups},
          query=S.LoanQuery)
@rule(Action.LOAN_REQUEST)
def list_loans(query: S.LoanQuery) -> object:
    groups = loan_service.group_loans(loan_service.visible_loans(db(), g.user))
    wanted = query.state
    return jsonify({key: [loan_service.loan_json(l) for l in loans]
                    for key, loans in groups.items() if not wanted or key == wanted})


@bp.route("/audit")
@contract("Audit trail (auditor only), newest first; format=csv for a spreadsheet", {200: (S.AuditPage, CSV)},
          query=S.AuditQuery)
@rule(Action.READ_AUDIT)
def list_audit(query: S.AuditQuery) -> object:
    f = audit.filter_from(request.args)
    if query.format == "csv":
        return csv_download(audit.export_events(db(), g.user, f, ip=client_ip()), "audit.csv")
    per_page, page = query.per_page, query.page
    events = audit.find_events(db(), f, limit=per_page, offset=(page - 1) * per_page)
    return jsonify(page=page, per_page=per_page, events=[audit.event_json(e) for e in events])
