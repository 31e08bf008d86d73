"""Fixity: re-reading the originals and proving they are still what was received.

An original is content-addressed (`originals/<sha256>`): the SHA-256 in its name is the one recorded
at intake (BatchFile.sha256, Document.sha256), so re-hashing its bytes and comparing with the name is
the whole check. Each run

1. lists `originals/` once and compares it with what the live records name: objects a live record
   names that the store lacks are **missing**, objects no live record names are **unexpected**
   (cheap, so every run does all of them);
2. re-reads, streamed and hashed while reading, the originals least recently checked first, until the
   day's budget is spent, at most at the configured rate, so OCR keeps the disks; a mismatch is
   **altered**;
3. records per original when it was last checked and what was found (FixityCheck), commits after each
   original (a run that dies resumes with the next one), audits each problem when it first appears
   (`fixity.problem`) and the run with its counts (`fixity.run`).

Destroyed originals are absent on purpose (docs/retention.md, "Destruction"): a record names an
original only while it is live, so they are never reported missing; one that is still in the store is
reported unexpected, because its destruction did not finish.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from docsvc.constants import FixityOutcome
from docsvc.governance import audit
from docsvc.models import AuditEvent, BatchFile, DestroyedOriginal, Document, FixityCheck, Page, User, as_utc, utcnow
from storage import ORIGINALS_PREFIX, ObjectNotFound, ObjectStore
from docsvc.i18n import _, lazy_gettext as _l

MB = 1024 * 1024
READ_CHUNK = MB  # bytes hashed per read: bounded memory whatever the original's size
PROBLEMS = (FixityOutcome.ALTERED, FixityOutcome.MISSING, FixityOutcome.UNEXPECTED)

# What the administrator does about each problem (shown on the dashboard and printed by the CLI).
ADVICE = {
    FixityOutcome.ALTERED: _l(
        "The original's bytes no longer match its recorded SHA-256: do not overwrite or delete it; restore the "
        "object from backup, then run `docsvc fixity --all`, and check the storage hardware and who had access."),
    FixityOutcome.MISSING: _l(
        "The store has no such original, yet a live record names it: restore the object from backup to the same "
        "key, then run `docsvc fixity --all`."),
    FixityOutcome.UNEXPECTED: _l(
        "The store holds this original but no live record names it (or it belongs to a destroyed document): find "
        "where it came from; if it was destroyed, execute that destruction list again to finish the removal."),
}


@dataclass(frozen=True)
class ServedDocument:
    """A document an original serves (or served), as the administrator names it."""
    document_id: int
    reference_code: str | None  # 档号
    customer_account: str | None  # 户号
    destroyed: bool

    def label(self) -> str:
        name = self.reference_code or _("#%(id)s (unfiled)", id=self.document_id)
        served = _("%(document)s, customer account %(account)s", document=name, account=self.customer_account or "—")
        return _("%(document)s (destroyed)", document=served) if self.destroyed else served

    def as_json(self) -> dict[str, object]:
        return {"document_id": self.document_id, "reference_code": self.reference_code,
                "customer_account": self.customer_account, "destroyed": self.destroyed}


@dataclass(frozen=True)
class Problem:
    key: str
    outcome: FixityOutcome
    since: datetime
    checked_at: datetime | None
    found_sha256: str | None
    documents: tuple[ServedDocument, ...]

    @property
    def advice(self) -> str:
        return str(ADVICE[self.outcome])


@dataclass
class FixityReport:
    """One run: what it re-read and every problem outstanding after it."""
    started_at: datetime
    finished_at: datetime | None = None
    expected: int = 0  # originals a live record names
    stored: int = 0  # objects under originals/
    checked: int = 0  # re-read and hashed this run
    bytes_read: int = 0
    intact: int = 0  # of those checked, unchanged
    unchecked: int = 0  # present originals never re-read yet (the next runs take them first)
    new_problems: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, outcome: FixityOutcome) -> int:
        return sum(1 for p in self.problems if p.outcome == outcome)

    def counts(self) -> dict[str, int]:
        return {"expected": self.expected, "stored": self.stored, "checked": self.checked,
                "bytes_read": self.bytes_read, "intact": self.intact, "unchecked": self.unchecked,
                "altered": self.count(FixityOutcome.ALTERED), "missing": self.count(FixityOutcome.MISSING),
                "unexpected": self.count(FixityOutcome.UNEXPECTED), "new_problems": self.new_problems}


def expected_originals(session: Session) -> set[str]:
    """Every original a live record names, so the store must hold it.

    Live: a document not destroyed, a page of one, and an intake record (BatchFile) unless its
    original was destroyed after it arrived — the intake record stays after destruction as the record
    of what was received, while content uploaded again after a destruction is expected once more.
    """
    documents = select(Document.original_key).where(Document.destroyed_at.is_(None))
    pages = (select(Page.original_key).join(Document, Page.document_id == Document.id)
             .where(Page.original_key.is_not(None), Document.destroyed_at.is_(None)))
    intake = (select(BatchFile.original_key)
              .outerjoin(DestroyedOriginal, DestroyedOriginal.sha256 == BatchFile.sha256)
              .where(BatchFile.original_key.is_not(None),
                     or_(DestroyedOriginal.sha256.is_(None), BatchFile.created_at > DestroyedOriginal.destroyed_at)))
    return {key for query in (documents, pages, intake) for key in session.scalars(query) if key}


def stored_originals(store: ObjectStore) -> set[str]:
    return set(store.list(ORIGINALS_PREFIX))


def documents_served(session: Session, keys: Iterable[str]) -> dict[str, tuple[ServedDocument, ...]]:
    """The documents whose pages come from each original (destroyed ones too: they explain a key)."""
    wanted = sorted(set(keys))
    found: dict[str, dict[int, ServedDocument]] = {key: {} for key in wanted}
    columns = (Document.id, Document.reference_code, Document.customer_account, Document.destroyed_at)
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        rows = [*session.execute(select(Document.original_key, *columns).where(Document.original_key.in_(part))),
                *session.execute(select(Page.original_key, *columns).join(Document, Page.document_id == Document.id)
                                 .where(Page.original_key.in_(part)).distinct())]
        for key, doc_id, code, account, destroyed_at in rows:
            found[key][doc_id] = ServedDocument(doc_id, code, account, destroyed_at is not None)
    return {key: tuple(docs[i] for i in sorted(docs)) for key, docs in found.items()}


class _Throttle:
    """Keeps reading at or below `rate` bytes per second by sleeping when ahead of it."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.started = time.monotonic()
        self.total = 0

    def spent(self, n: int) -> None:
        self.total += n
        if self.rate:
            ahead = self.total / self.rate - (time.monotonic() - self.started)
            if ahead > 0:
                time.sleep(ahead)


