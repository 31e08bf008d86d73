"""The search engine core (docsvc.search) on a small file of synthetic Chinese utility pages."""

from __future__ import annotations

import gc
import json
import re
import threading
from datetime import date
from pathlib import Path

import pytest

from docsvc import i18n
from docsvc.search import PageRecord, QueryError, SearchIndex, access_restriction
from docsvc.search.collect import Limits
from docsvc.search.index import VERSION_FILE

CJK = re.compile(r"[\u4e00-\u9fff]")
WANG = dict(customer_name="王建国", customer_account="3301234567")


def _pages() -> list[PageRecord]:
    def p(page_id, document_id, number, text, **meta):
        return PageRecord(page_id=page_id, document_id=document_id, page_number=number, text=text, **meta)

    d1 = dict(doc_type="HT", doc_date=date(2019, 5, 10), reference_code="J001-KH·2019-D30-YX-0001", **WANG)
    d2 = dict(doc_type="JC", doc_date=date(2020, 8, 1), customer_name="李红", customer_account="3307654321")
    d3 = dict(doc_type="JL", doc_date=date(2021, 3, 15), **WANG)
    d4 = dict(doc_type="WY", doc_date=date(2018, 11, 20), customer_name="陈明", customer_account="3309999888")
    d5 = dict(doc_type="ZJ", doc_date=date(2019, 5, 1), sensitive=True, **WANG)
    d6 = dict(doc_type="HT", doc_date=date(2022, 1, 10), customer_name="杭州纺织厂", customer_account="3305550001")
    d7 = dict(doc_type="SQ", doc_date=date(2015, 6, 2), customer_name="周芳", customer_account="3301112222")
    d8 = dict(doc_type="BG", doc_date=date(2023, 2, 1), **WANG)
    d9 = dict(doc_type="QT", doc_date=date(2017, 9, 9))
    pages = [
        p(1, 1, 1, "供用电合同\n合同编号：ＧＤ－２０１９－００４５１２\n本合同产权分界点位于10kV城东线第12号杆。", **d1),
        p(2, 1, 2, "供电方式为高压单电源，用电类别为工业用电，合同容量630千伏安。", **d1),
        p(3, 1, 3, "电费结算方式为银行代扣。本合同一式两份。", **d1),
        # tesseract chi_sim output: a space between every Chinese character
        p(4, 2, 1, "用 电 检 查 单\n检 查 发 现 产 权 分 界 点 设 备 运 行 正 常 。", **d2),
        p(5, 2, 2, "检查人员：张伟。检查结果：存在安全隐患，已下达整改通知书。", **d2),
        p(6, 3, 1, "计量装置装拆表工作单 电能表号 3300012345678 电流互感器变比 200/5", **d3),
        p(7, 3, 2, "旧表止码12345，新表起码0，装表人员赵强。", **d3),
        p(8, 4, 1, "经核实，用电人存在绕越计量装置用电的行为，追补电费12000元。", **d4),
        p(9, 4, 2, "违约用电通知书 编号 WY-2018-000077", **d4),
        p(10, 5, 1, "居民身份证 姓名 王建国 公民身份号码 330102198001011234", **d5),
        p(11, 6, 1, "供用电合同 合同编号GD-2022-000123 产权分界点位于江北线第3号杆。", **d6),
        p(12, 6, 2, "双方应共同遵守供电营业规则。", **d6),
        p(13, 7, 1, "用电申请书 申请新装220V居民生活用电，申请人周芳。", **d7),
        p(14, 8, 1, "客户信息变更单 原户名王建华，变更后户名王建国，增容至800千伏安。", **d8),
        p(15, 9, 1, "备注 <b>加急</b> 处理", **d9),
    ]
    pages += [p(15 + n, 9, 1 + n, f"其他说明材料第{n}页，内容为档案整理记录。", **d9) for n in range(1, 16)]
    return pages


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> SearchIndex:
    ix = SearchIndex(tmp_path_factory.mktemp("search"), type_aliases={"合同": "HT", "检查": "JC"})
    ix.add_pages(_pages())
    return ix


