"""Retention (保管期限): schedules, due dates, the daily expiry run, eligibility and the dashboard figures.

The one rule for a due date is `due_on` (pure, no clock). Everything else that needs "today" takes
`now`. Due dates are stored on the documents (indexed), so due lists are index look-ups; they are
recomputed set-wise by `recompute` whenever a rule, a document's date/type/contract end, a customer's
closing date or a retention event changes (the services that change those call it).

How a due date is counted (docs/retention.md has examples):
- `document_date`: from 1 January of the year after the document was formed, so a D10 document of
  any day of 2019 is due on 2030-01-01.
- `account_closed`, `contract_end`, `event`: the period ends on the anniversary of the trigger date
  n years later (a 29 February with no anniversary ends on 28 February, 民法典 第二百零三条), and the
  document is due the day after: closed 2020-03-15, D10 → due 2030-03-16; closed 2020-02-29, D10 →
  due 2030-03-01.
Both are "the day after the period's last day", with the last day of the period being 31 December of
the document's year + n for `document_date`.

Expiry is not destruction: a due document goes to appraisal; only an executed destruction list
removes anything (docsvc.governance.disposition).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Date, Integer, String, column, func, or_, select, table, text, update
from sqlalchemy.orm import Session

from docsvc.constants import RetentionStatus, RetentionTrigger
from docsvc import exports
from docsvc.errors import DomainError
from docsvc.governance import audit
from docsvc.governance.access import hides_identity
from docsvc.governance.holds import all_held_document_ids, held_document_ids
from docsvc.governance.retention_authority import INITIAL_AUTHORITY
from docsvc.models import (
    Customer, Document, DocumentType, Hold, RetentionEvent, RetentionSchedule, User, utc_text, utcnow,
)
from docsvc.i18n import _, lazy_gettext as _l, stored

PERMANENT = "Y"
_PERIOD = re.compile(r"D([1-9][0-9]{0,2})")
DUE_SOON_DAYS = 90
TRIGGER_LABELS = {
    RetentionTrigger.DOCUMENT_DATE: _l("From 1 January after the document date"),
    RetentionTrigger.ACCOUNT_CLOSED: _l("From the account's closing date"),
    RetentionTrigger.CONTRACT_END: _l("From the contract's end date"),
    RetentionTrigger.EVENT: _l("From a named event's date"),
}
STATUS_LABELS = {
    RetentionStatus.PERMANENT: _l("Permanent"), RetentionStatus.UNKNOWN: _l("Cannot compute"),
    RetentionStatus.RUNNING: _l("Running"), RetentionStatus.DUE: _l("Due for appraisal"),
    RetentionStatus.DESTROYED: _l("Destroyed"),
}


class RetentionError(DomainError):
    pass


# --- the rule -------------------------------------------------------------------------------------

def period_years(retention: str) -> int | None:
    """Years of a class: None for 永久 (Y); raises RetentionError for a class that is not Y or D<n>."""
    if retention == PERMANENT:
        return None
    match = _PERIOD.fullmatch(retention or "")
    if match is None:
        raise RetentionError(_("Retention “%(retention)s” is not valid: use Y (permanent), D30, D10 or D<years> "
                               "(e.g. D5).", retention=retention))
    return int(match.group(1))


def longer_or_equal(retention: str, other: str) -> bool:
    """Whether `retention` keeps documents at least as long as `other` (Y is the longest)."""
    mine, theirs = period_years(retention), period_years(other)
    return mine is None or (theirs is not None and mine >= theirs)


def label(retention: str | None) -> str:
    if not retention:
        return "—"
    years = period_years(retention)
    if years is None:
        return _("Permanent")
    return _("%(n)s year", n=years) if years == 1 else _("%(n)s years", n=years)


def due_on(retention: str, trigger: str, trigger_date: date | None) -> date | None:
    """THE due-date rule: the first day a document may be considered for destruction (None: never,
    or cannot compute). `trigger_date` is the document date for `document_date`, else the closing,
    contract-end or event date. See the module docstring for the counting convention."""
    years = period_years(retention)
    if years is None or trigger_date is None:
        return None
    if trigger == RetentionTrigger.DOCUMENT_DATE:
        return date(trigger_date.year + years + 1, 1, 1)
    year = trigger_date.year + years
    try:
        last_day = trigger_date.replace(year=year)
    except ValueError:  # 29 February with no anniversary: the period ends on 28 February
        last_day = date(year, 2, 28)
    return last_day + timedelta(days=1)


# The same rule in PostgreSQL, for the bulk path of `recompute` (a million rows in one UPDATE instead
# of reading them out). `t` is the trigger date column, `:years` the period. PostgreSQL's date +
# interval ends 29 February + n years on 28 February, as `due_on` does; tests/test_retention_postgres.py
# proves both agree on every trigger and on every day around two leap days. Change both or neither.
_DUE_ON_SQL = {
    RetentionTrigger.DOCUMENT_DATE: "make_date(extract(year FROM {t})::int + :years + 1, 1, 1)",
    RetentionTrigger.ACCOUNT_CLOSED: "(({t}) + make_interval(years => :years))::date + 1",
    RetentionTrigger.CONTRACT_END: "(({t}) + make_interval(years => :years))::date + 1",
}
_TRIGGER_COLUMN_SQL = {RetentionTrigger.DOCUMENT_DATE: "d.doc_date", RetentionTrigger.ACCOUNT_CLOSED: "c.closed_on",
                       RetentionTrigger.CONTRACT_END: "d.contract_end"}


def status_of(retention: str | None, due: date | None, *, keep_permanently: bool, extended_until: date | None,
              today: date) -> tuple[RetentionStatus, date | None]:
    """A document's status and effective due date, appraisal decisions honoured (keep wins over extend)."""
    if keep_permanently:
        return RetentionStatus.PERMANENT, None
    if retention is None:
        return RetentionStatus.UNKNOWN, None
    if period_years(retention) is None:
        return RetentionStatus.PERMANENT, None
    if extended_until is not None:
        due = extended_until
    if due is None:
        return RetentionStatus.UNKNOWN, None
    return (RetentionStatus.DUE if due <= today else RetentionStatus.RUNNING), due


