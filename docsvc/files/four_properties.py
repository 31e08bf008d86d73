"""四性检测: the authenticity, integrity, usability and security checks of DA/T 70-2018 over a set of
customer files, as one typed report (docs/integrity.md, "四性检测", lists every check and what to do).

It lives with the customer files because what it checks is theirs — the 档号 pattern (files.filing),
the document types (files.doctypes), live pages (files.documents) — and it calls down into governance
for the fixity record and the audit chain (the package order: files → governance → models).

Each check has a code of our own (`AU-1`, `IN-2`, …; the standard's four properties are the groups) and
ends in one of four results: pass, warning, needs a person, or not applicable. A not-applicable check
(electronic signatures on scans of paper) is never counted as passed. Every finding names its records:
档号, document id and, where it is about a page, the page number.

The report reads the database and the store and changes nothing but the audit trail (one
`four_properties.run` event per report). Its texts — the checks' names, findings, notes — are in the
language of the moment (the request's; for the command, DOCSVC_LANGUAGE); the codes stay codes.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

from babel.support import LazyProxy
from PIL import Image
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from docsvc import formats
from docsvc.config import FilingSettings
from docsvc.constants import FixityOutcome, JobState
from docsvc.files.customers import get_customer
from docsvc.files.documents import LIVE, is_live
from docsvc.files.filing import code_regex
from docsvc.governance import audit, fixity
from docsvc.models import AuditEvent, BatchFile, Customer, Document, DocumentType, FixityCheck, Page, User, as_utc, utcnow
from docsvc.i18n import _, lazy_gettext as _l, listing, shown, using
from storage import ORIGINALS_PREFIX, ObjectNotFound, ObjectStore

AUDIT_ACTION = "four_properties.run"
EARLIEST_DATE = date(1949, 1, 1)  # older customer-file dates are typing mistakes, not electricity accounts
RETENTION_FORM = re.compile(r"Y|D\d{1,3}")
# TIFF compressions every reader of the receiving archive decodes; others open here (libtiff) but not everywhere.
TIFF_COMPRESSIONS = frozenset({"raw", "group3", "group4", "tiff_ccitt", "tiff_lzw", "packbits", "jpeg",
                               "tiff_jpeg", "tiff_adobe_deflate", "tiff_deflate"})
SHOWN_FINDINGS = 200  # per check in the PDF and the web page; JSON and CSV hold them all


class Result(StrEnum):
    PASS = "pass"
    WARNING = "warning"
    PERSON = "person"  # needs a person
    NOT_APPLICABLE = "not_applicable"


_RESULT_NAMES = {Result.PASS: _l("Pass"), Result.WARNING: _l("Warning"), Result.PERSON: _l("Needs a person"),
                 Result.NOT_APPLICABLE: _l("Not applicable")}
_SEVERITY = {Result.PASS: 0, Result.WARNING: 1, Result.PERSON: 2}


class Property(StrEnum):
    AUTHENTICITY = "authenticity"
    INTEGRITY = "integrity"
    USABILITY = "usability"
    SECURITY = "security"


_PROPERTY_NAMES = {Property.AUTHENTICITY: _l("Authenticity"), Property.INTEGRITY: _l("Integrity"),
                   Property.USABILITY: _l("Usability"), Property.SECURITY: _l("Security")}


class _Names(Mapping[str, str]):
    """The names of codes as plain text in the language of the moment, read when looked up (the command
    line formats them to a width, which a lazy text cannot be)."""

    def __init__(self, names: Mapping[str, LazyProxy]) -> None:
        self._names = names

    def __getitem__(self, code: str) -> str:
        return str(self._names[code])

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


RESULT_LABELS = _Names(_RESULT_NAMES)
PROPERTY_LABELS = _Names(_PROPERTY_NAMES)


@dataclass(frozen=True)
class CheckSpec:
    code: str
    prop: Property
    name: LazyProxy  # the check's name, in the language of the moment when read
    what: LazyProxy  # what is checked, and where the answer comes from
    action: LazyProxy | str  # what to do about a finding

    @property
    def name_zh(self) -> str:
        with using("zh"):
            return str(self.name)

    @property
    def name_en(self) -> str:
        with using("en"):
            return str(self.name)


@dataclass(frozen=True)
class Finding:
    """One record a check is unhappy with, and how unhappy."""
    result: Result  # WARNING or PERSON
    message: str  # in the language the report was run in
    reference_code: str | None = None  # 档号
    document_id: int | None = None
    page_number: int | None = None
    customer_account: str | None = None  # 户号
    subject: str | None = None  # what else it is about: an object key, an audit event

    def as_json(self) -> dict[str, object]:
        return {"result": self.result.value, "message": self.message, "reference_code": self.reference_code,
                "document_id": self.document_id, "page_number": self.page_number,
                "customer_account": self.customer_account, "subject": self.subject}


@dataclass
class CheckResult:
    spec: CheckSpec
    examined: int = 0  # records looked at
    findings: list[Finding] = field(default_factory=list)
    not_applicable: str | None = None  # why the check does not apply (then it never passes)
    note: str | None = None  # how it was done, e.g. which fixity evidence

    @property
    def result(self) -> Result:
        if self.not_applicable is not None:
            return Result.NOT_APPLICABLE
        worst = max((_SEVERITY[f.result] for f in self.findings), default=0)
        return {0: Result.PASS, 1: Result.WARNING, 2: Result.PERSON}[worst]

    def as_json(self) -> dict[str, object]:
        s = self.spec
        return {"code": s.code, "property": s.prop.value, "name_zh": s.name_zh, "name_en": s.name_en,
                "what": str(s.what), "action": str(s.action), "result": self.result.value, "examined": self.examined,
                "note": self.note, "not_applicable": self.not_applicable,
                "findings": [f.as_json() for f in self.findings]}


@dataclass
class FourPropertiesReport:
    started_at: datetime
    accounts: list[str] | None  # None: every customer file
    recomputed: bool  # True: SHA-256 re-read now; False: the last fixity results, with their dates
    all_pages: bool  # True: every page decoded; False: the first page of each original
    customers: int = 0
    documents: int = 0
    pages: int = 0
    originals: int = 0
    bytes: int = 0
    checks: list[CheckResult] = field(default_factory=list)
    finished_at: datetime | None = None

    def counts(self) -> dict[str, int]:
        out = {r.value: 0 for r in Result}
        for check in self.checks:
            out[check.result.value] += 1
        return out

    def counts_by_property(self) -> dict[Property, dict[str, int]]:
        out = {p: {r.value: 0 for r in Result} for p in Property}
        for check in self.checks:
            out[check.spec.prop][check.result.value] += 1
        return out

    @property
    def needs_person(self) -> bool:
        return any(c.result == Result.PERSON for c in self.checks)

    @property
    def outcome(self) -> str:
        counts = self.counts()
        return "needs_person" if counts[Result.PERSON] else "warnings" if counts[Result.WARNING] else "passed"

    def check(self, code: str) -> CheckResult:
        return next(c for c in self.checks if c.spec.code == code)

    def as_json(self) -> dict[str, object]:
        return {
            "standard": "DA/T 70-2018", "started_at": _utc(self.started_at),
            "finished_at": _utc(self.finished_at) if self.finished_at else None,
            "scope": {"customer_accounts": self.accounts, "all": self.accounts is None},
            "fixity": "recomputed" if self.recomputed else "last_fixity_result",
            "pages_decoded": "all" if self.all_pages else "first",
            "totals": {"customers": self.customers, "documents": self.documents, "pages": self.pages,
                       "originals": self.originals, "bytes": self.bytes},
            "outcome": self.outcome, "counts": self.counts(),
            "checks": [c.as_json() for c in self.checks]}


def _utc(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


SPECS: tuple[CheckSpec, ...] = (
    CheckSpec("AU-1", Property.AUTHENTICITY, _l("Fixity: originals match their recorded SHA-256"),
              _l("Each original's SHA-256 against the value recorded at intake (the object name originals/<sha256>, "
                 "the document record): recomputed now (--recompute), or the last fixity check's result, with its "
                 "date."),
              _l("Altered or missing: do not overwrite it; restore the original from backup to the same key, then run "
                 "`docsvc fixity --all` to check it again. Never checked: run `docsvc four-properties --recompute` "
                 "or `docsvc fixity`.")),
    CheckSpec("AU-2", Property.AUTHENTICITY, _l("Reference codes: form and uniqueness"),
              _l("Every filed document has a reference code that fits the configured pattern "
                 "(DOCSVC_ARCHIVE_CODE_PATTERN) and is unique in the whole archive (compared after NFKC "
                 "normalisation, trimming spaces, ignoring case)."),
              _l("A records manager corrects the code with “Correct reference code” on the document page (an audited "
                 "correction); do not change the database directly.")),
    CheckSpec("AU-3", Property.AUTHENTICITY, _l("Metadata values in their domains"),
              _l("The type code exists and is active; the document date is neither after today nor before 1949; the "
                 "retention period is Y or D<years>; the document's account number is its customer's; the account "
                 "number fits DOCSVC_ACCOUNT_PATTERN."),
              _l("Correct the description on the document or customer page; for a type no longer in use, decide "
                 "whether the document moves to a current type.")),
    CheckSpec("AU-4", Property.AUTHENTICITY, _l("File name, size and format agree with the record"),
              _l("The stored original's size equals the intake record (batch_files.size); the format read from the "
                 "content equals the recorded type; the uploaded name's extension fits the format; the document's "
                 "SHA-256 names its original."),
              _l("Size or format mismatch: treat it as AU-1 (restore from backup); an extension mismatch is only a "
                 "note: check where the file came from.")),
    CheckSpec("IN-1", Property.INTEGRITY, _l("Item, page and byte counts agree"),
              _l("Each customer file holds documents; each document's recorded page count equals its live pages; "
                 "each page points to a page of its original that exists (page index < the original's pages); the "
                 "original's bytes equal the stored object (database against object store)."),
              _l("Page count mismatch: check the pages on the document page (split, merge, delete); original missing "
                 "or its bytes differ: restore the original from backup to the same key, then run "
                 "`docsvc fixity --all` to check it again.")),
    CheckSpec("IN-2", Property.INTEGRITY, _l("Mandatory description fields filled (DA/T 18)"),
              _l("Reference code = reference_code, title = title, date = doc_date, creator = the customer's name "
                 "(customers.name), retention period = retention, class = doc_type, account number = "
                 "customer_account and page count = page_count are all filled."),
              _l("Fill in the description on the document page; where the retention period is missing, check the "
                 "document type first (the retention period comes from the type's retention schedule).")),
    CheckSpec("IN-3", Property.INTEGRITY, _l("Numbering without gaps"),
              _l("Each document's live pages are numbered 1…n, none missing or repeated; in the reference-code "
                 "series the checked documents belong to (same fonds, year and retention period), item numbers run "
                 "from 1 without gaps, and the missing ones are listed."),
              _l("Page numbering: reorder the pages on the document page; missing item numbers: check whether a code "
                 "correction or a return left them unused, and say so in the transfer note.")),
    CheckSpec("IN-4", Property.INTEGRITY, _l("Every page has text or a reason"),
              _l("Each page has been read and has text; a page whose reading failed has its reason; a page read as "
                 "empty is a warning (perhaps a blank page: please confirm)."),
              _l("Failed pages: retry them on the batch page; not processed yet: wait until processing finishes; "
                 "empty pages: check the scan and confirm the page is blank.")),
    CheckSpec("US-1", Property.USABILITY, _l("Each original opens and renders"),
              _l("Each original's format is identified from its content, its pages are counted and its first page "
                 "is decoded (every page with --all-pages)."),
              _l("Restore a good copy of the original from backup, or scan the document again.")),
    CheckSpec("US-2", Property.USABILITY, _l("No encryption, no unusual compression"),
              _l("PDFs are not encrypted (not even with permission-only encryption); TIFF compression is a common one "
                 "(none, CCITT G3/G4, LZW, PackBits, JPEG, Deflate)."),
              _l("Export a PDF without encryption, or convert to a TIFF with common compression, upload it again as a "
                 "new version and say so in the transfer note.")),
    CheckSpec("US-3", Property.USABILITY, _l("Page images can be shown"),
              _l("Each processed page has its page image and thumbnail objects (derived from the original)."),
              _l("Run `docsvc check --repair` to make them again from the original.")),
    CheckSpec("SE-1", Property.SECURITY, _l("The audit chain verifies"),
              _l("The hash chain of the audit trail, checked event by event and against the daily anchors in the "
                 "object store."),
              _l("Tell the auditor and the system administrator at once: the log was cut or altered; keep everything "
                 "as it is and compare with the backups.")),
    CheckSpec("SE-2", Property.SECURITY, _l("Every item has its intake in the audit trail"),
              _l("Each document's original has its upload event (upload) with the same SHA-256, or the document came "
                 "from an audited split (document.split)."),
              _l("A document without its intake came from an unknown source: find out how (was the database written "
                 "around the service?); a records manager decides whether to keep it or take it in again.")),
    CheckSpec("SE-3", Property.SECURITY, _l("Every filing and code change was logged"),
              _l("Each filed document has its filing event (document.file); its current reference code is the one "
                 "the last audited filing, refiling or code correction gave."),
              _l("The code was changed outside the service: find out why; a records manager restores or confirms it "
                 "with “Correct reference code” (which leaves a record).")),
    CheckSpec("AU-5", Property.AUTHENTICITY, _l("Validity of electronic signatures and seals"),
              _l("Verify electronic signatures and seals."), "—"),
    CheckSpec("SE-4", Property.SECURITY, _l("Offline carrier check"),
              _l("Readability and virus scan of a transfer carrier (optical disc, hard disk)."), "—"),
)
NOT_APPLICABLE_REASONS = {
    "AU-5": _l("Scans of paper carry no electronic signature or seal (those are on the paper original); this check "
               "does not apply and is never counted as passed."),
    "SE-4": _l("This report checks the online store directly; no offline carrier is involved (checking a backup "
               "bag, --bag, is not available yet)."),
}


@dataclass(frozen=True, slots=True)
class _DocRef:
    """What the pass over the originals needs of a document: small, so a whole archive's fit in memory."""
    id: int
    reference_code: str | None
    customer_account: str | None
    original_key: str
    sha256: str
    media_type: str


