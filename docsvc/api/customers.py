"""REST API for customer files: customers, import, completeness, filing, page operations, cover sheets."""
from __future__ import annotations

import dataclasses

from flask import Blueprint, Response, g, jsonify, request

from docsvc import operations
from docsvc.api import schemas as S
from docsvc.api.contract import CSV, PDF, XLSX, contract
from docsvc.governance.access import Action, rule
from docsvc.files import completeness, customer_import, filing, pageops
from docsvc.files.customers import (
    FIELDS, AccountRule, create_customer, customer_json, get_customer, search_customers, update_customer,
)
from docsvc.files.doctypes import all_types, create_type, find_type, type_json, update_type
from docsvc.files.documents import document_json, get_document, get_page, page_summary
from docsvc.files.suggestions import suggest
from docsvc.files.typeguess import guess_document_type
from docsvc.files.coversheets import sheets_for
from docsvc.http import client_ip, db, runtime
from docsvc.http.downloads import completeness_export, customer_file_pdf
from docsvc.http.params import scalar_values
from docsvc.i18n import _

bp = Blueprint("api_customers", __name__, url_prefix="/api/v1")


def _settings():  # type: ignore[no-untyped-def]
    return runtime().settings.filing


def _rule() -> AccountRule:
    return AccountRule(_settings().account_pattern)


def _given(body: S.In, names: tuple[str, ...]) -> dict[str, object]:
    """The fields among `names` the request gave (a PATCH changes only those), numbers in range."""
    return scalar_values(body.model_dump(exclude_unset=True), names)


@bp.route("/customers")
@contract("List customers; search by account number prefix or name", {200: S.CustomerPage}, query=S.CustomerQuery)
@rule(Action.VIEW_METADATA)
def list_customers(query: S.CustomerQuery) -> object:
    limit, page = query.per_page, query.page
    rows, total = search_customers(db(), query.q, limit=limit, offset=(page - 1) * limit)
    return jsonify(total=total, page=page, per_page=limit, customers=[customer_json(c) for c in rows])


@bp.route("/customers", methods=["POST"])
@contract("Create a customer", {201: S.Customer}, body=S.NewCustomer,
          links={f"api_customers.{e}": {"account": "account"} for e in ("show", "update", "customer_completeness")})
@rule(Action.MANAGE_CUSTOMERS)
def create(body: S.NewCustomer) -> object:
    customer = create_customer(db(), g.user, _rule(), body.account, _given(body, FIELDS), ip=client_ip())
    return jsonify(customer_json(customer)), 201


@bp.route("/customers/<account>")
@contract("One customer", {200: S.Customer})
@rule(Action.VIEW_METADATA)
def show(account: str) -> object:
    return jsonify(customer_json(get_customer(db(), account)))


@bp.route("/customers/<account>", methods=["PATCH"])
@contract("Change customer fields", {200: S.Customer}, body=S.CustomerFields)
@rule(Action.MANAGE_CUSTOMERS)
def update(account: str, body: S.CustomerFields) -> object:
    customer = update_customer(db(), g.user, account, _given(body, FIELDS), ip=client_ip())
    return jsonify(customer_json(customer))


@bp.route("/customers/import", methods=["POST"])
@contract("Import customers from CSV (UTF-8/GBK) or XLSX; upsert by account number, all or nothing (422: rows "
          "rejected, nothing written); format=csv answers the row errors as CSV; background=true applies it as "
          "an operation (202)",
          {200: (S.ImportReport, CSV), 202: S.OperationState, 422: (S.ImportReport, CSV)}, form=S.CustomerImport,
          query=S.FormatQuery, links={"api_operations.show": {"operation_id": "id"}})
