"""Destruction lists (销毁清册): from due items through appraisal, approval, a waiting period and two
supervisors to the execution that erases every byte and leaves a stub and a permanent register.

The procedure is DOMAIN.md's "Destruction"; the two-person rules live in access.may_sign. Every
transition is audited in the transaction that makes it. `execute` is the job body (workers.jobs):
it is the only code path that removes a filed document's content.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from docsvc.constants import (
    CONTENT_EXPORTS, DESTROYED_TITLE, DESTRUCTION_METHOD, SUPERVISORS_REQUIRED, Decision, ItemResult, ListState, RetentionStatus,
    SignRole,
)
from docsvc.errors import DomainError, Forbidden, NotAllowedNow, require_found
from docsvc.governance import audit, erasure, holds, register, retention
from docsvc.governance.access import is_sensitive, may_sign
from docsvc.jobs import JobQueue, enqueue_destruction
from docsvc.labels import label
from docsvc.models import (
    DestroyedOriginal, DestructionItem, DestructionList, DestructionSignoff, Document, User, as_utc, utc_text,
    utcnow,
)
from docsvc.search.snippets import MASKED_TITLE
from storage import ObjectStore
from docsvc.i18n import _, lazy_gettext as _l, shown

if TYPE_CHECKING:
    from docsvc.config import Settings
    from docsvc.search import SearchIndex

OBJECT_TYPE = "destruction_list"
# Until execution starts a list may be cancelled.
CANCELLABLE = frozenset({ListState.DRAFT, ListState.APPRAISAL, ListState.SUBMITTED, ListState.REJECTED,
                         ListState.APPROVED, ListState.SUPERVISED})
# Where the appraisal group may record decisions: before submission, or after a rejection.
APPRAISABLE = frozenset({ListState.DRAFT, ListState.APPRAISAL, ListState.REJECTED})
# Results that end an item's execution; the others (none yet, erasing, failed) are taken again.
FINAL_RESULTS = frozenset({ItemResult.DESTROYED, ItemResult.HELD, ItemResult.INELIGIBLE})
OPEN_STATES = CANCELLABLE | {ListState.EXECUTING}
# The steps `_require` names when a list is not at them.
STEPS = {"appraise": _l("appraisal"), "submit": _l("submission"), "approve": _l("approval"),
         "reject": _l("rejection"), "supervise": _l("supervision"), "cancel": _l("cancellation"),
         "execute": _l("execution")}
# Items begun together: their index entries go in one commit (a Whoosh commit costs tens of ms).
EXECUTION_BATCH = 100


class DestructionError(DomainError):
    """A request the procedure does not allow (bad decision, ineligible document)."""


class SignatureRefused(Forbidden):
    """A two-person rule refuses this signature."""


class WrongState(NotAllowedNow):
    """The list is not at the step this action belongs to."""


class WaitingPeriod(NotAllowedNow):
    """The waiting period after approval has not passed yet."""


@dataclass(frozen=True)
class DecisionInput:
    document_id: int
    decision: str
    until: date | None = None
    reason: str | None = None


def refuse_if_destroyed(document: Document) -> None:
    """A destroyed document's row is its stub, kept permanently as the destruction register's
    counterpart: nothing about it changes any more."""
    if document.destroyed_at is not None:
        raise NotAllowedNow(_("Document #%(id)s (reference code %(code)s) was destroyed on %(day)s by destruction "
                              "list #%(list)s; only its catalogue stub remains, and it cannot be changed.",
                              id=document.id, code=document.reference_code, day=f"{document.destroyed_at:%Y-%m-%d}",
                              list=document.destruction_list_id))


def due_documents(session: Session, limit: int = 500) -> list[Document]:
    """Due documents not yet on an open list: what a new list is compiled from."""
    on_lists = (select(DestructionItem.document_id).join(DestructionList)
                .where(DestructionList.state.in_(list(OPEN_STATES))))
    return list(session.scalars(
        select(Document).where(Document.retention_status == RetentionStatus.DUE, Document.destroyed_at.is_(None),
                               Document.id.not_in(on_lists))
        .order_by(Document.due_on, Document.id).limit(limit)))


def destroyed_stub(session: Session, reference_code: str) -> Document | None:
    """The stub of a destroyed document by its 档号: the catalogue still finds it (the index does not)."""
    return session.scalars(select(Document).where(Document.reference_code == reference_code.strip(),
                                                  Document.destroyed_at.is_not(None))).first()


# --------------------------------------------------------------------------------- the list's way


def get_list(session: Session, list_id: int) -> DestructionList:
    return require_found(session.get(DestructionList, list_id),
                         _("Destruction list #%(id)s does not exist.", id=list_id))


def create_list(session: Session, actor: User, document_ids: Sequence[int], *, title: str | None = None,
                index: "SearchIndex | None" = None, ip: str | None = None) -> DestructionList:
    """A draft list of due documents; refuses the whole request if any document may not go on it."""
    ids = list(dict.fromkeys(int(i) for i in document_ids))
    if not ids:
        raise DestructionError(_("Choose at least one due document."))
    verdicts = retention.eligible(session, ids, index=index)
    listed = dict(session.execute(
        select(DestructionItem.document_id, DestructionList.id).join(DestructionList)
        .where(DestructionItem.document_id.in_(ids), DestructionList.state.in_(list(OPEN_STATES)))).all())
    problems = [f"#{i}: {shown(verdicts[i])}" for i in ids if verdicts[i]]
    problems += [f"#{i}: " + _("already on list #%(list)s", list=listed[i]) for i in ids if i in listed]
    if problems:
        raise DestructionError(_("These documents cannot go on a destruction list; remove them and try again: "
                                 "%(problems)s", problems="; ".join(problems)))
    now = utcnow()
    # A name, not a message: written once in the compiler's language, like a title they type.
    default_title = _("Destruction list %(day)s", day=f"{now:%Y-%m-%d}")
    dlist = DestructionList(title=(title or "").strip() or default_title, state=ListState.DRAFT,
                            compiler_id=actor.id, created_at=now, method=DESTRUCTION_METHOD)
    session.add(dlist)
    session.flush()
    for position, document_id in enumerate(ids, start=1):
        session.add(DestructionItem(list_id=dlist.id, document_id=document_id, position=position))
    session.flush()
    _audit(session, actor, "destruction.create", dlist, ip, {"document_ids": ids, "title": dlist.title})
    session.commit()
    return dlist


def appraise(session: Session, actor: User, dlist: DestructionList, decisions: Sequence[DecisionInput], *,
             report: str | None = None, today: date | None = None, ip: str | None = None) -> DestructionList:
    """Record the appraisal group's decision on items (鉴定): destroy, extend to a date, or keep."""
    _require(dlist, APPRAISABLE, "appraise")
    items = {i.document_id: i for i in dlist.items}
    today = today or utcnow().date()
    now = utcnow()
    recorded = []
    for d in decisions:
        item = items.get(d.document_id)
        if item is None:
            raise DestructionError(_("Document #%(id)s is not on list #%(list)s.", id=d.document_id, list=dlist.id))
        _check_decision(d, today)
        item.decision, item.until = d.decision, d.until if d.decision == Decision.EXTEND else None
        item.reason = (d.reason or "").strip() or None
        item.decided_by_id, item.decided_at = actor.id, now
        recorded.append({"document_id": d.document_id, "decision": d.decision,
                         "until": d.until, "reason": item.reason})
    if report is not None:
        dlist.appraisal_report = report.strip() or None
    dlist.state = ListState.APPRAISAL
    _audit(session, actor, "destruction.appraise", dlist, ip, {"decisions": recorded})
    session.commit()
    return dlist