# --- schedules ------------------------------------------------------------------------------------

def ensure_seeded(session: Session, actor: User | None = None) -> int:
    """Give every document type without a rule its version 1, from the type table's class.

    Seeded at first use (not in a migration) so that types added later get theirs too. Returns how
    many were added; the caller's transaction holds them."""
    have = set(session.scalars(select(RetentionSchedule.doc_type).distinct()))
    added = 0
    for doc_type in session.scalars(select(DocumentType).order_by(DocumentType.code)):
        if doc_type.code in have:
            continue
        session.add(RetentionSchedule(doc_type=doc_type.code, version=1, retention=doc_type.retention,
                                      trigger=RetentionTrigger.DOCUMENT_DATE, authority=INITIAL_AUTHORITY,
                                      created_by_id=actor.id if actor else None))
        added += 1
    if added:
        session.flush()
        audit.record(session, actor, "retention.schedule.seed", object_type="retention_schedule",
                     detail={"types": added, "authority": INITIAL_AUTHORITY})
    return added


def current_schedules(session: Session) -> dict[str, RetentionSchedule]:
    """The rule in force per document type (seeding version 1 where a type has none)."""
    ensure_seeded(session)
    rows = session.scalars(select(RetentionSchedule).where(RetentionSchedule.superseded_at.is_(None)))
    return {row.doc_type: row for row in rows}


def schedule_history(session: Session, doc_type: str) -> list[RetentionSchedule]:
    return list(session.scalars(select(RetentionSchedule).where(RetentionSchedule.doc_type == doc_type)
                                .order_by(RetentionSchedule.version.desc())))


@dataclass(frozen=True)
class RuleDraft:
    """A proposed rule, checked (`draft_rule`) but not saved."""
    doc_type: str
    retention: str
    trigger: str
    authority: str
    event_name: str | None = None
    parent_retention: str | None = None
    reason: str | None = None


def draft_rule(session: Session, values: dict[str, object]) -> RuleDraft:
    """Check a proposed rule's fields; raises RetentionError saying what to fix."""
    def text_of(key: str, limit: int) -> str | None:
        raw = values.get(key)
        if raw is not None and not isinstance(raw, str):
            raise RetentionError(_("Field %(field)s must be text.", field=key))
        value = (raw or "").strip()
        if len(value) > limit:
            raise RetentionError(_("Field %(field)s is too long (%(limit)s characters at most).", field=key,
                                   limit=limit))
        return value or None

    code = (text_of("doc_type", 20) or "").upper()
    if session.get(DocumentType, code) is None:
        raise RetentionError(_("Unknown document type “%(code)s”; create it in the document-type table first.",
                               code=code))
    retention = (text_of("retention", 10) or "").upper()
    period_years(retention)
    trigger = text_of("trigger", 20) or ""
    if trigger not in set(RetentionTrigger):
        raise RetentionError(_("Trigger “%(trigger)s” is not valid: it must be one of %(choices)s.",
                               trigger=trigger, choices=", ".join(RetentionTrigger)))
    event_name = text_of("event_name", 60)
    if trigger == RetentionTrigger.EVENT and not event_name:
        raise RetentionError(_("An event trigger needs the event's name (e.g. theft case closed)."))
    authority = text_of("authority", 300)
    if not authority:
        raise RetentionError(_("Give the authority: the table and its clause."))
    parent = text_of("parent_retention", 10)
    if parent:
        parent = parent.upper()
        period_years(parent)
        if not longer_or_equal(retention, parent):
            raise RetentionError(_("The rule for %(code)s (%(rule)s) is shorter than its parent rule (%(parent)s): a "
                                   "company table may lengthen, never shorten it. Choose a period no shorter than "
                                   "%(parent_class)s.", code=code, rule=label(retention), parent=label(parent),
                                   parent_class=parent))
    return RuleDraft(code, retention, trigger, authority, event_name if trigger == RetentionTrigger.EVENT else None,
                     parent, text_of("reason", 500))


