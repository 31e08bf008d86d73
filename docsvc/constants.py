"""Named constants: queues, states, roles, object keys, document types."""
from __future__ import annotations

from enum import StrEnum

OCR_ENGINES = ("rapidocr", "tesseract")
# RapidOCR's detection input, long side in pixels (DOCSVC_OCR_DETECTION_SIDE): the default and the
# accepted range. The page is capped at 2000 px before detection, so more would change nothing;
# below 640 body print shrinks under ~8 px and lines are lost. Measured in docs/benchmarks.md.
OCR_DETECTION_SIDE = 1280
OCR_DETECTION_SIDES = (640, 2000)
# onnxruntime threads per RapidOCR model (DOCSVC_OCR_THREADS).
OCR_MAX_THREADS = 16


class QueueName(StrEnum):
    INGEST = "ingest"
    OCR = "ocr"
    INDEX = "index"
    # Long operations started by a person (backup, reindex, customer import, export): a queue of their
    # own, so an hour-long backup never holds up the splitting of new uploads.
    OPERATIONS = "operations"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class FileState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    PARTIAL = "partial"
    FAILED = "failed"
    DUPLICATE = "duplicate"


class TextSource(StrEnum):
    TEXT_LAYER = "text_layer"
    OCR = "ocr"


class IndexState(StrEnum):
    NONE = "none"
    PENDING = "pending"
    DONE = "done"


# The audit "how" of a filing made by the system from a confident suggestion (suggestions.autofile).
AUTOFILE_HOW = "autofile"

# A job is tried this many times in all when it fails for a reason that may pass (network, database).
MAX_ATTEMPTS = 3
RETRY_BACKOFF_S = (5, 30)

# A "running" claim not renewed for this long is taken to be from a worker that died (the default of
# DOCSVC_CLAIM_LEASE; a running job renews its claim every third of it).
STALE_CLAIM_S = 5 * 60


class Role(StrEnum):
    ADMIN = "admin"
    RECORDS_MANAGER = "records_manager"
    ARCHIVIST = "archivist"
    OPERATOR = "operator"
    APPROVER = "approver"
    SUPERVISOR = "supervisor"
    VIEWER = "viewer"
    AUDITOR = "auditor"


# Object keys. Originals are keyed by the store itself (storage.keys.original_key: originals/<sha256>);
# everything the application derives or writes is named here.
def page_image_key(page_id: int, ext: str) -> str:
    return f"pages/{page_id}/image.{ext}"


def page_thumb_key(page_id: int) -> str:
    return f"pages/{page_id}/thumb.jpg"


def page_words_key(page_id: int) -> str:
    return f"pages/{page_id}/words.json"


THUMBNAIL_MAX_PX = 320
# Text-layer pages are only looked at, never OCRed: a lighter page image is enough and much faster.
VIEW_DPI_TEXT_LAYER = 150


class Grant(StrEnum):
    """Extra rights given to a person on top of their roles (kept on the user, set by an admin)."""
    SENSITIVE = "sensitive"  # may see sensitive document types (ID copies, PIPL art. 28)


class LoanState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"
    EXPIRED = "expired"  # computed from the clock, never stored: access ends by itself


MAX_LOAN_DAYS = 31

# Failed logins in a row before an account backs off, and the longest back-off: the first lasts one
# minute and each further failure doubles it up to this (see accounts.attempt_login).
LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 15

# The audit trail may be configured longer, never shorter than this (about six months).
MIN_AUDIT_RETENTION_DAYS = 183


AUDIT_ANCHORS_PREFIX = "audit/anchors/"


def audit_anchor_key(day: str) -> str:
    return f"{AUDIT_ANCHORS_PREFIX}{day}.json"


class RetentionTrigger(StrEnum):
    """What a retention period counts from."""
    DOCUMENT_DATE = "document_date"  # 1 January of the year after the document was formed
    ACCOUNT_CLOSED = "account_closed"  # the customer's 销户 date
    CONTRACT_END = "contract_end"  # the document's contract end date
    EVENT = "event"  # a named event recorded on the document or its customer (e.g. 窃电案件结案)


