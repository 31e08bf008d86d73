"""Search on an index with nothing in it: a fresh install, after every page was deleted or
destroyed, and while `docsvc reindex` builds a new index beside an empty live one. The API and
the search page answer "no results", never a 500 (issue 12, point 5)."""
from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from docsvc.constants import IndexState
from docsvc.models import Document, Page
from docsvc.pipeline.reindex import rebuild
from docsvc.runtime import Runtime
from docsvc.search import PageRecord, SearchIndex
from tests.conftest import AuthActions, Users

# a phrase, an identifier, a field, a date range and a negation: each reads a different part of the index
QUERIES = ["产权分界点", "GD-2019-004512", "户号:3301234567", "类型:HT", "2019..2021", "合同 -检查", "王"]


def _answers_no_results(client: FlaskClient, token: str) -> None:
    for q in QUERIES:
        api = client.get("/api/v1/search", query_string={"q": q}, headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 200, (q, api.get_data(as_text=True))
        body = api.get_json()
        assert body["total"] == 0 and body["results"] == [] and body["total_documents"] == 0, (q, body)
        web = client.get("/search", query_string={"q": q})
        assert web.status_code == 200, q
        assert "没有找到匹配的页面" in web.get_data(as_text=True), q


def _contract_pages(count: int, document_id: int = 1) -> list[PageRecord]:
    return [PageRecord(page_id=n, document_id=document_id, page_number=n, doc_type="HT",
                       customer_account="3301234567", text=f"供用电合同 GD-2019-004512 产权分界点 第{n}页")
            for n in range(1, count + 1)]


def test_a_fresh_install_answers_every_search_with_no_results(auth: AuthActions, users: Users,
                                                                client: FlaskClient) -> None:
    token = users.token("archivist", "archivist")
    auth.login("archivist", "archivist")
    _answers_no_results(client, token)


def test_after_every_page_left_the_index_searches_answer_with_no_results(
        auth: AuthActions, users: Users, client: FlaskClient, embedded_runtime: Runtime) -> None:
    token = users.token("archivist", "archivist")
    auth.login("archivist", "archivist")
    index = embedded_runtime.index
    index.add_pages(_contract_pages(3))
    found = client.get("/api/v1/search", query_string={"q": "产权分界点"},
                       headers={"Authorization": f"Bearer {token}"}).get_json()
    assert found["total"] == 3                                  # the pages were searchable
    index.delete_pages([1, 2, 3])                               # all moved to the bin
    _answers_no_results(client, token)
    index.add_pages(_contract_pages(3))
    index.expunge_pages([1, 2, 3])                              # all destroyed: segments rewritten
    assert index.pages_in_files([1, 2, 3]) == set()
    _answers_no_results(client, token)


def test_while_reindex_builds_beside_an_empty_live_index_searches_answer_with_no_results(
        auth: AuthActions, users: Users, client: FlaskClient, embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    token = users.token("archivist", "archivist")
    auth.login("archivist", "archivist")
    with rt.sessions() as session:              # pages read before the index existed (e.g. a lost index)
        doc = Document(sha256="a" * 64, original_key="originals/a", media_type="application/pdf",
                       title="供用电合同", customer_account="3301234567", doc_type="HT")
        session.add(doc)
        session.flush()
        for n in range(1, 7):
            session.add(Page(document_id=doc.id, number=n, source_index=n - 1, status="done",
                             index_state=IndexState.PENDING, text=f"合同编号GD-2019-004512 产权分界点 第{n}页"))
        session.commit()
        page_ids = list(session.scalars(select(Page.id)))
    probes: list[int] = []

    def search_mid_rebuild(committed: int, _last: int) -> None:
        # the new directory holds `committed` pages now; searches still read the empty live one
        if committed < len(page_ids):
            _answers_no_results(client, token)
            probes.append(committed)

    rebuild(rt.sessions, rt.index, progress=search_mid_rebuild, commit_every=2)  # what `docsvc reindex` runs
    assert probes == [2, 4]
    after = client.get("/api/v1/search", query_string={"q": "GD-2019-004512"},
                       headers={"Authorization": f"Bearer {token}"}).get_json()
    assert after["total"] == len(page_ids)


def test_engine_answers_every_query_on_an_empty_index(tmp_path) -> None:  # type: ignore[no-untyped-def]
    index = SearchIndex(tmp_path / "ix")
    for q in QUERIES:
        for sort in ("relevance", "date"):
            results = index.search(q, sort=sort)
            assert (results.total_pages, results.documents, results.facets.get("type")) == (0, [], None), q
