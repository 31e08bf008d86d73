"""Search through the API and the web page, on Chinese utility pages sent through the real embedded pipeline.

The pages are text-layer PDFs (fast: no OCR); metadata (customer, date, title) is then set on the
documents the way re-linking does, and the index worker re-indexes them.
"""
from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from docsvc import create_app, db as dbmod
from docsvc.constants import LoanState
from docsvc.models import AuditEvent, Customer, Document, Loan, LoanItem, Page
from docsvc.runtime import Runtime, build_runtime, install
from docsvc.governance.accounts import create_user, find_user, issue_token
from docsvc.pipeline.reindex import reindex_documents
from tests.testdata import make_text_pdf
from tests.conftest import PASSWORD, settings_for, wait_for_batch

CJK = re.compile(r"[\u4e00-\u9fff]")
# file name → (pages, doc type, 户号, 户名, document date)
FILES = {
    "contract.pdf": (["供用电合同\n合同编号：ＧＤ－２０１９－００４５１２\n本合同产权分界点位于10kV城东线第12号杆。",
                      "供电方式为高压单电源，用电类别为工业用电。"], "HT", "3301234567", "王建国", date(2019, 5, 10)),
    "inspection.pdf": (["用电检查单\n检查发现产权分界点设备运行正常。",
                        "检查人员：张伟。存在安全隐患，已下达整改通知书。"], "JC", "3307654321", "李红", date(2020, 8, 1)),
    "theft.pdf": (["经核实，用电人存在绕越计量装置用电的行为，追补电费12000元。",
                   "违约用电通知书 编号 WY-2018-000077"], "WY", "3309999888", "陈明", date(2018, 11, 20)),
    "idcard.pdf": (["居民身份证 姓名 王建国 公民身份号码 330102198001011234"], "ZJ", "3301234567", "王建国",
                   date(2019, 5, 1)),
    "application.pdf": (["用电申请书 申请新装220V居民生活用电，申请人周芳。"], "SQ", "3301112222", "周芳",
                        date(2015, 6, 2)),
}


@dataclass
class Archive:
    rt: Runtime
    client: FlaskClient
    pages: dict[tuple[str, int], int]      # (file, page number) → page id
    documents: dict[str, int]              # file → document id
    tokens: dict[str, str]

    def search(self, q: str, who: str = "archivist", language: str | None = None,  # type: ignore[no-untyped-def]
               **params: object):
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} | ({"Accept-Language": language} if language else {})
        return self.client.get("/api/v1/search", query_string={"q": q, "per_page": 100, **params}, headers=headers)

    def page_ids(self, q: str, who: str = "archivist") -> set[int]:
        response = self.search(q, who)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        ids = {p["page_id"] for d in body["results"] for p in d["pages"]}
        assert len(ids) == body["total"]  # every document here is short enough to list all its pages
        return ids

    def p(self, name: str, number: int = 1) -> int:
        return self.pages[(name, number)]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    tmp = tmp_path_factory.mktemp("search-api")
    rt = build_runtime(settings_for(tmp / "var"))
    dbmod.upgrade(rt.engine)
    install(rt)
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    client = app.test_client()
    tokens = {}
    with rt.sessions() as session:
        for name, roles, grants in (("archivist", ["archivist"], ["sensitive"]), ("operator", ["operator"], []),
                                    ("viewer", ["viewer"], []), ("approver", ["approver"], [])):
            tokens[name] = issue_token(session, create_user(session, name, PASSWORD, roles, grants=grants), "test")
    files = []
    for name, (texts, *_rest) in FILES.items():
        make_text_pdf(texts, tmp / name)
        files.append(("files", (io.BytesIO((tmp / name).read_bytes()), name)))
    auth = {"Authorization": f"Bearer {tokens['operator']}"}
    response = client.post("/api/v1/batches", data={"files": [f for _, f in files]},
                           content_type="multipart/form-data", headers=auth)
    assert response.status_code == 202, response.get_data(as_text=True)
    batch_id = response.get_json()["id"] if "id" in response.get_json() else response.get_json()["batch_id"]
    report = wait_for_batch(lambda: client.get(f"/api/v1/batches/{batch_id}", headers=auth).get_json())
    assert report["status"] == "done", report
    assert rt.jobs.wait_idle(60)
    with rt.sessions() as session:
        documents = {d.title: d for d in session.scalars(select(Document))}
        for name, (_texts, doc_type, account, customer, when) in FILES.items():
            row = session.scalar(select(Customer).where(Customer.account == account))
            if row is None:
                row = Customer(account=account, name=customer)
                session.add(row)
                session.flush()
            doc = documents[name]
            doc.customer_id, doc.customer_account, doc.doc_type, doc.doc_date = row.id, account, doc_type, when
        session.commit()
        reindex_documents(session, rt.jobs, [d.id for d in documents.values()])  # as re-linking does
        pages = {(p.document.title, p.number): p.id for p in session.scalars(select(Page))}
        doc_ids = {name: d.id for name, d in documents.items()}
    assert rt.jobs.wait_idle(60)
    yield Archive(rt, client, pages, doc_ids, tokens)
    rt.close()


