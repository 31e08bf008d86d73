"""Storage-only (限制处理) hides content from everyone but records managers — pages, images, downloads
and search text — while retention goes on; a saved-search hold catches a document indexed later."""
from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient

from docsvc.governance import holds, retention
from docsvc.governance.restriction import RestrictionError, set_storage_only
from docsvc.jobs import enqueue_index
from docsvc.models import AuditEvent, Customer, Document
from docsvc.runtime import Runtime
from tests.conftest import Users
from tests.retention_data import filed, why_not


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _indexed(rt: Runtime) -> None:
    enqueue_index(rt.jobs)
    assert rt.jobs.wait_idle(60)


@pytest.fixture
def tokens(users: Users) -> dict[str, str]:
    return {"rm": users.token("wang", "records_manager"), "archivist": users.token("li", "archivist"),
            "admin": users.token("root", "admin")}


def _search(client: FlaskClient, token: str, q: str) -> dict:  # type: ignore[type-arg]
    response = client.get("/api/v1/search", query_string={"q": q}, headers=_h(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_storage_only_document_is_hidden_from_an_archivist_not_from_a_records_manager(
        client: FlaskClient, users: Users, tokens: dict[str, str]) -> None:
    rt = users.runtime
    with rt.sessions() as s:
        doc = filed(s, "3000000001", "JC", date(2020, 6, 30), title="用电检查单",
                    text="检查发现产权分界点设备锈蚀严重")
        page_id = doc.pages[0].id if doc.pages else None
        doc_id = doc.id
    _indexed(rt)
    assert _search(client, tokens["archivist"], "锈蚀严重")["total"] == 1
    set_on = client.post(f"/api/v1/documents/{doc_id}/storage-only", json={"reason": "客户依个人信息保护法申请限制处理"},
                         headers=_h(tokens["rm"]))
    assert set_on.status_code == 200 and set_on.get_json()["storage_only"] is True
    for who in ("archivist", "admin"):
        assert client.get(f"/api/v1/pages/{page_id}", headers=_h(tokens[who])).status_code == 403
        assert _search(client, tokens[who], "锈蚀严重")["total"] == 0  # its text is not searchable
        by_catalogue = _search(client, tokens[who], "户号:3000000001")["results"]
        assert [p["masked"] for d in by_catalogue for p in d["pages"]] == [True]  # found, snippet masked
    assert client.get(f"/api/v1/pages/{page_id}", headers=_h(tokens["rm"])).get_json()["text"].startswith("检查发现")
    assert _search(client, tokens["rm"], "锈蚀严重")["total"] == 1
    with rt.sessions() as s:
        assert s.get(Document, doc_id).due_on == date(2031, 1, 1)  # retention goes on
        assert s.query(AuditEvent).filter_by(action="storage_only.set", object_id=str(doc_id)).count() == 1
    cleared = client.post(f"/api/v1/documents/{doc_id}/storage-only", json={"storage_only": False, "reason": "限制解除"},
                          headers=_h(tokens["rm"]))
    assert cleared.status_code == 200 and _search(client, tokens["archivist"], "锈蚀严重")["total"] == 1


def test_a_customers_whole_file_storage_only_covers_its_documents(client: FlaskClient, users: Users,
                                                                  tokens: dict[str, str], auth) -> None:  # type: ignore[no-untyped-def]
    rt = users.runtime
    with rt.sessions() as s:
        doc = filed(s, "3000000002", "SQ", date(2019, 1, 1), text="申请新装居民生活用电 周芳")
        page_id, doc_id = doc.pages[0].id, doc.id
    _indexed(rt)
    auth.login("wang", "records_manager")
    token = auth.csrf("/customers/3000000002")
    response = client.post("/customers/3000000002/storage-only", data={"csrf_token": token, "storage_only": "1",
                                                                       "reason": "销户后仅存储"}, follow_redirects=True)
    assert "整卷已设为" in response.get_data(as_text=True)
    assert client.get(f"/pages/{page_id}").status_code == 200  # the records manager still reads it
    client.post("/logout", data={"csrf_token": token})
    auth.login("li", "archivist")
    assert client.get(f"/pages/{page_id}/image").status_code == 403
    assert client.get(f"/documents/{doc_id}/original").status_code == 403
    shown = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert 'id="storage-only-hidden"' in shown and "/thumbnail" not in shown
    assert _search(client, tokens["archivist"], "居民生活用电")["total"] == 0
    with rt.sessions() as s:
        with pytest.raises(RestrictionError, match="已是"):
            set_storage_only(s, None, s.query(Customer).filter_by(account="3000000002").one(), True, "再次")


def test_a_saved_search_hold_catches_a_document_indexed_later(app, users: Users) -> None:  # type: ignore[no-untyped-def]
    rt = users.runtime  # `app` starts the in-process index worker
    with rt.sessions() as s:
        hold_id = holds.place(s, None, "窃电案件", "案件未结，相关材料冻结", query="绕越计量").id
        caught = filed(s, "3000000003", "JC", date(2010, 1, 1), text="用电人存在绕越计量装置用电的行为")
        free = filed(s, "3000000003", "JC", date(2010, 1, 1), text="设备运行正常")
        caught_id, free_id = caught.id, free.id
    _indexed(rt)
    with rt.sessions() as s:
        assert retention.eligible(s, [caught_id, free_id]) == {caught_id: None, free_id: None}  # without the index
        result = why_not(s, [caught_id, free_id], index=rt.index)
        assert "冻结" in result[caught_id] and result[free_id] is None
        assert retention.dashboard(s, index=rt.index).held == 1
        holds.release(s, None, hold_id, "案件已结")
        assert retention.eligible(s, [caught_id], index=rt.index) == {caught_id: None}


def test_a_saved_search_hold_over_an_empty_index_holds_nothing_and_does_not_fail(users: Users) -> None:
    rt = users.runtime  # nothing was ever indexed: the index has no segment yet
    with rt.sessions() as s:
        doc_id = filed(s, "3000000001", "JC", date(2010, 1, 1)).id
        holds.place(s, None, "检索冻结", "测试", query="绕越计量")
        assert holds.held_document_ids(s, [doc_id], rt.index) == set()
        assert retention.dashboard(s, index=rt.index).held == 0