@dataclass
class Preview:
    """What saving a rule would do to the documents of its type."""
    doc_type: str
    documents: int = 0  # documents of the type (not destroyed)
    changed: int = 0  # whose due date or status would change
    become_due: int = 0  # due now under the new rule and not due before
    no_longer_due: int = 0
    unknown: int = 0  # cannot compute under the new rule
    shortened: int = 0  # whose due date would come earlier
    examples: list[dict[str, object]] = field(default_factory=list)  # some of those becoming due now

    def json(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in ("doc_type", "documents", "changed", "become_due", "no_longer_due",
                                              "unknown", "shortened", "examples")}


def preview_rule(session: Session, draft: RuleDraft, now: datetime | None = None, *,
                 examples: int = 20) -> Preview:
    """The effect of `draft` before it is saved (nothing written)."""
    preview = Preview(draft.doc_type)
    today = _today(now)
    for row, new in _computed(session, _candidates(session, doc_type=draft.doc_type), {draft.doc_type: draft},
                              today):
        preview.documents += 1
        old_due, old_status = row.due_on, row.retention_status
        status, due = new.status, new.due
        if status == RetentionStatus.UNKNOWN:
            preview.unknown += 1
        if (due, status) != (old_due, old_status):
            preview.changed += 1
        if due is not None and (old_due is None or due < old_due):
            preview.shortened += 1
        if status == RetentionStatus.DUE and old_status != RetentionStatus.DUE:
            preview.become_due += 1
            if len(preview.examples) < examples:
                preview.examples.append({"document_id": row.id, "reference_code": row.reference_code,
                                         "due_on": due.isoformat() if due else None})
        elif old_status == RetentionStatus.DUE and status != RetentionStatus.DUE:
            preview.no_longer_due += 1
    return preview


def save_rule(session: Session, actor: User | None, draft: RuleDraft, *, now: datetime | None = None,
              ip: str | None = None) -> tuple[RetentionSchedule, int]:
    """Save `draft` as the type's new version (the old one superseded), recompute its documents'
    due dates, audit old and new values, commit. Returns the new version and the documents changed.

    Shortening the period of a type with filed documents needs `draft.reason`."""
    current = current_schedules(session).get(draft.doc_type)
    filed = _filed_count(session, draft.doc_type)
    if current is not None and filed and not longer_or_equal(draft.retention, current.retention) and not draft.reason:
        raise RetentionError(_("Shortening %(code)s from %(old)s to %(new)s affects %(n)s filed document(s): give "
                               "a reason.", code=draft.doc_type, old=label(current.retention),
                               new=label(draft.retention), n=filed))
    moment = now or utcnow()
    if current is not None:
        current.superseded_at = moment
    row = RetentionSchedule(doc_type=draft.doc_type, version=(current.version + 1) if current else 1,
                            retention=draft.retention, trigger=draft.trigger, event_name=draft.event_name,
                            authority=draft.authority, parent_retention=draft.parent_retention, reason=draft.reason,
                            created_by_id=actor.id if actor else None, created_at=moment)
    session.add(row)
    doc_type = session.get(DocumentType, draft.doc_type)
    if doc_type is not None and draft.retention in ("Y", "D30", "D10"):
        doc_type.retention = draft.retention  # the class new 档号 carry
    session.flush()
    changed = recompute(session, doc_type=draft.doc_type, now=moment)
    audit.record(session, actor, "retention.schedule.change", object_type="retention_schedule",
                 object_id=draft.doc_type, ip=ip, detail={
                     "old": schedule_json(current) if current else None, "new": schedule_json(row),
                     "documents_changed": changed})
    session.commit()
    return row, changed


