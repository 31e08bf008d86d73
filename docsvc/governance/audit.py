"""The audit trail: one function writes events; they are append-only and hash-chained.

Each event stores SHA-256(previous hash + its own canonical content). Editing a row breaks its own
hash, deleting one breaks the link of the next, and the daily anchor in the object store (the latest
seq and hash) shows when the tail was cut off. Writers lock the single chain-head row first, so
concurrent transactions append one after another and the chain stays linear.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from babel.support import LazyProxy
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from docsvc.constants import AUDIT_ANCHORS_PREFIX, audit_anchor_key
from docsvc import exports
from docsvc.errors import DomainError
from docsvc import i18n
from docsvc.i18n import _, lazy_gettext as _l
from docsvc.models import AuditChainHead, AuditEvent, User, as_utc, utcnow
from storage import ObjectStore

GENESIS = "0" * 64

# Events recording that someone read, downloaded, printed or exported content, or searched: the access
# log's part of the trail, shown to auditors only (a file's history shows everyone its changes).
ACCESS_EVENTS = ("page.view", "page.image", "page.thumbnail", "page.words", "page.text", "document.download",
                 "document.print", "customer.download_originals", "customer.download_file_pdf", "access.denied",
                 "search")
HEAD_ID = 1

# Column order of the canonical content; changing it invalidates every stored hash.
_CANONICAL_COLUMNS = (
    AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.actor_id, AuditEvent.actor_name, AuditEvent.action,
    AuditEvent.object_type, AuditEvent.object_id, AuditEvent.outcome, AuditEvent.purpose, AuditEvent.loan_id,
    AuditEvent.ip, AuditEvent.detail,
)


def record(session: Session, actor: User | None, action: str, *, object_type: str | None = None,
           object_id: str | int | None = None, outcome: str = "ok", purpose: str | None = None,
           loan_id: int | None = None, ip: str | None = None, detail: dict | None = None,
           now: datetime | None = None, durable: bool = True) -> None:
    """Append an event in the caller's transaction; the caller commits (with the change it records).

    Locks the chain head until that commit, so call it after the change, right before committing.
    `durable=False` is for transactions that record a read and change nothing else: on PostgreSQL
    their commit then does not wait for the WAL flush (see docs/access.md, "Audit cost").
    """
    # Every column of the canonical content but seq, in _CANONICAL_COLUMNS order.
    values = (
        as_utc(now or utcnow()), actor.id if actor else None, actor.username if actor else None, action,
        object_type, None if object_id is None else str(object_id), outcome, purpose or None, loan_id, ip,
        None if detail is None else json.dumps(detail, ensure_ascii=False, sort_keys=True,
                                               separators=(",", ":"), default=str),
    )
    if session.get_bind().dialect.name == "postgresql":
        if not durable:
            # The flush dominated a page view's cost (~3 ms of ~5); a database crash can lose at most
            # the last few hundred milliseconds of read events, never a change or a broken chain.
            session.execute(text("SET LOCAL synchronous_commit = off"))
        _append_in_one_statement(session, values)
        return
    seq, prev_hash = _lock_head(session)
    content = dict(zip((c.key for c in _CANONICAL_COLUMNS), (seq, *values)))
    event = AuditEvent(**content, prev_hash=prev_hash, hash=chain_hash(prev_hash, _canonical((seq, *values))))
    session.add(event)
    session.execute(update(AuditChainHead).where(AuditChainHead.id == HEAD_ID).values(seq=seq, hash=event.hash))


# On PostgreSQL an event costs one round trip: lock the head, hash with the server's sha256() and
# insert, in one statement (page views are audited one by one, so the round trips are the cost).
# The hashed bytes are the same as chain_hash(prev, _canonical(row)): "[" seq "," then the rest of the
# canonical JSON, which does not depend on seq and so is encoded here first.
_APPEND_SQL = text("""
WITH old AS (
    SELECT seq, hash FROM audit_chain_head WHERE id = :head FOR UPDATE
), head AS (
    UPDATE audit_chain_head AS h
       SET seq = old.seq + 1,
           hash = encode(sha256(convert_to(old.hash || '[' || (old.seq + 1)::text || ',' || :tail, 'UTF8')), 'hex')
      FROM old
     WHERE h.id = :head
 RETURNING h.seq, h.hash, old.hash AS prev_hash
)
INSERT INTO audit_events (seq, occurred_at, actor_id, actor_name, action, object_type, object_id, outcome,
                          purpose, loan_id, ip, detail, prev_hash, hash)
