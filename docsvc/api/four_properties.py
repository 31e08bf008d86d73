"""REST API for the 四性检测 report (DA/T 70-2018): the same service as the command and the web page."""
from __future__ import annotations

from flask import Blueprint, jsonify

from docsvc.api import schemas as S
from docsvc.api.contract import CSV, PDF, contract
from docsvc.governance.access import Action, rule
from docsvc.http.four_properties import report_download, report_format, run_report
from docsvc.http.params import optional_json_object, text_list

bp = Blueprint("api_four_properties", __name__, url_prefix="/api/v1")


@bp.route("/four-properties", methods=["POST"])
@contract("Run the 四性检测 report (DA/T 70-2018) over customer files; the run is audited",
          {200: (S.FourPropertiesReport, CSV, PDF)}, body=S.FourPropertiesIn, body_required=False)
@rule(Action.CHECK_FOUR_PROPERTIES)
def run_four_properties() -> object:
    body = optional_json_object()
    fmt = report_format(body.get("format", "json"))
    report = run_report(text_list(body, "customer_accounts", limit=10_000), body)
    if fmt == "json":
        return jsonify(report.as_json())
    return report_download(report, fmt)
