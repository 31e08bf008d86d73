"""Customer pages: list and search, create and edit, import with column mapping, the customer file view,
the completeness report and cover-sheet printing."""
from __future__ import annotations

import secrets
from pathlib import Path

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from docsvc.governance.access import (
    Action, can, content_grant, hides_identity, is_storage_only, reads_storage_only, rule,
)
from docsvc.models import AuditEvent, Document
from docsvc.files import completeness, customer_import
from docsvc.files.customers import (
    FIELDS, GRADES, AccountRule, create_customer, file_documents, get_customer, search_customers, update_customer,
)
from docsvc.files.doctypes import STAGES, all_types
from docsvc.files.suggestions import autofile_note
from docsvc.web import audit_event, client_ip, db, runtime

bp = Blueprint("customers", __name__)

IMPORT_FIELDS = customer_import.TARGETS


def _rule() -> AccountRule:
    return AccountRule(runtime().settings.filing.account_pattern)


def _form_values() -> dict[str, object]:
    return {k: request.form.get(k, "") for k in FIELDS if k in request.form}


@bp.route("/customers")
@rule(Action.VIEW_METADATA)
def index() -> object:
    q = request.args.get("q", "")
    rows, total = search_customers(db(), q, limit=100)
    return render_template("customers/index.html", customers=rows, total=total, q=q,
                           may_edit=can(g.user, Action.MANAGE_CUSTOMERS))


@bp.route("/customers/new", methods=["GET", "POST"])
@rule(Action.MANAGE_CUSTOMERS)
def new() -> object:
    if request.method == "POST":
        customer = create_customer(db(), g.user, _rule(), request.form.get("account", ""), _form_values(),
                                   ip=client_ip())
        return redirect(url_for("customers.show", account=customer.account))
    return render_template("customers/edit.html", customer=None, grades=GRADES, stages=STAGES)


@bp.route("/customers/<account>/edit", methods=["GET", "POST"])
@rule(Action.MANAGE_CUSTOMERS)
def edit(account: str) -> object:
    customer = get_customer(db(), account)
    if request.method == "POST":
        update_customer(db(), g.user, account, _form_values(), ip=client_ip())
        from docsvc.jobs import enqueue_index

        enqueue_index(runtime().jobs)
        return redirect(url_for("customers.show", account=account))
    return render_template("customers/edit.html", customer=customer, grades=GRADES, stages=STAGES)


@bp.route("/customers/<account>")
@rule(Action.VIEW_METADATA)
def show(account: str) -> object:
    customer = get_customer(db(), account)
    documents = file_documents(db(), customer)
    by_type: dict[str, list[Document]] = {}
    for d in documents:
        by_type.setdefault(d.doc_type or "", []).append(d)
    ids = [str(d.id) for d in documents]
    events = list(db().scalars(
        select(AuditEvent).where(((AuditEvent.object_type == "document") & AuditEvent.object_id.in_(ids))
                                 | ((AuditEvent.object_type == "customer") & (AuditEvent.object_id == account)))
        .where(AuditEvent.action.not_in(("page.view", "page.image", "page.thumbnail", "page.words")))
        .order_by(AuditEvent.seq.desc()).limit(100))) if can(g.user, Action.VIEW_METADATA) else []
    return render_template("customers/show.html", customer=customer, by_type=by_type,
                           types={t.code: t for t in all_types(db(), active_only=False)},
                           checklist=completeness.checklist(db(), customer), events=events,
                           notes={e.id: note for e in events if (note := autofile_note(e))},
                           hidden={d.id for d in documents if hides_identity(g.user, d)},
                           content_hidden={d.id for d in documents if is_storage_only(d) and not reads_storage_only(g.user)},
                           may_edit=can(g.user, Action.MANAGE_CUSTOMERS))


def _stash_dir() -> Path:
    path = runtime().settings.cache_dir / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


@bp.route("/customers/import", methods=["GET", "POST"])
@rule(Action.MANAGE_CUSTOMERS)
def import_customers() -> object:
    """Step 1 uploads and shows the column mapping; step 2 (with a token) runs the dry run or the import."""
    if request.method == "GET":
        return render_template("customers/import.html", step="upload")
    token = request.form.get("token", "")
    if not token:
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("请选择要导入的 CSV 或 XLSX 文件。 / Choose a CSV or XLSX file to import.")
            return redirect(url_for("customers.import_customers"))
        data = upload.read()
        table = customer_import.read_table(data, upload.filename)
        token = secrets.token_hex(16)
        (_stash_dir() / token).write_bytes(data)
        (_stash_dir() / f"{token}.name").write_text(upload.filename)
        return render_template("customers/import.html", step="map", token=token, headers=table.headers,
                               mapping=customer_import.guess_mapping(table.headers), fields=IMPORT_FIELDS,
                               sample=table.rows[:5], encoding=table.encoding, rows=len(table.rows))
    if not token.isalnum() or not (_stash_dir() / token).exists():
        abort(404)
    data, name = (_stash_dir() / token).read_bytes(), (_stash_dir() / f"{token}.name").read_text()
    table = customer_import.read_table(data, name)
    mapping = {f: request.form[f"map_{f}"] for f in IMPORT_FIELDS if request.form.get(f"map_{f}")}
    report = customer_import.run_import(db(), g.user, table, mapping, _rule(),
                                        dry_run=request.form.get("action") != "import",
                                        skip_rejected=request.form.get("skip_rejected") == "1",
                                        ip=client_ip(), source_name=name)
    (_stash_dir() / f"{token}.errors.csv").write_bytes(report.errors_csv())
    return render_template("customers/import.html", step="report", token=token, report=report,
                           headers=table.headers, mapping=mapping, fields=IMPORT_FIELDS)