@dataclass(frozen=True, slots=True)
class _PageRef:
    number: int
    source_index: int
    media_type: str


@dataclass(frozen=True, slots=True)
class _Use:
    """A document using an original: which of its live pages come from it, and from where in it."""
    document: _DocRef
    pages: tuple[_PageRef, ...]


Progress = Callable[[int], None]
CHUNK = 200  # customer files whose documents and pages are loaded at a time


def run(session: Session, store: ObjectStore, filing: FilingSettings, actor: User | None, *,
        accounts: Sequence[str] | None = None, recompute: bool = False, all_pages: bool = False,
        progress: Progress | None = None, on_total: Callable[[int], None] | None = None,
        ip: str | None = None, now: datetime | None = None) -> FourPropertiesReport:
    """Check the customer files of `accounts` (every file when None); audit the run and commit.

    `on_total(count)` is told how many originals the set uses, `progress(n)` each time n more are done.
    Raises NotFound for an account the customer table does not hold. Documents and pages are loaded
    CHUNK files at a time; the originals are taken once each (a scanned stack may serve several files).
    """
    wanted = sorted({a.strip() for a in accounts if a.strip()}) if accounts is not None else None
    report = FourPropertiesReport(started_at=now or utcnow(), accounts=wanted, recomputed=recompute, all_pages=all_pages)
    customers = ([get_customer(session, a) for a in wanted] if wanted is not None
                 else list(session.scalars(select(Customer).order_by(Customer.account))))
    in_set = Document.destroyed_at.is_(None) & (Document.customer_id.in_([c.id for c in customers])
                                                if wanted is not None else Document.customer_id.is_not(None))
    results = {s.code: CheckResult(s) for s in SPECS}
    report.checks = [results[s.code] for s in SPECS]
    uses = _uses(session, in_set)
    report.customers, report.originals = len(customers), len(uses)
    if on_total is not None:
        on_total(len(uses))

    pattern = code_regex(filing.archive_code_pattern)
    known = _Known(holders=_code_holders(session), types={t.code: t for t in session.scalars(select(DocumentType))},
                   split_from=_split_documents(session), account_form=re.compile(filing.account_pattern))
    series: set[str] = set()
    for start in range(0, len(customers), CHUNK):
        chunk = customers[start:start + CHUNK]
        documents = _documents(session, [c.id for c in chunk])
        report.documents += len(documents)
        report.pages += sum(len(_live(d)) for d in documents)
        _check_codes(known, pattern, filing, documents, results["AU-2"])
        _check_domains(known, filing, chunk, documents, results["AU-3"])
        _check_description(documents, results["IN-2"])
        series |= _check_numbering(pattern, documents, results["IN-3"])
        _check_page_text(documents, results["IN-4"])
        _check_derived(store, documents, results["US-3"])
        _check_file_counts(chunk, documents, results["IN-1"])
        _check_intake(session, known, documents, results["SE-2"])
        _check_filing_log(session, documents, results["SE-3"])
        session.expunge_all()  # this chunk's rows are done with: memory stays flat over a whole archive
    _check_series(session, pattern, series, results["IN-3"])
    _check_originals(session, store, uses, results, report, recompute=recompute, all_pages=all_pages,
                     progress=progress)
    _check_chain(session, store, results["SE-1"])
    for code, reason in NOT_APPLICABLE_REASONS.items():
        results[code].not_applicable = str(reason)

    report.finished_at = utcnow()
    audit.record(session, actor, AUDIT_ACTION, object_type="four_properties",
                 object_id=_utc(report.started_at), outcome=report.outcome, ip=ip,
                 detail={"customer_accounts": wanted, "recomputed": recompute, "all_pages": all_pages,
                         "counts": report.counts(), "documents": report.documents, "originals": report.originals,
                         "needs_person": sorted(c.spec.code for c in report.checks if c.result == Result.PERSON)})
    session.commit()
    return report


