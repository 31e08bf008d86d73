"""四性检测 (DA/T 70-2018): a clean archive passes; each check fails when its record is spoiled, naming the
records concerned; not-applicable checks never count as passed; the command, the API and the page."""
from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pdfplumber
import pytest
from sqlalchemy import select, text

from docsvc.config import FilingSettings
from docsvc.files import filing, four_properties
from docsvc.files.customers import AccountRule, create_customer, find_customer
from docsvc.files.doctypes import find_type
from docsvc.files.four_properties import Result
from docsvc.files.four_properties_report import csv_bytes, json_bytes, pdf_bytes
from docsvc.governance import fixity
from docsvc.models import AuditEvent, Document, Page
from docsvc.runtime import Runtime
from tests.destruction_setup import ingest, text_pdf

ACCOUNT, OTHER = "3000000001", "3000000002"
RULE = AccountRule(r"^\d{10}$")


def archive(rt: Runtime, tmp_path: Path) -> dict[str, int]:
    """Two customer files read through the real pipeline and filed: a two-page contract, a one-page application."""
    ids = {"contract": ingest(rt, "contract.pdf", text_pdf(tmp_path, ["供用电合同 第一页", "供用电合同 第二页"])),
           "application": ingest(rt, "apply.pdf", text_pdf(tmp_path, ["用电申请书"])),
           "other": ingest(rt, "other.pdf", text_pdf(tmp_path, ["用电检查单"]))}
    with rt.sessions() as s:
        for account, name in ((ACCOUNT, "宏达机械制造有限公司"), (OTHER, "绿源食品加工厂")):
            if find_customer(s, account) is None:
                create_customer(s, None, RULE, account, {"name": name})
        for key, account, doc_type in (("contract", ACCOUNT, "HT"), ("application", ACCOUNT, "SQ"),
                                       ("other", OTHER, "JC")):
            document = s.get(Document, ids[key])
            document.doc_date = date(2019, 5, 6)
            filing.file_document(s, None, document, find_customer(s, account), find_type(s, doc_type), FilingSettings())
        s.commit()
    return ids


def run(rt: Runtime, accounts=(ACCOUNT,), **kw):  # type: ignore[no-untyped-def]
    with rt.sessions() as s:
        return four_properties.run(s, rt.store, FilingSettings(), None, accounts=list(accounts) if accounts else None, **kw)


def test_a_clean_archive_passes_and_not_applicable_is_never_passed(embedded_runtime: Runtime, tmp_path: Path) -> None:
    archive(embedded_runtime, tmp_path)
    report = run(embedded_runtime, recompute=True, all_pages=True)
    print(json.dumps(report.as_json(), ensure_ascii=False, indent=1)[:6000])
    assert {c.spec.code: c.result for c in report.checks if c.result not in (Result.PASS, Result.NOT_APPLICABLE)} == {}
