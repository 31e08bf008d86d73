"""The home page: a dashboard with the panels of each role the user holds (docsvc.dashboard gathers them)."""
from __future__ import annotations

from flask import Blueprint, g, render_template

from docsvc import dashboard
from docsvc.governance.access import Action, rule
from docsvc.http import db, runtime

bp = Blueprint("home", __name__)


@bp.route("/")
@rule(Action.AUTHENTICATED)
def index() -> object:
    rt = runtime()
    shown = dashboard.panels_for(g.user)
    gather = {
        "operator": lambda: dashboard.operator_panel(db(), g.user),
        "archivist": lambda: dashboard.archivist_panel(db(), g.user),
        "records_manager": lambda: dashboard.records_panel(db(), rt.index),
        "admin": lambda: dashboard.admin_panel(db(), rt.jobs, rt.store, rt.settings.index_dir,
                                               s3=bool(rt.settings.s3_endpoint)),
        "auditor": lambda: dashboard.auditor_panel(db()),
        "search": lambda: None,
    }
    panels = {name: gather[name]() for name in shown}
    chart = dashboard.bar_chart(panels["records_manager"].years) if "records_manager" in panels else None
    return render_template("home/index.html", panels=panels, chart=chart, size=dashboard.human_size)