SELECT head.seq, :occurred_at, :actor_id, :actor_name, :action, :object_type, :object_id, :outcome,
       :purpose, :loan_id, :ip, :detail, head.prev_hash, head.hash
  FROM head
""")


def _append_in_one_statement(session: Session, values: tuple[object, ...]) -> None:
    tail = _canonical((0, *values))[len(b"[0,"):].decode("utf-8")
    params = dict(zip((c.key for c in _CANONICAL_COLUMNS[1:]), values))
    session.execute(_APPEND_SQL, {**params, "head": HEAD_ID, "tail": tail})


def _lock_head(session: Session) -> tuple[int, str]:
    """Take the chain head for this transaction: next seq and the hash to link to.

    The UPDATE (a no-op) takes the row lock on PostgreSQL and the write lock on SQLite before the
    read, so no other writer can read the same head in between.
    """
    session.execute(update(AuditChainHead).where(AuditChainHead.id == HEAD_ID)
                    .values(seq=AuditChainHead.seq))
    seq, last = session.execute(select(AuditChainHead.seq, AuditChainHead.hash)
                                .where(AuditChainHead.id == HEAD_ID)).one()
    return seq + 1, last


def as_recorded(text: LazyProxy) -> str:
    """A message for an event's detail as the trail has always recorded them, "中文 / English": evidence
    reads the same whatever the language of the request that wrote it. `text` is lazy (`_l`)."""
    with i18n.using("zh"):
        chinese = str(text)
    with i18n.using("en"):
        english = str(text)
    return f"{chinese} / {english}"


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical).hexdigest()


# One encoder, built once: json.dumps with options builds a new encoder per call, which dominates verify.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def _canonical(values: tuple[object, ...]) -> bytes:
    """The hashed form of an event: JSON of its columns, the time as exact UTC microseconds."""
    seq, occurred_at, *rest = values
    if occurred_at.tzinfo is None:  # type: ignore[attr-defined]
        occurred_at = occurred_at.replace(tzinfo=timezone.utc)  # type: ignore[attr-defined]
    return _encode([seq, (occurred_at - _EPOCH) // _MICROSECOND, *rest]).encode("utf-8")  # type: ignore[operator]


def _stamp(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Anchor:
    day: str
    seq: int
    hash: str


@dataclass
class VerifyReport:
    ok: bool
    events: int
    last_seq: int
    last_hash: str
    first_broken_seq: int | None = None
    problem: str | None = None
    anchors_checked: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return _("Audit trail intact: %(events)s events, last #%(last)s, %(anchors)s anchors checked.",
                     events=self.events, last=self.last_seq, anchors=self.anchors_checked)
        return _("AUDIT TRAIL BROKEN at #%(seq)s: %(problem)s", seq=self.first_broken_seq, problem=self.problem)


def verify(session: Session, anchors: Iterable[Anchor] = (), batch: int = 20_000) -> VerifyReport:
    """Walk the chain in seq order; report the first broken link, then check the anchors against it."""
    expected_seq, prev, count = 1, GENESIS, 0
    # An anchor written before the first event (a fresh install's first day) names the genesis hash.
    hashes_at: dict[int, str] = {0: GENESIS}
    wanted = {a.seq for a in anchors}
    anchors = list(anchors)
    for row in _rows(session, batch):
        seq = row[0]
        if seq != expected_seq:
            return _broken(count, expected_seq - 1, prev, expected_seq,
                           _("Events %(first)s to %(last)s are missing (deleted).", first=expected_seq, last=seq - 1))
        stored_prev, stored_hash = row[-2], row[-1]
        if stored_prev != prev:
            return _broken(count, seq - 1, prev, seq,
                           _("Event %(seq)s does not link to the one before it (that one was removed or altered).",
                             seq=seq))
        if chain_hash(prev, _canonical(tuple(row[:-2]))) != stored_hash:
            return _broken(count, seq - 1, prev, seq,
                           _("Event %(seq)s was edited after it was written.", seq=seq))
        if seq in wanted:
            hashes_at[seq] = stored_hash
        prev, expected_seq, count = stored_hash, seq + 1, count + 1
    last_seq = expected_seq - 1
    head_seq = chain_length(session)
    if head_seq > last_seq:
        return _broken(count, last_seq, prev, last_seq + 1,
                       _("The tail was cut off: %(written)s events were written, %(left)s remain.",
                         written=head_seq, left=last_seq))
    for anchor in anchors:
        if anchor.seq > last_seq:
            return _broken(count, last_seq, prev, last_seq + 1,
                           _("The tail was cut off: the anchor of %(day)s reached event %(seq)s, only %(left)s "
                             "remain.", day=anchor.day, seq=anchor.seq, left=last_seq))
        if hashes_at.get(anchor.seq) != anchor.hash:
            return _broken(count, last_seq, prev, anchor.seq,
                           _("Event %(seq)s differs from the anchor of %(day)s (the trail was rewritten).",
                             seq=anchor.seq, day=anchor.day))
    return VerifyReport(ok=True, events=count, last_seq=last_seq, last_hash=prev, anchors_checked=len(anchors))


def _broken(count: int, last_seq: int, last_hash: str, seq: int, problem: str) -> VerifyReport:
    return VerifyReport(ok=False, events=count, last_seq=last_seq, last_hash=last_hash,
                        first_broken_seq=seq, problem=problem)


def _rows(session: Session, batch: int) -> Iterator[tuple]:  # type: ignore[type-arg]
    """Stream the chain in keyset pages: constant memory over millions of events on any database."""
    after = 0
    columns = (*_CANONICAL_COLUMNS, AuditEvent.prev_hash, AuditEvent.hash)
    while True:
        rows = session.execute(select(*columns).where(AuditEvent.seq > after)
                               .order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def write_anchor(session: Session, store: ObjectStore, now: datetime | None = None) -> Anchor:
    """Write today's anchor (latest seq and hash) to the object store, outside the database's reach."""
    seq, last = session.execute(select(AuditChainHead.seq, AuditChainHead.hash)
                                .where(AuditChainHead.id == HEAD_ID)).one()
    moment = as_utc(now or utcnow())
    anchor = Anchor(day=moment.date().isoformat(), seq=seq, hash=last)
    body = {"day": anchor.day, "seq": seq, "hash": last, "written_at": _stamp(moment)}
    store.put_bytes(audit_anchor_key(anchor.day), json.dumps(body).encode(), "application/json")
    return anchor


def anchor_due(store: ObjectStore, today: date) -> bool:
    return not store.exists(audit_anchor_key(today.isoformat()))


def load_anchors(store: ObjectStore) -> list[Anchor]:
    anchors = []
    for key in store.list(AUDIT_ANCHORS_PREFIX):
        body = json.loads(store.read_bytes(key))
        anchors.append(Anchor(day=body["day"], seq=int(body["seq"]), hash=body["hash"]))
    return sorted(anchors, key=lambda a: a.seq)


@dataclass
class EventFilter:
    actor: str | None = None
    action: str | None = None
    object: str | None = None  # "type:id", "type" or an id
    since: datetime | None = None
    until: datetime | None = None


PAGE_SIZE = 200  # events per page for the auditor's view and the API


class BadFilter(DomainError):
    pass


def _moment(value: str, end: bool) -> datetime | None:
    """A date (whole day; `to` includes it) or an ISO timestamp, read as UTC."""
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            day = datetime.combine(datetime.fromisoformat(value).date(), time(), tzinfo=timezone.utc)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadFilter(_("Bad date “%(value)s”: use YYYY-MM-DD.", value=value)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def filter_from(args: Mapping[str, str]) -> EventFilter:
    """The filter as the auditor's form and the API give it (actor, action, object, from, to)."""
    return EventFilter(actor=args.get("actor", "").strip() or None, action=args.get("action", "").strip() or None,
                       object=args.get("object", "").strip() or None,
                       since=_moment(args.get("from", ""), end=False), until=_moment(args.get("to", ""), end=True))


