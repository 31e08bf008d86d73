"""The procedure an auditor checks: two-person rules, holds, the waiting period, rejection, cancel,
the one way to delete content, and destroyed content uploaded again."""
from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from docsvc import i18n
from docsvc.constants import ItemResult, ListState
from docsvc.files import pageops
from docsvc.governance import disposition
from docsvc.governance.disposition import DecisionInput, DestructionError, SignatureRefused, WaitingPeriod, WrongState
from workers.queues import InProcessJobQueue
from docsvc.models import AuditEvent, BatchFile, DestructionList, Document, Hold, HoldTarget, utcnow
from docsvc.pipeline.intake import DestroyedContent, Upload, receive
from docsvc.runtime import Runtime
from tests.destruction_setup import due_document, people, supervised, text_pdf
from workers.jobs import execute_destruction

pytestmark = pytest.mark.integration   # executes erasure: register PDFs read tesseract's font, objects, index


@pytest.fixture
def two_due(embedded_runtime: Runtime, tmp_path: Path) -> tuple[int, int]:
    rt = embedded_runtime
    return (due_document(rt, tmp_path, "a.pdf", ["用电检查单 甲"]), due_document(rt, tmp_path, "b.pdf", ["用电检查单 乙"]))


def _submitted(rt: Runtime, who, ids: list[int]) -> int:  # type: ignore[no-untyped-def]
    with rt.sessions() as s:
        dlist = disposition.create_list(s, s.merge(who.rm), ids, index=rt.index)
        disposition.appraise(s, s.merge(who.appraiser), dlist, [DecisionInput(i, "destroy") for i in ids])
        disposition.submit(s, s.merge(who.rm), dlist)
        return dlist.id


def _hold(rt: Runtime, document_id: int) -> None:
    with rt.sessions() as s:
        hold = Hold(name="窃电案件 2026-017", reason="客户对窃电认定有争议，诉讼中")
        s.add(hold)
        s.flush()
        s.add(HoldTarget(hold_id=hold.id, document_id=document_id))
        s.commit()


def test_the_compiler_cannot_approve_and_supervisors_must_be_two_other_people(
        embedded_runtime: Runtime, two_due: tuple[int, int]) -> None:
    rt = embedded_runtime
    who = people(rt)
    with rt.sessions() as s:
        # The compiler holds the approver role too: still refused for their own list.
        who.rm.roles = "records_manager approver supervisor"
        s.merge(who.rm)
        s.commit()
    list_id = _submitted(rt, who, list(two_due))
    with rt.sessions() as s:
        dlist = s.get(DestructionList, list_id)
        with pytest.raises(SignatureRefused, match="编制人不能审批"):
            disposition.approve(s, s.merge(who.rm), dlist, rt.settings)  # type: ignore[arg-type]
        with pytest.raises(SignatureRefused, match="没有审批权限"):
            disposition.approve(s, s.merge(who.sup1), dlist, rt.settings)  # type: ignore[arg-type]
        disposition.approve(s, s.merge(who.leader), dlist, rt.settings)  # type: ignore[arg-type]
        with pytest.raises(SignatureRefused, match="编制人不能监销"):
            disposition.supervise(s, s.merge(who.rm), dlist)  # type: ignore[arg-type]
        disposition.supervise(s, s.merge(who.sup1), dlist)  # type: ignore[arg-type]
        with pytest.raises(SignatureRefused, match="已经作为监销人确认过"):
            disposition.supervise(s, s.merge(who.sup1), dlist)  # type: ignore[arg-type]
        assert dlist.state == ListState.APPROVED  # type: ignore[union-attr]
        with pytest.raises(WrongState):
            disposition.start_execution(s, s.merge(who.rm), dlist, InProcessJobQueue(1))  # type: ignore[arg-type]
        disposition.supervise(s, s.merge(who.sup2), dlist)  # type: ignore[arg-type]
        assert dlist.state == ListState.SUPERVISED  # type: ignore[union-attr]
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "destruction_list")
                                 .order_by(AuditEvent.seq)))
    assert actions == ["destruction.create", "destruction.appraise", "destruction.submit", "destruction.approve",
                       "destruction.supervise", "destruction.supervise"]


def test_the_approver_cannot_also_supervise(embedded_runtime: Runtime, two_due: tuple[int, int]) -> None:
    rt = embedded_runtime
    who = people(rt)
    with rt.sessions() as s:
        who.leader.roles = "approver supervisor"
        s.merge(who.leader)
        s.commit()
    list_id = _submitted(rt, who, list(two_due))
    with rt.sessions() as s:
        dlist = s.get(DestructionList, list_id)
        disposition.approve(s, s.merge(who.leader), dlist, rt.settings)  # type: ignore[arg-type]
        with pytest.raises(SignatureRefused, match="不能再作监销人"):
            disposition.supervise(s, s.merge(who.leader), dlist)  # type: ignore[arg-type]