def check_class_change(session: Session, doc_type: str, retention: str) -> None:
    """Before the document-type table changes a type's class: refuse what the schedule would refuse.

    That table has no reason field, so shortening a type with filed documents is sent to the
    schedules page, where the reason is asked for."""
    current = current_schedules(session).get(doc_type)
    if current is None:
        return
    if current.parent_retention and not longer_or_equal(retention, current.parent_retention):
        raise RetentionError(_("%(code)s cannot be kept shorter than its parent rule (%(parent)s).", code=doc_type,
                               parent=label(current.parent_retention)))
    if not longer_or_equal(retention, current.retention) and _filed_count(session, doc_type):
        raise RetentionError(_("Shortening %(code)s affects filed documents: change it on the retention schedules "
                               "page, with a reason.", code=doc_type))


def follow_type_class(session: Session, actor: User | None, doc_type: DocumentType, *, ip: str | None = None,
                      now: datetime | None = None) -> None:
    """The document-type table changed a type's class: its rule follows as a new version (same trigger
    and authority), so the table and the schedule never disagree. Commits."""
    current = current_schedules(session).get(doc_type.code)
    if current is None or current.retention == doc_type.retention:
        return
    save_rule(session, actor, RuleDraft(doc_type.code, doc_type.retention, current.trigger, current.authority,
                                        current.event_name, current.parent_retention,
                                        _("class changed in the document-type table")),
              now=now, ip=ip)


def _filed_count(session: Session, doc_type: str) -> int:
    return int(session.scalar(select(func.count()).select_from(Document).where(
        Document.doc_type == doc_type, Document.filed_at.is_not(None), Document.destroyed_at.is_(None))) or 0)


def schedule_json(row: RetentionSchedule) -> dict[str, object]:
    return {"id": row.id, "doc_type": row.doc_type, "version": row.version, "retention": row.retention,
            "trigger": row.trigger, "event_name": row.event_name, "authority": row.authority,
            "parent_retention": row.parent_retention, "reason": row.reason,
            "created_at": utc_text(row.created_at),
            "superseded_at": utc_text(row.superseded_at)}


# --- recompute ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _New:
    retention: str | None
    schedule_id: int | None
    due: date | None
    status: RetentionStatus


_CHUNK = 50_000
ID_CHUNK = 10_000  # ids per IN (…) list: well under SQLite's limit on parameters


def _candidates(session: Session, *, document_ids: Sequence[int] | None = None, doc_type: str | None = None,
                customer_id: int | None = None, skip_filed_types: Iterable[str] = ()) -> Iterator:  # type: ignore[type-arg]
    """Rows (id, doc_type, dates, decisions, current values) of the documents to compute, in id chunks.

    The event date is the latest matching event on the document or its customer, per event name
    (a case reopened and closed again counts from its last closing)."""
    condition = [Document.destroyed_at.is_(None)]
    skip = list(skip_filed_types)
    if skip:  # filed documents of these types were computed by the SQL path
        condition.append(or_(Document.filed_at.is_(None), Document.doc_type.is_(None), Document.doc_type.not_in(skip)))
    if doc_type is not None:
        condition.append(Document.doc_type == doc_type)
    if customer_id is not None:
        condition.append(Document.customer_id == customer_id)
    ids = None if document_ids is None else sorted(set(document_ids))
    last = 0
    while True:
        query = (select(Document.id, Document.doc_type, Document.doc_date, Document.contract_end,
                        Document.customer_id, Document.keep_permanently, Document.extended_until,
                        Document.retention, Document.schedule_id, Document.due_on, Document.retention_status,
                        Document.reference_code, Document.filed_at, Customer.closed_on)
                 .outerjoin(Customer, Customer.id == Document.customer_id)
                 .where(*condition, Document.id > last).order_by(Document.id).limit(_CHUNK))
        if ids is not None:
            chunk_ids = [i for i in ids if i > last][:ID_CHUNK]
            if not chunk_ids:
                return
            query = query.where(Document.id.in_(chunk_ids))
        rows = session.execute(query).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _event_dates(session: Session, rows: Sequence, names: set[str]) -> dict[tuple[str, int], date]:  # type: ignore[type-arg]
    """(event name, document id) → the latest date of that event on the document or its customer."""
    if not names:
        return {}
    # The chunk is an id range: bounds instead of id lists keep the statement small (SQLite allows
    # some 32,000 parameters); events of documents in the range but not in the chunk are ignored.
    first, last = rows[0].id, rows[-1].id
    in_range = select(Document.customer_id).where(Document.id.between(first, last))
    by_doc: dict[tuple[str, int], date] = {}
    by_customer: dict[tuple[str, int], date] = {}
    query = (select(RetentionEvent.name, RetentionEvent.document_id, RetentionEvent.customer_id,
                    func.max(RetentionEvent.occurred_on))
             .where(RetentionEvent.name.in_(names),
                    or_(RetentionEvent.document_id.between(first, last), RetentionEvent.customer_id.in_(in_range)))
             .group_by(RetentionEvent.name, RetentionEvent.document_id, RetentionEvent.customer_id))
    for name, document_id, customer_id, occurred in session.execute(query):
        if document_id is not None:
            by_doc[(name, document_id)] = max(occurred, by_doc.get((name, document_id), occurred))
        elif customer_id is not None:
            by_customer[(name, customer_id)] = max(occurred, by_customer.get((name, customer_id), occurred))
    out: dict[tuple[str, int], date] = {}
    for r in rows:
        for name in names:
            found = [d for d in (by_doc.get((name, r.id)), by_customer.get((name, r.customer_id))) if d]
            if found:
                out[(name, r.id)] = max(found)
    return out


