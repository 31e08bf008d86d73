"""Long operations in the browser: the list of recent runs, one run's page with its live progress bar
(static/js/operation-progress.js polls `/operations/<id>/progress`), its file when it made one, and the
administrator's buttons that start a backup or a rebuild of the search index. Thin: docsvc.operations
holds the rules; the state is in the database, so a reload shows the run where it is."""
from __future__ import annotations

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for

from docsvc import operations
from docsvc.constants import CONTENT_EXPORTS, OPERATION_FILE_DAYS
from docsvc.errors import NotFound
from docsvc.governance.access import Action, rule
from docsvc.http import db, runtime
from docsvc.http.objects import send_object
from docsvc.i18n import _
from docsvc.labels import LABELS, label

bp = Blueprint("operations", __name__, url_prefix="/operations")

MEDIA = {"pdf": "application/pdf", "zip": "application/zip", "csv": "text/csv; charset=utf-8"}


@bp.route("/")
@rule(Action.AUTHENTICATED)
def index() -> object:
    return render_template("operations/index.html", operations=operations.recent(db(), g.user),
                           backup_dir=runtime().settings.backup_dir)


@bp.route("/<int:operation_id>")
@rule(Action.AUTHENTICATED)
def show(operation_id: int) -> object:
    operation = operations.get(db(), g.user, operation_id)
    return render_template("operations/show.html", operation=operation, state=operations.as_json(operation),
                           params=operations.params_of(operation), js_labels=_js_labels(),
                           file_days=OPERATION_FILE_DAYS, content_exports=CONTENT_EXPORTS)


def _js_labels() -> dict[str, dict[str, str]]:
    """The names the progress script shows, in the reader's language (the one table: docsvc.labels)."""
    return {"status": {code: label("status", code) for code in ("queued", "running", "done", "failed")},
            "stage": {code: label("operation_stage", code) for code in LABELS["operation_stage"]}}


@bp.route("/<int:operation_id>/progress")
@rule(Action.AUTHENTICATED)
def progress(operation_id: int) -> object:
    return jsonify(operations.as_json(operations.get(db(), g.user, operation_id)))


@bp.route("/<int:operation_id>/download")
@rule(Action.AUTHENTICATED)
def download(operation_id: int) -> object:
    """The file the run made: only for the person who started it (it holds what they may download)."""
    operation = operations.get(db(), g.user, operation_id)
    if operation.result_key is None or operation.started_by_id != g.user.id:
        raise NotFound(_("This operation has no file for you to download."))
    name = operation.result_name or operation.result_key.rsplit("/", 1)[-1]
    return send_object(operation.result_key, MEDIA.get(name.rsplit(".", 1)[-1], "application/octet-stream"), name)


@bp.route("/backup", methods=["POST"])
@rule(Action.RUN_MAINTENANCE)
def start_backup() -> object:
    try:
        operation = operations.start_backup(db(), runtime(), g.user, full=request.form.get("full") == "1")
    except operations.OperationError as exc:  # no backup folder configured: say who sets it
        flash(exc.message)
        return redirect(url_for("operations.index"))
    return redirect(url_for("operations.show", operation_id=operation.id))


@bp.route("/reindex", methods=["POST"])
@rule(Action.RUN_MAINTENANCE)
def start_reindex() -> object:
    operation = operations.start_reindex(db(), runtime(), g.user)
    return redirect(url_for("operations.show", operation_id=operation.id))