def _check_decision(d: DecisionInput, today: date) -> None:
    if d.decision not in set(Decision):
        raise DestructionError(_("Document #%(id)s: the decision “%(decision)s” is not valid; it must be destroy, "
                                 "extend or keep.", id=d.document_id, decision=d.decision))
    if d.decision != Decision.DESTROY and not (d.reason or "").strip():
        raise DestructionError(_("Document #%(id)s: an extension or keeping needs a reason.", id=d.document_id))
    if d.decision == Decision.EXTEND and (d.until is None or d.until <= today):
        raise DestructionError(_("Document #%(id)s: an extension needs a new due date after today.",
                                 id=d.document_id))


def submit(session: Session, actor: User, dlist: DestructionList, *, today: date | None = None,
           ip: str | None = None) -> DestructionList:
    """Hand the appraised list to the approver; the register's rows are copied from the documents now."""
    _require(dlist, APPRAISABLE, "submit")
    undecided = [i.document_id for i in dlist.items if i.decision is None]
    if undecided:
        raise DestructionError(_("%(n)s items have no decision yet (%(ids)s); appraise every item before submitting.",
                                 n=len(undecided), ids="#" + ", #".join(map(str, undecided[:10]))))
    today = today or utcnow().date()
    for item in dlist.items:
        _snapshot(item, item.document, today)
    dlist.state, dlist.submitted_at, dlist.rejection_reason = ListState.SUBMITTED, utcnow(), None
    _audit(session, actor, "destruction.submit", dlist, ip, _counts(dlist))
    session.commit()
    return dlist


