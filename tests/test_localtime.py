"""Times are stored in UTC and shown in DOCSVC_TIMEZONE (Asia/Shanghai by default), in the reader's language."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from docsvc.governance import audit
from docsvc.localtime import day_text, moment_text
from docsvc.runtime import Runtime
from tests.conftest import AuthActions

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 20:30 UTC on the 22nd is already 04:30 on the 23rd in Shanghai
LATE_EVENING_UTC = datetime(2026, 11, 22, 20, 30, 5, tzinfo=timezone.utc)


def test_a_stored_utc_time_is_shown_in_shanghai_time_in_either_language() -> None:
    assert moment_text(LATE_EVENING_UTC, "zh", SHANGHAI) == "2026年11月23日 04:30"
    assert moment_text(LATE_EVENING_UTC, "en", SHANGHAI) == "2026-11-23 04:30"
    assert moment_text(LATE_EVENING_UTC, "en", SHANGHAI, seconds=True) == "2026-11-23 04:30:05"
    # SQLite hands back naive values: they are UTC
    assert moment_text(LATE_EVENING_UTC.replace(tzinfo=None), "zh", SHANGHAI) == "2026年11月23日 04:30"
    assert day_text(LATE_EVENING_UTC, "zh", SHANGHAI) == "2026年11月23日"
    assert day_text(date(2026, 1, 5), "en", SHANGHAI) == "2026-01-05"
    assert moment_text(None, "zh", SHANGHAI) == ""


def test_the_audit_trail_shows_local_times_and_names_the_zone(
        embedded_runtime: Runtime, client: FlaskClient, auth: AuthActions) -> None:
    with embedded_runtime.sessions() as session:
        audit.record(session, None, "test.moment", now=LATE_EVENING_UTC)
        session.commit()
    auth.login("auditor1", "auditor")
    page = client.get("/audit/?action=test.moment").get_data(as_text=True)
    assert "2026年11月23日 04:30:05" in page and "时间（Asia/Shanghai）" in page
    assert "2026-11-22 20:30" not in page
    client.post("/lang/en", data={"csrf_token": auth.csrf("/audit/")})
    page = client.get("/audit/?action=test.moment").get_data(as_text=True)
    assert "2026-11-23 04:30:05" in page and "Time (Asia/Shanghai)" in page


def test_the_destruction_registers_dates_are_the_local_day() -> None:
    from docsvc.governance import register
    from docsvc.models import DestructionList

    dlist = DestructionList(id=7, title="清册", items=[], signoffs=[], created_at=LATE_EVENING_UTC,
                            decided_at=LATE_EVENING_UTC, executed_at=LATE_EVENING_UTC)
    cover = dict(register.cover(dlist, "J001", SHANGHAI))
    assert cover["编制日期"] == cover["审批日期"] == cover["销毁日期"] == "2026-11-23"
    assert dict(register.cover(dlist, "J001", ZoneInfo("UTC")))["销毁日期"] == "2026-11-22"