def sha256_of(store: ObjectStore, key: str, throttle: _Throttle | None = None) -> tuple[str, int]:
    """Stream the object through SHA-256 (never whole in memory); its hex digest and size."""
    digest, size = hashlib.sha256(), 0
    with store.open(key) as stream:
        while chunk := stream.read(READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if throttle is not None:
                throttle.spent(len(chunk))
    return digest.hexdigest(), size


def run(session: Session, store: ObjectStore, *, budget_bytes: int | None, rate_bytes_s: float | None = None,
        actor: User | None = None, now: datetime | None = None) -> FixityReport:
    """One fixity run (see the module's docstring). `budget_bytes` None re-reads every original.

    The budget is spent when the bytes read reach it: the original that crosses it is read whole.
    Commits after each original and at the end.
    """
    report = FixityReport(started_at=now or utcnow())
    expected, stored = expected_originals(session), stored_originals(store)
    report.expected, report.stored = len(expected), len(stored)
    # Plain tuples, not ORM rows: one per original, and an archive holds hundreds of thousands.
    known = {key: _Known(FixityOutcome(outcome), checked_at) for key, outcome, checked_at
             in session.execute(select(FixityCheck.key, FixityCheck.outcome, FixityCheck.checked_at))}
    _forget_settled(session, known, expected, stored)
    for key in sorted(expected - stored):
        report.new_problems += _note(session, known, key, FixityOutcome.MISSING, actor, report.started_at)
    for key in sorted(stored - expected):
        report.new_problems += _note(session, known, key, FixityOutcome.UNEXPECTED, actor, report.started_at)
    session.commit()

    due = sorted(expected & stored, key=lambda k: _due_order(known.get(k), k))
    throttle = _Throttle(rate_bytes_s)
    for key in due:
        if budget_bytes is not None and report.bytes_read >= budget_bytes:
            break
        try:
            found, size = sha256_of(store, key, throttle)
        except ObjectNotFound:  # removed since the listing
            report.new_problems += _note(session, known, key, FixityOutcome.MISSING, actor, utcnow())
        else:
            report.bytes_read += size
            outcome = FixityOutcome.INTACT if found == key.removeprefix(ORIGINALS_PREFIX) else FixityOutcome.ALTERED
            report.intact += outcome == FixityOutcome.INTACT
            report.new_problems += _note(session, known, key, outcome, actor, utcnow(), found=found, size=size)
        report.checked += 1
        session.commit()
    report.unchecked = sum(1 for key in due if key not in known or known[key].checked_at is None)
    report.problems = problems(session)
    report.finished_at = utcnow()
    audit.record(session, actor, "fixity.run", object_type="fixity", object_id=report.started_at.date().isoformat(),
                 outcome="ok" if report.ok else "problems", now=report.finished_at, detail=report.counts())
    session.commit()
    return report


def run_daily(session: Session, store: ObjectStore, *, daily_bytes: int, rate_bytes_s: float,
              now: datetime | None = None) -> FixityReport:
    """The scheduled run: re-reads what is left of today's budget, so a server restarted several times a
    day (the embedded default runs the daily tasks at each start) still reads at most `daily_bytes`."""
    now = now or utcnow()
    midnight = as_utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    read_today = session.scalar(select(func.coalesce(func.sum(FixityCheck.size), 0)).where(
        FixityCheck.checked_at >= midnight,
        FixityCheck.outcome.in_((FixityOutcome.INTACT, FixityOutcome.ALTERED)))) or 0
    return run(session, store, budget_bytes=max(0, daily_bytes - int(read_today)), rate_bytes_s=rate_bytes_s, now=now)


class _Known(NamedTuple):
    """What fixity_checks says of an original at the start of a run (and after each note)."""
    outcome: FixityOutcome
    checked_at: datetime | None


def _due_order(known: _Known | None, key: str) -> tuple[int, str, str]:
    """Never checked first, then the least recently checked; the key breaks ties so runs are repeatable."""
    if known is None or known.checked_at is None:
        return (0, "", key)
    return (1, as_utc(known.checked_at).isoformat(), key)


def _forget_settled(session: Session, known: dict[str, _Known], expected: set[str], stored: set[str]) -> None:
    """Drop records the listing has overtaken: a missing original that is back (re-read it first), an
    unexpected one a record now names, and keys that are neither named nor stored (destroyed and gone)."""
    either = expected | stored
    stale = [key for key, row in known.items()
             if key not in either
             or (row.outcome == FixityOutcome.MISSING and key in stored)
             or (row.outcome == FixityOutcome.UNEXPECTED and key in expected)]
    for start in range(0, len(stale), 500):
        session.execute(delete(FixityCheck).where(FixityCheck.key.in_(stale[start:start + 500])))
    for key in stale:
        del known[key]


def _note(session: Session, known: dict[str, _Known], key: str, outcome: FixityOutcome, actor: User | None,
          when: datetime, *, found: str | None = None, size: int | None = None) -> int:
    """Record what was found for `key`; audit a problem when it is new (1), not on every run (0)."""
    before = known.get(key)
    changed = before is None or before.outcome != outcome
    row = session.get(FixityCheck, key) if before is not None else None
    if row is None:
        row = FixityCheck(key=key, outcome=outcome, since=when)
        session.add(row)
    elif changed:
        row.outcome, row.since = outcome, when
    row.checked_at, row.found_sha256 = when, found
    known[key] = _Known(outcome, when)
    if size is not None:
        row.size = size
    if not (changed and outcome in PROBLEMS):
        return 0
    served = documents_served(session, [key])[key]
    audit.record(session, actor, "fixity.problem", object_type="original", object_id=key, outcome=outcome,
                 now=when, detail={"expected_sha256": key.removeprefix(ORIGINALS_PREFIX), "found_sha256": found,
                                   "documents": [d.as_json() for d in served]})
    return 1


def problems(session: Session) -> list[Problem]:
    """Every problem fixity knows of now, with the documents each original serves."""
    rows = list(session.scalars(select(FixityCheck).where(FixityCheck.outcome.in_(PROBLEMS))
                                .order_by(FixityCheck.outcome, FixityCheck.key)))
    served = documents_served(session, (row.key for row in rows))
    return [Problem(row.key, FixityOutcome(row.outcome), row.since, row.checked_at, row.found_sha256, served[row.key])
            for row in rows]


@dataclass(frozen=True)
class Dashboard:
    """The administrator's panel: the last run, the state of every original, the problems."""
    last_run_at: datetime | None
    last_run: dict[str, object]
    tracked: int  # originals with a fixity record
    intact: int
    oldest_check: datetime | None
    problems: list[Problem]


@dataclass(frozen=True)
class Summary:
    """The home page's line: the last run and how many originals have a problem now (two small queries)."""
    last_run_at: datetime | None
    last_run: dict[str, object]
    problems: int


def _last_run(session: Session) -> AuditEvent | None:
    return session.scalars(select(AuditEvent).where(AuditEvent.action == "fixity.run")
                           .order_by(AuditEvent.seq.desc()).limit(1)).first()


def last_run_at(session: Session) -> datetime | None:
    """When the last fixity run finished (its audit event), None before the first."""
    last = _last_run(session)
    return as_utc(last.occurred_at) if last else None


def summary(session: Session) -> Summary:
    last = _last_run(session)
    return Summary(last_run_at=as_utc(last.occurred_at) if last else None,
                   last_run=json.loads(last.detail) if last and last.detail else {},
                   problems=int(session.scalar(select(func.count()).select_from(FixityCheck)
                                               .where(FixityCheck.outcome.in_(PROBLEMS))) or 0))


def dashboard(session: Session) -> Dashboard:
    last = _last_run(session)
    rows = session.execute(select(FixityCheck.outcome, FixityCheck.checked_at)).all()
    intact_checks = [as_utc(at) for outcome, at in rows if outcome == FixityOutcome.INTACT and at is not None]
    return Dashboard(
        last_run_at=as_utc(last.occurred_at) if last else None,
        last_run=json.loads(last.detail) if last and last.detail else {},
        tracked=len(rows), intact=len(intact_checks), oldest_check=min(intact_checks, default=None),
        problems=problems(session))
