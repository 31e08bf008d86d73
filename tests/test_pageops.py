"""Page operations and suggestions: page counts, numbering and the search index stay in step."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from docsvc.config import FilingSettings
from docsvc.constants import IndexState
from docsvc.errors import NotAllowedNow
from docsvc.models import AuditEvent, Document, DocumentType
from docsvc.files import filing, pageops, suggestions
from docsvc.files.customers import AccountRule, create_customer, get_customer
from docsvc.pipeline.indexing import index_pending
from tests.factories import add_document

TEXTS = ["户号：3000000001 户名：宏达机械制造有限公司 用电申请书", "合同编号：GD-2019-004512 第二页",
         "第三页 产权分界点", "第四页 计量装置"]


def _document(session, texts: list[str], key: str = "a") -> Document:  # type: ignore[no-untyped-def]
    d = add_document(session, key=key, texts=texts, index_state=IndexState.PENDING)
    session.commit()
    session.refresh(d)
    return d


def _numbers(d: Document) -> list[tuple[int, str]]:
    return [(p.number, p.text[:3]) for p in pageops.live_pages(d)]


def test_split_merge_move_reorder_keep_counts_and_numbers(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        a = _document(s, TEXTS)
        b = pageops.split(s, None, a, 3)
        assert (a.page_count, b.page_count) == (2, 2)
        assert [p.source_index for p in pageops.live_pages(b)] == [2, 3]
        pageops.move_page(s, None, pageops.live_pages(b)[0], a, 1)
        assert _numbers(a) == [(1, "第三页"), (2, "户号："), (3, "合同编")] and b.page_count == 1
        pageops.reorder(s, None, a, [p.id for p in reversed(pageops.live_pages(a))])
        assert [t for _, t in _numbers(a)] == ["合同编", "户号：", "第三页"]
        other = _document(s, ["另一份扫描"], key="b")
        pageops.merge(s, None, a, other)
        assert a.page_count == 4 and s.get(Document, other.id) is None
        moved_in = pageops.live_pages(a)[-1]
        assert moved_in.source_key == "originals/b"  # a page from another scan keeps its own original
        actions = s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
        assert actions == ["document.split", "page.move", "document.reorder", "document.merge"]


def test_rotation_is_a_stored_view_and_deleted_pages_wait_in_the_bin(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        a = _document(s, TEXTS)
        page = pageops.live_pages(a)[1]
        pageops.rotate(s, None, page, 90)
        pageops.rotate(s, None, page, 270)
        pageops.rotate(s, None, page, 180)
        assert page.view_rotation == 180 and page.rotation == 0
        pageops.bin_page(s, None, page)
        assert a.page_count == 3 and [n for n, _ in _numbers(a)] == [1, 2, 3]
        assert page in pageops.binned_pages(s)
        pageops.restore_page(s, None, page)
        assert a.page_count == 4 and page.number == 4
        c = create_customer(s, None, AccountRule(r"^\d{10}$"), "3000000001", {"name": "宏达机械制造有限公司"})
        filing.file_document(s, None, a, c, s.get(DocumentType, "SQ"), FilingSettings())
        s.commit()
        with pytest.raises(NotAllowedNow):
            pageops.bin_page(s, None, page)


def test_relinking_and_page_operations_update_the_search_index(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = embedded_runtime
    with rt.sessions() as s:
        a = _document(s, TEXTS)
        index_pending(s, rt.index)
        c = create_customer(s, None, AccountRule(r"^\d{10}$"), "3000000001", {"name": "宏达机械制造有限公司"})
        filing.file_document(s, None, a, c, s.get(DocumentType, "SQ"), FilingSettings())
        s.commit()
        assert {p.index_state for p in a.pages} == {IndexState.PENDING}
        index_pending(s, rt.index)
        hit = rt.index.search("产权分界点").documents[0]
        assert (hit.customer_account, hit.doc_type, hit.reference_code) == ("3000000001", "SQ", a.reference_code)
        assert hit.customer_name == "宏达机械制造有限公司"
        filing.unfile_document(s, None, a, reason="拆分更正")  # a filed document keeps its pages until unfiled
        s.commit()
        b = pageops.split(s, None, a, 3)
        index_pending(s, rt.index)
        hit = rt.index.search("产权分界点").documents[0]
        assert hit.document_id == b.id and hit.pages[0].page_number == 1
        pageops.bin_page(s, None, pageops.live_pages(b)[0])
        index_pending(s, rt.index)
        assert rt.index.search("产权分界点").total_pages == 0


def test_suggestions_come_from_the_text_and_only_confident_ones_file(embedded_runtime) -> None:  # type: ignore[no-untyped-def]
    with embedded_runtime.sessions() as s:
        rule = AccountRule(r"^\d{10}$")
        create_customer(s, None, rule, "3000000001", {"name": "宏达机械制造有限公司"})
        create_customer(s, None, rule, "3000000002", {"name": "绿源食品加工厂"})
        a = _document(s, TEXTS[:1])
        best = suggestions.suggest(s, a)[0]
        assert best.account == "3000000001" and best.confidence >= 0.95
        only_name = _document(s, ["申请人：绿源食品加工厂 申请新装"], key="c")
        guess = suggestions.suggest(s, only_name)[0]
        assert guess.account == "3000000002" and guess.confidence < 0.95
        for d in (a, only_name):
            d.doc_type = "SQ"
        s.commit()
        s.refresh(a)
        s.refresh(only_name)
        assert suggestions.autofile(s, a, FilingSettings()) is True
        assert suggestions.autofile(s, only_name, FilingSettings()) is False
        assert suggestions.autofile(s, only_name, FilingSettings(autofile_confidence=0.5)) is True
        s.commit()
        assert get_customer(s, "3000000002").id == only_name.customer_id
