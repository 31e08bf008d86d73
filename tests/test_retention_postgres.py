"""On PostgreSQL the bulk recompute computes date-column triggers in SQL (`_DUE_ON_SQL`, a mirror of
`due_on`) and event triggers through Python (COPY into a temporary table, one UPDATE … FROM): both
store exactly what the one rule (`due_on`, `status_of`) says — every trigger, every day around two
leap days — and touch only rows that change."""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import insert, select

from docsvc.constants import RetentionStatus
from docsvc.governance import retention
from docsvc.models import Customer, Document, RetentionEvent
from docsvc.runtime import Runtime

NOW = datetime(2027, 6, 1, tzinfo=timezone.utc)


def _dates() -> list[date | None]:
    """Every day around the leap days of 2016 and 2020, ends of years, and no date at all."""
    days: list[date | None] = [None]
    for start in (date(2016, 2, 20), date(2020, 2, 20), date(2019, 12, 25), date(1996, 2, 25)):
        days += [start + timedelta(days=i) for i in range(14)]
    return days


def test_bulk_recompute_on_postgresql_matches_the_rule_for_every_trigger(pg_runtime: Runtime) -> None:
    dates = _dates()
    with pg_runtime.sessions() as s:
        s.execute(insert(Customer), [{"account": f"30000{i:05d}", "name": "户", "status": "closed",
                                      "closed_on": d, "tags": ""} for i, d in enumerate(dates)])
        customers = {c.account: c.id for c in s.scalars(select(Customer))}
        rows = []
        for i, d in enumerate(dates):
            for doc_type in ("JC", "BG", "SJ", "WY", "HT"):
                rows.append({"sha256": hashlib.sha256(f"{i}{doc_type}".encode()).hexdigest(), "original_key": "k",
                             "media_type": "application/pdf", "title": "", "doc_type": doc_type, "doc_date": d,
                             "contract_end": d, "customer_id": customers[f"30000{i:05d}"],
                             "customer_account": f"30000{i:05d}", "filed_at": NOW, "page_count": 1,
                             "keep_permanently": False, "retention_status": "unknown"})
        s.execute(insert(Document), rows)
        s.execute(insert(RetentionEvent), [{"name": "窃电案件结案", "occurred_on": d, "customer_id": cid,
                                            "recorded_at": NOW} for (account, cid), d in zip(sorted(customers.items()),
                                                                                            dates) if d])
        for doc_type, trigger, retention_class in (("BG", "account_closed", "D10"), ("SJ", "contract_end", "D4"),
                                                   ("WY", "event", "D11")):
            s.flush()
            retention.save_rule(s, None, retention.draft_rule(s, {
                "doc_type": doc_type, "retention": retention_class, "trigger": trigger, "authority": "表",
                "event_name": "窃电案件结案", "reason": "测试"}), now=NOW)
        assert retention.recompute(s, now=NOW) == len(dates) * 2  # JC and HT: computed for the first time
        s.commit()
        assert retention.recompute(s, now=NOW) == 0  # nothing left to change
        rules = retention.current_schedules(s)
        checked = 0
        for doc in s.scalars(select(Document).join(Customer, Customer.id == Document.customer_id)):
            rule = rules[doc.doc_type]
            trigger_date = {"document_date": doc.doc_date, "account_closed": doc.customer.closed_on,
                            "contract_end": doc.contract_end}.get(rule.trigger, doc.customer.closed_on)
            expected = retention.due_on(rule.retention, rule.trigger, trigger_date)
            status, _ = retention.status_of(rule.retention, expected, keep_permanently=False, extended_until=None,
                                            today=NOW.date())
            assert (doc.retention, doc.due_on, doc.retention_status) == (rule.retention, expected, status), doc.id
            checked += 1
        assert checked == len(dates) * 5
        leap = s.scalar(select(Document.due_on).join(Customer).where(Document.doc_type == "BG",
                                                                       Customer.closed_on == date(2020, 2, 29)))
        assert leap == date(2030, 3, 1)
        assert s.scalar(select(Document.retention_status).where(Document.doc_type == "HT").limit(1)) == \
            RetentionStatus.PERMANENT
        # a recompute of a few documents (by id) and of one customer's file
        some = list(s.scalars(select(Document.id).where(Document.doc_type.in_(("JC", "BG")))
                              .order_by(Document.id).limit(6)))
        s.execute(Document.__table__.update().where(Document.id.in_(some)).values(doc_date=date(2020, 2, 29)))
        assert retention.recompute(s, some, NOW) == len([i for i in some if s.get(Document, i).doc_type == "JC"])
        closed = s.scalar(select(Customer).where(Customer.account == "3000000001"))
        closed.closed_on = date(2016, 2, 29)
        s.flush()
        assert retention.recompute(s, now=NOW, customer_id=closed.id) == 1  # its BG document
        assert s.scalar(select(Document.due_on).where(Document.customer_id == closed.id, Document.doc_type == "BG")) \
            == date(2026, 3, 1)
        assert {s.get(Document, i).due_on for i in some if s.get(Document, i).doc_type == "JC"} == {date(2031, 1, 1)}


def test_the_sql_mirror_agrees_with_the_rule_on_the_table_of_cases(pg_runtime: Runtime) -> None:
    from sqlalchemy import text

    from docsvc.governance.retention import _DUE_ON_SQL
    from tests.test_retention_rules import DUE_TABLE

    cases = [c for c in DUE_TABLE if c[1] in _DUE_ON_SQL and c[0] != "Y"]
    cases += [("D1", trigger, date(2019, 12, 31) + timedelta(days=i), None)
              for trigger in _DUE_ON_SQL for i in range(800)]  # every day of 2020 and 2021
    with pg_runtime.engine.connect() as conn:
        for retention_class, trigger, trigger_date, _expected in cases:
            sql = _DUE_ON_SQL[trigger].format(t="CAST(:t AS date)")
            got = conn.execute(text(f"SELECT {sql}"), {"t": trigger_date,
                                                       "years": retention.period_years(retention_class)}).scalar()
            assert got == retention.due_on(retention_class, trigger, trigger_date), (retention_class, trigger, trigger_date)


def test_filing_on_postgresql_dates_the_document_and_a_closing_date_moves_it(pg_runtime: Runtime) -> None:
    from docsvc.files.customers import update_customer
    from tests.retention_data import filed

    with pg_runtime.sessions() as s:
        retention.save_rule(s, None, retention.draft_rule(s, {"doc_type": "BG", "retention": "D10",
                                                              "trigger": "account_closed", "authority": "表"}))
        inspection = filed(s, "3300000001", "JC", date(2020, 2, 29))
        change = filed(s, "3300000001", "BG", date(2020, 2, 29))
        assert (inspection.due_on, inspection.retention_status) == (date(2031, 1, 1), RetentionStatus.RUNNING)
        assert change.retention_status == RetentionStatus.UNKNOWN  # the account is open
        update_customer(s, None, "3300000001", {"status": "closed", "closed_on": "2024-02-29"})
        assert s.get(Document, change.id).due_on == date(2034, 3, 1)