def test_a_held_document_cannot_be_listed(embedded_runtime: Runtime, two_due: tuple[int, int]) -> None:
    rt = embedded_runtime
    who = people(rt)
    _hold(rt, two_due[1])
    with rt.sessions() as s, pytest.raises(DestructionError, match=f"#{two_due[1]}: 处于冻结中"):
        disposition.create_list(s, s.merge(who.rm), list(two_due), index=rt.index)


def test_permanent_not_due_and_already_listed_documents_cannot_be_listed(
        embedded_runtime: Runtime, two_due: tuple[int, int]) -> None:
    rt = embedded_runtime
    who = people(rt)
    first, second = two_due
    with rt.sessions() as s:
        s.get(Document, first).retention = "Y"  # type: ignore[union-attr]
        s.get(Document, second).retention_status = "running"  # type: ignore[union-attr]
        s.commit()
        with pytest.raises(DestructionError) as refused:
            disposition.create_list(s, s.merge(who.rm), [first, second], index=rt.index)
        assert "永久" in str(refused.value) and "尚未到期" in str(refused.value)
        s.get(Document, first).retention = "D10"  # type: ignore[union-attr]
        s.commit()
        disposition.create_list(s, s.merge(who.rm), [first], index=rt.index)
        with pytest.raises(DestructionError, match="已在销毁清册"):
            disposition.create_list(s, s.merge(who.rm), [first], index=rt.index)


def test_a_hold_placed_after_approval_stops_that_item_at_execution(
        embedded_runtime: Runtime, two_due: tuple[int, int]) -> None:
    rt = embedded_runtime
    who = people(rt)
    first, second = two_due
    list_id = supervised(rt, who, [first, second])
    _hold(rt, second)
    with rt.sessions() as s:
        held_keys = [p.image_key for p in s.get(Document, second).pages]  # type: ignore[union-attr]
    execute_destruction(list_id)
    with rt.sessions() as s:
        dlist = s.get(DestructionList, list_id)
        assert [(i.document_id, i.result) for i in dlist.items] == [  # type: ignore[union-attr]
            (first, ItemResult.DESTROYED), (second, ItemResult.HELD)]
        assert dlist.state == ListState.EXECUTED  # type: ignore[union-attr]
        # Why it was passed over is kept as the message, so each reader sees it in their language.
        assert disposition.passed_over(dlist.items[1]).startswith(i18n.STORED)  # type: ignore[union-attr]
        assert _passed_over_reason(dlist) == "处于冻结中，解除冻结前不能销毁。"
        with i18n.using("en"):
            assert _passed_over_reason(dlist) == "Under a hold; it cannot be destroyed until released."
        kept = s.get(Document, second)
        assert kept.destroyed_at is None and kept.pages and kept.pages[0].text  # type: ignore[union-attr]
    assert all(rt.store.exists(k) for k in held_keys)
    assert rt.index.search("用电检查单 乙").total_documents == 1


def _passed_over_reason(dlist: DestructionList) -> object:
    """What the API says of the list's second item: why execution left it."""
    return disposition.list_json(dlist)["items"][1]["result_detail"]["reason"]  # type: ignore[index]


def test_supervision_waits_for_the_waiting_period(embedded_runtime: Runtime, two_due: tuple[int, int]) -> None:
    rt = embedded_runtime
    who = people(rt)
    settings = rt.settings.with_(destruction_wait_days=7)
    list_id = _submitted(rt, who, list(two_due))
    approved_at = utcnow()
    with rt.sessions() as s:
        dlist = s.get(DestructionList, list_id)
        disposition.approve(s, s.merge(who.leader), dlist, settings, now=approved_at)  # type: ignore[arg-type]
        with pytest.raises(WaitingPeriod, match="等待期"):
            disposition.supervise(s, s.merge(who.sup1), dlist, now=approved_at + timedelta(days=6))  # type: ignore[arg-type]
        disposition.supervise(s, s.merge(who.sup1), dlist, now=approved_at + timedelta(days=7))  # type: ignore[arg-type]
        assert len(disposition.supervisors(dlist)) == 1  # type: ignore[arg-type]


def test_a_rejected_list_goes_back_with_its_reason_and_can_be_submitted_again(
        embedded_runtime: Runtime, two_due: tuple[int, int]) -> None:
    rt = embedded_runtime
    who = people(rt)
    first, second = two_due
    list_id = _submitted(rt, who, [first, second])
    with rt.sessions() as s:
        dlist = s.get(DestructionList, list_id)
        with pytest.raises(DestructionError, match="理由"):
            disposition.reject(s, s.merge(who.leader), dlist, " ")  # type: ignore[arg-type]
        disposition.reject(s, s.merge(who.leader), dlist, "第二件仍有欠费争议，请重新鉴定")  # type: ignore[arg-type]
        assert (dlist.state, dlist.rejection_reason) == (ListState.REJECTED, "第二件仍有欠费争议，请重新鉴定")  # type: ignore[union-attr]
        with pytest.raises(DestructionError, match="须写明理由"):
            disposition.appraise(s, s.merge(who.appraiser), dlist, [DecisionInput(second, "keep")])  # type: ignore[arg-type]
        with pytest.raises(DestructionError, match="新到期日"):
            disposition.appraise(s, s.merge(who.appraiser), dlist,  # type: ignore[arg-type]
                                 [DecisionInput(second, "extend", date(2000, 1, 1), "欠费")])
        disposition.appraise(s, s.merge(who.appraiser), dlist, [DecisionInput(second, "keep", reason="欠费争议")])  # type: ignore[arg-type]
        disposition.submit(s, s.merge(who.rm), dlist)  # type: ignore[arg-type]
        disposition.approve(s, s.merge(who.leader), dlist, rt.settings)  # type: ignore[arg-type]
        assert s.get(Document, second).keep_permanently is True  # type: ignore[union-attr]
        assert disposition.list_json(dlist)["progress"]["total"] == 1  # type: ignore[arg-type, index]