def _page_ids(index: SearchIndex, q: str, **kw) -> set[int]:
    res = index.search(q, per_page=100, **kw)
    ids = {h.page_id for d in res.documents for h in d.pages}
    assert len(ids) == res.total_pages  # fixture documents are short enough to list every page
    return ids


WANG_PAGES = {1, 2, 3, 6, 7, 10, 14}
ALL_PAGES = set(range(1, 31))

QUERY_TABLE = [
    ("产权分界点", {1, 4, 11}),                      # inside 本合同产权分界点位于…, and spaced OCR text
    ("合同产权分界", {1}),                           # crosses jieba word boundaries
    ("界点设", {4}),
    ("分界点位于10kV", {1}),                        # Chinese then Latin, no space
    ('"产权 分界点"', {1, 4, 11}),                  # spaces inside a quoted phrase are optional
    ("产权分界点位于江北线", {11}),
    ('"检查人员 张伟"', {5}),                          # punctuation between phrase tokens is skipped
    ('"供电方式 高压单电源"', set()),                  # …but a character between them is not
    ("10KV", {1}),                                   # Latin case-folding
    ("王", WANG_PAGES),                              # single character; name is in metadata too
    ("芳", {13}),
    ("客户:王建国", WANG_PAGES),
    ("GD-2019-004512", {1}),                         # page has full-width ＧＤ－２０１９－００４５１２
    ("ＧＤ－２０１９－００４５１２", {1}),
    ("gd/2019/004512", {1}),
    ("004512", {1}),                                 # trailing part of an identifier
    ("2019-004512", {1}),
    ("wy-2018-000077", {9}),
    ("000077", {9}),
    ("户号:3301234567", WANG_PAGES),
    ("1234567", WANG_PAGES),                          # 7-digit tail of 户号 3301234567
    ("2345678", {6}),                                 # tail of meter number 3300012345678
    ("330123", set()),                                # a leading part of a number is not a tail
    ("档号:J001-KH·2019-D30-YX-0001", {1, 2, 3}),
    ("档号:yx-0001", {1, 2, 3}),
    ("电能表号", {6}),
    ("产权分界点 -检查", {1, 11}),
    ("产权分界点 NOT 检查", {1, 11}),
    ("-王 类型:HT", {11, 12}),
    ("类型:HT", {1, 2, 3, 11, 12}),
    ("类型:合同 产权分界点", {1, 11}),
    ("type:jc,wy", {4, 5, 8, 9}),
    ("2019..2020", {1, 2, 3, 4, 5, 10}),
    ("2021..", {6, 7, 11, 12, 14}),
    ("日期:2019-05", {1, 2, 3, 10}),
    ("产权分界点 2019..2021", {1, 4}),
    ("绕越 OR 整改", {5, 8}),
    ("(绕越 OR 整改) 年:2020", {5}),
    ("绕越 AND 追补电费", {8}),
    ("不存在的内容", set()),
    ("NOT 说明材料", ALL_PAGES - set(range(16, 31))),
]


@pytest.mark.parametrize("q,expected", QUERY_TABLE, ids=[q for q, _ in QUERY_TABLE])
def test_query_table_returns_exactly_the_expected_pages(index, q, expected):
    assert _page_ids(index, q) == expected


@pytest.mark.parametrize("q", ['"产权', "(产权", "产权)", "foo:bar", "AND 产权", "产权 OR", "NOT", "()",
                               "2021..2019", "日期:2019-13", "年:去年", "，。！", "", "   ", "客户:", "x" * 501])
def test_malformed_query_raises_query_error_in_the_readers_language(index, q):
    with pytest.raises(QueryError) as chinese:
        index.search(q)
    with i18n.using("en"), pytest.raises(QueryError) as english:
        index.search(q)
    assert set(CJK.findall(str(chinese.value))) - set(q)  # Chinese by default, beyond what was typed
    assert str(english.value) != str(chinese.value) and re.search(r"[a-z]{4,}", str(english.value))


