"""The 四性检测 report for the web page and the API: one way to read the request, run the report as the
signed-in user, and hand it out as a JSON, CSV or PDF download, in the request's language."""
from __future__ import annotations

from collections.abc import Mapping

from flask import Response, g

from docsvc.files import four_properties, four_properties_report
from docsvc.http.context import client_ip, db, runtime
from docsvc.http.objects import attachment
from docsvc.http.params import BadInput, flag
from docsvc.i18n import _


def report_format(value: object, *, allowed: tuple[str, ...] = tuple(four_properties_report.FORMATS)) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise BadInput(_("The parameter format must be json, csv or pdf."))
    return value


def run_report(accounts: list[str] | None, body: Mapping[str, object]) -> four_properties.FourPropertiesReport:
    """Run the report over `accounts` (every customer file when None or empty), as the signed-in user."""
    return four_properties.run(db(), runtime().store, runtime().settings.filing, g.user, accounts=accounts or None,
                               recompute=bool(flag(body, "recompute")), all_pages=bool(flag(body, "all_pages")),
                               ip=client_ip())


def report_download(report: four_properties.FourPropertiesReport, fmt: str) -> Response:
    zone = runtime().settings.timezone
    name = four_properties_report.filename(report, fmt, zone)
    return Response(four_properties_report.render(report, fmt, zone), mimetype=four_properties_report.FORMATS[fmt],
                    headers={"Content-Disposition": attachment(name, name)})
