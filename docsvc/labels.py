"""What a coded value is called on screen: batch and page statuses, roles, grants, loan states and groups,
audit actions, queue and store kinds, a page's text source. Templates ask `label(kind, code)`."""
from __future__ import annotations

from docsvc.constants import GRADES
from docsvc.i18n import lazy_gettext as _l

LABELS = {
    'role': {
        'admin': _l('Administrator'),
        'records_manager': _l('Records manager'),
        'archivist': _l('Archivist'),
        'operator': _l('Scan operator'),
        'approver': _l('Approver'),
        'supervisor': _l('Destruction supervisor'),
        'viewer': _l('Viewer'),
        'auditor': _l('Auditor'),
    },
    'grant': {
        'sensitive': _l('May see sensitive documents (ID copies)'),
    },
    'loan_group': {
        'pending': _l('Awaiting approval'),
        'open': _l('Open'),
        'overdue': _l('Expired, not returned'),
        'past': _l('Past'),
    },
    'loan_state': {
        'pending': _l('Pending'),
        'approved': _l('Open'),
        'rejected': _l('Rejected'),
        'returned': _l('Returned'),
        'expired': _l('Expired'),
    },
    'action': {
        'document.file': _l('Filed'),
        'document.unlink': _l('Unfiled'),
        'document.update': _l('Description edited'),
        'document.split': _l('Split'),
        'document.merge': _l('Merged'),
        'document.reorder': _l('Pages reordered'),
        'document.reference_code.correct': _l('Reference code corrected'),
        'customer.create': _l('Customer created'),
        'customer.update': _l('Customer edited'),
        'customer.import': _l('Customers imported'),
    },
    'queue_kind': {
        'rq': _l('Redis queues (RQ)'),
        'in-process': _l('Embedded queue (threads of this process)'),
    },
    'store': {
        'local': _l('Object store: local folder (bytes on disk)'),
        's3': _l("Object store: S3 (sum of the current versions' sizes, older versions not counted)"),
    },
    'status': {
        'queued': _l('Queued'),
        'running': _l('Processing'),
        'done': _l('Done'),
        'failed': _l('Failed'),
        'partial': _l('Partly failed'),
        'duplicate': _l('Duplicate'),
    },
    # customer grades are stored as the archivists write them (constants.GRADES), shown in the reader's language
    'grade': dict(zip(GRADES, (_l("Grade 1"), _l("Grade 2"), _l("Grade 3")))),
    'source': {
        'text_layer': _l("PDF text layer"),
        'ocr': _l("OCR"),
    },
    'list_state': {
        'draft': _l('Draft'),
        'appraisal': _l('Under appraisal'),
        'submitted': _l('Submitted for approval'),
        'approved': _l('Approved, waiting period'),
        'rejected': _l('Returned to the compiler'),
        'supervised': _l('Supervised'),
        'executing': _l('Executing'),
        'executed': _l('Executed'),
        'cancelled': _l('Cancelled'),
    },
    'decision': {
        'destroy': _l('Destroy'),
        'extend': _l('Extend'),
        'keep': _l('Keep permanently'),
    },
    'item_result': {
        'destroyed': _l('Destroyed'),
        'held_at_execution': _l('Held at execution, not destroyed'),
        'ineligible': _l('No longer eligible at execution, not destroyed'),
        'failed': _l('Verification failed: execute again'),
        'erasing': _l('Erasing'),
    },
    # The language switch shows each language's name in that language itself (web.auth), so a reader
    # who cannot read the page's language still finds their own.
    'language': {
        'zh': _l('Chinese'),
        'en': _l('English'),
    },
    'operation': {
        'backup': _l('Backup'),
        'reindex': _l('Search index rebuild'),
        'customer_import': _l('Customer import'),
        'file_pdf': _l('Customer file as PDF'),
        'originals_zip': _l('Original scans as ZIP'),
        'four_properties': _l('Four-properties check report'),
    },
    'operation_stage': {  # the stages the services report through their progress callbacks
        'tables': _l('Tables'),
        'originals': _l('Originals'),
        'objects': _l('Other objects'),
        'manifest': _l('Checksums'),
        'pages': _l('Pages'),
        'checking': _l('Checking rows'),
        'writing': _l('Writing customers'),
        'files': _l('Files'),
    },
}


def label(kind: str, code: str) -> str:
    """The code's name in the current language; a code without a name (a new audit action, say) shows as itself."""
    name = LABELS[kind].get(code)
    return str(name) if name is not None else code
