"""Customers and the customer-list import: what an archivist sees when she imports the marketing export."""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from docsvc.models import AuditEvent, Customer, DocumentType
from docsvc.files import customer_import as imp
from docsvc.files.customers import AccountRule, CustomerError, DuplicateAccount, create_customer, update_customer
from docsvc.files.doctypes import required_types

RULE = AccountRule(r"^\d{10}$")
HEADER = "户号,户名,用电地址,电压等级,档案等级,区域,状态,销户日期\n"


def _import(session, data: bytes, name: str = "list.csv", dry_run: bool = False, **kw):  # type: ignore[no-untyped-def]
    table = imp.read_table(data, name)
    return imp.run_import(session, None, table, imp.guess_mapping(table.headers), RULE, dry_run=dry_run,
                          source_name=name, **kw)


def test_document_types_are_seeded_with_sensitive_id_copies(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        types = {t.code: t for t in s.scalars(select(DocumentType))}
        assert set(types) == {"SQ", "ZJ", "HT", "SJ", "JL", "JC", "WY", "BG", "QT"}
        assert types["ZJ"].sensitive and not types["HT"].sensitive
        assert {t.code for t in required_types(s, "contract")} == {"SQ", "ZJ", "SJ", "JL", "HT"}


def test_an_account_number_must_match_the_configured_pattern(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        with pytest.raises(CustomerError, match="格式不正确"):
            create_customer(s, None, RULE, "12345", {"name": "宏达机械"})
        create_customer(s, None, AccountRule(r"^[A-Z]\d{4}$"), "A1234", {"name": "宏达机械"})
        create_customer(s, None, RULE, "3012345678", {"name": "宏达机械", "grade": "一级"})
        with pytest.raises(DuplicateAccount):
            create_customer(s, None, RULE, "3012345678", {"name": "又一个"})
        with pytest.raises(CustomerError, match="销户日期"):
            update_customer(s, None, "3012345678", {"status": "closed"})
        c = update_customer(s, None, "3012345678", {"status": "closed", "closed_on": "2024/3/5"})
        assert c.closed_on == date(2024, 3, 5)
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("customer.%"))) == 3


def test_import_creates_then_updates_and_a_second_run_changes_nothing(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    csv1 = (HEADER + "3000000001,宏达机械,城东区人民路1号,10kV,一级,城东,在用,\n"
                     "3000000002,绿源食品,城西区解放路2号,0.4kV,二级,城西,销户,2023-06-30\n").encode()
    with embedded_runtime.sessions() as s:
        dry = _import(s, csv1, dry_run=True)
        assert (dry.created, dry.applied) == (2, False)
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
        first = _import(s, csv1)
        assert (first.created, first.updated, first.rejected, first.applied) == (2, 0, 0, True)
        again = _import(s, csv1)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
        changed = _import(s, csv1.replace("城东区人民路1号".encode(), "城东区人民路9号".encode()))
        assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 1)
        closed = s.scalars(select(Customer).where(Customer.account == "3000000002")).one()
        assert closed.status == "closed" and closed.closed_on == date(2023, 6, 30)


def test_a_bad_row_rejects_the_whole_import_and_the_errors_name_each_row(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    data = (HEADER + "3000000001,宏达机械,,,,,,\n"
                     "30000X0002,坏户号,,,,,,\n"
                     "3000000001,重复,,,,,,\n"
                     "3000000004,,,,,,,\n"
                     "3000000005,等级错,,,四级,,,\n").encode()
    with embedded_runtime.sessions() as s:
        report = _import(s, data)
        assert (report.created, report.rejected, report.applied) == (1, 4, False)
        assert [e.row for e in report.errors] == [3, 4, 5, 6]
        assert "重复" in report.errors[1].message and "第 2 行" in report.errors[1].message
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
        assert "30000X0002" in report.errors_csv().decode("utf-8-sig")
        partial = _import(s, data, skip_rejected=True)
        assert partial.applied and s.scalar(select(func.count()).select_from(Customer)) == 1


def test_gbk_and_utf8_exports_read_the_same(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    text = HEADER + "3000000001,华能纺织印染有限公司,滨湖新区长江中路8号,10kV,一级,滨湖,,\n"
    gbk, utf8 = imp.read_table(text.encode("gbk")), imp.read_table(("\ufeff" + text).encode("utf-8"))
    assert gbk.encoding == "gbk" and utf8.encoding == "utf-8"
    assert gbk.headers == utf8.headers and gbk.rows == utf8.rows
    assert gbk.rows[0][1] == "华能纺织印染有限公司"


def test_xlsx_with_excel_dates_numeric_accounts_and_other_headers(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    book = Workbook()
    sheet = book.active
    sheet.append(["用户编号", "客户名称", "状态", "销户时间", "档案位置"])
    sheet.append([3000000001, "宏达机械", "销户", datetime(2022, 1, 15), "3号库 A-12-3"])
    sheet.append(["3000000002", "绿源食品", "销户", 45000, None])  # a date that lost its format: Excel serial
    sheet.append(["3000000003", "东方水泥", "销户", "2021年7月1日", None])
    buf = io.BytesIO()
    book.save(buf)
    with embedded_runtime.sessions() as s:
        report = _import(s, buf.getvalue(), "list.xlsx")
        assert report.applied and report.created == 3, report.errors
        got = {c.account: c for c in s.scalars(select(Customer))}
        assert got["3000000001"].closed_on == date(2022, 1, 15) and got["3000000001"].location == "3号库 A-12-3"
        assert got["3000000002"].closed_on == date(2023, 3, 15)
        assert got["3000000003"].closed_on == date(2021, 7, 1)