# query → the (file, page) pairs it must return, exactly
QUERY_TABLE = [
    ("产权分界点", {("contract.pdf", 1), ("inspection.pdf", 1)}),
    ("合同产权分界", {("contract.pdf", 1)}),                    # crosses jieba word boundaries (合同|产权|分界)
    ("界点设备", {("inspection.pdf", 1)}),
    ("分界点位于10kV", {("contract.pdf", 1)}),
    ("10KV", {("contract.pdf", 1)}),
    ("芳", {("application.pdf", 1)}),                           # a single character (customer name too)
    ("ＧＤ－２０１９－００４５１２", {("contract.pdf", 1)}),       # full-width query; page has full-width too
    ("GD-2019-004512", {("contract.pdf", 1)}),
    ("004512", {("contract.pdf", 1)}),                          # trailing part of the contract number
    ("000077", {("theft.pdf", 2)}),
    ("户号:3307654321", {("inspection.pdf", 1), ("inspection.pdf", 2)}),
    ("户号:7654321", {("inspection.pdf", 1), ("inspection.pdf", 2)}),  # tail of the 户号
    ("客户:陈明", {("theft.pdf", 1), ("theft.pdf", 2)}),
    ("产权分界点 -检查", {("contract.pdf", 1)}),
    ("产权分界点 NOT 检查", {("contract.pdf", 1)}),
    ("类型:WY", {("theft.pdf", 1), ("theft.pdf", 2)}),
    ("类型:供用电合同及协议 产权分界点", {("contract.pdf", 1)}),      # the type's configured name
    ("2019..2020", {("contract.pdf", 1), ("contract.pdf", 2), ("inspection.pdf", 1), ("inspection.pdf", 2),
                    ("idcard.pdf", 1)}),
    ("绕越 OR 整改", {("theft.pdf", 1), ("inspection.pdf", 2)}),
    ("身份证", {("idcard.pdf", 1)}),                            # sensitive, and this user has the grant
    ("不存在的内容", set()),
]


@pytest.mark.parametrize("q,expected", QUERY_TABLE, ids=[q for q, _ in QUERY_TABLE])
def test_query_table_through_the_api_returns_exactly_the_expected_pages(archive: Archive, q, expected):  # type: ignore[no-untyped-def]
    assert archive.page_ids(q) == {archive.p(name, n) for name, n in expected}