@dataclass(frozen=True)
class _Known:
    """What the checks compare each chunk with, read once per report."""
    holders: dict[str, list[int]]  # normalised 档号 → documents holding it (the whole archive)
    types: dict[str, DocumentType]
    split_from: set[int]  # documents made by an audited split
    account_form: re.Pattern[str]


def _documents(session: Session, customer_ids: list[int]) -> list[Document]:
    """The live (not destroyed) documents of the files, with pages, in 户号 and 档号 order."""
    found = session.scalars(
        select(Document).where(Document.customer_id.in_(customer_ids), Document.destroyed_at.is_(None))
        .options(selectinload(Document.pages), selectinload(Document.customer), selectinload(Document.batch_file)))
    return sorted(found, key=lambda d: (d.customer_account or "", d.reference_code or "", d.id))


def _live(document: Document) -> list[Page]:
    return sorted((p for p in document.pages if is_live(p)), key=lambda p: p.number)


def _about(document: Document | _DocRef, page: Page | _PageRef | None = None) -> dict[str, object]:
    return {"reference_code": document.reference_code, "document_id": document.id,
            "page_number": page.number if page is not None else None,
            "customer_account": document.customer_account}


def _finding(result: Result, message: str, document: Document | _DocRef | None = None,
             page: Page | _PageRef | None = None, subject: str | None = None) -> Finding:
    where = _about(document, page) if document is not None else {}
    return Finding(result, message, subject=subject, **where)  # type: ignore[arg-type]


