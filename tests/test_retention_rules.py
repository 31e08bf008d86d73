"""Retention rules: due dates by trigger (year+1, leap days), versions, the parent rule, previews,
recompute when dates change, the daily run, and what may go on a destruction list."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from docsvc.constants import RetentionStatus, RetentionTrigger
from docsvc.files import filing
from docsvc.files.customers import update_customer
from docsvc.files.doctypes import update_type
from docsvc.config import FilingSettings
from docsvc.governance import holds, retention
from docsvc.governance.retention import RetentionError, due_on
from docsvc.models import AuditEvent, Document, RetentionSchedule
from docsvc import i18n
from tests.retention_data import customer, filed, why_not

T = RetentionTrigger


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


# (class, trigger, trigger date, due date): THE rule, as docs/retention.md states it
DUE_TABLE = [
    ("D10", T.DOCUMENT_DATE, date(2019, 1, 1), date(2030, 1, 1)),     # year + 1 convention
    ("D10", T.DOCUMENT_DATE, date(2019, 12, 31), date(2030, 1, 1)),
    ("D30", T.DOCUMENT_DATE, date(2020, 2, 29), date(2051, 1, 1)),
    ("D10", T.ACCOUNT_CLOSED, date(2020, 3, 15), date(2030, 3, 16)),  # the day after the anniversary
    ("D10", T.ACCOUNT_CLOSED, date(2020, 2, 29), date(2030, 3, 1)),   # no 29 Feb in 2030: ends on the 28th
    ("D4", T.CONTRACT_END, date(2020, 2, 29), date(2024, 3, 1)),      # 29 Feb exists again: ends on it
    ("D12", T.EVENT, date(2021, 2, 28), date(2033, 3, 1)),
    ("D11", T.EVENT, date(2021, 2, 28), date(2032, 2, 29)),           # ends 28 Feb of a leap year
    ("D10", T.CONTRACT_END, date(2020, 12, 31), date(2031, 1, 1)),
    ("Y", T.DOCUMENT_DATE, date(2019, 5, 1), None),                    # 永久: never due
    ("D10", T.DOCUMENT_DATE, None, None),                              # no date: cannot compute
]


@pytest.mark.parametrize("retention_class,trigger,trigger_date,expected", DUE_TABLE)
def test_due_date_follows_the_one_rule(retention_class, trigger, trigger_date, expected) -> None:  # type: ignore[no-untyped-def]
    assert due_on(retention_class, trigger, trigger_date) == expected


@pytest.mark.parametrize("bad", ["", "D0", "D", "30", "X10", "d10", "D1000"])
def test_a_class_that_is_not_y_or_dn_is_refused(bad: str) -> None:
    with pytest.raises(RetentionError):
        retention.period_years(bad)


def _rule(**values: object) -> dict[str, object]:
    return {"doc_type": "JC", "retention": "D10", "trigger": "document_date", "authority": "保管期限表 第3条", **values}


def test_first_use_seeds_version_1_per_type_from_the_type_table(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        rules = retention.current_schedules(s)
        assert rules["HT"].retention == "Y" and rules["JC"].retention == "D10" and rules["SQ"].retention == "D30"
        assert {r.version for r in rules.values()} == {1}
        assert rules["JC"].trigger == "document_date" and "初始" in rules["JC"].authority


def test_document_date_trigger_counts_from_1_january_after_and_the_daily_run_marks_it_due(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        inspection = filed(s, "3000000001", "JC", date(2020, 6, 30))
        contract = filed(s, "3000000001", "HT", date(1990, 1, 1))
        assert (inspection.retention, inspection.due_on) == ("D10", date(2031, 1, 1))
        assert contract.retention_status == RetentionStatus.PERMANENT and contract.due_on is None
        assert retention.run_daily(s, at("2030-12-31T12:00")) == 0
        assert s.get(Document, inspection.id).retention_status == RetentionStatus.RUNNING
        assert retention.run_daily(s, at("2031-01-01T00:00")) == 1
        assert s.get(Document, inspection.id).retention_status == RetentionStatus.DUE
        assert retention.run_daily(s, at("2500-01-01T00:00")) == 0  # 永久 never becomes due
        assert s.get(Document, contract.id).retention_status == RetentionStatus.PERMANENT
        runs = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.run")).all()
        assert len(runs) == 3 and '"marked_due":1' in runs[1].detail.replace(" ", "")


def test_changing_the_document_date_recomputes_its_due_date(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        doc = filed(s, "3000000001", "JC", None)
        assert doc.retention_status == RetentionStatus.UNKNOWN and doc.due_on is None  # cannot compute
        assert retention.run_daily(s, at("2200-01-01T00:00")) == 0  # unknown is never due
        filing.update_document(s, None, doc, {"document_date": "2018-03-01"}, FilingSettings())
        assert (doc.due_on, doc.retention_status) == (date(2029, 1, 1), RetentionStatus.RUNNING)


def test_an_unfiled_document_has_no_due_date(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        doc = filed(s, "3000000001", "JC", date(2010, 6, 30))
        assert doc.retention_status == RetentionStatus.DUE
        filing.unfile_document(s, None, doc, reason="扫错了户")
        s.commit()
        doc = s.get(Document, doc.id)
        assert (doc.retention, doc.due_on, doc.retention_status) == (None, None, RetentionStatus.UNKNOWN)
        assert "无法计算" in why_not(s, [doc.id])[doc.id]


def test_changing_the_type_recomputes_under_the_new_types_rule(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        doc = filed(s, "3000000001", "JC", date(2018, 3, 1))
        filing.update_document(s, None, doc, {"doc_type": "SQ"}, FilingSettings())
        assert (doc.retention, doc.due_on) == ("D30", date(2049, 1, 1))


def test_account_closed_trigger_follows_the_customers_closing_date(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        customer(s, "3000000002")
        doc = filed(s, "3000000002", "BG", date(2010, 1, 1))
        retention.save_rule(s, None, retention.draft_rule(s, _rule(doc_type="BG", retention="D30",
                                                                  trigger="account_closed")), now=at("2026-01-01"))
        doc = s.get(Document, doc.id)
        assert doc.retention_status == RetentionStatus.UNKNOWN  # still open: no closing date
        update_customer(s, None, "3000000002", {"status": "closed", "closed_on": "2020-02-29"})
        doc = s.get(Document, doc.id)
        assert doc.due_on == date(2050, 3, 1) and doc.retention_status == RetentionStatus.RUNNING


def test_contract_end_trigger_uses_the_documents_contract_end(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        retention.save_rule(s, None, retention.draft_rule(s, _rule(doc_type="SJ", trigger="contract_end")))
        doc = filed(s, "3000000001", "SJ", date(2001, 1, 1))
        assert doc.retention_status == RetentionStatus.UNKNOWN
        filing.update_document(s, None, doc, {"contract_end": "2012-07-31"}, FilingSettings())
        assert doc.due_on == date(2022, 8, 1)


def test_event_trigger_counts_from_the_named_event_on_the_customer_or_document(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        retention.save_rule(s, None, retention.draft_rule(
            s, _rule(doc_type="WY", retention="D30", trigger="event", event_name="窃电案件结案")))
        doc = filed(s, "3000000003", "WY", date(2018, 11, 20))
        other = filed(s, "3000000003", "WY", date(2018, 12, 1))
        assert doc.retention_status == RetentionStatus.UNKNOWN
        retention.record_event(s, None, "其他事件", date(2019, 1, 1), customer=customer(s, "3000000003"))
        assert s.get(Document, doc.id).retention_status == RetentionStatus.UNKNOWN  # a different event
        retention.record_event(s, None, "窃电案件结案", date(2019, 6, 30), customer=customer(s, "3000000003"))
        assert s.get(Document, doc.id).due_on == date(2049, 7, 1)
        retention.record_event(s, None, "窃电案件结案", date(2020, 1, 10), document=s.get(Document, other.id))
        assert s.get(Document, other.id).due_on == date(2050, 1, 11)  # the latest of its events counts
        assert s.get(Document, doc.id).due_on == date(2049, 7, 1)


def test_a_rule_shorter_than_its_parent_is_refused(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        with pytest.raises(RetentionError, match="短于上级规定"):
            retention.draft_rule(s, _rule(retention="D10", parent_retention="D30"))
        with pytest.raises(RetentionError, match="短于上级规定"):
            retention.draft_rule(s, _rule(retention="D50", parent_retention="Y"))
        assert retention.draft_rule(s, _rule(retention="D30", parent_retention="D30")).retention == "D30"


def test_a_change_adds_a_version_supersedes_the_old_and_is_audited_with_old_and_new(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        doc = filed(s, "3000000001", "JC", date(2015, 6, 30))
        row, changed = retention.save_rule(s, None, retention.draft_rule(s, _rule(retention="D15")), now=at("2026-02-01"))
        assert (row.version, changed) == (2, 1)
        versions = retention.schedule_history(s, "JC")
        assert [(v.version, v.retention, v.superseded_at is None) for v in versions] == [(2, "D15", True),
                                                                                          (1, "D10", False)]
        assert s.get(Document, doc.id).due_on == date(2031, 1, 1)
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.schedule.change")).one()
        detail = json.loads(event.detail)
        assert (detail["old"]["retention"], detail["old"]["version"]) == ("D10", 1)
        assert (detail["new"]["retention"], detail["new"]["version"], detail["documents_changed"]) == ("D15", 2, 1)


def test_shortening_a_type_with_filed_documents_needs_a_reason(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        filed(s, "3000000001", "SQ", date(2015, 6, 30))
        with pytest.raises(RetentionError, match="理由"):
            retention.save_rule(s, None, retention.draft_rule(s, _rule(doc_type="SQ", retention="D10")))
        s.rollback()
        row, _ = retention.save_rule(s, None, retention.draft_rule(
            s, _rule(doc_type="SQ", retention="D10", reason="集团2026年保管期限表第7条调整")))
        assert row.reason.startswith("集团")


def test_lengthening_in_the_type_table_adds_a_schedule_version(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        doc = filed(s, "3000000001", "JC", date(2015, 6, 30))
        update_type(s, None, "JC", {"retention": "D30"})
        assert [v.retention for v in retention.schedule_history(s, "JC")] == ["D30", "D10"]
        assert s.get(Document, doc.id).due_on == date(2046, 1, 1)
        from docsvc.files.doctypes import DocTypeError
        with pytest.raises(DocTypeError, match="保管期限表"):
            update_type(s, None, "JC", {"retention": "D10"})


def test_preview_counts_changed_and_newly_due_documents_without_saving(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        old = filed(s, "3000000001", "JC", date(2012, 6, 30))   # D10 → 2023: due; D5 → 2018: due, earlier
        mid = filed(s, "3000000001", "JC", date(2020, 6, 30))   # D10 → 2031 running; D5 → 2026: due
        new = filed(s, "3000000001", "JC", date(2024, 6, 30))   # D5 → 2030: still running
        filed(s, "3000000001", "JC", None)                      # cannot compute either way
        preview = retention.preview_rule(s, retention.draft_rule(s, _rule(retention="D5")), at("2027-06-01"))
        assert (preview.documents, preview.changed, preview.become_due, preview.unknown) == (4, 3, 1, 1)
        assert [e["document_id"] for e in preview.examples] == [mid.id]
        assert preview.shortened == 3
        assert s.get(Document, mid.id).due_on == date(2031, 1, 1)  # nothing saved
        assert len(retention.schedule_history(s, "JC")) == 1
        assert old.id and new.id


def test_extend_and_keep_decisions_are_honoured(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        doc = filed(s, "3000000001", "JC", date(2010, 6, 30))
        kept = filed(s, "3000000001", "JC", date(2010, 6, 30))
        retention.run_daily(s, at("2026-01-01"))
        s.get(Document, doc.id).extended_until = date(2031, 1, 1)
        s.get(Document, kept.id).keep_permanently = True
        retention.recompute(s, [doc.id, kept.id], at("2026-01-01"))
        s.commit()
        assert (s.get(Document, doc.id).due_on, s.get(Document, doc.id).retention_status) == (
            date(2031, 1, 1), RetentionStatus.RUNNING)
        assert s.get(Document, kept.id).retention_status == RetentionStatus.PERMANENT
        assert why_not(s, [doc.id, kept.id]) == {doc.id: "尚未到期（到期日 2031-01-01）。", kept.id: "鉴定决定永久保存，不能销毁。"}
        # kept as the message and its values (an execution stores them), so each reader sees their language
        with i18n.using("en"):
            assert why_not(s, [doc.id, kept.id]) == {doc.id: "Not due yet (due on 2031-01-01).",
                                                     kept.id: "Appraisal decided to keep it permanently."}


def test_only_due_unheld_fixed_term_documents_are_eligible(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        due = filed(s, "3000000001", "JC", date(2010, 6, 30))
        held = filed(s, "3000000004", "JC", date(2010, 6, 30))
        permanent = filed(s, "3000000001", "HT", date(1990, 1, 1))
        running = filed(s, "3000000001", "JC", date(2024, 1, 1))
        unknown = filed(s, "3000000001", "JC", None)
        retention.run_daily(s, at("2026-01-01"))
        holds.place(s, None, "窃电纠纷", "客户对追补电费有异议", customer_accounts=["3000000004"])
        result = why_not(s, [due.id, held.id, permanent.id, running.id, unknown.id, 999999])
        assert result[due.id] is None
        assert "冻结" in result[held.id] and "永久" in result[permanent.id] and "尚未到期" in result[running.id]
        assert "无法计算" in result[unknown.id] and "不存在" in result[999999]


def test_a_customer_hold_catches_a_document_filed_later_until_every_hold_is_released(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        customer(s, "3000000005")
        first = holds.place(s, None, "诉讼", "客户起诉供电公司", customer_accounts=["3000000005"])
        second = holds.place(s, None, "欠费", "欠费追缴中", customer_accounts=["3000000005"])
        later = filed(s, "3000000005", "JC", date(2010, 6, 30))
        retention.run_daily(s, at("2026-01-01"))
        assert holds.held_document_ids(s, [later.id]) == {later.id}
        holds.release(s, None, first.id, "诉讼已结案")
        assert "冻结" in why_not(s, [later.id])[later.id]  # the other hold still covers it
        holds.release(s, None, second.id, "欠费已结清")
        assert retention.eligible(s, [later.id]) == {later.id: None}
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("hold.%"))).all()
        assert actions == ["hold.place", "hold.place", "hold.release", "hold.release"]


def test_a_hold_needs_a_name_a_reason_and_something_to_hold(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        with pytest.raises(holds.HoldError, match="原因"):
            holds.place(s, None, "x", " ", document_ids=[1])
        with pytest.raises(holds.HoldError, match="至少"):
            holds.place(s, None, "x", "y")
        with pytest.raises(holds.HoldError, match="3999999999"):
            holds.place(s, None, "x", "y", customer_accounts=["3999999999"])


def test_recompute_of_everything_is_idempotent(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        for year in range(2000, 2010):
            filed(s, "3000000001", "JC", date(year, 5, 5))
        assert retention.recompute(s, now=at("2026-01-01")) == 0  # filing already computed them
        s.execute(RetentionSchedule.__table__.update().values(retention="D20"))
        assert retention.recompute(s, now=at("2026-01-01")) == 10
        assert retention.recompute(s, now=at("2026-01-01")) == 0


def test_large_id_lists_stay_under_sqlites_parameter_limit(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        doc = filed(s, "3000000001", "JC", date(2010, 6, 30))
        holds.place(s, None, "诉讼", "法院立案", document_ids=[doc.id])
        ids = [doc.id, *range(1_000_000, 1_040_000)]  # more ids than SQLite takes parameters in one statement
        assert holds.held_document_ids(s, ids) == {doc.id}
        result = why_not(s, ids)
        assert "冻结" in result[doc.id] and len(result) == len(ids)
        assert retention.recompute(s, ids, at("2026-01-01")) == 0