@rule(Action.MANAGE_CUSTOMERS)
def import_customers() -> object:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return jsonify(error=_("Send the CSV or XLSX as multipart field `file`.")), 400
    data = upload.read()
    table = customer_import.read_table(data, upload.filename)  # an unreadable file is refused now, not later
    mapping = customer_import.guess_mapping(table.headers)
    for target in customer_import.TARGETS:  # explicit mapping: map_<field>=<header>
        if request.form.get(f"map_{target}"):
            mapping[target] = request.form[f"map_{target}"]
    dry_run = request.form.get("dry_run", "false").lower() == "true"
    skip_rejected = request.form.get("skip_rejected", "false").lower() == "true"
    if request.form.get("background", "false").lower() == "true" and not dry_run:
        operation = operations.start_import(db(), runtime(), g.user, data, upload.filename, mapping, skip_rejected,
                                            client_ip())
        return jsonify(operations.as_json(operation)), 202
    report = customer_import.run_import(
        db(), g.user, table, mapping, _rule(), dry_run=dry_run, skip_rejected=skip_rejected, ip=client_ip(),
        source_name=upload.filename)
    if request.args.get("format") == "csv" or request.accept_mimetypes.best == "text/csv":
        return Response(report.errors_csv(), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=import-errors.csv"})
    return jsonify(report.as_json() | {"mapping": mapping}), 200 if report.applied or report.dry_run else 422


@bp.route("/customers/<account>/completeness")
@contract("Checklist of required document types for the customer's stage", {200: S.Checklist})
@rule(Action.VIEW_METADATA)
def customer_completeness(account: str) -> object:
    return jsonify(completeness.checklist(db(), get_customer(db(), account)).as_json())


@bp.route("/customers/<account>/file.pdf")
@contract("The customer file as one PDF with a contents list and searchable text; documents the caller may "
          "not download are left out and listed as withheld. Audited.", {200: PDF})
@rule(Action.DOWNLOAD)
def file_pdf(account: str) -> object:
    return customer_file_pdf(account)


@bp.route("/completeness")
@contract("All incomplete customer files", {200: (S.IncompleteFiles, CSV, XLSX)}, query=S.CompletenessQuery)
@rule(Action.VIEW_METADATA)
def completeness_report() -> object:
    lists = completeness.incomplete(db(), region=request.args.get("region") or None,
                                    grade=request.args.get("grade") or None)
    export = completeness_export(lists, request.args.get("format"))
    if export is not None:
        return export
    return jsonify(total=len(lists), files=[c.as_json() for c in lists])


@bp.route("/document-types")
@contract("The document-type table (inactive types included)", {200: S.DocumentTypes})
@rule(Action.VIEW_METADATA)
def document_types() -> object:
    return jsonify(types=[type_json(t) for t in all_types(db(), active_only=False)])


@bp.route("/document-types", methods=["POST"])
@contract("Add a document type (audited as doctype.create)", {201: S.DocumentType}, body=S.NewDocumentType,
          links={f"api_customers.{e}": {"code": "code"} for e in ("document_type", "update_document_type")})
@rule(Action.MANAGE_CUSTOMERS)
def create_document_type(body: S.NewDocumentType) -> object:
    fields = body.model_dump(exclude_unset=True, exclude={"code"})
    doc_type = create_type(db(), g.user, body.code, scalar_values(fields, tuple(fields)), ip=client_ip())
    return jsonify(type_json(doc_type)), 201


@bp.route("/document-types/<code>")
@contract("One document type", {200: S.DocumentType})
@rule(Action.VIEW_METADATA)
def document_type(code: str) -> object:
    return jsonify(type_json(find_type(db(), code)))


@bp.route("/document-types/<code>", methods=["PATCH"])
@contract("Change a document type's fields (audited); the code itself cannot change", {200: S.DocumentType},
          body=S.DocumentTypeFields)
@rule(Action.MANAGE_CUSTOMERS)
def update_document_type(code: str, body: S.DocumentTypeFields) -> object:
    fields = body.model_dump(exclude_unset=True)
    doc_type = update_type(db(), g.user, code, scalar_values(fields, tuple(fields)), ip=client_ip())
    return jsonify(type_json(doc_type))


@bp.route("/documents/<int:document_id>", methods=["PATCH"])
@contract("Describe a document; with customer_account and doc_type it is linked and filed (reference code assigned)",
          {200: S.Document}, body=S.DocumentFields)
@rule(Action.FILE)
def patch_document(document_id: int, body: S.DocumentFields) -> object:
    document = filing.update_document(db(), g.user, get_document(db(), document_id),
                                      _given(body, (*filing.EDITABLE, "customer_account", "doc_type")),
                                      _settings(), ip=client_ip())
    return jsonify(document_json(document, g.user))


@bp.route("/documents/<int:document_id>/reference-code", methods=["POST"])
@contract("Correct a reference code (records manager; reason required; audited)", {200: S.Document},
          body=S.CodeCorrection)
@rule(Action.CORRECT_CODE)
def correct_reference_code(document_id: int, body: S.CodeCorrection) -> object:
    document = filing.correct_code(db(), g.user, get_document(db(), document_id), body.reference_code, body.reason,
                                   _settings(), ip=client_ip())
    return jsonify(document_json(document, g.user))


@bp.route("/documents/<int:document_id>/unfile", methods=["POST"])
@contract("Send a filed document back to the inbox (reason required; audited; the reference code stays)",
          {200: S.Document}, body=S.Reason)
@rule(Action.UNFILE)
def unfile(document_id: int, body: S.Reason) -> object:
    """Back to the inbox, so its pages can be corrected: an archivist's audited act with a reason."""
    document = get_document(db(), document_id)
    filing.unfile_document(db(), g.user, document, reason=body.reason, ip=client_ip())
    db().commit()
    return jsonify(document_json(document, g.user))


@bp.route("/documents/<int:document_id>/suggestions")
@contract("Customers proposed from the OCR text, and the type guessed from the first page", {200: S.Suggestions})
@rule(Action.FILE)
def suggestions(document_id: int) -> object:
    document = get_document(db(), document_id)
    guess = guess_document_type(db(), document)
    return jsonify(suggestions=[s.__dict__ for s in suggest(db(), document)],
                   type_guess=dataclasses.asdict(guess) if guess else None,
                   autofile_confidence=_settings().autofile_confidence)


@bp.route("/documents/<int:document_id>/split", methods=["POST"])
@contract("Split: pages from at_page on become a new unfiled document", {200: S.SplitDocument}, body=S.Split,
          links={"api_v1.get_document_json": {"document_id": "new_document/id"},
                 "api_customers.patch_document": {"document_id": "new_document/id"}})
@rule(Action.FILE)
def split(document_id: int, body: S.Split) -> object:
    new = pageops.split(db(), g.user, get_document(db(), document_id), body.at_page, ip=client_ip())
    return jsonify(document_json(get_document(db(), document_id), g.user) | {"new_document": document_json(new, g.user)})


@bp.route("/documents/<int:document_id>/merge", methods=["POST"])
@contract("Append an unfiled document's pages", {200: S.Document}, body=S.Merge)
@rule(Action.FILE)
def merge(document_id: int, body: S.Merge) -> object:
    source = get_document(db(), body.source_document_id)
    target = pageops.merge(db(), g.user, get_document(db(), document_id), source, ip=client_ip())
    return jsonify(document_json(target, g.user))


@bp.route("/documents/<int:document_id>/reorder", methods=["POST"])
@contract("Put the pages in this order", {200: S.Document}, body=S.Reorder)
@rule(Action.FILE)
def reorder(document_id: int, body: S.Reorder) -> object:
    document = pageops.reorder(db(), g.user, get_document(db(), document_id), body.page_ids, ip=client_ip())
    return jsonify(document_json(document, g.user))


@bp.route("/inbox")
@contract("Unfiled documents", {200: S.Documents})
@rule(Action.FILE)
def inbox() -> object:
    return jsonify(documents=[document_json(d, g.user) for d in filing.inbox(db())])


@bp.route("/inbox/assign", methods=["POST"])
@contract("Link and file several documents to one customer and type", {200: S.Documents}, body=S.Assign)
@rule(Action.FILE)
def assign(body: S.Assign) -> object:
    """Bulk: link and file several documents to one customer and type, in one transaction."""
    values = _given(body, ("customer_account", "doc_type"))
    docs = [get_document(db(), i) for i in body.document_ids]
    for d in docs:
        filing.update_document(db(), g.user, d, values, _settings(), ip=client_ip())
    return jsonify(documents=[document_json(d, g.user) for d in docs])


def _page_op(page_id: int, op: str, body: S.MovePage | S.RotatePage | None = None) -> object:
    page = get_page(db(), page_id)
    if isinstance(body, S.MovePage):
        pageops.move_page(db(), g.user, page, get_document(db(), body.document_id), body.position, ip=client_ip())
    elif isinstance(body, S.RotatePage):
        pageops.rotate(db(), g.user, page, body.degrees, ip=client_ip())
    elif op == "delete":
        pageops.bin_page(db(), g.user, page, ip=client_ip())
    elif op == "restore":
        pageops.restore_page(db(), g.user, page, ip=client_ip())
    # Never the page's text: a page operation is not a read (and is not audited as one).
    return jsonify(page_summary(page))


@bp.route("/pages/<int:page_id>/move", methods=["POST"])
@contract("Move the page to another document", {200: S.PageState}, body=S.MovePage)
@rule(Action.FILE)
def move_page(page_id: int, body: S.MovePage) -> object:
    return _page_op(page_id, "move", body)


@bp.route("/pages/<int:page_id>/rotate", methods=["POST"])
@contract("Turn the page as shown (degrees, default 90)", {200: S.PageState}, body=S.RotatePage,
          body_required=False)
@rule(Action.FILE)
def rotate_page(page_id: int, body: S.RotatePage) -> object:
    return _page_op(page_id, "rotate", body)


@bp.route("/pages/<int:page_id>/delete", methods=["POST"])
@contract("Put the page in the bin", {200: S.PageState})
@rule(Action.FILE)
def delete_page(page_id: int) -> object:
    return _page_op(page_id, "delete")


@bp.route("/pages/<int:page_id>/restore", methods=["POST"])
@contract("Take the page out of the bin", {200: S.PageState})
@rule(Action.FILE)
def restore_page(page_id: int) -> object:
    return _page_op(page_id, "restore")


@bp.route("/pages/<int:page_id>/purge", methods=["POST"])
@contract("Erase a binned page for good", {200: S.Purged})
@rule(Action.FILE)
def purge_page(page_id: int) -> object:
    pageops.purge_page(db(), runtime().store, g.user, get_page(db(), page_id), ip=client_ip())
    return jsonify(purged=page_id)


@bp.route("/cover-sheets")
@contract("Cover sheets (PDF) for customer and type pairs", {200: PDF}, query=S.CoverSheetQuery)
@rule(Action.FILE)
def cover_sheets() -> object:
    accounts, types = request.args.getlist("account"), request.args.getlist("type")
    if not accounts or len(accounts) != len(types):
        return jsonify(error=_("Give account and type in pairs (?account=…&type=…, repeatable).")), 400
    return Response(sheets_for(db(), list(zip(accounts, types))), mimetype="application/pdf",
                    headers={"Content-Disposition": "inline; filename=cover-sheets.pdf"})