class RetentionStatus(StrEnum):
    """Where a document stands in its retention (stored on the document, recomputed on change)."""
    PERMANENT = "permanent"  # 永久, or kept permanently by an appraisal: never eligible
    UNKNOWN = "unknown"  # the trigger date is not known (or no rule): cannot compute, never due
    RUNNING = "running"  # the period runs; due_on says when it ends
    DUE = "due"  # expired: waiting for appraisal (expiry is not destruction)
    DESTROYED = "destroyed"  # erased by an executed destruction list; the row is the stub


class ListState(StrEnum):
    """A destruction list's way; `cancelled` is possible until execution starts."""
    DRAFT = "draft"
    APPRAISAL = "appraisal"
    SUBMITTED = "submitted"
    APPROVED = "approved"  # waiting period runs until wait_until
    REJECTED = "rejected"  # back to the compiler, with a reason
    SUPERVISED = "supervised"  # both supervisors confirmed
    EXECUTING = "executing"
    EXECUTED = "executed"
    CANCELLED = "cancelled"


class Decision(StrEnum):
    """An appraisal's decision on one item."""
    DESTROY = "destroy"
    EXTEND = "extend"  # with a new due date and a reason
    KEEP = "keep"  # keep permanently, with a reason


class ItemResult(StrEnum):
    """What execution did to one item."""
    DESTROYED = "destroyed"  # every removal done and verified
    HELD = "held_at_execution"  # a hold placed after approval stopped it
    INELIGIBLE = "ineligible"  # no longer due (dates or rule changed), left untouched
    FAILED = "failed"  # a fault: untouched or resumable, retry by executing again
    # Removal has begun: a re-run of the execution completes it whatever happened meanwhile
    # (holds, dates), since the item is no longer whole. Never a final result.
    ERASING = "erasing"


class SignRole(StrEnum):
    """Who signs a destruction list (DestructionSignoff.role)."""
    APPROVER = "approver"
    SUPERVISOR = "supervisor"


# Supervisors (监销人) who must confirm a list before it may be executed.
SUPERVISORS_REQUIRED = 2
# The stub's title and the register's method, unless the list names another method.
DESTROYED_TITLE = "已销毁 / destroyed"
DESTRUCTION_METHOD = "电子文件彻底删除（含全部版本与索引）并核验"


def register_key(list_id: int, ext: str) -> str:
    return f"registers/destruction-{list_id}.{ext}"


class FixityOutcome(StrEnum):
    """What fixity found for one object under originals/ (FixityCheck.outcome)."""
    INTACT = "intact"  # re-read: its SHA-256 is the one recorded
    ALTERED = "altered"  # re-read: its bytes hash to something else
    MISSING = "missing"  # a live record names it; the store has no such object
    UNEXPECTED = "unexpected"  # in the store, but no live record names it (or it was destroyed)


# Work that says `queued` this long without a worker taking it is stuck (docsvc check).
STUCK_QUEUED_S = 60 * 60


# A customer file's grade, stored as archivists write it; labels.py names each in the reader's language.
GRADES = ("一级", "二级", "三级")


class OperationKind(StrEnum):
    """Long work a person starts and watches (docsvc.operations): one progress record per run."""
    BACKUP = "backup"
    REINDEX = "reindex"
    CUSTOMER_IMPORT = "customer_import"
    FILE_PDF = "file_pdf"  # a customer file as one PDF
    ORIGINALS_ZIP = "originals_zip"  # a customer file's original scans in one ZIP
    FOUR_PROPERTIES = "four_properties"  # the 四性检测 report as a PDF, CSV or JSON file


# Operations whose file copies page images or originals: destruction removes those files too.
CONTENT_EXPORTS = frozenset({OperationKind.FILE_PDF, OperationKind.ORIGINALS_ZIP})
# Days a file an operation made is kept for its download; then it leaves the store.
OPERATION_FILE_DAYS = 7


def operation_result_key(operation_id: int, filename: str) -> str:
    """Where the file an operation produced waits for its download."""
    return f"operations/{operation_id}/{filename}"