def _trigger_date(rule: RuleDraft | RetentionSchedule, row, events: dict[tuple[str, int], date]) -> date | None:  # type: ignore[no-untyped-def]
    trigger = rule.trigger
    if trigger == RetentionTrigger.DOCUMENT_DATE:
        return row.doc_date
    if trigger == RetentionTrigger.ACCOUNT_CLOSED:
        return row.closed_on
    if trigger == RetentionTrigger.CONTRACT_END:
        return row.contract_end
    return events.get((rule.event_name or "", row.id))


def _computed(session: Session, chunks: Iterable, rules: dict[str, RuleDraft | RetentionSchedule],  # type: ignore[type-arg]
              today: date) -> Iterator[tuple[object, _New]]:
    names = {r.event_name for r in rules.values() if r.trigger == RetentionTrigger.EVENT and r.event_name}
    # Many documents share a type and a date: each distinct case is computed once (a million rows
    # have some thirteen thousand distinct dates).
    memo: dict[tuple[object, ...], _New] = {}
    for rows in chunks:
        events = _event_dates(session, rows, names)
        for row in rows:
            # An unfiled document is not a record yet (a wrong scan may still be purged): no rule applies.
            rule = rules.get(row.doc_type or "") if row.filed_at is not None else None
            trigger_date = _trigger_date(rule, row, events) if rule is not None else None
            key = (rule is not None and row.doc_type, trigger_date, row.keep_permanently, row.extended_until)
            new = memo.get(key)
            if new is None:
                if rule is None:  # unfiled, or a type without a rule: cannot compute
                    status, due = status_of(None, None, keep_permanently=row.keep_permanently,
                                            extended_until=row.extended_until, today=today)
                    new = _New(None, None, due, status)
                else:
                    status, due = status_of(rule.retention, due_on(rule.retention, rule.trigger, trigger_date),
                                            keep_permanently=row.keep_permanently,
                                            extended_until=row.extended_until, today=today)
                    new = _New(rule.retention, getattr(rule, "id", None), due, status)
                memo[key] = new
            yield row, new


_calc = table("retention_calc", column("id", Integer), column("retention", String),
              column("schedule_id", Integer), column("due_on", Date), column("retention_status", String))


