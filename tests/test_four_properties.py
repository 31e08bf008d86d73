"""四性检测 (DA/T 70-2018): a clean archive passes; each check fails when its records are spoiled, naming
them (档号, document, page); not-applicable checks never count as passed; the report comes out as JSON,
CSV and PDF from the same object; the command, the API and the page run the same service."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pdfplumber
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader, PdfWriter
from sqlalchemy import func, select, text, update

from docsvc import cli
from docsvc.config import FilingSettings, Settings
from docsvc.files import filing, four_properties
from docsvc.files.customers import AccountRule, create_customer, find_customer
from docsvc.files.doctypes import find_type
from docsvc.files.four_properties import Finding, FourPropertiesReport, Result
from docsvc.files.four_properties_report import csv_bytes, json_bytes, pdf_bytes
from docsvc.governance import fixity
from docsvc.models import AuditEvent, Document, Page, utcnow
from docsvc.runtime import Runtime
from storage import LocalStore
from tests.operations_setup import wait_for
from tests.conftest import AuthActions, Users
from tests.destruction_setup import ingest, text_pdf
from tests.factories import add_document
from tests.pdftext import pdf_text

pytestmark = pytest.mark.integration  # the PDF report draws its text layer with tesseract's glyphless font

ACCOUNT, OTHER = "3000000001", "3000000002"
RULE = AccountRule(r"^\d{10}$")
# Text PDFs with a real text layer (ten characters or more), so the page job reads it without OCR.
CONTRACT = "供用电合同 GD-2019-004512 户号 3000000001"


def archive(rt: Runtime, tmp_path: Path) -> dict[str, int]:
    """Customer files read through the real pipeline (upload, split, page job) and filed: in ACCOUNT's file
    a two-page contract and a one-page application, in OTHER's an inspection sheet."""
    ids = {"contract": ingest(rt, "contract.pdf", text_pdf(tmp_path, [CONTRACT + " 第一页", CONTRACT + " 第二页"])),
           "application": ingest(rt, "apply.pdf", text_pdf(tmp_path, ["用电申请书 户号 3000000001 申请新装 315kVA"])),
           "other": ingest(rt, "other.pdf", text_pdf(tmp_path, ["用电检查单 户号 3000000002 检查结果合格"]))}
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


@pytest.fixture
def files(embedded_runtime: Runtime, tmp_path: Path) -> dict[str, int]:
    return archive(embedded_runtime, tmp_path)


def check(rt: Runtime, accounts: tuple[str, ...] | None = (ACCOUNT,), **kw: object) -> FourPropertiesReport:
    with rt.sessions() as s:
        return four_properties.run(s, rt.store, FilingSettings(), None,
                                   accounts=list(accounts) if accounts is not None else None, **kw)  # type: ignore[arg-type]


def code_of(rt: Runtime, document_id: int) -> str:
    with rt.sessions() as s:
        return s.get(Document, document_id).reference_code  # type: ignore[union-attr,return-value]


def key_of(rt: Runtime, document_id: int) -> str:
    with rt.sessions() as s:
        return s.get(Document, document_id).original_key  # type: ignore[union-attr]


def named(report: FourPropertiesReport, code: str, result: Result = Result.PERSON) -> set[str | None]:
    """The 档号 the check's findings of `result` name."""
    return {f.reference_code for f in report.check(code).findings if f.result == result}


def not_passing(report: FourPropertiesReport) -> dict[str, Result]:
    return {c.spec.code: c.result for c in report.checks if c.result not in (Result.PASS, Result.NOT_APPLICABLE)}


def overwrite(store: LocalStore, key: str, data: bytes) -> None:
    path = store.root / "objects" / key
    path.chmod(0o644)  # originals are read-only on disk: an alteration has to get past that first
    path.write_bytes(data)