def test_bad_paging_or_sort_is_a_query_error(index):
    for kwargs in ({"page": 0}, {"per_page": 0}, {"per_page": 1000}, {"sort": "name"}):
        with pytest.raises(QueryError):
            index.search("产权", **kwargs)


def test_facets_count_every_matching_page_not_only_the_shown_ones(index):
    res = index.search("产权分界点", per_page=1)
    assert len(res.documents) == 1
    assert res.total_pages == 3 and res.total_documents == 3
    assert res.facets == {"type": {"HT": 2, "JC": 1}, "year": {"2019": 1, "2020": 1, "2022": 1}}


def test_results_group_matching_pages_by_document(index):
    res = index.search("类型:HT")
    assert res.total_documents == 2 and res.total_pages == 5
    by_doc = {d.document_id: [p.page_number for p in d.pages] for d in res.documents}
    assert by_doc == {1: [1, 2, 3], 6: [1, 2]}
    doc1 = next(d for d in res.documents if d.document_id == 1)
    assert doc1.matching_pages == 3 and doc1.customer_name == "王建国" and doc1.doc_type == "HT"
    assert doc1.doc_date == date(2019, 5, 10)


def test_sort_by_date_puts_newest_document_first_and_pages_paginate_by_document(index):
    res = index.search("类型:HT", sort="date", per_page=1)
    assert [d.document_id for d in res.documents] == [6]
    second = index.search("类型:HT", sort="date", per_page=1, page=2)
    assert [d.document_id for d in second.documents] == [1]
    beyond = index.search("类型:HT", sort="date", per_page=1, page=3)
    assert beyond.documents == [] and beyond.total_documents == 2


def test_snippet_marks_the_hit_and_escapes_page_html(index):
    res = index.search("产权分界点")
    page1 = next(p for d in res.documents for p in d.pages if p.page_id == 1)
    assert "本合同<mark>产权分界点</mark>位于" in page1.snippet
    assert page1.highlights == ["产权分界点"]
    spaced = next(p for d in res.documents for p in d.pages if p.page_id == 4)
    assert "<mark>产权分界点</mark>" in spaced.snippet  # spaces between characters removed
    html_page = index.search("加急").documents[0].pages[0]
    assert html_page.snippet == "备注 &lt;b&gt;<mark>加急</mark>&lt;/b&gt; 处理"


def test_identifier_hit_is_marked_as_it_reads_on_the_page(index):
    page = index.search("004512").documents[0].pages[0]
    assert "GD-2019-<mark>004512</mark>" in page.snippet and page.highlights == ["004512"]


def test_sensitive_page_snippet_is_masked_unless_caller_allows_it(index):
    masked = index.search("身份证").documents[0].pages[0]
    assert masked.masked and "330102" not in masked.snippet and masked.highlights == []
    shown = index.search("身份证", mask_sensitive=False).documents[0].pages[0]
    assert not shown.masked and "<mark>身份证</mark>" in shown.snippet


def test_restriction_excludes_hidden_pages_from_totals_and_facets(index):
    no_inspections = access_restriction(allowed_types=["HT", "JL", "ZJ"])
    res = index.search("产权分界点", restrict=no_inspections)
    assert res.total_pages == 2 and res.facets["type"] == {"HT": 2}
    hidden = access_restriction(hidden_document_ids=[1])
    assert _page_ids(index, "产权分界点", restrict=hidden) == {4, 11}
    only_doc6 = access_restriction(allowed_document_ids=[6])
    assert _page_ids(index, "NOT 不存在", restrict=only_doc6) == {11, 12}
    assert index.search("产权分界点", restrict=access_restriction(allowed_types=[])).total_pages == 0


