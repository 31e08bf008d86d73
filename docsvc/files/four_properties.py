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
`four_properties.run` event per report).
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

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
from storage import ORIGINALS_PREFIX, ObjectNotFound, ObjectStore
from docsvc.i18n import _

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


RESULT_LABELS = {Result.PASS: "通过 pass", Result.WARNING: "警告 warning", Result.PERSON: "需人工处理 needs a person",
                 Result.NOT_APPLICABLE: "不适用 not applicable"}
_SEVERITY = {Result.PASS: 0, Result.WARNING: 1, Result.PERSON: 2}


class Property(StrEnum):
    AUTHENTICITY = "authenticity"
    INTEGRITY = "integrity"
    USABILITY = "usability"
    SECURITY = "security"


PROPERTY_LABELS = {Property.AUTHENTICITY: "真实性 Authenticity", Property.INTEGRITY: "完整性 Integrity",
                   Property.USABILITY: "可用性 Usability", Property.SECURITY: "安全性 Security"}


@dataclass(frozen=True)
class CheckSpec:
    code: str
    prop: Property
    name_zh: str
    name_en: str
    what: str  # what is checked, and where the answer comes from
    action: str  # what to do about a finding


@dataclass(frozen=True)
class Finding:
    """One record a check is unhappy with, and how unhappy."""
    result: Result  # WARNING or PERSON
    message: str  # Chinese first, then English
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
                "what": s.what, "action": s.action, "result": self.result.value, "examined": self.examined,
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