def recompute(session: Session, document_ids: Iterable[int] | None = None, now: datetime | None = None, *,
              doc_type: str | None = None, customer_id: int | None = None) -> int:
    """Store the class, rule, due date and status of the given documents (all when no filter is
    given), in the caller's transaction. Returns how many rows changed.

    Set-based, never a query per document. On PostgreSQL, the filed documents of each type whose rule
    counts from a date column are computed by the database in one UPDATE per type (`_DUE_ON_SQL`, the
    rule's mirror). Everything else — SQLite, event rules, unfiled documents — is read in id chunks,
    computed by `due_on`, loaded into a temporary table and applied with one UPDATE … FROM. Both
    touch only rows whose values change."""
    today = _today(now)
    rules: dict[str, RuleDraft | RetentionSchedule] = dict(current_schedules(session))
    ids = None if document_ids is None else list(document_ids)
    if ids is not None and not ids:
        return 0
    session.flush()
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    in_sql = {code: rule for code, rule in rules.items() if postgres and rule.trigger in _DUE_ON_SQL}
    if in_sql and (ids is not None or customer_id is not None):
        # a few documents (a filing, one customer's file): only the types they have
        scope = Document.id.in_(ids[:ID_CHUNK]) if ids is not None and len(ids) <= ID_CHUNK else (
            Document.customer_id == customer_id if customer_id is not None else None)
        if scope is not None:
            present = set(session.scalars(select(Document.doc_type).where(scope).distinct()))
            in_sql = {code: rule for code, rule in in_sql.items() if code in present}
    changed = sum(_recompute_in_sql(session, code, rule, today, ids, doc_type, customer_id)
                  for code, rule in in_sql.items() if doc_type is None or code == doc_type)
    pending: list[tuple[int, str | None, int | None, date | None, str]] = []
    loaded = 0

    def flush() -> None:
        nonlocal loaded
        if not pending:
            return
        if not loaded:  # the first rows to load: a fresh (or emptied) temporary table
            connection.execute(text(
                "CREATE TEMPORARY TABLE IF NOT EXISTS retention_calc (id INTEGER PRIMARY KEY, retention VARCHAR(10), "
                "schedule_id INTEGER, due_on DATE, retention_status VARCHAR(16))"))
            connection.execute(text("DELETE FROM retention_calc"))
        if postgres:
            raw = connection.connection.driver_connection  # psycopg 3: COPY is the fast bulk load
            with raw.cursor() as cursor, cursor.copy(
                    "COPY retention_calc (id, retention, schedule_id, due_on, retention_status) FROM STDIN") as copy:
                for record in pending:
                    copy.write_row(record)
        else:
            connection.execute(_calc.insert(), [dict(zip(("id", "retention", "schedule_id", "due_on",
                                                          "retention_status"), r)) for r in pending])
        loaded += len(pending)
        pending.clear()

    for row, new in _computed(session, _candidates(session, document_ids=ids, doc_type=doc_type,
                                                   customer_id=customer_id, skip_filed_types=in_sql), rules, today):
        if (row.retention, row.schedule_id, row.due_on, row.retention_status) != (
                new.retention, new.schedule_id, new.due, new.status):
            pending.append((row.id, new.retention, new.schedule_id, new.due, str(new.status)))
            if len(pending) >= _CHUNK:
                flush()
    flush()
    if not loaded:
        session.expire_all()
        return changed
    if postgres:
        connection.execute(text("ANALYZE retention_calc"))  # a temporary table has no statistics otherwise
    result = connection.execute(text(
        "UPDATE documents SET retention = c.retention, schedule_id = c.schedule_id, due_on = c.due_on, "
        "retention_status = c.retention_status FROM retention_calc AS c WHERE documents.id = c.id"))
    connection.execute(text("DELETE FROM retention_calc"))
    session.expire_all()  # the ORM's copies of those rows are stale now
    return changed + int(result.rowcount or 0)


def _recompute_in_sql(session: Session, code: str, rule: RuleDraft | RetentionSchedule, today: date,
                      ids: list[int] | None, doc_type: str | None, customer_id: int | None) -> int:
    """PostgreSQL: compute and store the filed documents of type `code` in one UPDATE (see `_DUE_ON_SQL`);
    the CASE mirrors `status_of`. Returns the rows changed."""
    years = period_years(rule.retention)
    if years is None:
        due, status = "NULL::date", "'permanent'"
    else:
        computed = _DUE_ON_SQL[RetentionTrigger(rule.trigger)].format(t=_TRIGGER_COLUMN_SQL[RetentionTrigger(rule.trigger)])
        due = (f"CASE WHEN d.keep_permanently THEN NULL::date WHEN d.extended_until IS NOT NULL "
               f"THEN d.extended_until ELSE {computed} END")
        status = (f"CASE WHEN d.keep_permanently THEN 'permanent' WHEN ({due}) IS NULL THEN 'unknown' "
                  f"WHEN ({due}) <= :today THEN 'due' ELSE 'running' END")
    scope = ["d.doc_type = :code", "d.filed_at IS NOT NULL", "d.destroyed_at IS NULL"]
    params: dict[str, object] = {"code": code, "retention": rule.retention, "schedule_id": getattr(rule, "id", None),
                                 "years": years, "today": today}
    if customer_id is not None:
        scope.append("d.customer_id = :customer_id")
        params["customer_id"] = customer_id
    if ids is not None:
        scope.append("d.id = ANY(:ids)")  # one array parameter, however many ids
        params["ids"] = ids
    statement = text(f"""
        WITH computed AS (
            SELECT d.id, {due} AS due_on, {status} AS retention_status
            FROM documents AS d LEFT JOIN customers AS c ON c.id = d.customer_id
            WHERE {' AND '.join(scope)})
        UPDATE documents SET retention = :retention, schedule_id = :schedule_id,
                             due_on = computed.due_on, retention_status = computed.retention_status
        FROM computed
        WHERE documents.id = computed.id
          AND (documents.retention IS DISTINCT FROM :retention OR documents.schedule_id IS DISTINCT FROM :schedule_id
               OR documents.due_on IS DISTINCT FROM computed.due_on
               OR documents.retention_status IS DISTINCT FROM computed.retention_status)""")
    return int(session.connection().execute(statement, params).rowcount or 0)


# --- events ---------------------------------------------------------------------------------------