@bp.route("/customers/import/<token>/errors.csv")
@rule(Action.MANAGE_CUSTOMERS)
def import_errors(token: str) -> object:
    path = _stash_dir() / f"{token}.errors.csv"
    if not token.isalnum() or not path.exists():
        abort(404)
    return Response(path.read_bytes(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=import-errors.csv"})


@bp.route("/completeness")
@rule(Action.VIEW_METADATA)
def completeness_report() -> object:
    region, grade = request.args.get("region") or None, request.args.get("grade") or None
    lists = completeness.incomplete(db(), region=region, grade=grade)
    export = completeness_export(lists, request.args.get("format"))
    if export is not None:
        return export
    return render_template("customers/completeness.html", lists=lists[:500], total=len(lists), region=region or "",
                           grade=grade or "", grades=GRADES)


@bp.route("/cover-sheets")
@rule(Action.FILE)
def cover_sheets() -> object:
    return render_template("customers/cover_sheets.html", types=all_types(db()),
                           account=request.args.get("account", ""))


@bp.route("/cover-sheets.pdf")
@rule(Action.FILE)
def cover_sheets_pdf() -> object:
    from docsvc.pipeline.coversheets import sheets_for

    pairs = list(zip(request.args.getlist("account"), request.args.getlist("type")))
    if not pairs:
        abort(400, description="请至少填写一行“户号 类型”。 / Give at least one 'account type' line.")
    return Response(sheets_for(db(), pairs), mimetype="application/pdf",
                    headers={"Content-Disposition": "inline; filename=cover-sheets.pdf"})


@bp.route("/customers/<account>/originals.zip")
@rule(Action.DOWNLOAD)
def originals_zip(account: str) -> object:
    """Every original scan of the customer's file that this user may download, in one ZIP."""
    import io
    import zipfile

    customer = get_customer(db(), account)
    documents = file_documents(db(), customer)
    allowed = [d for d in documents if content_grant(db(), g.user, d, Action.DOWNLOAD) is not None]
    if not allowed:
        abort(403)
    buf = io.BytesIO()
    store = runtime().store
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:  # scans are compressed already
        seen: set[str] = set()
        for d in allowed:
            for key, media in {(p.source_key, p.source_media_type) for p in d.pages if p.binned_at is None}:
                if key in seen:
                    continue
                seen.add(key)
                ext = {"application/pdf": "pdf", "image/tiff": "tif", "image/jpeg": "jpg", "image/png": "png"}.get(media, "bin")
                name = f"{d.doc_type or 'XX'}_{(d.reference_code or f'doc{d.id}').replace('·', '_')}_{key.rsplit('/', 1)[-1][:12]}.{ext}"
                archive.writestr(name, store.read_bytes(key))
    audit_event("customer.download_originals", object_type="customer", object_id=account, commit=True,
                detail={"document_ids": [d.id for d in allowed], "withheld": len(documents) - len(allowed)})
    return Response(buf.getvalue(), mimetype="application/zip",
                    headers={"Content-Disposition": f"attachment; filename={account}-originals.zip"})


@bp.route("/customers/<account>/file.pdf")
@rule(Action.DOWNLOAD)
def file_pdf(account: str) -> object:
    return file_pdf_response(account)


def file_pdf_response(account: str) -> Response:
    """The customer file as one PDF (docsvc.files.filepdf), for the web page and the API.

    Built in a temporary file before the export is audited, then streamed from it: the event names the
    documents given and withheld and the loan(s) allowing them. Nothing downloadable: refused, audited.
    """
    import tempfile

    from docsvc.formats import safe_filename
    from docsvc.files import filepdf
    from docsvc.web.objects import CHUNK, attachment

    customer = get_customer(db(), account)
    export = filepdf.plan_export(db(), g.user, customer)
    withheld = [e.document.id for e in export.withheld]
    if not export.included:
        audit_event(filepdf.AUDIT_ACTION, object_type="customer", object_id=customer.account, outcome="denied",
                    commit=True, detail={"withheld": withheld})
        abort(403)
    cache = runtime().settings.cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    out = tempfile.TemporaryFile(dir=cache)  # no name: gone when closed, whatever happens
    try:
        pages = filepdf.write_pdf(export, runtime().store, out, exported_by=g.user.username,
                                  ocr_dpi=runtime().settings.ocr_dpi)
        loans = export.loan_ids
        audit_event(filepdf.AUDIT_ACTION, object_type="customer", object_id=customer.account, commit=True,
                    loan_id=loans[0] if loans else None,
                    detail={"document_ids": [e.document.id for e in export.included], "withheld": withheld,
                            "pages": pages, "loan_ids": loans})
        size = out.tell()
        out.seek(0)
    except BaseException:
        out.close()
        raise

    def chunks():  # type: ignore[no-untyped-def]
        with out:
            while block := out.read(CHUNK):
                yield block

    response = Response(chunks(), mimetype="application/pdf")
    response.call_on_close(out.close)
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = attachment(filepdf.download_name(customer),
                                                         safe_filename(f"{customer.account}-file.pdf"))
    return response


def completeness_export(lists: list[completeness.Checklist], fmt: str | None) -> Response | None:
    """The incomplete-files report as a CSV or XLSX download, or None for other formats."""
    if fmt == "csv":
        return Response(completeness.report_csv(lists), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=incomplete-files.csv"})
    if fmt == "xlsx":
        return Response(completeness.report_xlsx(lists),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": "attachment; filename=incomplete-files.xlsx"})
    return None