def test_api_result_has_total_facets_and_pages_with_snippet_and_score(archive: Archive) -> None:
    body = archive.search("产权分界点").get_json()
    assert body["total"] == 2 and body["total_documents"] == 2
    assert body["facets"] == {"type": {"HT": 1, "JC": 1}, "year": {"2019": 1, "2020": 1}}
    contract = next(d for d in body["results"] if d["document_id"] == archive.documents["contract.pdf"])
    page = contract["pages"][0]
    assert page["page_number"] == 1 and page["score"] > 0 and "<mark>产权分界点</mark>" in page["snippet"]
    assert contract["customer_name"] == "王建国" and contract["doc_date"] == "2019-05-10"
    dated = archive.search("产权分界点", sort="date").get_json()
    assert [d["doc_type"] for d in dated["results"]] == ["JC", "HT"]  # newest first
    paged = archive.search("产权分界点", per_page=1, page=2).get_json()
    assert len(paged["results"]) == 1 and paged["page_count"] == 2


@pytest.mark.parametrize("q", ['"产权', "foo:bar", "AND 产权", "2021..2019", "，。"])
def test_malformed_query_is_a_400_in_the_readers_language_never_a_500(archive: Archive, q: str) -> None:
    chinese, english = archive.search(q), archive.search(q, language="en")
    assert chinese.status_code == english.status_code == 400
    assert set(CJK.findall(chinese.get_json()["error"])) - set(q)  # Chinese by default, beyond what was typed
    assert english.get_json()["error"] != chinese.get_json()["error"]
    assert re.search(r"[a-z]{4,}", english.get_json()["error"])
    assert archive.search("产权", sort="name").status_code == 400


def test_every_search_is_audited_with_its_query_text(archive: Archive) -> None:
    archive.search("绕越计量")
    archive.search('"未闭合')
    with archive.rt.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "search")).all()
    details = [(json.loads(e.detail)["q"], e.outcome, e.actor_name) for e in events]
    assert ("绕越计量", "ok", "archivist") in details
    assert ('"未闭合', "invalid", "archivist") in details


def test_user_without_sensitive_grant_neither_finds_nor_reads_id_copy_text(archive: Archive) -> None:
    assert archive.page_ids("身份证", "operator") == set()          # text of a sensitive page is not searched
    assert archive.page_ids("330102198001011234", "operator") == set()
    by_customer = archive.search("客户:王建国", "operator").get_json()
    idcard = next(d for d in by_customer["results"] if d["document_id"] == archive.documents["idcard.pdf"])
    assert idcard["pages"][0]["masked"] and "330102" not in idcard["pages"][0]["snippet"]
    assert idcard["title"] != "idcard.pdf"                       # the title is masked too
    assert by_customer["facets"]["type"] == {"HT": 2, "ZJ": 1}


def test_viewer_without_loan_searches_the_catalogue_only_and_sees_no_text(archive: Archive) -> None:
    assert archive.page_ids("产权分界点", "viewer") == set()          # not counted in totals…
    assert archive.search("产权分界点", "viewer").get_json()["facets"] == {"type": {}, "year": {}}  # …nor facets
    assert archive.page_ids("产权分界点 OR 客户:李红", "viewer") == {archive.p("inspection.pdf", 1),
                                                                   archive.p("inspection.pdf", 2)}
    catalogue = archive.search("户号:3307654321", "viewer").get_json()["results"][0]["pages"]
    assert all(p["masked"] and p["highlights"] == [] for p in catalogue)
    # excluding a word must not reveal which unreadable pages contain it
    assert archive.page_ids("客户:李红 -检查", "viewer") == {archive.p("inspection.pdf", 1),
                                                          archive.p("inspection.pdf", 2)}


def test_viewer_with_a_loan_reads_the_loaned_file_only(archive: Archive) -> None:
    now = datetime.now(timezone.utc)
    with archive.rt.sessions() as session:
        viewer = find_user(session, "viewer")
        loan = Loan(requester_id=viewer.id, purpose="核对合同", days=7, status=LoanState.APPROVED,
                    starts_at=now - timedelta(hours=1), due_at=now + timedelta(days=7))
        session.add(loan)
        session.flush()
        session.add(LoanItem(loan_id=loan.id, document_id=archive.documents["contract.pdf"]))
        session.commit()
    try:
        assert archive.page_ids("产权分界点", "viewer") == {archive.p("contract.pdf", 1)}
        page = archive.search("产权分界点", "viewer").get_json()["results"][0]["pages"][0]
        assert not page["masked"] and "<mark>产权分界点</mark>" in page["snippet"]
    finally:
        with archive.rt.sessions() as session:
            session.get(Loan, loan.id).status = LoanState.RETURNED
            session.commit()
    assert archive.page_ids("产权分界点", "viewer") == set()


