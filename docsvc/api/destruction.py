"""REST API for destruction lists (销毁清册): thin routes over governance.disposition and register."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, g, jsonify, request

from docsvc.errors import DomainError
from docsvc.governance import disposition, register
from docsvc.governance.access import Action, rule
from docsvc.web import client_ip, db, runtime

bp = Blueprint("api_destruction", __name__, url_prefix="/api/v1/destruction-lists")


def _body() -> dict[str, object]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise DomainError("请求体应为 JSON 对象。 / The request body must be a JSON object.")
    return data


def _list(list_id: int):  # type: ignore[no-untyped-def]
    return disposition.get_list(db(), list_id)


def _decisions(raw: object) -> list[disposition.DecisionInput]:
    if not isinstance(raw, list) or not all(isinstance(d, dict) for d in raw):
        raise DomainError("decisions 应为列表：[{document_id, decision, until, reason}]。 / decisions must be a list "
                          "of {document_id, decision, until, reason}.")
    out = []
    for d in raw:
        try:
            until = date.fromisoformat(str(d["until"])) if d.get("until") else None
            out.append(disposition.DecisionInput(int(d["document_id"]), str(d.get("decision") or ""), until,
                                                 str(d.get("reason") or "") or None))
        except (KeyError, TypeError, ValueError) as exc:
            raise DomainError(f"鉴定结论格式有误（{d}）：document_id 为整数，until 为 YYYY-MM-DD。 / Bad decision {d}: "
                              "document_id is an integer, until is YYYY-MM-DD.") from exc
    return out


def _json(dlist) -> object:  # type: ignore[no-untyped-def]
    return jsonify(disposition.list_json(dlist))


@bp.route("", methods=["GET"])
@rule(Action.VIEW_RETENTION)
def index() -> object:
    return jsonify(lists=[disposition.list_json(d) for d in disposition.all_lists(db())])


@bp.route("", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def create() -> object:
    body = _body()
    ids = body.get("document_ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise DomainError("document_ids 应为文档编号列表。 / document_ids must be a list of document ids.")
    dlist = disposition.create_list(db(), g.user, ids, title=str(body.get("title") or "") or None,
                                    index=runtime().index, ip=client_ip())
    return _json(dlist), 201


@bp.route("/<int:list_id>")
@rule(Action.VIEW_RETENTION)
def show(list_id: int) -> object:
    return _json(_list(list_id))


@bp.route("/<int:list_id>/appraisal", methods=["POST"])
@rule(Action.APPRAISE)
def appraise(list_id: int) -> object:
    body = _body()
    report = body.get("report")
    return _json(disposition.appraise(db(), g.user, _list(list_id), _decisions(body.get("decisions")),
                                      report=str(report) if report is not None else None, ip=client_ip()))


@bp.route("/<int:list_id>/submit", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def submit(list_id: int) -> object:
    return _json(disposition.submit(db(), g.user, _list(list_id), ip=client_ip()))


@bp.route("/<int:list_id>/approve", methods=["POST"])
@rule(Action.APPROVE_DESTRUCTION)
def approve(list_id: int) -> object:
    note = (request.get_json(silent=True) or {}).get("note")
    return _json(disposition.approve(db(), g.user, _list(list_id), runtime().settings, note=note, ip=client_ip()))


@bp.route("/<int:list_id>/reject", methods=["POST"])
@rule(Action.APPROVE_DESTRUCTION)
def reject(list_id: int) -> object:
    return _json(disposition.reject(db(), g.user, _list(list_id), str(_body().get("reason") or ""), ip=client_ip()))


@bp.route("/<int:list_id>/supervise", methods=["POST"])
@rule(Action.SUPERVISE_DESTRUCTION)
def supervise(list_id: int) -> object:
    note = (request.get_json(silent=True) or {}).get("note")
    return _json(disposition.supervise(db(), g.user, _list(list_id), note=note, ip=client_ip()))


@bp.route("/<int:list_id>/execute", methods=["POST"])
@rule(Action.EXECUTE_DESTRUCTION)
def execute(list_id: int) -> object:
    return _json(disposition.start_execution(db(), g.user, _list(list_id), runtime().jobs, ip=client_ip())), 202


@bp.route("/<int:list_id>/cancel", methods=["POST"])
@rule(Action.MANAGE_RETENTION)
def cancel(list_id: int) -> object:
    return _json(disposition.cancel(db(), g.user, _list(list_id), str(_body().get("reason") or ""), ip=client_ip()))


@bp.route("/<int:list_id>/register.pdf", defaults={"ext": "pdf"})
@bp.route("/<int:list_id>/register.csv", defaults={"ext": "csv"})
@rule(Action.READ_REGISTER)
def register_file(list_id: int, ext: str) -> Response:
    dlist = _list(list_id)
    data = register.download(db(), runtime().store, g.user, dlist, ext, ip=client_ip())
    media = "application/pdf" if ext == "pdf" else "text/csv; charset=utf-8"
    return Response(data, mimetype=media, headers={
        "Content-Disposition": f'attachment; filename="destruction-register-{list_id}.{ext}"'})