def record_event(session: Session, actor: User | None, name: str, occurred_on: date, *,
                 customer: Customer | None = None, document: Document | None = None, note: str | None = None,
                 now: datetime | None = None, ip: str | None = None) -> RetentionEvent:
    """Record a named event (e.g. 窃电案件结案) on a customer or a document, recompute, audit, commit."""
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise RetentionError(_("Give the event's name (60 characters at most), e.g. theft case closed."))
    if (customer is None) == (document is None):
        raise RetentionError(_("An event belongs to one customer or one document."))
    event = RetentionEvent(name=name, occurred_on=occurred_on, customer_id=customer.id if customer else None,
                           document_id=document.id if document else None, note=(note or "").strip() or None,
                           recorded_by_id=actor.id if actor else None)
    session.add(event)
    session.flush()
    if customer is not None:
        recompute(session, now=now, customer_id=customer.id)
    else:
        recompute(session, [document.id], now=now)  # type: ignore[union-attr]
    audit.record(session, actor, "retention.event.record", object_type="customer" if customer else "document",
                 object_id=customer.account if customer else document.id, ip=ip,  # type: ignore[union-attr]
                 detail={"name": name, "occurred_on": occurred_on.isoformat(), "note": event.note})
    session.commit()
    return event


# --- the daily run --------------------------------------------------------------------------------

def run_daily(session: Session, now: datetime | None = None, actor: User | None = None) -> int:
    """Mark running documents whose due date has come as due (the appraisal queue), audited as one
    summary event; commits. 永久 and kept documents have no due date, so they are never marked."""
    today = _today(now)
    ensure_seeded(session)
    due_ids = select(Document.id).where(Document.retention_status == RetentionStatus.RUNNING,
                                        Document.due_on <= today, Document.destroyed_at.is_(None),
                                        Document.keep_permanently.is_(False))
    marked = session.execute(update(Document).where(Document.id.in_(due_ids))
                             .values(retention_status=RetentionStatus.DUE)
                             .execution_options(synchronize_session=False)).rowcount or 0
    session.expire_all()  # loaded documents show their new status
    total_due = session.scalar(select(func.count()).select_from(Document)
                               .where(Document.retention_status == RetentionStatus.DUE)) or 0
    audit.record(session, actor, "retention.run", object_type="retention", object_id=today.isoformat(),
                 now=now, detail={"marked_due": marked, "due_total": total_due, "day": today.isoformat()})
    session.commit()
    return int(marked)


# --- due lists and eligibility --------------------------------------------------------------------

@dataclass(frozen=True)
class DueItem:
    document_id: int
    reference_code: str | None
    doc_type: str | None
    customer_account: str | None
    title: str
    retention: str | None
    due_on: date | None
    held: bool


def due_documents(session: Session, viewer: User | None, *, index=None, limit: int | None = None) -> list[DueItem]:  # type: ignore[no-untyped-def]
    """Documents due for appraisal, oldest due date first; sensitive titles masked for `viewer`."""

    query = (select(Document).where(Document.retention_status == RetentionStatus.DUE)
             .order_by(Document.due_on, Document.id))
    if limit is not None:
        query = query.limit(limit)
    documents = list(session.scalars(query))
    held = held_document_ids(session, [d.id for d in documents], index)
    return [DueItem(d.id, d.reference_code, d.doc_type, d.customer_account,
                    _("[sensitive document hidden]") if hides_identity(viewer, d) else d.title, d.retention, d.due_on,
                    d.id in held) for d in documents]


DUE_COLUMNS = (_l("Reference code"), _l("Type"), _l("Account"), _l("Title"), _l("Due on"), _l("Held"))


def due_csv(items: Sequence[DueItem]) -> bytes:
    """The due list as CSV (with a BOM for Excel; no cell runs as a formula: docsvc.exports)."""
    return exports.csv_bytes([str(c) for c in DUE_COLUMNS], ([item.reference_code or f"#{item.document_id}", item.doc_type or "",
                                            item.customer_account or "", item.title,
                                            item.due_on.isoformat() if item.due_on else "",
                                            _("yes") if item.held else _("no")] for item in items))


def due_json(item: DueItem) -> dict[str, object]:
    return {"document_id": item.document_id, "reference_code": item.reference_code, "doc_type": item.doc_type,
            "customer_account": item.customer_account, "title": item.title, "retention": item.retention,
            "due_on": item.due_on.isoformat() if item.due_on else None, "held": item.held}