def test_role_without_content_rights_finds_by_catalogue_only(archive: Archive) -> None:
    assert archive.page_ids("绕越", "approver") == set()
    assert archive.page_ids("客户:陈明", "approver") == {archive.p("theft.pdf", 1), archive.p("theft.pdf", 2)}


def test_a_binned_page_leaves_the_index(archive: Archive) -> None:
    with archive.rt.sessions() as session:
        page = session.get(Page, archive.p("application.pdf"))
        page.binned_at, page.index_state = datetime.now(timezone.utc), "pending"
        session.commit()
    from docsvc.jobs import enqueue_index
    enqueue_index(archive.rt.jobs)
    assert archive.rt.jobs.wait_idle(60)
    try:
        assert archive.page_ids("周芳") == set()
    finally:
        with archive.rt.sessions() as session:
            page = session.get(Page, archive.p("application.pdf"))
            page.binned_at, page.index_state = None, "pending"
            session.commit()
        enqueue_index(archive.rt.jobs)
        assert archive.rt.jobs.wait_idle(60)
    assert archive.page_ids("周芳") == {archive.p("application.pdf")}


def test_searches_keep_answering_while_the_index_worker_commits(archive: Archive) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []
    expected = {archive.p("contract.pdf", 1), archive.p("inspection.pdf", 1)}

    def reindex_repeatedly() -> None:
        try:
            for _ in range(6):
                with archive.rt.sessions() as session:
                    reindex_documents(session, archive.rt.jobs, archive.documents.values())
                archive.rt.jobs.wait_idle(60)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    thread = threading.Thread(target=reindex_repeatedly)
    thread.start()
    answers = 0
    while not stop.is_set() or answers < 5:
        assert archive.page_ids("产权分界点") == expected
        answers += 1
    thread.join()
    assert not errors and answers >= 5


def test_search_page_shows_facets_paging_help_and_a_message_for_a_bad_query(archive: Archive) -> None:
    client = archive.client
    page = client.get("/login")
    html = page.get_data(as_text=True)
    marker = 'name="csrf_token" type="hidden" value="'
    if marker not in html:
        marker = 'name="csrf_token" value="'
    token = html[html.index(marker) + len(marker):].split('"', 1)[0]
    assert client.post("/login", data={"username": "archivist", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    try:
        html = client.get("/search", query_string={"q": "产权分界点"}).get_data(as_text=True)
        assert "<mark>产权分界点</mark>" in html and 'class="facet"' in html and "search-help" in html
        assert "检索语法" in html and "相关度" in html and "Query language" not in html   # Chinese by default…
        english = client.get("/search", query_string={"q": "产权分界点"},
                             headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert "Query language" in english and "relevance" in english and "检索语法" not in english  # …English when asked
        assert "<mark>产权分界点</mark>" in english                    # the archive's words stay as they are
        assert "%E7%B1%BB%E5%9E%8B:HT" in html                           # facet link adds 类型:HT
        assert "hl=%E4%BA%A7" in html                                  # page links carry the hit strings
        bad = client.get("/search", query_string={"q": '"产权'})
        assert bad.status_code == 200 and 'id="query-error"' in bad.get_data(as_text=True)
        filtered = client.get("/search", query_string={"q": "产权分界点 类型:HT"}).get_data(as_text=True)
        assert f'data-document="{archive.documents["contract.pdf"]}"' in filtered
        assert f'data-document="{archive.documents["inspection.pdf"]}"' not in filtered
    finally:
        client.post("/logout", data={"csrf_token": token})