def _uses(session: Session, in_set: ColumnElement[bool]) -> dict[str, list[_Use]]:
    """Each original the set's documents and their live pages come from, with who uses it (small records)."""
    docs = {row[0]: _DocRef(*row) for row in session.execute(
        select(Document.id, Document.reference_code, Document.customer_account, Document.original_key,
               Document.sha256, Document.media_type).where(in_set))}
    by_key: dict[str, dict[int, list[_PageRef]]] = defaultdict(dict)
    for d in docs.values():
        by_key[d.original_key].setdefault(d.id, [])
    for doc_id, number, source_index, key, media in session.execute(
            select(Page.document_id, Page.number, Page.source_index, Page.original_key, Page.media_type)
            .join(Document, Page.document_id == Document.id).where(in_set, LIVE)
            .order_by(Page.document_id, Page.number)):
        d = docs[doc_id]
        by_key[key or d.original_key].setdefault(doc_id, []).append(_PageRef(number, source_index, media or d.media_type))
    return {key: [_Use(docs[i], tuple(pages)) for i, pages in sorted(users.items())]
            for key, users in sorted(by_key.items())}


# --- authenticity ---------------------------------------------------------------------------------

def _normal_code(code: str) -> str:
    return unicodedata.normalize("NFKC", code).strip().upper()


