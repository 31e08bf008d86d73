"""The API's typed request and response models: the OpenAPI document is generated from them
(docsvc.api.contract) and requests are validated by them.

Response models forbid undeclared fields, so a field a service's JSON builder gains without the model
fails tests/test_api_contract.py: the document cannot drift from what the API answers."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel
from pydantic_core import PydanticCustomError

from docsvc.http.params import MAX_INT


def _number_as_text(value: object) -> object:
    """Numbers are taken as their text (a 户号 sent as 3100012345), as the form fields always were."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def _not_a_flag(value: object) -> object:
    """true/false is not a number, though Python counts it as one."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


Text = Annotated[str, BeforeValidator(_number_as_text)]
Int = Annotated[int, BeforeValidator(_not_a_flag)]
Id = Annotated[Int, Field(ge=1, le=MAX_INT)]
Timestamp = Annotated[str, Field(description="a moment in UTC, ISO 8601 with its offset", json_schema_extra={"format": "date-time"})]
Day = Annotated[str, Field(description="a date, YYYY-MM-DD")]
Scalar = Annotated[str | int | float | bool | None, Field(description="a string, a number, true/false or null")]


class Out(BaseModel):
    """A response body: every field declared, none other allowed."""
    model_config = ConfigDict(extra="forbid")


class In(BaseModel):
    """A request body or query: fields of the wrong type are refused (400, naming the field); unknown
    fields are left to the service (some take open sets, e.g. a document type's columns)."""
    model_config = ConfigDict(extra="allow")


# ------------------------------------------------------------------------------------------------ errors

class Error(Out):
    error: str = Field(description="what happened and what to do, in the reader's language: the one chosen on "
                                   "their account, else Accept-Language, else Chinese")
    reference: str | None = Field(None, description="quoted in the server log beside the cause")


class OpenAPI(BaseModel):
    """An OpenAPI 3.1 document (this one)."""
    model_config = ConfigDict(extra="allow")
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


# ------------------------------------------------------------------------------------- me, batches, pages

class Me(Out):
    id: int
    username: str
    roles: list[str]


class BatchCounts(Out):
    pages_total: int
    pages_done: int
    pages_failed: int


class BatchFile(Out):
    id: int
    name: str
    status: Literal["queued", "running", "done", "partial", "failed", "duplicate"]
    error: str | None
    warning: str | None = Field(description="what to know of a file that was read: a PDF's JavaScript and "
                                             "embedded files, kept in the original, never run or opened")
    document_ids: list[int]
    pages_total: int
    pages_done: int
    pages_failed: int


class Batch(Out):
    id: int
    status: Literal["queued", "running", "done", "partial", "failed"]
    counts: BatchCounts
    files: list[BatchFile]


class BatchUpload(In):
    """multipart/form-data"""
    files: list[bytes] = Field(json_schema_extra={"items": {"type": "string", "format": "binary"}})
    customer_account: Text | None = None
    doc_type: Text | None = None
    reason_for_destroyed: Text | None = Field(None, description="why content erased by a destruction list is "
                                                                 "stored again (audited); without it such a file "
                                                                 "is refused with 409")


class Queued(Out):
    queued: int


class DocumentPage(Out):
    id: int
    number: int
    status: str
    error: str | None
    view_rotation: int


class Document(Out):
    id: int
    title: str
    media_type: str
    sha256: str
    customer_account: str | None
    doc_type: str | None
    page_count: int
    created_at: Timestamp
    document_date: Day | None
    contract_number: str | None
    business_ref: str | None
    archive_code: str | None = Field(description="the reference code (archival code) of a filed document")
    location: str | None
    notes: str | None
    filed_at: Timestamp | None
    inbox_note: str | None
    contract_end: Day | None
    retention: str | None = Field(description="retention class: Y (permanent), D30 or D10")
    retention_status: str | None
    due_on: Day | None
    storage_only: bool
    destroyed_at: Timestamp | None = Field(description="set on the stub of a destroyed document "
                                                       "(its pages and content are gone)")
    destruction_list_id: int | None
    pages: list[DocumentPage]
    masked: bool = Field(description="sensitive type and no `sensitive` grant: placeholder title, "
                                     "contract_number, business_ref, notes and inbox_note withheld")


class SplitDocument(Document):
    new_document: Document = Field(description="the pages from at_page on, as a new unfiled document")


class Documents(Out):
    documents: list[Document]


class Page(Out):
    id: int
    document_id: int
    number: int
    status: str
    error: str | None
    text: str | None
    source: Literal["text_layer", "ocr"] | None
    confidence: float | None
    rotation: int | None
    skew: float | None
    engine: str | None
    engine_version: str | None
    width: int | None
    height: int | None
    dpi: int | None = Field(description="resolution of the stored image; below the OCR dpi for a PDF page too "
                                        "large for the pixel limit at it")


class PageState(Out):
    """What a page operation answers: never the page's text (an operation is not a read)."""
    id: int
    document_id: int
    number: int
    status: str
    error: str | None
    view_rotation: int
    binned: bool


class Word(Out):
    text: str
    box: list[int] = Field(description="left, top, right, bottom in image pixels")
    conf: float


class PageWords(Out):
    width: int
    height: int
    source: str | None = None
    words: list[Word]


class Purged(Out):
    purged: int


# ---------------------------------------------------------------------------------------------- search

class SearchQuery(In):
    q: str = Field(description="the query (docs/search.md)")
    page: Int = Field(1, ge=1, le=100_000)
    per_page: Int = Field(20, ge=1, le=100)
    sort: Literal["relevance", "date"] = "relevance"
    document_id: Id | None = Field(None, description="list every matching page of this document, paged by page "
                                                     "and per_page, in page order")


class SearchPage(Out):
    page_id: int
    page_number: int
    snippet: str = Field(description="HTML; hits inside <mark>…</mark>")
    score: float
    highlights: list[str] = Field(description="matched strings as they read on the page (for boxing)")
    masked: bool = Field(description="text hidden: sensitive page or no loan")


class SearchHit(Out):
    document_id: int
    score: float
    title: str | None
    customer_account: str | None
    customer_name: str | None
    doc_type: str | None
    reference_code: str | None
    doc_date: Day | None
    matching_pages: int
    pages: list[SearchPage]


class SearchResults(Out):
    query: str
    total: int = Field(description="matching pages the caller may see (an estimate when approximate)")
    total_documents: int
    approximate: bool = Field(description="true when total, total_documents and facet counts are estimates "
                                          "(shown as \"about N\"); the listed documents are exact")
    document_id: int | None
    page: int
    per_page: int
    page_count: int
    facets: dict[str, dict[str, int]] = Field(description="'type' and 'year' → matching pages per value")
    results: list[SearchHit]


# ------------------------------------------------------------------------------------------- customers

class Customer(Out):
    account: str = Field(description="customer account number")
    name: str = Field(description="customer name")
    address: str | None
    phone: str | None
    category: str | None
    voltage: str | None
    grade: str | None
    region: str | None
    industry: str | None
    stage: str | None
    status: str
    closed_on: Day | None
    tags: list[str]
    location: str | None


class CustomerFields(In):
    name: Scalar = None
    address: Scalar = None
    phone: Scalar = None
    category: Scalar = None
    voltage: Scalar = None
    grade: Scalar = None
    region: Scalar = None
    industry: Scalar = None
    stage: Scalar = None
    status: Scalar = None
    closed_on: Scalar = None
    tags: Scalar = None
    location: Scalar = None


class NewCustomer(CustomerFields):
    account: Text = Field(description="customer account number")


class CustomerPage(Out):
    total: int
    page: int
    per_page: int
    customers: list[Customer]


class CustomerQuery(In):
    q: str = Field("", description="customer account number prefix, or name")
    page: Int = Field(1, ge=1, le=100_000)
    per_page: Int = Field(50, ge=1, le=200)


class ImportRowError(Out):
    row: int
    account: str
    message: str


class ImportReport(Out):
    created: int
    updated: int
    unchanged: int
    rejected: int
    dry_run: bool
    applied: bool
    encoding: str | None
    errors: list[ImportRowError]
    mapping: dict[str, str]


class CustomerImport(In):
    """multipart/form-data; map_<field>=<header> names a source column for a field"""
    file: bytes = Field(json_schema_extra={"format": "binary"})
    dry_run: Literal["true", "false"] = "false"
    skip_rejected: Literal["true", "false"] = "false"
    background: Literal["true", "false"] = Field("false", description="apply it in the background (a large file): "
                                                 "202 with the operation to follow at /api/v1/operations/{id}, its "
                                                 "report in the operation's summary when done")


class FormatQuery(In):
    format: Literal["json", "csv"] = "json"


class ChecklistItem(Out):
    code: str
    name: str
    required: bool
    present: int


class Checklist(Out):
    account: str
    name: str
    stage: str | None
    complete: bool
    missing: list[str]
    items: list[ChecklistItem]


class IncompleteFiles(Out):
    total: int
    files: list[Checklist]


class CompletenessQuery(In):
    region: str | None = None
    grade: str | None = None
    format: Literal["json", "csv", "xlsx"] = "json"


class CoverSheetQuery(In):
    account: list[str] = Field(description="customer account number, repeated, paired with type")
    type: list[str] = Field(description="document type code, repeated, paired with account")


# ------------------------------------------------------------------------------------ document types

class DocumentType(Out):
    code: str
    name_zh: str
    name_en: str | None
    retention: str | None
    sensitive: bool
    required_from: str | None
    position: int
    active: bool


class DocumentTypeFields(In):
    name_zh: Scalar = Field(None, description="Chinese name (required on create)")
    name_en: Scalar = None
    retention: Scalar = Field(None, description="default retention class: Y (permanent), D30 or D10")
    sensitive: Scalar = Field(None, description="content only for users granted `sensitive`")
    required_from: Scalar = Field(None, description="business stage from which a customer file must hold this type")
    position: Scalar = Field(None, description="order in lists and pickers")
    active: Scalar = Field(None, description="false hides the type from pickers")


class NewDocumentType(DocumentTypeFields):
    code: Text


class DocumentTypes(Out):
    types: list[DocumentType]


# --------------------------------------------------------------------------------------------- filing

class DocumentFields(In):
    customer_account: Scalar = None
    doc_type: Scalar = None
    title: Scalar = None
    document_date: Scalar = None
    contract_number: Scalar = None
    business_ref: Scalar = None
    location: Scalar = None
    notes: Scalar = None
    contract_end: Scalar = None


class CodeCorrection(In):
    reference_code: Text
    reason: Text


class Reason(In):
    reason: Text


class Split(In):
    at_page: Int = Field(ge=0, le=MAX_INT)


class Merge(In):
    source_document_id: Id


class Reorder(In):
    page_ids: list[Id] = Field(max_length=10_000)


class Assign(In):
    document_ids: list[Id] = Field(max_length=1000)
    customer_account: Scalar = None
    doc_type: Scalar = None


class MovePage(In):
    document_id: Id
    position: Id | None = None


class RotatePage(In):
    degrees: Int = Field(90, ge=-3600, le=3600)


class SuggestedCustomer(Out):
    account: str
    name: str
    confidence: float
    reasons: list[str]
    similarity: int | None = Field(description="how closely the name or address read on the page matches, in "
                                               "percent; null when only the account number or contract number matched")
    by_account: bool = Field(description="the page gives this customer's account number (ranked first)")


class RunnerUp(Out):
    code: str
    name_zh: str
    score: float


class TypeGuess(Out):
    code: str
    name_zh: str
    confidence: float
    ambiguous: bool = Field(description="a second type came close: the operator chooses")
    reasons: list[str]
    runner_up: RunnerUp | None


class Suggestions(Out):
    suggestions: list[SuggestedCustomer]
    type_guess: TypeGuess | None = Field(description="the type the first page's title shows")
    autofile_confidence: float


# ---------------------------------------------------------------------------------------- loans, audit

def _ids_from_text(value: object) -> object:
    """A form's "12, 13" as [12, 13]."""
    return value.replace(",", " ").split() if isinstance(value, str) else value


class NewLoan(In):
    purpose: Text
    days: Int = Field(0, ge=0, le=366, description="1 to 31")
    customer_account: Text | None = None
    document_ids: Annotated[list[Id], BeforeValidator(_ids_from_text)] = Field([], max_length=10_000)
    allow_download: bool | None = Field(None, description="ask to download originals")
    allow_print: bool | None = Field(None, description="ask to print page images")


class LoanDecision(In):
    note: Text = ""
    allow_download: bool | None = None
    allow_print: bool | None = None


class Loan(Out):
    id: int
    requester: str
    customer_account: str | None
    document_ids: list[int]
    purpose: str
    days: int
    want_download: bool = Field(description="asked for in the request")
    want_print: bool = Field(description="asked for in the request")
    state: Literal["pending", "approved", "rejected", "returned", "expired"]
    requested_at: Timestamp
    decided_by: str | None
    allow_download: bool = Field(description="granted by the approver")
    allow_print: bool = Field(description="granted by the approver")
    starts_at: Timestamp | None
    due_at: Timestamp | None
    returned_at: Timestamp | None
    renewal_of: int | None


class LoanGroups(RootModel[dict[Literal["pending", "open", "overdue", "past"], list[Loan]]]):
    """Loans by group; own loans unless approver or auditor."""


class LoanQuery(In):
    state: Literal["pending", "open", "overdue", "past"] | None = None


class AuditEvent(Out):
    seq: int
    occurred_at: Timestamp
    actor: str | None
    action: str
    object_type: str | None
    object_id: str | None
    outcome: str
    purpose: str | None
    loan_id: int | None
    ip: str | None
    detail: dict[str, Any] | None
    hash: str


class AuditPage(Out):
    page: int
    per_page: int
    events: list[AuditEvent]


class AuditQuery(In):
    actor: str | None = Field(None, description="username")
    action: str | None = Field(None, description="prefix, e.g. page. or loan.approve")
    object: str | None = Field(None, description="type:id, type, or id")
    from_: str | None = Field(None, alias="from", description="YYYY-MM-DD or ISO time, UTC")
    to: str | None = Field(None, description="YYYY-MM-DD (inclusive) or ISO time")
    format: Literal["json", "csv"] = "json"
    page: Int = Field(1, ge=1, le=100_000)
    per_page: Int = Field(200, ge=1, le=1000)


# ------------------------------------------------------------------------------------------- retention

class Schedule(Out):
    id: int
    doc_type: str
    version: int
    retention: str
    trigger: str
    event_name: str | None
    authority: str | None
    parent_retention: str | None
    reason: str | None
    created_at: Timestamp | None
    superseded_at: Timestamp | None


class ScheduleWithVersions(Schedule):
    versions: list[Schedule]


class Schedules(Out):
    schedules: list[ScheduleWithVersions]


class RuleIn(In):
    doc_type: Scalar = None
    retention: Scalar = Field(None, description="Y (permanent), D30 or D10")
    trigger: Scalar = None
    authority: Scalar = Field(None, description="table and clause")
    event_name: Scalar = Field(None, description="trigger event, e.g. the closing of an electricity-theft case")
    parent_retention: Scalar = None
    reason: Scalar = None
    preview: bool | None = Field(None, description="only show the rule's effect; nothing saved")


class PreviewExample(Out):
    document_id: int
    reference_code: str | None
    due_on: Day | None


class RulePreview(Out):
    doc_type: str
    documents: int
    changed: int
    become_due: int
    no_longer_due: int
    unknown: int
    shortened: int
    examples: list[PreviewExample]


class PreviewOnly(Out):
    preview: RulePreview


class SavedRule(Out):
    schedule: Schedule
    documents_changed: int


class DueDocument(Out):
    document_id: int
    reference_code: str | None
    doc_type: str | None
    customer_account: str | None
    title: str
    retention: str | None
    due_on: Day | None
    held: bool


class DueList(Out):
    total: int
    documents: list[DueDocument]


class Dashboard(Out):
    due_now: int
    due_within_90_days: int
    held: int
    storage_only: int
    cannot_compute: int
    destroyed_this_year: int
    permanent: int
    active_holds: int
    by_due_year: dict[str, int]


class RetentionEventIn(In):
    name: Text
    occurred_on: Text = Field(description="YYYY-MM-DD")
    customer_account: Text | None = None
    document_id: Id | None = None
    note: Text = ""


class RetentionEvent(Out):
    id: int
    name: str
    occurred_on: Day


class Hold(Out):
    id: int
    name: str
    reason: str
    owner: str | None
    query: str | None
    customer_accounts: list[str]
    document_ids: list[int]
    created_at: Timestamp
    released_at: Timestamp | None
    release_reason: str | None


class Holds(Out):
    holds: list[Hold]


class NewHold(In):
    name: Text
    reason: Text
    customer_accounts: list[str] = Field([], max_length=10_000)
    document_ids: list[Id] = Field([], max_length=10_000)
    query: Text | None = Field(None, description="search syntax as /api/v1/search")


class StorageOnlyIn(In):
    storage_only: bool = Field(True, description="false clears it")
    reason: Text = ""


class DocumentStorageOnly(Out):
    document_id: int
    storage_only: bool


class CustomerStorageOnly(Out):
    customer_account: str
    storage_only: bool


# ----------------------------------------------------------------------------------------- destruction

class Register(Out):
    pdf_sha256: str | None
    csv_sha256: str | None


class DestructionProgress(Out):
    total: int
    done: int  # items whose erasure has run (moves item by item), or that were held or not eligible
    destroyed: int
    held: int
    failed: int  # failed verification: executing the list again completes them


class DestructionItem(Out):
    position: int
    document_id: int
    decision: Literal["destroy", "extend", "keep"] | None
    until: Day | None
    reason: str | None
    result: str | None
    result_detail: dict[str, Any] | None = Field(description="the erasure plan, objects removed, originals cut "
                                                             "apart, and the verification")


class DestructionList(Out):
    id: int
    title: str
    state: Literal["draft", "appraisal", "submitted", "approved", "rejected", "supervised", "executing",
                   "executed", "cancelled"]
    compiler: str
    created_at: Timestamp
    approver: str | None
    rejection_reason: str | None
    wait_until: Timestamp | None
    supervisors: list[str]
    executed_at: Timestamp | None
    register_: Register = Field(alias="register")  # `register` would shadow ABCMeta.register
    progress: DestructionProgress
    items: list[DestructionItem]


class DestructionLists(Out):
    lists: list[DestructionList]


class NewDestructionList(In):
    document_ids: list[Id] = Field(max_length=10_000)
    title: Text | None = None


class Appraisal(In):
    class Decision(In):
        document_id: Id
        decision: Text = Field(description="destroy, extend or keep")
        until: Text | None = Field(None, description="extend: the new due date, YYYY-MM-DD")
        reason: Text | None = Field(None, description="required for extend and keep")

    decisions: list[Decision] = Field(max_length=10_000)
    report: Text | None = Field(None, description="the appraisal report")


class Note(In):
    note: Text | None = None


# ------------------------------------------------------------------------------------ 四性检测 report

class Finding(Out):
    result: str
    message: str
    reference_code: str | None
    document_id: int | None
    page_number: int | None
    customer_account: str | None
    subject: str | None = Field(description="an object key, a series of reference codes or an audit event")


class Check(Out):
    code: str = Field(description="AU-1 … SE-4 (docs/integrity.md, the four-properties check)")
    property: Literal["authenticity", "integrity", "usability", "security"]
    name_zh: str
    name_en: str
    what: str
    action: str
    result: Literal["pass", "warning", "person", "not_applicable"]
    examined: int
    note: str | None
    not_applicable: str | None
    findings: list[Finding]


class Scope(Out):
    customer_accounts: list[str] | None
    all: bool


class FourPropertiesReport(Out):
    standard: str
    started_at: Timestamp
    finished_at: Timestamp | None
    scope: Scope
    fixity: Literal["recomputed", "last_fixity_result"]
    pages_decoded: Literal["first", "all"]
    totals: dict[str, int]
    outcome: Literal["passed", "warnings", "needs_person"]
    counts: dict[str, int]
    checks: list[Check]


class FourPropertiesIn(In):
    customer_accounts: list[str] = Field([], max_length=10_000,
                                         description="account numbers of the files to check; empty: every file")
    recompute: bool | None = Field(None, description="re-read each original's SHA-256 now")
    all_pages: bool | None = Field(None, description="decode every page, not only the first")
    format: Literal["json", "csv", "pdf"] = "json"


class OperationState(Out):
    """A long operation and where it stands: what the browser's progress bar polls."""
    id: int
    kind: Literal["backup", "reindex", "customer_import", "file_pdf", "originals_zip", "four_properties"]
    status: Literal["queued", "running", "done", "failed"]
    stage: str | None = Field(description="the step it is on (backup: tables, originals, objects, manifest; "
                                          "rebuild: pages; import: checking, writing; exports: pages, files)")
    done: int
    total: int
    percent: int = Field(description="0–100; 100 only once done")
    error: str | None = Field(description="why it failed and what to do, in the request's language")
    summary: dict[str, Any] = Field(description="what it did, once finished (counts, the backup folder …)")
    download: bool = Field(description="it made a file, offered on its page to whoever started it")


class Operations(Out):
    operations: list[OperationState]


class BackupIn(In):
    full: bool = Field(False, description="copy every original again instead of linking the ones the previous "
                                          "backup holds")
