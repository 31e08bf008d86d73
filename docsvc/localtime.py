"""Times for people: stored in UTC, shown in the configured zone (DOCSVC_TIMEZONE, default Asia/Shanghai)
in the reader's language — 2026年11月22日 14:05 / 2026-11-22 14:05. Machine formats (the API, the
audit trail's hashes and its CSV) keep UTC with its offset."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date

from docsvc.i18n import LOCALES
from docsvc.models import as_utc


def to_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """A stored time (naive values are UTC: SQLite keeps no offset) in `zone`."""
    return as_utc(moment).astimezone(zone)


def day_text(value: date | datetime | None, lang: str, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    day = to_zone(value, zone).date() if isinstance(value, datetime) else value
    # Chinese readers write the day out (CLDR's long form: 2026年1月5日); English ones read ISO 8601.
    return format_date(day, "long", locale=LOCALES[lang]) if lang == "zh" else day.isoformat()


def moment_text(value: datetime | None, lang: str, zone: ZoneInfo, *, seconds: bool = False) -> str:
    if value is None:
        return ""
    local = to_zone(value, zone)
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{day_text(local.date(), lang, zone)} {clock}"