def _snapshot(item: DestructionItem, d: Document, today: date) -> None:
    """The register row (DestructionItem docstring): a sensitive type's title is not written down."""
    item.reference_code = d.reference_code
    item.title = str(MASKED_TITLE) if is_sensitive(d) else d.title  # a snapshot, in the compiler's language
    item.year = d.doc_date.year if d.doc_date else None
    item.retention = d.retention
    # 已保管期限: whole years since the period began (1 January after the document was formed).
    item.kept_years = max(0, today.year - d.doc_date.year - 1) if d.doc_date else None
    item.page_count = d.page_count


def approve(session: Session, actor: User, dlist: DestructionList, settings: "Settings", *,
            note: str | None = None, now: datetime | None = None, ip: str | None = None) -> DestructionList:
    """The responsible leader approves (never the compiler); the waiting period starts."""
    _require(dlist, {ListState.SUBMITTED}, "approve")
    _may_sign(actor, dlist, SignRole.APPROVER)
    now = now or utcnow()
    dlist.approver_id, dlist.decided_at = actor.id, now
    dlist.wait_until = now + timedelta(days=settings.destruction_wait_days)
    dlist.state = ListState.APPROVED
    session.add(DestructionSignoff(list_id=dlist.id, user_id=actor.id, role=SignRole.APPROVER, signed_at=now,
                                   note=note))
    for item in dlist.items:  # the appraisal's other outcomes take effect with the approval
        if item.decision == Decision.EXTEND:
            item.document.extended_until = item.until
        elif item.decision == Decision.KEEP:
            item.document.keep_permanently = True
    session.flush()
    retention.recompute(session, [i.document_id for i in dlist.items if i.decision in (Decision.EXTEND, Decision.KEEP)],
                        now)
    _audit(session, actor, "destruction.approve", dlist, ip, {**_counts(dlist), "wait_until": dlist.wait_until})
    session.commit()
    return dlist


def reject(session: Session, actor: User, dlist: DestructionList, reason: str, *,
           ip: str | None = None) -> DestructionList:
    """Back to the compiler with a reason; the appraisal may be changed and the list submitted again."""
    _require(dlist, {ListState.SUBMITTED}, "reject")
    _may_sign(actor, dlist, SignRole.APPROVER)
    if not reason.strip():
        raise DestructionError(_("A rejection needs a reason."))
    dlist.state, dlist.rejection_reason, dlist.decided_at = ListState.REJECTED, reason.strip(), utcnow()
    _audit(session, actor, "destruction.reject", dlist, ip, {"reason": dlist.rejection_reason})
    session.commit()
    return dlist


def supervise(session: Session, actor: User, dlist: DestructionList, *, note: str | None = None,
              now: datetime | None = None, ip: str | None = None) -> DestructionList:
    """A supervisor (监销人) confirms, after the waiting period; the second one completes supervision."""
    _require(dlist, {ListState.APPROVED}, "supervise")
    now = now or utcnow()
    if dlist.wait_until is not None and as_utc(now) < as_utc(dlist.wait_until):
        raise WaitingPeriod(_("The waiting period of list #%(list)s runs until %(moment)s UTC; confirm after that.",
                              list=dlist.id, moment=f"{as_utc(dlist.wait_until):%Y-%m-%d %H:%M}"))
    _may_sign(actor, dlist, SignRole.SUPERVISOR)
    session.add(DestructionSignoff(list_id=dlist.id, user_id=actor.id, role=SignRole.SUPERVISOR, signed_at=now,
                                   note=note))
    session.flush()
    session.refresh(dlist, ["signoffs"])
    if len(supervisors(dlist)) >= SUPERVISORS_REQUIRED:
        dlist.state = ListState.SUPERVISED
    _audit(session, actor, "destruction.supervise", dlist, ip, {"supervisors": len(supervisors(dlist)),
                                                                "note": note})
    session.commit()
    return dlist


