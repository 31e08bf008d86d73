"""REST API for the 四性检测 report (DA/T 70-2018): the same service as the command and the web page."""
from __future__ import annotations

from flask import Blueprint, jsonify

from docsvc.api import schemas as S
from docsvc.api.contract import CSV, PDF, contract
from docsvc.governance.access import Action, rule
from docsvc.http.four_properties import report_download, run_report

bp = Blueprint("api_four_properties", __name__, url_prefix="/api/v1")


@bp.route("/four-properties", methods=["POST"])
@contract("Run the four-properties check (DA/T 70-2018) over customer files, its texts in the request's "
          "language; the run is audited",
          {200: (S.FourPropertiesReport, CSV, PDF)}, body=S.FourPropertiesIn, body_required=False)
@rule(Action.CHECK_FOUR_PROPERTIES)
def run_four_properties(body: S.FourPropertiesIn) -> object:
    report = run_report(body.customer_accounts, body.model_dump())
    if body.format == "json":
        return jsonify(report.as_json())
    return report_download(report, body.format)