def test_upsert_replaces_a_page_and_delete_removes_it(tmp_path):
    ix = SearchIndex(tmp_path)
    ix.add_pages([PageRecord(1, 1, 1, "旧的文字产权分界点")])
    ix.add_pages([PageRecord(1, 1, 1, "新的文字计量装置")])
    gc.collect()  # superseded searchers are dropped; cached columns must still read
    assert ix.search("产权分界点").total_pages == 0
    assert ix.search("计量装置").total_pages == 1
    assert list(ix.indexed_page_ids()) == [1]
    assert ix.delete_pages([1, 99]) == 1
    assert ix.search("计量装置").total_pages == 0 and list(ix.indexed_page_ids()) == []


def test_failed_batch_commits_nothing_and_index_keeps_serving(tmp_path):
    ix = SearchIndex(tmp_path)
    ix.add_pages([PageRecord(1, 1, 1, "产权分界点")])
    broken = PageRecord(3, 2, 2, "坏页", doc_date="2019-01-01")  # not a date: fails inside the writer
    with pytest.raises(AttributeError):
        ix.add_pages([PageRecord(2, 2, 1, "产权分界点第二页"), broken])
    assert _page_ids(ix, "产权分界点") == {1}
    ix.add_pages([PageRecord(2, 2, 1, "产权分界点第二页")])  # the lock was released
    assert _page_ids(ix, "产权分界点") == {1, 2}


def test_searches_keep_answering_while_another_thread_commits(tmp_path):
    ix = SearchIndex(tmp_path)
    ix.add_pages(_pages())
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer():
        try:
            for batch in range(15):
                ix.add_pages([PageRecord(1000 + batch * 10 + i, 100 + batch, i, f"填充页{batch}号{i}")
                              for i in range(10)])
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            stop.set()

    thread = threading.Thread(target=writer)
    thread.start()
    answers = 0
    while not stop.is_set() or answers < 5:
        assert _page_ids(ix, "产权分界点") == {1, 4, 11}
        answers += 1
    thread.join()
    assert not errors
    assert ix.search("填充页").total_pages == 150


def _source(pages: list[PageRecord], fail_after: int | None = None, calls: list | None = None):
    def source(after: int | None):
        if calls is not None:
            calls.append(after)
        for n, page in enumerate(p for p in pages if after is None or p.page_id > after):
            if fail_after is not None and n == fail_after:
                raise RuntimeError("database connection lost")
            yield page
    return source


def test_interrupted_rebuild_resumes_without_duplicates_and_old_index_serves_meanwhile(tmp_path):
    ix = SearchIndex(tmp_path)
    ix.add_pages([PageRecord(500, 50, 1, "旧索引里的页面")])
    pages = _pages()
    calls: list = []
    with pytest.raises(RuntimeError):
        ix.rebuild(_source(pages, fail_after=17, calls=calls), commit_every=5)
    assert ix.search("旧索引").total_pages == 1          # the live index was never touched
    assert ix.search("产权分界点").total_pages == 0

    ix.rebuild(_source(pages, calls=calls), commit_every=5)
    assert calls == [None, 15]                           # resumed after the last committed page
    ids = list(ix.indexed_page_ids())
    assert sorted(ids) == [p.page_id for p in pages]     # complete, no duplicates
    assert ix.search("旧索引").total_pages == 0
    assert _page_ids(ix, "产权分界点") == {1, 4, 11}


def test_pages_changed_during_rebuild_are_refetched_before_swap(tmp_path):
    ix = SearchIndex(tmp_path)
    pages = _pages()
    latest = {p.page_id: p for p in pages}

    def source(after):
        for page in pages:
            if page.page_id == 20:  # meanwhile the worker re-indexes page 2 and deletes page 3
                latest[2] = PageRecord(2, 1, 2, "改过的页面内容")
                del latest[3]
                ix.add_pages([latest[2]])
                ix.delete_pages([3])
            yield page

    ix.rebuild(source, commit_every=5, refetch=lambda ids: [latest[i] for i in ids if i in latest])
    assert _page_ids(ix, "改过的页面") == {2}
    assert 3 not in set(ix.indexed_page_ids())