def supervisors(dlist: DestructionList) -> list[DestructionSignoff]:
    return [s for s in dlist.signoffs if s.role == SignRole.SUPERVISOR]


def cancel(session: Session, actor: User, dlist: DestructionList, reason: str, *,
           ip: str | None = None) -> DestructionList:
    _require(dlist, CANCELLABLE, "cancel")
    if not reason.strip():
        raise DestructionError(_("Cancelling needs a reason."))
    dlist.state, dlist.cancelled_at, dlist.cancel_reason = ListState.CANCELLED, utcnow(), reason.strip()
    _audit(session, actor, "destruction.cancel", dlist, ip, {"reason": dlist.cancel_reason})
    session.commit()
    return dlist


def start_execution(session: Session, actor: User, dlist: DestructionList, jobs: JobQueue, *,
                    ip: str | None = None) -> DestructionList:
    """Queue the erasure of a supervised list; on a list already executing (a fault stopped it), queue
    it again to complete it."""
    _require(dlist, {ListState.SUPERVISED, ListState.EXECUTING}, "execute")
    if dlist.state == ListState.SUPERVISED:
        dlist.state, dlist.execution_started_at = ListState.EXECUTING, utcnow()
        _audit(session, actor, "destruction.execute", dlist, ip, _counts(dlist))
    else:
        _audit(session, actor, "destruction.execute_resume", dlist, ip, _progress(dlist))
        for item in dlist.items:  # begun and to be completed: the progress shows them as being worked on again
            if item.result == ItemResult.FAILED:
                item.result = ItemResult.ERASING
    register.record_language(dlist)
    session.commit()
    enqueue_destruction(jobs, dlist.id)
    return dlist


# --------------------------------------------------------------------------------- execution


def execute(session: Session, store: ObjectStore, index: "SearchIndex", list_id: int, *,
            fonds: str, zone: ZoneInfo, now: datetime | None = None,
            batch: int = EXECUTION_BATCH) -> DestructionList:
    """Erase every item decided `destroy` (the job body; idempotent and resumable).

    Items go in batches of `batch`: holds and eligibility are checked again for each item whose
    erasure has not begun and its plan recorded (item `erasing`), in one commit; the batch's index
    entries are deleted in one commit (out of search at once); then per item shared originals are
    cut apart, objects deleted, and the page rows deleted with the stub written in one transaction.
    Once every item is through, the index segments and database pages are rewritten, each item
    verified, and the register written. A crash anywhere leaves items either untouched (not begun:
    checked again next time) or begun (`erasing`, or `failed` verification): running again
    completes those whatever happened meanwhile, since they are no longer whole.
    """
    dlist = get_list(session, list_id)
    if dlist.state == ListState.EXECUTED:
        return dlist
    _require(dlist, {ListState.EXECUTING}, "execute")
    now = now or utcnow()
    # Files exported for download (a customer file's PDF, its originals' ZIP) copy pages: none outlives this.
    erasure.discard_operation_files(session, store, kinds=CONTENT_EXPORTS)
    todo = [i for i in dlist.items if i.decision == Decision.DESTROY and i.result not in FINAL_RESULTS]
    erased: list[tuple[DestructionItem, erasure.Plan]] = []
    for start in range(0, len(todo), batch):
        erased += _erase_batch(session, store, index, dlist, todo[start:start + batch], now)
    if erased:
        index.expunge_pages(pid for _, plan in erased for pid in plan.page_ids)
    session.commit()  # no snapshot of ours may keep the deleted rows alive through the VACUUM
    erasure.vacuum(session.get_bind())  # type: ignore[arg-type]
    in_index = index.pages_in_files(pid for _, plan in erased for pid in plan.page_ids)
    for item, plan in erased:
        check = erasure.verify(session, store, in_index, plan)
        detail = {**_detail(item), "verified": check}
        item.result = ItemResult.FAILED if check["remaining"] else ItemResult.DESTROYED
        item.result_detail, item.executed_at = erasure.dumps(detail), now
        _audit(session, None, "destruction.item", dlist, None,
               {"document_id": item.document_id, "result": item.result, "verified": check})
    session.commit()
    failed = [i.document_id for i in dlist.items if i.result == ItemResult.FAILED]
    if failed:
        raise erasure.ErasureError(_("%(n)s items of list #%(list)s failed verification (%(ids)s); execute the list "
                                     "again to complete them, and if they fail again, call the system administrator.",
                                     n=len(failed), list=dlist.id, ids="#" + ", #".join(map(str, failed))))
    register.write(session, store, dlist, fonds=fonds, zone=zone, now=now)
    dlist.state, dlist.executed_at = ListState.EXECUTED, now
    _audit(session, None, "destruction.executed", dlist, None, {
        **_progress(dlist), "register_pdf_sha256": dlist.register_pdf_sha256,
        "register_csv_sha256": dlist.register_csv_sha256})
    session.commit()
    return dlist