def export_events(session: Session, actor: User | None, f: EventFilter, *, ip: str | None = None) -> Iterator[str]:
    """The use case behind the CSV export: the export is itself an event, then every matching row as CSV."""
    record(session, actor, "audit.export", ip=ip, detail={k: str(v) for k, v in vars(f).items() if v})
    session.commit()
    return csv_lines(find_events(session, f, limit=None))


def verify_recorded(session: Session, store: ObjectStore, actor: User | None, *, ip: str | None = None) -> VerifyReport:
    """The auditor's integrity check: verify against the anchors, and record that it was run and what it found."""
    report = verify(session, load_anchors(store))
    record(session, actor, "audit.verify", outcome="ok" if report.ok else "broken", ip=ip,
           detail={"events": report.events, "first_broken_seq": report.first_broken_seq})
    session.commit()
    return report


@dataclass(frozen=True)
class VerifyRecord:
    """A recorded integrity check (`audit.verify` event): when, by whom, and what it found."""
    at: datetime
    actor: str | None
    ok: bool
    events: int | None
    first_broken_seq: int | None


def last_verify(session: Session) -> VerifyRecord | None:
    """The latest recorded check. Verifying walks the whole chain, so pages show this instead of re-running it."""
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.verify")
                            .order_by(AuditEvent.seq.desc()).limit(1)).first()
    if event is None:
        return None
    detail = json.loads(event.detail) if event.detail else {}
    return VerifyRecord(as_utc(event.occurred_at), event.actor_name, event.outcome == "ok", detail.get("events"),
                        detail.get("first_broken_seq"))