def test_a_clean_archive_passes_and_not_applicable_is_never_passed(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    report = check(embedded_runtime, recompute=True, all_pages=True)
    assert not_passing(report) == {}
    assert (report.customers, report.documents, report.pages, report.originals) == (1, 2, 3, 2)
    assert {c.spec.code for c in report.checks if c.result == Result.NOT_APPLICABLE} == {"AU-5", "SE-4"}
    counts = report.counts()
    assert counts["pass"] == len(report.checks) - 2 and counts["not_applicable"] == 2
    assert report.outcome == "passed" and not report.needs_person
    # Each check looked at something: a pass means "examined and fine", never "nothing looked at".
    assert all(c.examined > 0 for c in report.checks if c.result == Result.PASS)
    assert "电子签名" in report.check("AU-5").not_applicable  # type: ignore[operator]
    assert report.as_json()["counts"] == counts


def test_every_customer_file_when_none_is_named(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    report = check(embedded_runtime, None)
    assert (report.customers, report.documents, report.accounts) == (2, 3, None)


def test_without_recompute_the_last_fixity_results_are_used_with_their_date(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    before = check(rt)
    assert before.check("AU-1").result == Result.WARNING
    assert named(before, "AU-1", Result.WARNING) == {code_of(rt, files["contract"]), code_of(rt, files["application"])}
    with rt.sessions() as s:
        fixity.run(s, rt.store, budget_bytes=None)
    after = check(rt)
    assert after.check("AU-1").result == Result.PASS
    assert f"{utcnow():%Y-%m-%d}" in after.check("AU-1").note and "最近一次固定性检查" in after.check("AU-1").note  # type: ignore[operator]
    overwrite(rt.store, key_of(rt, files["contract"]), b"%PDF-1.4 altered")  # type: ignore[arg-type]
    # Until fixity re-reads it, the last result stands; recomputing sees it at once.
    assert check(rt).check("AU-1").result == Result.PASS
    assert named(check(rt, recompute=True), "AU-1") == {code_of(rt, files["contract"])}
    with rt.sessions() as s:
        fixity.run(s, rt.store, budget_bytes=None)
    assert named(check(rt), "AU-1") == {code_of(rt, files["contract"])}


def test_an_altered_original_is_flagged_naming_its_reference_code(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    contract = code_of(rt, files["contract"])
    overwrite(rt.store, key_of(rt, files["contract"]), b"garbage where a contract was")  # type: ignore[arg-type]
    report = check(rt, recompute=True)
    assert named(report, "AU-1") == {contract}
    assert named(report, "IN-1") == {contract}  # its bytes no longer match the intake record
    assert named(report, "AU-4") == {contract}
    assert named(report, "US-1") == {contract}  # and it no longer opens
    assert "SHA-256" in report.check("AU-1").findings[0].message
    assert report.needs_person and report.outcome == "needs_person"


def test_a_missing_original_is_flagged(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    rt.store.delete(key_of(rt, files["application"]))
    report = check(rt, recompute=True)
    application = code_of(rt, files["application"])
    for code in ("AU-1", "IN-1", "US-1"):
        assert named(report, code) == {application}, code
    assert report.check("AU-1").findings[0].subject == key_of(rt, files["application"])


def test_a_corrupt_original_that_does_not_open(embedded_runtime: Runtime, files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Stored under its own SHA-256 (fixity is content with it), but the PDF is cut short."""
    rt = embedded_runtime
    whole = text_pdf(tmp_path, [CONTRACT + " 第一页", CONTRACT + " 第二页"])
    stored, _ = rt.store.put_original(io.BytesIO(whole[: len(whole) // 3]))
    with rt.sessions() as s:
        s.execute(update(Document).where(Document.id == files["contract"])
                  .values(original_key=stored.key, sha256=stored.sha256))
        s.commit()
    report = check(rt, recompute=True)
    assert report.check("AU-1").result == Result.PASS
    assert named(report, "US-1") == {code_of(rt, files["contract"])}
    assert "损坏" in report.check("US-1").findings[0].message


def test_an_encrypted_pdf_is_flagged(embedded_runtime: Runtime, files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(tmp_path, ["用电申请书 户号 3000000001 申请新装 315kVA"]))))
    writer.encrypt(user_password="", owner_password="owner")  # opens without a password, printing restricted
    out = io.BytesIO()
    writer.write(out)
    stored, _ = rt.store.put_original(io.BytesIO(out.getvalue()))
    with rt.sessions() as s:
        s.execute(update(Document).where(Document.id == files["application"])
                  .values(original_key=stored.key, sha256=stored.sha256))
        s.commit()
    report = check(rt)
    assert named(report, "US-2") == {code_of(rt, files["application"])}
    assert report.check("US-1").result == Result.PASS  # it opens: encryption is its own finding


def test_a_blank_mandatory_field_is_flagged(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    with rt.sessions() as s:
        s.execute(update(Document).where(Document.id == files["contract"]).values(title=" ", doc_date=None))
        s.commit()
    report = check(rt)
    assert named(report, "IN-2") == {code_of(rt, files["contract"])}
    assert "题名" in report.check("IN-2").findings[0].message and "日期" in report.check("IN-2").findings[0].message


def test_gaps_in_page_numbers_and_item_numbers_are_flagged(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    with rt.sessions() as s:
        s.execute(update(Page).where(Page.document_id == files["contract"], Page.number == 2).values(number=3))
        s.commit()
    report = check(rt)
    assert named(report, "IN-3") == {code_of(rt, files["contract"])}
    assert "缺 [2]" in report.check("IN-3").findings[0].message
    with rt.sessions() as s:  # an audited correction that leaves 件号 1 unused in its series
        s.execute(update(Page).where(Page.document_id == files["contract"], Page.number == 3).values(number=2))
        document = s.get(Document, files["application"])
        filing.correct_code(s, None, document, document.reference_code[:-4] + "0003", "录入错误", FilingSettings())  # type: ignore[arg-type,index,union-attr]
    report = check(rt)
    assert report.check("IN-3").result == Result.WARNING
    gap = report.check("IN-3").findings[0]
    assert gap.result == Result.WARNING and "1, 2" in gap.message and gap.subject and gap.subject.endswith("-#")
    assert report.check("SE-3").result == Result.PASS  # the correction was audited


def test_pages_without_text_or_with_a_failure_are_flagged(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    with rt.sessions() as s:
        s.execute(update(Page).where(Page.document_id == files["contract"], Page.number == 1).values(text=""))
        s.execute(update(Page).where(Page.document_id == files["contract"], Page.number == 2)
                  .values(status="failed", error="OCR 超时"))
        s.commit()
    findings = check(rt).check("IN-4").findings
    assert {(f.page_number, f.result) for f in findings} == {(1, Result.WARNING), (2, Result.PERSON)}
    assert all(f.reference_code == code_of(rt, files["contract"]) and f.document_id == files["contract"] for f in findings)
    assert "OCR 超时" in next(f.message for f in findings if f.page_number == 2)


def test_a_missing_page_image_is_a_warning(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    with rt.sessions() as s:
        page = s.scalars(select(Page).where(Page.document_id == files["application"])).one()
        rt.store.delete(page.image_key)  # type: ignore[arg-type]
    report = check(rt)
    assert report.check("US-3").result == Result.WARNING
    assert [(f.reference_code, f.page_number) for f in report.check("US-3").findings] == [
        (code_of(rt, files["application"]), 1)]


def test_metadata_out_of_its_domain_is_flagged(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    with rt.sessions() as s:
        s.execute(update(Document).where(Document.id == files["contract"]).values(doc_type="ZZ"))
        s.execute(update(Document).where(Document.id == files["application"])
                  .values(doc_date=date.today() + timedelta(days=400)))
        s.commit()
    report = check(rt)
    assert named(report, "AU-3") == {code_of(rt, files["contract"]), code_of(rt, files["application"])}


def test_reference_codes_out_of_form_or_colliding_are_flagged(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    contract = code_of(rt, files["contract"])
    # Full-width digits fit the pattern (\d) but read as the contract's code: a collision after NFKC.
    twin = contract[:-4] + "".join(chr(ord(c) + 0xFEE0) for c in contract[-4:])
    with rt.sessions() as s:
        s.execute(update(Document).where(Document.id == files["application"]).values(reference_code=twin))
        s.commit()
    report = check(rt)
    assert named(report, "AU-2") == {contract, twin}
    with rt.sessions() as s:
        s.execute(update(Document).where(Document.id == files["application"]).values(reference_code="第5号"))
        s.commit()
    report = check(rt)
    assert named(report, "AU-2") == {"第5号"} and "格式" in report.check("AU-2").findings[0].message


def test_changes_made_outside_the_service_are_flagged(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    contract = code_of(rt, files["contract"])
    silent = contract[:-4] + "0099"
    with rt.sessions() as s:
        customer = find_customer(s, ACCOUNT)
        stray = add_document(s, key="f", title="来历不明", texts=["用电检查单"], customer_id=customer.id,  # type: ignore[union-attr]
                             customer_account=ACCOUNT, doc_type="JC", doc_date=date(2019, 1, 1), retention="D10")
        stray_id = stray.id
        s.execute(update(Document).where(Document.id == files["contract"]).values(reference_code=silent))
        s.commit()
    report = check(rt)
    assert {f.document_id for f in report.check("SE-2").findings} == {stray_id}
    assert named(report, "SE-3") == {silent}
    assert "绕过系统" in report.check("SE-3").findings[0].message


def test_a_broken_audit_chain_is_flagged(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    assert check(rt).check("SE-1").result == Result.PASS
    with rt.sessions() as s:
        s.execute(text("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 2"))
        s.commit()
    report = check(rt)
    assert report.check("SE-1").result == Result.PERSON
    assert "#2" in report.check("SE-1").findings[0].message


def test_each_run_is_audited_with_its_counts(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    check(rt)
    with rt.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "four_properties.run")).one()
        detail = json.loads(event.detail)  # type: ignore[arg-type]
    assert event.outcome == "warnings"  # AU-1: never checked by fixity yet
    assert detail["customer_accounts"] == [ACCOUNT] and detail["counts"]["not_applicable"] == 2


def test_an_unknown_account_is_refused_by_name(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    from docsvc.errors import NotFound

    with pytest.raises(NotFound, match="3999999999"):
        check(embedded_runtime, ("3999999999",))


def test_the_three_formats_come_from_one_report(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    rt.store.delete(key_of(rt, files["application"]))
    report = check(rt)
    report.check("AU-4").findings.append(Finding(Result.WARNING, "=HYPERLINK(\"http://x\")", reference_code="@x"))
    data = json.loads(json_bytes(report))
    assert data["counts"] == report.counts() and data["scope"]["customer_accounts"] == [ACCOUNT]
    assert data["fixity"] == "last_fixity_result"

    rows = list(csv.reader(io.StringIO(csv_bytes(report, rt.settings.timezone).decode("utf-8-sig"))))
    assert rows[0][0].startswith("电子档案四性检测报告")
    assert any("Asia/Shanghai" in cell for row in rows[:4] for cell in row)
    header = rows.index(["属性", "代码", "检测项目", "结果", "档号", "文档", "页", "户号", "对象", "说明"])
    body = rows[header + 1:]
    assert {r[1] for r in body} == {c.spec.code for c in report.checks}
    assert any(r[1] == "AU-1" and r[4] == code_of(rt, files["application"]) for r in body)
    assert ["'@x", "'=HYPERLINK(\"http://x\")"] == [next(r for r in body if r[4] == "'@x")[i] for i in (4, 9)]
    assert [r[3] for r in body if r[1] == "AU-5"] == ["不适用"]

    with pdfplumber.open(io.BytesIO(pdf_bytes(report, rt.settings.timezone))) as pdf:
        words = "".join((page.extract_text() or "") for page in pdf.pages).replace(" ", "").replace("\n", "")
    for name in ("电子档案四性检测报告", "真实性", "完整性", "可用性", "安全性", "原件固定性", "必要著录项目齐全",
                 "审计日志链完整", "电子签名", "不适用", "需人工处理", "Asia/Shanghai", code_of(rt, files["application"])):
        assert name.replace(" ", "") in words, name


# --- entry points ---------------------------------------------------------------------------------

def test_the_command_writes_the_report_and_exits_non_zero_when_a_person_is_needed(
        embedded_runtime: Runtime, embedded_settings: Settings, files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    env = {"DOCSVC_DATA_DIR": str(embedded_settings.data_dir), "DOCSVC_SECRET_KEY": "test-secret"}
    runner = CliRunner()
    out = tmp_path / "report.json"
    clean = runner.invoke(cli.main, ["four-properties", "--customer", ACCOUNT, "--recompute", "--output", str(out)], env=env)
    assert clean.exit_code == 0, clean.output
    assert json.loads(out.read_text(encoding="utf-8"))["outcome"] == "passed"
    assert "AU-1" in clean.output and "不适用 2" in clean.output

    rt.store.delete(key_of(rt, files["contract"]))
    pdf = tmp_path / "report.pdf"
    broken = runner.invoke(cli.main, ["four-properties", "--customer", ACCOUNT, "--output", str(pdf)], env=env)
    assert broken.exit_code == 1, broken.output
    assert pdf.read_bytes().startswith(b"%PDF")
    as_csv = runner.invoke(cli.main, ["four-properties", "--format", "csv"], env=env)
    assert as_csv.exit_code == 1 and code_of(rt, files["contract"]) in as_csv.output
    refused = runner.invoke(cli.main, ["four-properties", "--format", "pdf"], env=env)
    assert refused.exit_code == 2 and "--output" in refused.output
    unknown = runner.invoke(cli.main, ["four-properties", "--customer", "3999999999"], env=env)
    assert unknown.exit_code == 1 and "3999999999" in unknown.output


def test_a_backup_bag_is_checked_like_the_archive_it_came_from_and_a_damaged_one_is_refused(
        embedded_runtime: Runtime, embedded_settings: Settings, files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from docsvc.pipeline import backup

    rt = embedded_runtime
    live = check(rt, recompute=True)
    bag = tmp_path / "bag"
    assert backup.write(rt.engine, rt.store, bag).ok
    env = {"DOCSVC_DATA_DIR": str(embedded_settings.data_dir), "DOCSVC_SECRET_KEY": "test-secret"}
    out = tmp_path / "bag-report.json"
    runner = CliRunner()
    checked = runner.invoke(cli.main, ["four-properties", "--bag", str(bag), "--customer", ACCOUNT, "--recompute",
                                       "--output", str(out)], env=env)
    assert checked.exit_code == 0, checked.output
    from_bag = json.loads(out.read_text(encoding="utf-8"))
    assert from_bag["outcome"] == live.outcome == "passed"
    totals = from_bag["totals"]
    assert (totals["documents"], totals["pages"], totals["originals"]) == (live.documents, live.pages, live.originals)
    with rt.sessions() as s:  # the live archive was not touched: the bag's run is audited in the scratch copy
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "four_properties.run")) == 1

    victim = sorted((bag / "data" / "originals").iterdir())[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte altered in transit
    victim.write_bytes(bytes(data))
    refused = runner.invoke(cli.main, ["four-properties", "--bag", str(bag)], env=env)
    assert refused.exit_code == 1 and victim.name in refused.output, refused.output
    victim.write_bytes(b"cut short")  # a changed size fails bagit's count-and-size check first, which names no file
    refused = runner.invoke(cli.main, ["four-properties", "--bag", str(bag)], env=env)
    assert refused.exit_code == 1 and victim.name in refused.output, refused.output


def test_the_api_runs_the_report_for_archivists_and_auditors_only(
        embedded_runtime: Runtime, client: FlaskClient, users: Users, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    headers = {"Authorization": f"Bearer {users.token('arch', 'archivist')}"}
    response = client.post("/api/v1/four-properties", json={"customer_accounts": [ACCOUNT], "recompute": True},
                           headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["outcome"] == "passed", [c for c in response.get_json()["checks"] if c["result"] == "person"]
    everything = client.post("/api/v1/four-properties", headers=headers)  # no body: every file
    assert everything.get_json()["totals"]["customers"] == 2
    as_csv = client.post("/api/v1/four-properties", json={"format": "csv"},
                         headers={"Authorization": f"Bearer {users.token('aud', 'auditor')}"})
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert "attachment" in as_csv.headers["Content-Disposition"]
    assert client.post("/api/v1/four-properties", json={"format": "docx"}, headers=headers).status_code == 400
    assert client.post("/api/v1/four-properties", json={"customer_accounts": ["3999999999"]},
                       headers=headers).status_code == 404
    viewer = {"Authorization": f"Bearer {users.token('clerk', 'viewer')}"}
    assert client.post("/api/v1/four-properties", json={}, headers=viewer).status_code == 403
    with rt.sessions() as s:
        assert s.scalar(select(AuditEvent.actor_name).where(AuditEvent.action == "four_properties.run")) == "arch"


def test_the_page_runs_shows_and_downloads_the_report(
        app: Flask, client: FlaskClient, auth: AuthActions, users: Users, embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    with rt.sessions() as s:
        s.execute(update(Document).where(Document.id == files["contract"]).values(title=""))
        s.commit()
    auth.login("auditor1", "auditor")
    page = client.get("/admin/four-properties")
    assert page.status_code == 200 and 'id="nav-four-properties"' in page.get_data(as_text=True)
    token = auth.csrf("/admin/four-properties")
    shown = client.post("/admin/four-properties", data={"csrf_token": token, "customer_accounts": f"{ACCOUNT}，",
                                                        "format": "html"})
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200, html
    assert 'data-outcome="needs_person"' in html and 'id="check-IN-2" data-result="person"' in html
    assert code_of(rt, files["contract"]) in html and "题名" in html
    assert 'id="check-AU-5" data-result="not_applicable"' in html
    # A file is made in the background (a whole archive takes hours) and offered on its progress page.
    started = client.post("/admin/four-properties", data={"csrf_token": token, "customer_accounts": ACCOUNT,
                                                          "format": "pdf"})
    assert started.status_code == 302 and "/operations/" in started.headers["Location"]
    state = wait_for(client, int(started.headers["Location"].rsplit("/", 1)[-1]))
    assert state["status"] == "done" and state["done"] == state["total"] == state["summary"]["originals"] > 0
    assert state["summary"]["person"] >= 1
    pdf = client.get(f"/operations/{state['id']}/download")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    other = app.test_client()
    AuthActions(other, users).login("clerk", "operator")
    assert other.get("/admin/four-properties").status_code == 403


def test_a_format_unlike_the_record_is_flagged(embedded_runtime: Runtime, files) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    with rt.sessions() as s:
        s.execute(update(Document).where(Document.id == files["application"]).values(media_type="image/tiff"))
        s.commit()
    report = check(rt)
    assert named(report, "AU-4") == {code_of(rt, files["application"])}
    assert "application/pdf" in report.check("AU-4").findings[0].message


def test_on_postgresql_too(pg_runtime: Runtime, tmp_path: Path) -> None:
    from docsvc.runtime import install

    rt = pg_runtime
    install(rt)
    ids = archive(rt, tmp_path)
    assert not_passing(check(rt, recompute=True)) == {}
    rt.store.delete(key_of(rt, ids["contract"]))
    with rt.sessions() as s:  # past the append-only trigger, as someone with the database's keys could
        s.execute(text("SET session_replication_role = replica"))
        s.execute(text("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 3"))
        s.execute(text("SET session_replication_role = origin"))
        s.commit()
    report = check(rt, recompute=True)
    assert named(report, "AU-1") == {code_of(rt, ids["contract"])}
    assert report.check("SE-1").result == Result.PERSON


def test_a_stack_shared_by_two_files_is_read_once_and_names_both(
        embedded_runtime: Runtime, files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """One scanned stack split into a document of each file (an audited split); files loaded one at a time."""
    from docsvc.files import pageops

    rt = embedded_runtime
    monkeypatch.setattr(four_properties, "CHUNK", 1)
    stack = ingest(rt, "stack.pdf", text_pdf(tmp_path, [CONTRACT + " 变更单", "用电检查单 户号 3000000002 检查结果合格 附页"]))
    with rt.sessions() as s:
        second = pageops.split(s, None, s.get(Document, stack), 2).id  # type: ignore[arg-type]
        for doc_id, account, doc_type in ((stack, ACCOUNT, "BG"), (second, OTHER, "JC")):
            document = s.get(Document, doc_id)
            document.doc_date = date(2020, 2, 2)  # type: ignore[union-attr]
            filing.file_document(s, None, document, find_customer(s, account), find_type(s, doc_type), FilingSettings())  # type: ignore[arg-type]
        s.commit()
    report = check(rt, None, recompute=True)
    assert not_passing(report) == {}
    assert (report.customers, report.documents, report.originals) == (2, 5, 4)
    overwrite(rt.store, key_of(rt, stack), b"garbage")  # type: ignore[arg-type]
    report = check(rt, None, recompute=True)
    assert named(report, "AU-1") == {code_of(rt, stack), code_of(rt, second)}
    assert {f.page_number for f in report.check("IN-1").findings if f.document_id == second} == {None}


CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
ENGLISH = ("Four-properties check report", "Run at", "Scope (account numbers)", "Authenticity", "Integrity",
           "Usability", "Security", "Fixity: originals match their recorded SHA-256", "Not applicable",
           "What is checked:", "Missing description: Title.", "Why it does not apply:")
CHINESE = ("电子档案四性检测报告", "检测时间", "检测范围（户号）", "真实性", "完整性", "可用性", "安全性",
           "原件固定性（SHA-256与登记值一致）", "不适用", "检测内容：", "缺少著录项：题名。", "不适用原因：")


def test_the_report_is_in_the_readers_language(
        embedded_runtime: Runtime, embedded_settings: Settings, client: FlaskClient, auth: AuthActions, users: Users,
        files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Chinese by default; English for a reader asking for it (Accept-Language, the switch's cookie) and for
    the command under DOCSVC_LANGUAGE=en. Only the data (codes, keys, the time zone) reads the same."""
    rt = embedded_runtime
    with rt.sessions() as s:
        s.execute(update(Document).where(Document.id == files["contract"]).values(title=""))
        s.commit()
    api = {"Authorization": f"Bearer {users.token('arch', 'archivist')}"}
    body = {"customer_accounts": [ACCOUNT], "recompute": True, "format": "pdf"}

    chinese = pdf_text(client.post("/api/v1/four-properties", json=body, headers=api).data)
    for words in CHINESE:
        assert words in chinese.replace(" ", ""), words
    for words in ENGLISH:
        assert words not in chinese, words

    in_english = {**api, "Accept-Language": "en"}
    english = pdf_text(client.post("/api/v1/four-properties", json=body, headers=in_english).data)
    for words in ENGLISH:
        assert words in english, words
    # SE-1's note is the audit trail's own summary (governance.audit), the one text not written here; its
    # counts grow with each run, hence compared without digits or spaces.
    checks = client.post("/api/v1/four-properties", json={**body, "format": "json"}, headers=in_english).get_json()
    audit_note = re.sub(r"[\s\d]", "", next(c["note"] for c in checks["checks"] if c["code"] == "SE-1"))
    assert not CJK.search(re.sub(r"[\s\d]", "", english).replace(audit_note, "")), english

    table = client.post("/api/v1/four-properties", json={**body, "format": "csv"},
                        headers={**api, "Accept-Language": "en"}).data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(table)))
    assert rows[0][0] == "Four-properties check report (DA/T 70-2018)" and "Asia/Shanghai" in rows[1][1]
    assert ["Property", "Code", "Check", "Result", "Reference code", "Document id", "Page", "Account number",
            "Subject", "Message"] in rows
    assert not CJK.search(re.sub(r"[\s\d]", "", table).replace(audit_note, ""))

    auth.login("auditor1", "auditor")  # the page, for someone who chose English with the switch
    client.set_cookie("lang", "en")
    started = client.post("/admin/four-properties", data={"csrf_token": auth.csrf("/admin/four-properties"),
                                                          "customer_accounts": ACCOUNT, "format": "pdf"})
    state = wait_for(client, int(started.headers["Location"].rsplit("/", 1)[-1]))  # made in the background
    made = client.get(f"/operations/{state['id']}/download")
    assert "Fixity: originals match their recorded SHA-256" in pdf_text(made.data)

    env = {"DOCSVC_DATA_DIR": str(embedded_settings.data_dir), "DOCSVC_SECRET_KEY": "test-secret"}
    for language, expected in (({}, CHINESE[0]), ({"DOCSVC_LANGUAGE": "en"}, ENGLISH[0])):
        out = tmp_path / f"report-{len(language)}.pdf"
        CliRunner().invoke(cli.main, ["four-properties", "--customer", ACCOUNT, "--output", str(out)],
                           env={**env, **language})
        assert expected in pdf_text(out.read_bytes()), language