def test_a_list_can_be_cancelled_until_execution_starts(embedded_runtime: Runtime, two_due: tuple[int, int]) -> None:
    rt = embedded_runtime
    who = people(rt)
    list_id = _submitted(rt, who, [two_due[0]])
    with rt.sessions() as s:
        dlist = s.get(DestructionList, list_id)
        disposition.cancel(s, s.merge(who.rm), dlist, "鉴定小组成员变更，重新编制")  # type: ignore[arg-type]
        assert dlist.state == ListState.CANCELLED  # type: ignore[union-attr]
        # Cancelled: the document may go on a new list.
        disposition.create_list(s, s.merge(who.rm), [two_due[0]], index=rt.index)
    executing = supervised(rt, who, [two_due[1]])
    with rt.sessions() as s, pytest.raises(WrongState, match="取消"):
        disposition.cancel(s, s.merge(who.rm), s.get(DestructionList, executing), "太迟了")  # type: ignore[arg-type]


def test_purge_is_refused_for_a_page_of_a_filed_document(embedded_runtime: Runtime, two_due: tuple[int, int]) -> None:
    rt = embedded_runtime
    with rt.sessions() as s:
        page = s.get(Document, two_due[0]).pages[0]  # type: ignore[union-attr]
        page.binned_at = utcnow()  # even one that reached the bin before its document was filed
        s.commit()
        with pytest.raises(Exception, match="只能经销毁清册"):
            pageops.purge_page(s, rt.store, None, page)
        assert rt.store.exists(page.image_key)  # type: ignore[arg-type]


def test_destroyed_content_uploaded_again_is_refused_without_a_reason(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    who = people(rt)
    texts = ["用电检查单 戊"]
    doomed = due_document(rt, tmp_path, "e.pdf", texts)
    list_id = supervised(rt, who, [doomed])
    execute_destruction(list_id)
    data = text_pdf(tmp_path, texts)
    idle = InProcessJobQueue(1)
    with rt.sessions() as s:
        with pytest.raises(DestroyedContent, match=f"销毁清册 #{list_id}") as refused:
            receive(s, rt.store, idle, [Upload("again.pdf", io.BytesIO(data))], source="web")
        assert f"{utcnow():%Y-%m-%d}" in str(refused.value)
        assert list(rt.store.list("originals/")) == []  # not kept because it was sent again
        batch = receive(s, rt.store, idle, [Upload("again.pdf", io.BytesIO(data))], source="web",
                        reason_for_destroyed="诉讼需要，法院调取原件扫描件")
        bf = s.scalars(select(BatchFile).where(BatchFile.batch_id == batch.id)).one()
        assert bf.duplicate_of_id is None and rt.store.exists(bf.original_key)  # type: ignore[arg-type]
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "upload.destroyed_again")).one()
        assert "诉讼需要" in (event.detail or "") and str(list_id) in (event.detail or "")


def test_a_destroyed_documents_stub_can_no_longer_be_edited_unfiled_recoded_or_restricted(
        embedded_runtime: Runtime, tmp_path: Path) -> None:
    from docsvc.config import FilingSettings
    from docsvc.errors import NotAllowedNow
    from docsvc.files import filing
    from docsvc.governance.restriction import set_storage_only

    rt = embedded_runtime
    who = people(rt)
    doomed = due_document(rt, tmp_path, "stub.pdf", ["用电检查单 己"])
    execute_destruction(supervised(rt, who, [doomed]))
    with rt.sessions() as s:
        stub = s.get(Document, doomed)
        code = stub.reference_code  # type: ignore[union-attr]
        attempts = [
            lambda: filing.update_document(s, None, stub, {"title": "改回原题名"}, FilingSettings()),  # type: ignore[arg-type]
            lambda: filing.unfile_document(s, None, stub, reason="更正"),  # type: ignore[arg-type]
            lambda: filing.correct_code(s, None, stub, "J001-KH·2019-D10-YX-9999", "更正", FilingSettings()),  # type: ignore[arg-type]
            lambda: set_storage_only(s, None, stub, True, "不再使用"),  # type: ignore[arg-type]
        ]
        for attempt in attempts:
            with pytest.raises(NotAllowedNow, match="已于 .* 按销毁清册"):
                attempt()
            s.rollback()
        stub = s.get(Document, doomed)
        assert stub.reference_code == code and stub.title == "已销毁 / destroyed" and stub.filed_at  # type: ignore[union-attr]
