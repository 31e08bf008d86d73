"""The auditor's view of the trail: filters (who, what, object, date), CSV export, integrity check."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta, timezone

from flask import Blueprint, Response, render_template, request, stream_with_context

from docsvc.governance.access import Action, rule
from docsvc.errors import DomainError
from docsvc.governance import audit
from docsvc.web import audit_event, db, runtime
from docsvc.web.params import page_number

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 200


class BadFilter(DomainError):
    status = 400


def _moment(value: str, end: bool) -> datetime | None:
    """A date (whole day; `to` includes it) or an ISO timestamp, read as UTC."""
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            day = datetime.combine(datetime.fromisoformat(value).date(), time(), tzinfo=timezone.utc)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadFilter(f"日期“{value}”格式不对，请用 YYYY-MM-DD。 / Bad date {value!r}: use YYYY-MM-DD.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def filter_from(args: Mapping[str, str]) -> audit.EventFilter:
    return audit.EventFilter(actor=args.get("actor", "").strip() or None, action=args.get("action", "").strip() or None,
                             object=args.get("object", "").strip() or None,
                             since=_moment(args.get("from", ""), end=False), until=_moment(args.get("to", ""), end=True))


def csv_response(f: audit.EventFilter) -> Response:
    audit_event("audit.export", detail={k: str(v) for k, v in vars(f).items() if v}, commit=True)
    events = audit.find_events(db(), f, limit=None)
    response = Response(stream_with_context(audit.csv_lines(events)), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = "attachment; filename=audit.csv"
    return response


@bp.route("/")
@rule(Action.READ_AUDIT)
def index() -> object:
    f = filter_from(request.args)
    page = page_number(request.args)
    events = audit.find_events(db(), f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("audit/index.html", events=events, page=page,
                           args={k: v for k, v in request.args.items() if k != "page"}, page_size=PAGE_SIZE,
                           retention_days=runtime().settings.audit_retention_days, report=None)


@bp.route("/export.csv")
@rule(Action.READ_AUDIT)
def export() -> object:
    return csv_response(filter_from(request.args))


@bp.route("/verify", methods=["POST"])
@rule(Action.READ_AUDIT)
def verify() -> object:
    report = audit.verify(db(), audit.load_anchors(runtime().store))
    audit_event("audit.verify", outcome="ok" if report.ok else "broken",
                detail={"events": report.events, "first_broken_seq": report.first_broken_seq}, commit=True)
    return render_template("audit/index.html", events=[], args={}, page=1, page_size=PAGE_SIZE,
                           retention_days=runtime().settings.audit_retention_days, report=report)
