"""Customer pages: list and search, create and edit, import with column mapping, the customer file view,
the completeness report and cover-sheet printing."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from docsvc import operations
from docsvc.constants import OperationKind
from docsvc.files import completeness, customer_import, originals
from docsvc.files.coversheets import sheets_for
from docsvc.files.customers import (
    FIELD_LABELS, FIELDS, GRADES, AccountRule, create_customer, file_documents, file_history, get_customer,
    search_customers, update_customer,
)
from docsvc.files.doctypes import STAGES, all_types, stage_label, type_name
from docsvc.files.suggestions import autofile_note
from docsvc.governance.access import Action, can, hides_identity, is_storage_only, reads_storage_only, rule
from docsvc.http import client_ip, db, runtime
from docsvc.http.downloads import completeness_export, customer_file_pdf
from docsvc.models import Document
from docsvc.i18n import _

bp = Blueprint("customers", __name__)

IMPORT_FIELDS = customer_import.TARGETS


@bp.context_processor
def _names() -> dict[str, object]:
    """What the customer pages call fields, stages and types, in the reader's language."""
    return {"labels": FIELD_LABELS, "stage_label": stage_label, "type_name": type_name}


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
    events = file_history(db(), customer, documents, with_access=can(g.user, Action.READ_AUDIT))
    return render_template("customers/show.html", customer=customer, by_type=by_type,
                           types={t.code: t for t in all_types(db(), active_only=False)},
                           checklist=completeness.checklist(db(), customer), events=events,
                           notes={e.id: note for e in events if (note := autofile_note(e))},
                           hidden={d.id for d in documents if hides_identity(g.user, d)},
                           content_hidden={d.id for d in documents if is_storage_only(d) and not reads_storage_only(g.user)},
                           may_edit=can(g.user, Action.MANAGE_CUSTOMERS))


def _stash() -> customer_import.ImportStash:
    return customer_import.ImportStash(runtime().settings.cache_dir / "imports")


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
            flash(_("Choose a CSV or XLSX file to import."))
            return redirect(url_for("customers.import_customers"))
        data = upload.read()
        table = customer_import.read_table(data, upload.filename)
        token = _stash().put(data, upload.filename)
        return render_template("customers/import.html", step="map", token=token, headers=table.headers,
                               mapping=customer_import.guess_mapping(table.headers), fields=IMPORT_FIELDS,
                               sample=table.rows[:5], encoding=table.encoding, rows=len(table.rows))
    data, name = _stash().get(token)
    table = customer_import.read_table(data, name)
    mapping = {f: request.form[f"map_{f}"] for f in IMPORT_FIELDS if request.form.get(f"map_{f}")}
    if request.form.get("action") == "import":
        # Applying runs in the background with a progress bar; the dry run above stays at once.
        operation = operations.start_import(db(), runtime(), g.user, data, name, mapping,
                                            request.form.get("skip_rejected") == "1", client_ip())
        return redirect(url_for("operations.show", operation_id=operation.id))
    report = customer_import.run_import(db(), g.user, table, mapping, _rule(),
                                        dry_run=request.form.get("action") != "import",
                                        skip_rejected=request.form.get("skip_rejected") == "1",
                                        ip=client_ip(), source_name=name)
    _stash().put_errors(token, report.errors_csv())
    return render_template("customers/import.html", step="report", token=token, report=report,
                           headers=table.headers, mapping=mapping, fields=IMPORT_FIELDS)


@bp.route("/customers/import/<token>/errors.csv")
@rule(Action.MANAGE_CUSTOMERS)
def import_errors(token: str) -> object:
    return Response(_stash().errors(token), mimetype="text/csv",
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
    pairs = list(zip(request.args.getlist("account"), request.args.getlist("type")))
    if not pairs:
        abort(400, description=_("Give at least one 'account type' line."))
    return Response(sheets_for(db(), pairs), mimetype="application/pdf",
                    headers={"Content-Disposition": "inline; filename=cover-sheets.pdf"})


@bp.route("/customers/<account>/originals.zip")
@rule(Action.DOWNLOAD)
def originals_zip(account: str) -> object:
    """Every original scan of the customer's file that this user may download, in one ZIP."""
    export = originals.originals_zip(db(), runtime().store, g.user, account, ip=client_ip())
    return Response(export.data, mimetype="application/zip",
                    headers={"Content-Disposition": f"attachment; filename={export.filename}"})


@bp.route("/customers/<account>/file.pdf")
@rule(Action.DOWNLOAD)
def file_pdf(account: str) -> object:
    return customer_file_pdf(account)


@bp.route("/customers/<account>/file.pdf", methods=["POST"], defaults={"kind": OperationKind.FILE_PDF})
@bp.route("/customers/<account>/originals.zip", methods=["POST"], defaults={"kind": OperationKind.ORIGINALS_ZIP})
@rule(Action.DOWNLOAD)
def start_export(account: str, kind: OperationKind) -> object:
    """A big customer file takes minutes to put together: made in the background, offered when done."""
    get_customer(db(), account)  # an unknown 户号 is refused now, not in the background
    operation = operations.start_export(db(), runtime(), g.user, kind, account, client_ip())
    return redirect(url_for("operations.show", operation_id=operation.id))
