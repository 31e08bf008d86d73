"""REST API for long operations: start a backup or a rebuild of the search index, and follow any
operation's progress — the same service (docsvc.operations) as the operations pages."""
from __future__ import annotations

from flask import Blueprint, g, jsonify

from docsvc import operations
from docsvc.api import schemas as S
from docsvc.api.contract import contract
from docsvc.governance.access import Action, rule
from docsvc.http import db, runtime

bp = Blueprint("api_operations", __name__, url_prefix="/api/v1/operations")
FOLLOW = {"api_operations.show": {"operation_id": "id"}}


@bp.route("", methods=["GET"])
@contract("Recent operations: your own, or everyone's for an administrator", {200: S.Operations})
@rule(Action.AUTHENTICATED)
def index() -> object:
    return jsonify(operations=[operations.as_json(o) for o in operations.recent(db(), g.user)])


@bp.route("/<int:operation_id>", methods=["GET"])
@contract("One operation and where it stands (poll it: it changes while the work runs)", {200: S.OperationState})
@rule(Action.AUTHENTICATED)
def show(operation_id: int) -> object:
    return jsonify(operations.as_json(operations.get(db(), g.user, operation_id)))


@bp.route("/backup", methods=["POST"])
@contract("Back up the whole archive into a new folder under DOCSVC_BACKUP_DIR, in the background "
          "(409 when no folder is configured)", {202: S.OperationState}, body=S.BackupIn, body_required=False,
          links=FOLLOW)
@rule(Action.RUN_MAINTENANCE)
def backup(body: S.BackupIn) -> object:
    return jsonify(operations.as_json(operations.start_backup(db(), runtime(), g.user, full=body.full))), 202


@bp.route("/reindex", methods=["POST"])
@contract("Rebuild the search index from the database, in the background; the old index answers until "
          "the new one is complete", {202: S.OperationState}, links=FOLLOW)
@rule(Action.RUN_MAINTENANCE)
def reindex() -> object:
    return jsonify(operations.as_json(operations.start_reindex(db(), runtime(), g.user))), 202