def _code_holders(session: Session) -> dict[str, list[int]]:
    """Uniqueness is over the whole archive: a transfer's codes must not collide with what stays behind."""
    holders: dict[str, list[int]] = defaultdict(list)
    for doc_id, code in session.execute(select(Document.id, Document.reference_code)
                                        .where(Document.reference_code.is_not(None))):
        holders[_normal_code(code)].append(doc_id)
    return holders


def _check_codes(known: _Known, pattern: re.Pattern[str], filing: FilingSettings, documents: list[Document],
                 out: CheckResult) -> None:
    for d in documents:
        if d.filed_at is None:
            continue
        out.examined += 1
        code = d.reference_code
        if not code:
            out.findings.append(_finding(Result.PERSON, _("Filed without a reference code."), d))
            continue
        if not pattern.fullmatch(code):
            out.findings.append(_finding(Result.PERSON, _("Reference code “%(code)s” does not fit the configured "
                                                          "pattern %(pattern)s.", code=code,
                                                          pattern=filing.archive_code_pattern), d))
        others = [i for i in known.holders[_normal_code(code)] if i != d.id]
        if others:
            out.findings.append(_finding(Result.PERSON, _("The reference code is that of document(s) %(documents)s "
                                                          "too (after normalisation).",
                                                          documents=listing(f"#{i}" for i in others)), d))


def _check_domains(known: _Known, filing: FilingSettings, customers: list[Customer], documents: list[Document],
                   out: CheckResult) -> None:
    types, account_form, today = known.types, known.account_form, utcnow().date()
    for c in customers:
        out.examined += 1
        if not account_form.search(c.account):
            out.findings.append(Finding(Result.PERSON, _("Account number “%(account)s” does not fit the configured "
                                                         "pattern %(pattern)s.", account=c.account,
                                                         pattern=filing.account_pattern),
                                        customer_account=c.account))
    for d in documents:
        out.examined += 1
        if d.doc_type is not None:
            doc_type = types.get(d.doc_type)
            if doc_type is None:
                out.findings.append(_finding(Result.PERSON, _("Type code “%(code)s” is not in the type table.",
                                                              code=d.doc_type), d))
            elif not doc_type.active:
                out.findings.append(_finding(Result.WARNING, _("Document type %(code)s is no longer in use.",
                                                               code=d.doc_type), d))
        if d.doc_date is not None and not EARLIEST_DATE <= d.doc_date <= today:
            out.findings.append(_finding(Result.PERSON, _("Document date %(date)s is implausible (after today or "
                                                          "before 1949).", date=d.doc_date.isoformat()), d))
        if d.retention is not None and not RETENTION_FORM.fullmatch(d.retention):
            out.findings.append(_finding(Result.PERSON, _("Retention period “%(retention)s” is not valid (it should "
                                                          "be Y or D<years>).", retention=d.retention), d))
        if d.customer is not None and d.customer_account != d.customer.account:
            out.findings.append(_finding(Result.PERSON, _("The document's account number %(account)s differs from "
                                                          "its customer's, %(customer)s.",
                                                          account=d.customer_account, customer=d.customer.account), d))