def test_schema_version_change_requires_rebuild(tmp_path):
    ix = SearchIndex(tmp_path)
    assert not ix.needs_rebuild()
    version_file = ix.current_directory() / VERSION_FILE
    version_file.write_text(json.dumps({"schema_version": 0}))  # as written by an older release
    assert ix.needs_rebuild()
    ix.rebuild(_source(_pages()))
    assert not ix.needs_rebuild()
    assert SearchIndex(Path(tmp_path)).search("产权分界点").total_pages == 3


def _phrase_and_decoy_pages() -> list[PageRecord]:
    """60 documents of two pages: odd pages hold 产权分界点, even ones all its bigrams out of
    order (candidates that fail confirmation). Documents 1–10 are HT, the rest JC; newer ids
    have later dates."""
    pages = []
    for page_id in range(1, 121):
        doc = (page_id + 1) // 2
        text = f"本合同产权分界点位于城东线第{page_id}号杆。" if page_id % 2 else f"分界点与产权、权分不清，第{page_id}号。"
        pages.append(PageRecord(page_id, doc, 2 - page_id % 2, text, doc_type="HT" if doc <= 10 else "JC",
                                doc_date=date(2000 + doc // 12, 1 + doc % 12, 1)))
    return pages


MATCHING = set(range(1, 121, 2))


def test_too_many_candidates_give_an_estimate_and_exact_shown_documents(tmp_path):
    few = SearchIndex(tmp_path / "few", count_limits=Limits(exact=10, confirm_best=6, chunk=4, sample=20, settle=8))
    few.add_pages(_phrase_and_decoy_pages())
    exact = SearchIndex(tmp_path / "all")
    exact.add_pages(_phrase_and_decoy_pages())

    counted = exact.search("产权分界点")
    assert not counted.approximate and counted.total_pages == 60 and counted.total_documents == 60
    estimated = few.search("产权分界点", per_page=3)
    assert estimated.approximate and estimated.total_pages != 120           # decoys are not counted
    assert 45 <= estimated.total_pages <= 75 and 45 <= estimated.total_documents <= 75
    assert sum(estimated.facets["type"].values()) == pytest.approx(estimated.total_pages, abs=2)
    for document in estimated.documents:                                     # what is shown is exact
        assert {p.page_id for p in document.pages} <= MATCHING and document.matching_pages == 1
    for page in (1, 2, 7):
        newest = few.search("产权分界点", sort="date", per_page=3, page=page)
        assert [d.document_id for d in newest.documents] == \
            [d.document_id for d in exact.search("产权分界点", sort="date", per_page=3, page=page).documents]


def test_estimate_counts_only_pages_the_user_may_read(tmp_path):
    ix = SearchIndex(tmp_path, count_limits=Limits(exact=4, confirm_best=2, chunk=2, sample=4, settle=4))
    ix.add_pages(_phrase_and_decoy_pages())
    readable = access_restriction(allowed_document_ids=range(1, 11))        # the HT documents
    res = ix.search("产权分界点", content_within=readable, per_page=2)
    assert res.approximate
    assert set(res.facets["type"]) == {"HT"} and res.total_pages <= 20      # JC pages never counted
    assert {p.page_id for d in res.documents for p in d.pages} <= {p for p in MATCHING if p <= 20}


def test_small_commits_are_merged_without_losing_or_duplicating_pages(tmp_path):
    ix = SearchIndex(tmp_path)
    pages = _phrase_and_decoy_pages()
    for start in range(0, 120, 10):
        ix.add_pages(pages[start:start + 10])
        ix.add_pages(pages[max(0, start - 5):start + 2])       # replaced pages sit in older segments
    assert ix.segment_count() < 10                              # merged once ten small ones piled up
    assert sorted(ix.indexed_page_ids()) == list(range(1, 121))
    assert _page_ids(ix, "产权分界点") == MATCHING