def eligible(session: Session, document_ids: Iterable[int], index=None) -> dict[int, str | None]:  # type: ignore[no-untyped-def]
    """For each id: None when it may go on a destruction list, else why not, as a stored text
    (i18n.stored: the execution keeps it on the item; `i18n.shown` reads it in the reader's language).

    Eligible: due, not kept permanently, class not 永久, not destroyed, under no hold (saved-search
    holds too when `index` is given)."""

    ids = list(dict.fromkeys(document_ids))
    rows = {d.id: d for i in range(0, len(ids), ID_CHUNK)
            for d in session.scalars(select(Document).where(Document.id.in_(ids[i:i + ID_CHUNK])))}
    held = held_document_ids(session, rows.keys(), index)
    out: dict[int, str | None] = {}
    for document_id in ids:
        d = rows.get(document_id)
        if d is None:
            out[document_id] = stored("Document #%(id)s does not exist.", id=document_id)
        elif d.destroyed_at is not None or d.retention_status == RetentionStatus.DESTROYED:
            out[document_id] = stored("Already destroyed.")
        elif d.keep_permanently:
            out[document_id] = stored("Appraisal decided to keep it permanently.")
        elif d.retention == PERMANENT or d.retention_status == RetentionStatus.PERMANENT:
            out[document_id] = stored("A permanent document can never be destroyed.")
        elif d.retention_status == RetentionStatus.UNKNOWN:
            out[document_id] = stored("The due date cannot be computed (no trigger date); complete the dates first.")
        elif d.retention_status != RetentionStatus.DUE:
            when = d.due_on.isoformat() if d.due_on else "—"
            out[document_id] = stored("Not due yet (due on %(day)s).", day=when)
        elif document_id in held:
            out[document_id] = stored("Under a hold; it cannot be destroyed until released.")
        else:
            out[document_id] = None
    return out


# --- the dashboard --------------------------------------------------------------------------------

@dataclass
class Dashboard:
    due_now: int
    due_soon: int  # running, due within DUE_SOON_DAYS
    held: int
    storage_only: int
    unknown: int
    destroyed_this_year: int
    destroyed: int  # every destroyed document (the stubs kept)
    permanent: int
    by_year: list[tuple[int, int]]  # (due year, documents), running and due
    active_holds: int

    @property
    def max_year_count(self) -> int:
        return max((n for _, n in self.by_year), default=0)


def dashboard(session: Session, now: datetime | None = None, index=None) -> Dashboard:  # type: ignore[no-untyped-def]

    today = _today(now)
    live = Document.destroyed_at.is_(None)

    def count(*where) -> int:  # type: ignore[no-untyped-def]
        return int(session.scalar(select(func.count()).select_from(Document).where(*where)) or 0)

    storage_only = count(live, or_(Document.storage_only_at.is_not(None), Document.customer_id.in_(
        select(Customer.id).where(Customer.storage_only_at.is_not(None)))))
    year = func.extract("year", Document.due_on)
    by_year = session.execute(select(year, func.count()).where(
        live, Document.retention_status.in_((RetentionStatus.RUNNING, RetentionStatus.DUE)))
        .group_by(year).order_by(year)).all()
    return Dashboard(
        due_now=count(Document.retention_status == RetentionStatus.DUE),
        due_soon=count(Document.retention_status == RetentionStatus.RUNNING,
                       Document.due_on <= today + timedelta(days=DUE_SOON_DAYS)),
        held=len(all_held_document_ids(session, index)),
        storage_only=storage_only,
        unknown=count(live, Document.filed_at.is_not(None), Document.retention_status == RetentionStatus.UNKNOWN),
        destroyed_this_year=count(Document.destroyed_at >= datetime(today.year, 1, 1, tzinfo=timezone.utc)),
        destroyed=count(Document.destroyed_at.is_not(None)),
        permanent=count(live, Document.retention_status == RetentionStatus.PERMANENT),
        by_year=[(int(y), int(n)) for y, n in by_year if y is not None],
        active_holds=int(session.scalar(select(func.count()).select_from(Hold).where(Hold.released_at.is_(None))) or 0),
    )


def document_retention(session: Session, document: Document) -> dict[str, object]:
    """What the document page and API show of a document's retention."""
    schedule = session.get(RetentionSchedule, document.schedule_id) if document.schedule_id else None
    return {"retention": document.retention, "retention_label": label(document.retention),
            "status": document.retention_status,
            "status_label": str(STATUS_LABELS.get(RetentionStatus(document.retention_status), document.retention_status)),
            "due_on": document.due_on.isoformat() if document.due_on else None,
            "trigger": schedule.trigger if schedule else None, "schedule_version": schedule.version if schedule else None,
            "authority": schedule.authority if schedule else None,
            "extended_until": document.extended_until.isoformat() if document.extended_until else None,
            "keep_permanently": document.keep_permanently}


def _today(now: datetime | None) -> date:
    return (now or utcnow()).date()