def _check_originals(session: Session, store: ObjectStore, uses: dict[str, list[_Use]],
                     results: dict[str, CheckResult], report: FourPropertiesReport, *, recompute: bool,
                     all_pages: bool, progress: Progress | None) -> None:
    """One pass over the originals for AU-1, AU-4, IN-1 (bytes, pages inside), US-1 and US-2."""
    fixity_rows = {row.key: row for row in session.scalars(select(FixityCheck).where(FixityCheck.key.in_(list(uses))))} \
        if len(uses) <= 5000 else {row.key: row for row in session.scalars(select(FixityCheck))}
    received: dict[str, list[BatchFile]] = defaultdict(list)
    keys = list(uses)
    for start in range(0, len(keys), 500):
        for bf in session.scalars(select(BatchFile).where(BatchFile.original_key.in_(keys[start:start + 500]))):
            received[bf.original_key].append(bf)  # type: ignore[index]
    au1, au4, in1, us1, us2 = (results[c] for c in ("AU-1", "AU-4", "IN-1", "US-1", "US-2"))
    oldest: datetime | None = None
    for key, users in uses.items():
        for check in (au1, au4, us1, us2):
            check.examined += 1
        expected_sha = key.removeprefix(ORIGINALS_PREFIX)
        for use in users:
            if use.document.original_key == key and use.document.sha256 != expected_sha:
                au4.findings.append(_finding(Result.PERSON, _("The document's recorded SHA-256 does not match its "
                                                              "original %(key)s.", key=key),
                                             use.document, subject=key))
        info = store.head(key)
        if info is None:
            for use in users:
                message = _("The original %(key)s is missing from the store.", key=key)
                au1.findings.append(_finding(Result.PERSON, message, use.document, subject=key))
                in1.findings.append(_finding(Result.PERSON, message, use.document, subject=key))
            _note_unopenable(us1, users, key, _("The original is missing; it cannot be opened."))
            if progress is not None:
                progress(1)
            continue
        report.bytes += info.size
        for bf in received.get(key, []):
            if bf.size != info.size:
                for use in users:
                    for out in (in1, au4):  # a count that disagrees (IN-1) and a file unlike its record (AU-4)
                        out.findings.append(_finding(
                            Result.PERSON, _("The original's size, %(size)s bytes, differs from the intake record, "
                                             "%(recorded)s (%(file)s).", size=info.size, recorded=bf.size,
                                             file=bf.filename), use.document, subject=key))
        if not recompute:
            row = fixity_rows.get(key)
            if row is None or row.checked_at is None:
                for use in users:
                    au1.findings.append(_finding(Result.WARNING, _("Never checked by fixity yet."),
                                                 use.document, subject=key))
            else:
                oldest = row.checked_at if oldest is None or as_utc(row.checked_at) < as_utc(oldest) else oldest
                if row.outcome in (FixityOutcome.ALTERED, FixityOutcome.MISSING):
                    for use in users:
                        checked = f"{as_utc(row.checked_at):%Y-%m-%d %H:%M}"
                        message = (_("The fixity check of %(moment)s UTC found the original's content altered.",
                                     moment=checked) if row.outcome == FixityOutcome.ALTERED
                                   else _("The fixity check of %(moment)s UTC found the original missing.",
                                          moment=checked))
                        au1.findings.append(_finding(Result.PERSON, message, use.document, subject=key))
        try:
            with store.local_path(key) as path:
                if recompute:
                    found = _sha256_file(path)
                    if found != expected_sha:
                        for use in users:
                            au1.findings.append(_finding(
                                Result.PERSON, _("The original's content has changed: its SHA-256 is %(found)s…, "
                                                 "recorded as %(expected)s….", found=found[:16],
                                                 expected=expected_sha[:16]), use.document, subject=key))
                _open_original(path, key, users, received.get(key, []), results, all_pages=all_pages)
        except ObjectNotFound:
            _note_unopenable(us1, users, key, _("The original vanished while being read."))
        if progress is not None:
            progress(1)
    if recompute:
        au1.note = _("SHA-256 recomputed by this report.")
    else:
        au1.note = (_("From the last fixity results, the oldest of %(moment)s UTC; --recompute reads the originals "
                      "again.", moment=as_utc(oldest).strftime("%Y-%m-%d %H:%M")) if oldest
                    else _("From the last fixity results; --recompute reads the originals again."))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(fixity.READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _note_unopenable(us1: CheckResult, users: list[_Use], key: str, message: str) -> None:
    for use in users:
        us1.findings.append(_finding(Result.PERSON, message, use.document, subject=key))


_EXTENSIONS = {"application/pdf": {".pdf"}, "image/tiff": {".tif", ".tiff"}, "image/jpeg": {".jpg", ".jpeg", ".jpe"},
               "image/png": {".png"}}


def _open_original(path: Path, key: str, users: list[_Use], received: list[BatchFile],
                   results: dict[str, CheckResult], *, all_pages: bool) -> None:
    au4, in1, us1, us2 = (results[c] for c in ("AU-4", "IN-1", "US-1", "US-2"))
    try:
        info = formats.inspect(path)
        media_types = {u.document.media_type for u in users if u.document.original_key == key} | \
                      {p.media_type for u in users for p in u.pages}
        for recorded in sorted(media_types - {info.media_type}):
            for use in users:
                au4.findings.append(_finding(Result.PERSON, _("The content reads as %(found)s; the record says "
                                                              "%(recorded)s.", found=info.media_type, recorded=recorded),
                                             use.document, subject=key))
        for bf in received:
            suffix = Path(bf.filename).suffix.lower()
            if suffix and suffix not in _EXTENSIONS.get(info.media_type, set()):
                for use in users:
                    au4.findings.append(_finding(Result.WARNING, _("The extension of the uploaded name “%(name)s” does "
                                                                   "not fit the format %(format)s.", name=bf.filename,
                                                                   format=info.media_type),
                                                 use.document, subject=key))
        for use in users:
            for page in use.pages:
                if page.source_index >= info.page_count:
                    in1.findings.append(_finding(Result.PERSON, _("The page points to page %(page)s of its original, "
                                                                  "which has only %(pages)s pages.",
                                                                  page=page.source_index + 1, pages=info.page_count),
                                                 use.document, page, key))
        _encryption_and_compression(path, info.media_type, key, users, us2)
        if all_pages:
            for image in formats.render_pages(path, info.media_type, dpi=72):
                image.close()
        else:
            formats.render_page(path, info.media_type, 0, dpi=72).close()
    except formats.EncryptedFile as exc:
        for use in users:
            us2.findings.append(_finding(Result.PERSON, exc.message, use.document, subject=key))
        _note_unopenable(us1, users, key, _("The original is encrypted; it cannot be opened."))
    except formats.UnsupportedFormat as exc:
        for use in users:
            us2.findings.append(_finding(Result.PERSON, exc.message, use.document, subject=key))
        _note_unopenable(us1, users, key, exc.message)
    except formats.FileProblem as exc:
        _note_unopenable(us1, users, key, exc.message)


def _encryption_and_compression(path: Path, media_type: str, key: str, users: list[_Use], us2: CheckResult) -> None:
    if media_type == "application/pdf":
        from pypdf import PdfReader

        try:
            encrypted = PdfReader(path).is_encrypted
        except Exception:  # noqa: BLE001 - pypdf stricter than pdfium: opening is US-1's verdict, not this one
            return
        if encrypted:
            for use in users:
                us2.findings.append(_finding(Result.PERSON, _("The PDF is encrypted (perhaps only restricting printing or copying)."), use.document, subject=key))
    elif media_type == "image/tiff":
        with Image.open(path) as image:
            compression = str(image.info.get("compression", "raw"))
        if compression not in TIFF_COMPRESSIONS:
            for use in users:
                us2.findings.append(_finding(Result.WARNING, _("Unusual TIFF compression %(compression)s.",
                                                               compression=compression), use.document, subject=key))


# --- integrity ------------------------------------------------------------------------------------

def _check_file_counts(customers: list[Customer], documents: list[Document], out: CheckResult) -> None:
    per_customer: dict[int, int] = defaultdict(int)
    for d in documents:
        per_customer[d.customer_id or 0] += 1
        out.examined += 1
        live = _live(d)
        if d.page_count != len(live):
            out.findings.append(_finding(Result.PERSON, _("The recorded page count, %(recorded)s, differs from the "
                                                          "live pages, %(live)s.", recorded=d.page_count,
                                                          live=len(live)), d))
    for c in customers:
        if not per_customer.get(c.id):
            out.findings.append(Finding(Result.WARNING, _("The customer file holds no documents."),
                                        customer_account=c.account))


# The description fields DA/T 18 requires: the document's column and the field's name.
MANDATORY = (("reference_code", _l("Reference code")), ("title", _l("Title")), ("doc_date", _l("Date")),
             ("retention", _l("Retention period")), ("doc_type", _l("Class")),
             ("customer_account", _l("Account number")))
CREATOR, PAGE_COUNT = _l("Creator"), _l("Page count")


def _check_description(documents: list[Document], out: CheckResult) -> None:
    for d in documents:
        out.examined += 1
        missing = [name for column, name in MANDATORY
                   if (getattr(d, column) is None or not str(getattr(d, column)).strip())
                   and not (column == "reference_code" and d.filed_at is None)]  # the code comes with filing
        if d.customer is None or not (d.customer.name or "").strip():
            missing.append(CREATOR)
        if not d.page_count:
            missing.append(PAGE_COUNT)
        if missing:
            out.findings.append(_finding(Result.PERSON, _("Missing description: %(fields)s.",
                                                          fields=listing(str(m) for m in missing)), d))


def _check_numbering(pattern: re.Pattern[str], documents: list[Document], out: CheckResult) -> set[str]:
    """Page numbers 1…n per document; the 档号 series (code with its 件号 blanked) the documents are in."""
    series: set[str] = set()
    for d in documents:
        out.examined += 1
        numbers = [p.number for p in _live(d)]
        if numbers != list(range(1, len(numbers) + 1)):
            missing = sorted(set(range(1, max(numbers, default=0) + 1)) - set(numbers))
            repeated = sorted({n for n in numbers if numbers.count(n) > 1})
            out.findings.append(_finding(Result.PERSON, _("Page numbers are not 1…n: missing %(missing)s, repeated "
                                                          "%(repeated)s.", missing=missing or "—",
                                                          repeated=repeated or "—"), d))
        match = pattern.fullmatch(d.reference_code or "") if "seq" in pattern.groupindex else None
        if match:
            series.add(_series_of(match))
    return series


def _check_series(session: Session, pattern: re.Pattern[str], series: set[str], out: CheckResult) -> None:
    """The 件号 of each series run from 1 without gaps, counted over the whole archive."""
    if not series:
        return
    numbers_in: dict[str, set[int]] = defaultdict(set)
    for (code,) in session.execute(select(Document.reference_code).where(Document.reference_code.is_not(None))):
        match = pattern.fullmatch(code)
        if match and _series_of(match) in series:
            numbers_in[_series_of(match)].add(int(match.group("seq")))
    for name in sorted(series):
        used = numbers_in[name]
        gaps = sorted(set(range(1, max(used) + 1)) - used)
        if gaps:
            listed = ", ".join(map(str, gaps[:50])) + (" …" if len(gaps) > 50 else "")
            out.findings.append(Finding(Result.WARNING, _("Item numbers missing in the reference-code series "
                                                          "%(series)s: %(numbers)s.", series=name, numbers=listed),
                                        subject=name))


def _series_of(match: re.Match[str]) -> str:
    """The code with its 件号 blanked: the series a 件号 counts in."""
    start, end = match.span("seq")
    return match.string[:start] + "#" + match.string[end:]


def _check_page_text(documents: list[Document], out: CheckResult) -> None:
    for d in documents:
        for p in _live(d):
            out.examined += 1
            if p.status == JobState.FAILED:
                out.findings.append(_finding(Result.PERSON, _("Reading failed: %(reason)s",
                                                              reason=shown(p.error) or _("no reason recorded")), d, p))
            elif p.status != JobState.DONE:
                out.findings.append(_finding(Result.WARNING, _("Not processed yet."), d, p))
            elif not (p.text or "").strip():
                out.findings.append(_finding(Result.WARNING, _("No text was read: a blank page? Please confirm."), d, p))


# --- usability (derived objects) ------------------------------------------------------------------

PAGE_IMAGE, THUMBNAIL = _l("page image"), _l("thumbnail")


def _check_derived(store: ObjectStore, documents: list[Document], out: CheckResult) -> None:
    for d in documents:
        for p in _live(d):
            if p.status != JobState.DONE:
                continue
            out.examined += 1
            absent = [str(kind) for kind, key in ((PAGE_IMAGE, p.image_key), (THUMBNAIL, p.thumb_key))
                      if key is None or not store.exists(key)]
            if absent:
                out.findings.append(_finding(Result.WARNING, _("Derived objects missing: %(objects)s.",
                                                               objects=listing(absent)), d, p))


# --- security -------------------------------------------------------------------------------------

def _check_chain(session: Session, store: ObjectStore, out: CheckResult) -> None:
    verified = audit.verify(session, audit.load_anchors(store))
    out.examined = verified.events
    out.note = verified.summary()
    if not verified.ok:
        out.findings.append(Finding(Result.PERSON, verified.summary(), subject=f"audit #{verified.first_broken_seq}"))


def _events(session: Session, actions: Sequence[str], object_type: str, ids: list[str]) -> list[AuditEvent]:
    found: list[AuditEvent] = []
    for start in range(0, len(ids), 500):
        found += session.scalars(select(AuditEvent).where(AuditEvent.action.in_(actions),
                                                          AuditEvent.object_type == object_type,
                                                          AuditEvent.object_id.in_(ids[start:start + 500]))
                                 .order_by(AuditEvent.seq))
    return found


def _detail(event: AuditEvent) -> dict[str, object]:
    import json

    return json.loads(event.detail) if event.detail else {}


def _split_documents(session: Session) -> set[int]:
    made: set[int] = set()
    for event in session.scalars(select(AuditEvent).where(AuditEvent.action == "document.split")):
        new_id = _detail(event).get("new_document_id")
        if isinstance(new_id, int):
            made.add(new_id)
    return made


def _check_intake(session: Session, known: _Known, documents: list[Document], out: CheckResult) -> None:
    batch_of = {d.id: d.batch_file.batch_id for d in documents if d.batch_file is not None}
    uploads: dict[str, set[str]] = defaultdict(set)  # batch id → SHA-256s uploaded into it
    for event in _events(session, ("upload",), "batch", sorted({str(b) for b in batch_of.values()})):
        uploads[event.object_id or ""].add(str(_detail(event).get("sha256")))
    for d in documents:
        out.examined += 1
        batch = batch_of.get(d.id)
        if batch is not None and d.sha256 in uploads.get(str(batch), set()):
            continue
        if d.id in known.split_from:
            continue
        out.findings.append(_finding(Result.PERSON, _("No upload (or split) of this document's original is in the audit trail."), d))


_FILING_ACTIONS = ("document.file", "document.relink", "document.reference_code.correct")


def _check_filing_log(session: Session, documents: list[Document], out: CheckResult) -> None:
    filed = [d for d in documents if d.filed_at is not None]
    last_code: dict[str, str | None] = {}
    has_filing: set[str] = set()
    for event in _events(session, _FILING_ACTIONS, "document", [str(d.id) for d in filed]):
        detail = _detail(event)
        key = event.object_id or ""
        if event.action == "document.file":
            has_filing.add(key)
        code = detail.get("new") if event.action == "document.reference_code.correct" else detail.get("reference_code")
        last_code[key] = code if isinstance(code, str) else None
    for d in filed:
        out.examined += 1
        if str(d.id) not in has_filing:
            out.findings.append(_finding(Result.PERSON, _("Filed, but no filing event is in the audit trail."), d))
        elif last_code.get(str(d.id)) != d.reference_code:
            out.findings.append(_finding(Result.PERSON, _("The current reference code differs from “%(code)s”, the "
                                                          "last one the audit trail recorded: the code was changed "
                                                          "outside the service.", code=last_code.get(str(d.id))), d))