def chain_length(session: Session) -> int:
    """Events in the chain, read from its head row (seq is gapless), not by counting rows."""
    return int(session.scalar(select(AuditChainHead.seq).where(AuditChainHead.id == HEAD_ID)) or 0)


def find_events(session: Session, f: EventFilter, limit: int | None = 500, offset: int = 0) -> list[AuditEvent]:
    query = select(AuditEvent)
    if f.actor:
        query = query.where(AuditEvent.actor_name == f.actor)
    if f.action:
        query = query.where(AuditEvent.action.startswith(f.action))
    if f.object:
        kind, _colon, ident = f.object.partition(":")
        if ident:
            query = query.where(AuditEvent.object_type == kind, AuditEvent.object_id == ident)
        elif kind.isdigit():
            query = query.where(AuditEvent.object_id == kind)
        else:
            query = query.where(AuditEvent.object_type == kind)
    if f.since:
        query = query.where(AuditEvent.occurred_at >= f.since)
    if f.until:
        query = query.where(AuditEvent.occurred_at < f.until)
    query = query.order_by(AuditEvent.seq.desc()).offset(offset)
    return list(session.scalars(query if limit is None else query.limit(limit)))


# The export's columns and their headings, in the reader's language; the cells are the events as recorded.
CSV_COLUMNS = {"seq": _l("No."), "occurred_at": _l("Time (%(zone)s)", zone="UTC"), "actor_name": _l("Who"),
               "action": _l("What"), "object_type": _l("Object type"), "object_id": _l("Object ID"),
               "outcome": _l("Outcome"), "purpose": _l("Purpose"), "loan_id": _l("Loan"), "ip": "IP",
               "detail": _l("Message"), "hash": _l("Hash (SHA-256)")}


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    yield from exports.csv_stream([str(heading) for heading in CSV_COLUMNS.values()],
                                  ([_stamp(e.occurred_at) if c == "occurred_at" else getattr(e, c) for c in CSV_COLUMNS]
                                   for e in events))


def event_json(e: AuditEvent) -> dict[str, object]:
    return {"seq": e.seq, "occurred_at": _stamp(e.occurred_at), "actor": e.actor_name, "action": e.action,
            "object_type": e.object_type, "object_id": e.object_id, "outcome": e.outcome, "purpose": e.purpose,
            "loan_id": e.loan_id, "ip": e.ip, "detail": json.loads(e.detail) if e.detail else None,
            "hash": e.hash}