def _erase_batch(session: Session, store: ObjectStore, index: "SearchIndex", dlist: DestructionList,
                 items: list[DestructionItem], now: datetime) -> list[tuple[DestructionItem, erasure.Plan]]:
    """Begin the items not begun yet (checked again; plan recorded, one commit), take the batch out of
    search (one index commit), then erase each item. Items outside the batch stay untouched."""
    fresh = [i.document_id for i in items if i.result is None]
    held = holds.held_document_ids(session, fresh, index=index)
    verdicts = retention.eligible(session, fresh, index=index)
    for item in items:
        if item.result is not None:  # erasing, or failed verification: begun, so completed
            continue
        reason = verdicts[item.document_id]
        if reason is None:
            _begin(session, store, dlist, item)
            continue
        item.result = ItemResult.HELD if item.document_id in held else ItemResult.INELIGIBLE
        item.result_detail, item.executed_at = erasure.dumps({"reason": reason}), now
        _audit(session, None, "destruction.item", dlist, None,
               {"document_id": item.document_id, "result": item.result, "reason": reason})
    session.commit()  # every plan is recorded before anything is removed
    erased = [(i, erasure.Plan.from_json(_detail(i)["plan"])) for i in items  # type: ignore[arg-type]
              if i.result in (ItemResult.ERASING, ItemResult.FAILED)]
    index.delete_pages(pid for _, plan in erased for pid in plan.page_ids)
    for item, plan in erased:
        _erase(session, store, dlist, item, plan, now)
    return erased


def _begin(session: Session, store: ObjectStore, dlist: DestructionList, item: DestructionItem) -> None:
    """Record the plan and the originals' hashes (the caller commits before anything is removed)."""
    plan = erasure.plan(session, store, item.document)
    item.result, item.result_detail = ItemResult.ERASING, erasure.dumps({"plan": plan.as_json()})
    for key in plan.originals:
        _remember_original(session, key, dlist.id)


def _remember_original(session: Session, key: str, list_id: int) -> None:
    sha256 = key.rsplit("/", 1)[-1]
    if session.get(DestroyedOriginal, sha256) is None:
        session.add(DestroyedOriginal(sha256=sha256, list_id=list_id))
        session.flush()  # so that the next item sharing this original finds it


def _erase(session: Session, store: ObjectStore, dlist: DestructionList, item: DestructionItem,
           plan: erasure.Plan, now: datetime) -> None:
    cuts = erasure.separate_shared(session, store, plan)
    detail = _detail(item)
    detail["separated"] = [*detail.get("separated", []), *cuts]  # type: ignore[list-item]
    item.result_detail = erasure.dumps(detail)
    session.commit()
    detail["removed"] = erasure.remove_objects(store, plan)
    erasure.secure_delete_pages(session, plan.page_ids)
    _stub(item.document, dlist, now)
    item.result_detail = erasure.dumps(detail)
    session.commit()


def _stub(d: Document, dlist: DestructionList, now: datetime) -> None:
    """What remains: 档号, type, date, page count, class, list and date; personal data removed (户号 kept)."""
    d.title = DESTROYED_TITLE
    d.notes = d.contract_no = d.business_ref = d.inbox_note = d.storage_only_reason = None
    d.retention_status = RetentionStatus.DESTROYED
    d.destroyed_at = d.destroyed_at or now
    d.destruction_list_id = dlist.id


