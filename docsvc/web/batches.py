"""Upload page, batch list and the batch page with its live progress."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from docsvc.governance.access import Action, rule
from docsvc.errors import NotAllowedNow, NotFound
from docsvc.pipeline import batches as batch_service
from docsvc.pipeline.intake import DestroyedContent, StoreDown, Upload, receive
from docsvc.http import client_ip, db, runtime
from docsvc.http.errors import retry_after, status_for
from docsvc.http.uploads import UnreadableUpload, uploaded_files

bp = Blueprint("batches", __name__)


@bp.route("/batches")
@rule(Action.VIEW_BATCH)
def index() -> object:
    recent = batch_service.recent_batches(db())
    reports = batch_service.batch_reports(db(), recent)
    return render_template("batches/index.html", batches=zip(recent, reports))


@bp.route("/upload", methods=["GET", "POST"])
@rule(Action.UPLOAD)
def upload() -> object:
    if request.method == "GET":
        return render_template("batches/upload.html")
    try:
        files = uploaded_files()
    except UnreadableUpload as exc:
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=exc.message), 400
        flash(exc.message)
        return redirect(url_for("batches.upload"))
    try:
        batch = receive(
            db(), runtime().store, runtime().jobs,
            (Upload(f.filename or "", f.stream) for f in files),
            source="web", user_id=g.user.id, ip=client_ip(),
            customer_account=request.form.get("customer_account"), doc_type=request.form.get("doc_type"),
            reason_for_destroyed=request.form.get("reason_for_destroyed"),
        )
    except (DestroyedContent, StoreDown) as exc:
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=exc.message), status_for(exc), retry_after(exc)
        flash(exc.message)
        return redirect(url_for("batches.upload"))
    target = url_for("batches.show", batch_id=batch.id)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(batch_id=batch.id, url=target), 202
    return redirect(target)


@bp.route("/batches/<int:batch_id>")
@rule(Action.VIEW_BATCH)
def show(batch_id: int) -> object:
    try:
        report = batch_service.batch_report(db(), batch_id)
    except NotFound:
        abort(404)
    return render_template("batches/show.html", report=report)


@bp.route("/batches/<int:batch_id>/progress")
@rule(Action.VIEW_BATCH)
def progress(batch_id: int) -> object:
    try:
        report = batch_service.batch_report(db(), batch_id).as_json()
        report["tiles"] = batch_service.page_tiles(db(), batch_id)
        return jsonify(report)
    except NotFound:
        abort(404)


@bp.route("/batches/<int:batch_id>/retry", methods=["POST"])
@rule(Action.RETRY)
def retry(batch_id: int) -> object:
    batch_service.retry_failed(db(), runtime().jobs, batch_id, actor=g.user, ip=client_ip())
    return redirect(url_for("batches.show", batch_id=batch_id))


@bp.route("/pages/<int:page_id>/retry", methods=["POST"])
@rule(Action.RETRY)
def retry_page(page_id: int) -> object:
    try:
        page = batch_service.retry_page(db(), runtime().jobs, page_id, actor=g.user, ip=client_ip())
    except NotFound:
        abort(404)
    except NotAllowedNow as exc:
        flash(str(exc))
        return redirect(request.referrer or url_for("batches.index"))
    return redirect(url_for("documents.show", document_id=page.document_id))