_RESTORE = "从备份恢复该原件到同一路径，再运行 `docsvc fixity --all` 复核。 / Restore the original from backup to the same key, then run `docsvc fixity --all`."
SPECS: tuple[CheckSpec, ...] = (
    CheckSpec("AU-1", Property.AUTHENTICITY, "原件固定性（SHA-256 与登记值一致）", "Fixity: originals match their recorded SHA-256",
              "每个原件的 SHA-256 与接收时登记的值（对象名 originals/<sha256>、文档记录）一致：重新计算（--recompute），或采用最近一次固定性检查的结果并注明日期。 / "
              "Each original's SHA-256 against the value recorded at intake: recomputed now (--recompute) or the last fixity check's result, with its date.",
              "损坏或缺失：勿覆盖，" + _RESTORE + " 从未核对：运行 `docsvc four-properties --recompute` 或 `docsvc fixity`。 / Never checked: run with --recompute or `docsvc fixity`."),
    CheckSpec("AU-2", Property.AUTHENTICITY, "档号规范性与唯一性", "Reference code (档号): form and uniqueness",
              "每份已归档文档都有档号，符合配置的档号格式（DOCSVC_ARCHIVE_CODE_PATTERN），且在全库唯一（按 NFKC 规范化、去空格、不分大小写比较）。 / "
              "Every filed document has a 档号 fitting the configured pattern, unique in the whole archive (compared after NFKC, trimming, ignoring case).",
              "由档案主管在文档页面“更正档号”（有审计记录的更正），不要直接修改数据库。 / A records manager corrects the code on the document page (an audited correction)."),
    CheckSpec("AU-3", Property.AUTHENTICITY, "元数据值域", "Metadata values in their domains",
              "文档类型代码存在且启用；形成日期不晚于今天、不早于 1949 年；保管期限为 Y 或 D<年数>；文档的户号与所属客户一致；户号符合 DOCSVC_ACCOUNT_PATTERN。 / "
              "Type code exists and is active; document date not in the future nor before 1949; retention Y or D<years>; the document's 户号 mirrors its customer's; 户号 fits DOCSVC_ACCOUNT_PATTERN.",
              "在文档或客户页面更正著录；类型停用的，确认是否改为现行类型。 / Correct the description on the document or customer page."),
    CheckSpec("AU-4", Property.AUTHENTICITY, "文件名、大小、格式与记录一致", "File name, size and format agree with the record",
              "存储中原件的大小等于接收记录（batch_files.size）；按内容识别的格式等于记录的类型；上传文件名的扩展名与格式相符；文档的 SHA-256 与其原件对象名一致。 / "
              "Stored size equals the intake record; the format read from the content equals the recorded media type; the uploaded name's extension fits it; the document's SHA-256 names its original.",
              "大小或格式不符：按 AU-1 处理（从备份恢复）；扩展名不符仅为提示，核对来源即可。 / Size or format mismatch: treat as AU-1; an extension mismatch is a note only."),
    CheckSpec("IN-1", Property.INTEGRITY, "件数、页数、字节数相符", "Item, page and byte counts agree",
              "客户档案内文档件数 > 0；每份文档记录的页数等于在用页数；每页指向原件中存在的页（页序号 < 原件页数）；原件字节数与存储对象一致（数据库与对象存储对照）。 / "
              "Each file holds documents; each document's page count equals its live pages; each page points inside its original; the original's bytes in the store equal the record.",
              "页数不符：在文档页面核对页面（拆分、合并、删除）；原件缺失或字节不符：" + _RESTORE),
    CheckSpec("IN-2", Property.INTEGRITY, "必要著录项目齐全（DA/T 18）", "Mandatory description fields filled (DA/T 18)",
              "档号=reference_code、题名=title、日期=doc_date、责任者=客户户名（customers.name）、保管期限=retention、"
              "类别=doc_type、户号=customer_account、页数=page_count 均已填写。 / 档号, 题名, 日期, 责任者 (customer name), 保管期限, 类别, 户号 and 页数 are filled.",
              "在文档页面补填著录；缺保管期限的，先确认文档类型（保管期限由类型的保管期限表计算）。 / Fill the description on the document page."),
    CheckSpec("IN-3", Property.INTEGRITY, "编号连续", "Numbering without gaps",
              "每份文档在用页的页号为 1…n，无缺号、无重号；本次检测涉及的档号序列（同一全宗·年度·期限）件号从 1 起连续，缺号列出。 / "
              "Each document's live pages are numbered 1…n; the 件号 of the code series the set touches run from 1 without gaps.",
              "页号问题：在文档页面重新排序；件号缺号：核对缺号是否因档号更正或退回而空出，并在移交说明中注明。 / Page numbering: reorder on the document page; 件号 gaps: explain them in the transfer note."),
    CheckSpec("IN-4", Property.INTEGRITY, "每页有文字或原因", "Every page has text or a reason",
              "每页已识别且有文字；识别失败的页有失败原因；识别出的文字为空的页列为警告（可能是空白页，请确认）。 / "
              "Each page has been read and has text; a failed page has its reason; a page read as empty is a warning (blank? confirm).",
              "失败页：在批次页面重试；尚未处理：等待处理完成；空白页：核对扫描件，确认为空白页即可。 / Failed: retry it; unprocessed: wait; empty: confirm it is blank."),
    CheckSpec("US-1", Property.USABILITY, "原件可打开、可显示", "Each original opens and renders",
              "每个原件按内容识别类型，能读出页数，并能解码显示首页（--all-pages 时逐页解码）。 / Each original is identified, its pages counted, and its first page (every page with --all-pages) decoded.",
              "从备份恢复完好的原件，或重新扫描该文档。 / Restore a good copy from backup or re-scan the document."),
    CheckSpec("US-2", Property.USABILITY, "无加密、无不通用的压缩", "No encryption, no unusual compression",
              "PDF 未加密（含仅限权限的加密）；TIFF 的压缩方式为通用方式（无压缩、CCITT G3/G4、LZW、PackBits、JPEG、Deflate）。 / "
              "PDFs are not encrypted (not even permission-only); TIFF compression is a common one.",
              "导出不加密的 PDF 或转换为通用压缩的 TIFF 后，作为新版本重新上传并在移交说明中注明。 / Re-export without encryption or with common compression."),
    CheckSpec("US-3", Property.USABILITY, "页面图像可显示", "Page images can be shown",
              "已处理的每页都有页面图像和缩略图对象（由原件生成的派生文件）。 / Each processed page's image and thumbnail objects exist (derived from the original).",
              "运行 `docsvc check --repair`：从原件重新生成。 / Run `docsvc check --repair` to regenerate them from the original."),
    CheckSpec("SE-1", Property.SECURITY, "审计日志链完整", "The audit chain verifies",
              "审计日志的哈希链逐条校验，并与对象存储中的每日锚点核对。 / The hash chain of the audit trail, checked event by event and against the daily anchors in the object store.",
              "立即通知审计员和系统管理员：日志被删除或改动，保全现场，从备份核对。 / Tell the auditor and the administrator at once; keep everything as it is."),
    CheckSpec("SE-2", Property.SECURITY, "每件有接收记录", "Every item has its intake in the audit trail",
              "每份文档的原件有上传（upload）审计记录且 SHA-256 相符，或由有记录的拆分（document.split）产生。 / "
              "Each document's original has its `upload` event with the same SHA-256, or the document came from an audited split.",
              "无记录的文档来历不明：核对来源（是否绕过系统写入数据库），由档案主管决定保留或重新接收。 / An item without its intake came in outside the service: find out how."),
    CheckSpec("SE-3", Property.SECURITY, "归档与档号变更均有记录", "Every filing and code change was logged",
              "每份已归档文档有归档（document.file）记录；当前档号等于最后一次有记录的归档、重新归档或档号更正所给的档号。 / "
              "Each filed document has its `document.file` event; its current 档号 is the one the last audited filing, relink or correction gave.",
              "档号被绕过系统改动：核对原因，由档案主管以“更正档号”恢复或确认（留下记录）。 / A code changed outside the service: correct or confirm it through an audited correction."),
    CheckSpec("AU-5", Property.AUTHENTICITY, "电子签名 / 电子印章有效性", "Electronic signatures and seals",
              "验证电子签名、电子印章。 / Verify electronic signatures and seals.", "—"),
    CheckSpec("SE-4", Property.SECURITY, "离线存储载体检测", "Offline carrier check",
              "移交载体（光盘、硬盘）的可读性与病毒检测。 / Readability and virus scan of a transfer carrier.", "—"),
)
_SPEC = {s.code: s for s in SPECS}
NOT_APPLICABLE_REASONS = {
    "AU-5": "纸质档案的扫描件不带电子签名或电子印章，签名、印章在纸质原件上；本检测不适用，不计为通过。 / Scans of paper carry no "
            "electronic signature or seal (those are on the paper); not applicable, never counted as passed.",
    "SE-4": "本报告直接检测在线存储，未使用离线载体；检查备份包（--bag）的功能尚未提供。 / This report checks the online store; "
            "no offline carrier is involved (checking a backup bag, --bag, is not available yet).",
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
        results[code].not_applicable = reason

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
            out.findings.append(_finding(Result.PERSON, f"档号“{code}”不符合配置的格式 {filing.archive_code_pattern}。 / "
                                                        f"{code!r} does not fit the configured pattern.", d))
        others = [i for i in known.holders[_normal_code(code)] if i != d.id]
        if others:
            out.findings.append(_finding(Result.PERSON, f"档号与文档 {', '.join(f'#{i}' for i in others)} 的档号相同"
                                                        f"（规范化后）。 / The code collides with document(s) {others}.", d))


def _check_domains(known: _Known, filing: FilingSettings, customers: list[Customer], documents: list[Document],
                   out: CheckResult) -> None:
    types, account_form, today = known.types, known.account_form, utcnow().date()
    for c in customers:
        out.examined += 1
        if not account_form.search(c.account):
            out.findings.append(Finding(Result.PERSON, f"户号“{c.account}”不符合配置的户号格式 {filing.account_pattern}。 / "
                                                       "The account number does not fit DOCSVC_ACCOUNT_PATTERN.",
                                        customer_account=c.account))
    for d in documents:
        out.examined += 1
        if d.doc_type is not None:
            doc_type = types.get(d.doc_type)
            if doc_type is None:
                out.findings.append(_finding(Result.PERSON, f"文档类型代码“{d.doc_type}”不在类型表中。 / "
                                                            f"Type code {d.doc_type!r} is not in the type table.", d))
            elif not doc_type.active:
                out.findings.append(_finding(Result.WARNING, f"文档类型 {d.doc_type} 已停用。 / Type {d.doc_type} is inactive.", d))
        if d.doc_date is not None and not EARLIEST_DATE <= d.doc_date <= today:
            out.findings.append(_finding(Result.PERSON, f"形成日期 {d.doc_date} 不合理（晚于今天或早于 1949 年）。 / "
                                                        f"Document date {d.doc_date} is implausible.", d))
        if d.retention is not None and not RETENTION_FORM.fullmatch(d.retention):
            out.findings.append(_finding(Result.PERSON, f"保管期限“{d.retention}”无效（应为 Y 或 D<年数>）。 / "
                                                        f"Retention {d.retention!r} is not Y or D<years>.", d))
        if d.customer is not None and d.customer_account != d.customer.account:
            out.findings.append(_finding(Result.PERSON, f"文档记录的户号 {d.customer_account} 与所属客户 {d.customer.account} 不一致。 / "
                                                        "The document's 户号 differs from its customer's.", d))


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
                au4.findings.append(_finding(Result.PERSON, f"文档记录的 SHA-256 与其原件 {key} 不符。 / "
                                                            "The document's recorded SHA-256 does not name its original.",
                                             use.document, subject=key))
        info = store.head(key)
        if info is None:
            for use in users:
                message = f"原件 {key} 在存储中缺失。 / The original is missing from the store."
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
                        out.findings.append(_finding(Result.PERSON, f"原件字节数 {info.size} 与接收记录 {bf.size} 不符（{bf.filename}）。 / "
                                                                    "Stored size differs from the intake record.", use.document, subject=key))
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
                        au1.findings.append(_finding(
                            Result.PERSON, f"固定性检查（{as_utc(row.checked_at):%Y-%m-%d %H:%M} UTC）发现原件"
                            f"{'内容被改动' if row.outcome == FixityOutcome.ALTERED else '缺失'}。 / Fixity found it {row.outcome}.",
                            use.document, subject=key))
        try:
            with store.local_path(key) as path:
                if recompute:
                    found = _sha256_file(path)
                    if found != expected_sha:
                        for use in users:
                            au1.findings.append(_finding(Result.PERSON, f"原件内容已改动：SHA-256 为 {found[:16]}…，登记为 {expected_sha[:16]}…。 / "
                                                                        "The original's bytes no longer match its SHA-256.",
                                                         use.document, subject=key))
                _open_original(path, key, users, received.get(key, []), results, all_pages=all_pages)
        except ObjectNotFound:
            _note_unopenable(us1, users, key, _("The original vanished while being read."))
        if progress is not None:
            progress(1)
    if recompute:
        au1.note = _("SHA-256 recomputed by this report.")
    else:
        since = f"，最早一次为 {as_utc(oldest):%Y-%m-%d %H:%M} UTC" if oldest else ""
        au1.note = (f"采用最近一次固定性检查的结果{since}；加 --recompute 重新计算。 / From the last fixity results"
                    f"{f' (oldest {as_utc(oldest):%Y-%m-%d %H:%M} UTC)' if oldest else ''}; --recompute re-reads them.")


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
                au4.findings.append(_finding(Result.PERSON, f"按内容识别为 {info.media_type}，记录为 {recorded}。 / "
                                                            "The content's format differs from the record.", use.document, subject=key))
        for bf in received:
            suffix = Path(bf.filename).suffix.lower()
            if suffix and suffix not in _EXTENSIONS.get(info.media_type, set()):
                for use in users:
                    au4.findings.append(_finding(Result.WARNING, f"上传文件名“{bf.filename}”的扩展名与格式 {info.media_type} 不符。 / "
                                                                 "The uploaded name's extension does not fit the format.",
                                                 use.document, subject=key))
        for use in users:
            for page in use.pages:
                if page.source_index >= info.page_count:
                    in1.findings.append(_finding(Result.PERSON, f"该页指向原件第 {page.source_index + 1} 页，原件只有 {info.page_count} 页。 / "
                                                                "The page points beyond its original's pages.", use.document, page, key))
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
                us2.findings.append(_finding(Result.WARNING, f"TIFF 压缩方式 {compression} 不通用。 / Unusual TIFF compression "
                                                             f"{compression}.", use.document, subject=key))


# --- integrity ------------------------------------------------------------------------------------

def _check_file_counts(customers: list[Customer], documents: list[Document], out: CheckResult) -> None:
    per_customer: dict[int, int] = defaultdict(int)
    for d in documents:
        per_customer[d.customer_id or 0] += 1
        out.examined += 1
        live = _live(d)
        if d.page_count != len(live):
            out.findings.append(_finding(Result.PERSON, f"记录的页数 {d.page_count} 与在用页数 {len(live)} 不符。 / "
                                                        f"Recorded page count {d.page_count}, live pages {len(live)}.", d))
    for c in customers:
        if not per_customer.get(c.id):
            out.findings.append(Finding(Result.WARNING, _("The customer file holds no documents."),
                                        customer_account=c.account))


MANDATORY = (("档号", "reference_code"), ("题名", "title"), ("日期", "doc_date"), ("保管期限", "retention"),
             ("类别", "doc_type"), ("户号", "customer_account"))


def _check_description(documents: list[Document], out: CheckResult) -> None:
    for d in documents:
        out.examined += 1
        missing = [label for label, column in MANDATORY
                   if getattr(d, column) is None or not str(getattr(d, column)).strip()]
        if d.filed_at is None:  # not filed yet: 档号 and class come with filing
            missing = [m for m in missing if m not in ("档号",)]
        if d.customer is None or not (d.customer.name or "").strip():
            missing.append("责任者")
        if not d.page_count:
            missing.append("页数")
        if missing:
            out.findings.append(_finding(Result.PERSON, f"缺少著录项：{'、'.join(missing)}。 / Missing: {', '.join(missing)}.", d))


def _check_numbering(pattern: re.Pattern[str], documents: list[Document], out: CheckResult) -> set[str]:
    """Page numbers 1…n per document; the 档号 series (code with its 件号 blanked) the documents are in."""
    series: set[str] = set()
    for d in documents:
        out.examined += 1
        numbers = [p.number for p in _live(d)]
        if numbers != list(range(1, len(numbers) + 1)):
            missing = sorted(set(range(1, max(numbers, default=0) + 1)) - set(numbers))
            repeated = sorted({n for n in numbers if numbers.count(n) > 1})
            out.findings.append(_finding(Result.PERSON, f"页号不连续：缺 {missing or '—'}，重复 {repeated or '—'}。 / "
                                                        f"Page numbers not 1…n: missing {missing}, repeated {repeated}.", d))
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
            shown = ", ".join(map(str, gaps[:50])) + (" …" if len(gaps) > 50 else "")
            out.findings.append(Finding(Result.WARNING, f"档号序列 {name} 的件号缺：{shown}。 / Item numbers missing in series "
                                                        f"{name}: {shown}.", subject=name))


def _series_of(match: re.Match[str]) -> str:
    """The code with its 件号 blanked: the series a 件号 counts in."""
    start, end = match.span("seq")
    return match.string[:start] + "#" + match.string[end:]


def _check_page_text(documents: list[Document], out: CheckResult) -> None:
    for d in documents:
        for p in _live(d):
            out.examined += 1
            if p.status == JobState.FAILED:
                out.findings.append(_finding(Result.PERSON, f"识别失败：{p.error or '无原因 / no reason recorded'}", d, p))
            elif p.status != JobState.DONE:
                out.findings.append(_finding(Result.WARNING, _("Not processed yet."), d, p))
            elif not (p.text or "").strip():
                out.findings.append(_finding(Result.WARNING, _("No text was read: a blank page? Please confirm."), d, p))


# --- usability (derived objects) ------------------------------------------------------------------

def _check_derived(store: ObjectStore, documents: list[Document], out: CheckResult) -> None:
    for d in documents:
        for p in _live(d):
            if p.status != JobState.DONE:
                continue
            out.examined += 1
            absent = [kind for kind, key in (("图像 image", p.image_key), ("缩略图 thumbnail", p.thumb_key))
                      if key is None or not store.exists(key)]
            if absent:
                out.findings.append(_finding(Result.WARNING, f"缺少派生文件：{'、'.join(absent)}。 / Derived object(s) missing.", d, p))


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
            out.findings.append(_finding(Result.PERSON, f"当前档号与最后一次有记录的档号“{last_code.get(str(d.id))}”不同：档号被绕过系统改动。 / "
                                                        "The current code is not the last one the audit trail recorded.", d))