# --------------------------------------------------------------------------------- helpers


def list_json(dlist: DestructionList) -> dict[str, object]:
    return {
        "id": dlist.id, "title": dlist.title, "state": dlist.state, "compiler": dlist.compiler.username,
        "created_at": utc_text(dlist.created_at), "approver": dlist.approver.username if dlist.approver else None,
        "rejection_reason": dlist.rejection_reason,
        "wait_until": utc_text(dlist.wait_until),
        "supervisors": [s.user.username for s in supervisors(dlist)],
        "executed_at": utc_text(dlist.executed_at),
        "register": {"pdf_sha256": dlist.register_pdf_sha256, "csv_sha256": dlist.register_csv_sha256},
        "progress": _progress(dlist),
        "items": [{
            "position": i.position, "document_id": i.document_id, "decision": i.decision,
            "until": i.until.isoformat() if i.until else None, "reason": i.reason, "result": i.result,
            "result_detail": _shown_detail(i) or None,
        } for i in dlist.items],
    }


def all_lists(session: Session) -> list[DestructionList]:
    return list(session.scalars(select(DestructionList).order_by(DestructionList.id.desc())))


def _progress(dlist: DestructionList) -> dict[str, int]:
    """Where execution stands, read from the items (so a reload shows it): an item counts as done once its
    erasure has run, not only once the whole list is verified at the end, so the bar moves item by item;
    `failed` items failed verification and are completed by executing the list again."""
    to_destroy = [i for i in dlist.items if i.decision == Decision.DESTROY]
    return {"total": len(to_destroy), "done": sum(1 for i in to_destroy if _through(i)),
            "destroyed": sum(1 for i in to_destroy if i.result == ItemResult.DESTROYED),
            "held": sum(1 for i in to_destroy if i.result == ItemResult.HELD),
            "failed": sum(1 for i in to_destroy if i.result == ItemResult.FAILED)}


def _through(item: DestructionItem) -> bool:
    if item.result in FINAL_RESULTS or item.result == ItemResult.FAILED:
        return True
    return item.result == ItemResult.ERASING and "removed" in _detail(item)


def _counts(dlist: DestructionList) -> dict[str, int]:
    return {d.value: sum(1 for i in dlist.items if i.decision == d) for d in Decision}


def _detail(item: DestructionItem) -> dict[str, object]:
    return json.loads(item.result_detail) if item.result_detail else {}


def passed_over(item: DestructionItem) -> str | None:
    """Why execution left the item untouched (held, no longer eligible): a stored text (i18n.shown reads
    it in the reader's language); None for an item it did not pass over."""
    reason = _detail(item).get("reason")
    return reason if isinstance(reason, str) else None


def _shown_detail(item: DestructionItem) -> dict[str, object]:
    """The item's detail for a reader, the reason it was passed over in their language."""
    detail = _detail(item)
    reason = passed_over(item)
    if reason is not None:
        detail["reason"] = shown(reason)
    return detail


def _require(dlist: DestructionList, states: Iterable[str], step: str) -> None:
    """Refuse `step` (a key of STEPS) unless the list is in one of `states`."""
    allowed = set(states)
    if dlist.state not in allowed:
        raise WrongState(_("List #%(list)s is “%(state)s”: %(step)s is not possible now (the list must be %(allowed)s). "
                           "Reload the page to see the list's current step.", list=dlist.id,
                           state=label("list_state", dlist.state), step=str(STEPS[step]),
                           allowed=", ".join(label("list_state", s) for s in sorted(allowed))))


def _may_sign(actor: User, dlist: DestructionList, role: SignRole) -> None:
    refusal = may_sign(actor, dlist, role)
    if refusal is not None:
        raise SignatureRefused(refusal)


def _audit(session: Session, actor: User | None, action: str, dlist: DestructionList, ip: str | None,
           detail: dict[str, object]) -> None:
    audit.record(session, actor, action, object_type=OBJECT_TYPE, object_id=dlist.id, ip=ip,
                 detail={"state": dlist.state, **detail})


