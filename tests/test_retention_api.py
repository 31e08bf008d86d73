"""Retention through HTTP: schedules with the preview, the due list, holds, storage-only, events; the
web pages a records manager uses; refusals for the other roles; bad bodies are 400s, never 500s."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from flask.testing import FlaskClient

from docsvc.models import Document
from tests.conftest import AuthActions, Users
from tests.retention_data import customer, filed


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(users: Users) -> dict[str, str]:
    return {"rm": users.token("wang", "records_manager"), "archivist": users.token("li", "archivist"),
            "viewer": users.token("zhao", "viewer")}


def test_records_manager_previews_then_saves_a_rule_and_others_may_only_read(
        client: FlaskClient, users: Users, tokens: dict[str, str]) -> None:
    with users.runtime.sessions() as s:
        late = filed(s, "3000000001", "JC", date(2020, 6, 30)).id  # D10: due 2031; D5: due 2026, i.e. now
    body = {"doc_type": "JC", "retention": "D5", "trigger": "document_date", "authority": "公司保管期限表 第4条",
            "reason": "集团新表", "preview": True}
    preview = client.post("/api/v1/retention/schedules", json=body, headers=_h(tokens["rm"]))
    assert preview.status_code == 200, preview.get_data(as_text=True)
    assert preview.get_json()["preview"] | {"examples": None} == {
        "doc_type": "JC", "documents": 1, "changed": 1, "become_due": 1, "no_longer_due": 0, "unknown": 0,
        "shortened": 1, "examples": None}
    listed = client.get("/api/v1/retention/schedules", headers=_h(tokens["archivist"])).get_json()["schedules"]
    assert {(r["doc_type"], r["version"], r["retention"]) for r in listed if r["doc_type"] == "JC"} == {("JC", 1, "D10")}
    refused = client.post("/api/v1/retention/schedules", json=body | {"preview": False}, headers=_h(tokens["archivist"]))
    assert refused.status_code == 403
    saved = client.post("/api/v1/retention/schedules", json=body | {"preview": False}, headers=_h(tokens["rm"]))
    assert saved.status_code == 201 and saved.get_json()["schedule"]["version"] == 2
    assert saved.get_json()["documents_changed"] == 1
    due = client.get("/api/v1/retention/due", headers=_h(tokens["archivist"])).get_json()
    assert [d["document_id"] for d in due["documents"]] == [late] and due["documents"][0]["due_on"] == "2026-01-01"
    assert client.get("/api/v1/retention/due", headers=_h(tokens["viewer"])).status_code == 403


@pytest.mark.parametrize("path,body,needle", [
    ("/api/v1/retention/schedules", None, "JSON"),
    ("/api/v1/retention/schedules", {"doc_type": "JC", "retention": "D0", "trigger": "document_date",
                                     "authority": "x"}, "D<"),
    ("/api/v1/retention/schedules", {"doc_type": "JC", "retention": "D10", "trigger": "upload_date",
                                     "authority": "x"}, "起算方式"),
    ("/api/v1/retention/schedules", {"doc_type": "JC", "retention": "D10", "trigger": "event",
                                     "authority": "x"}, "事件名称"),
    ("/api/v1/retention/schedules", {"doc_type": "JC", "retention": "D10", "trigger": "document_date",
                                     "authority": "x", "parent_retention": "D30"}, "上级"),
    ("/api/v1/retention/schedules", {"doc_type": 5, "retention": "D10"}, "文字"),
    ("/api/v1/retention/schedules", {"doc_type": "JC", "retention": "D10", "trigger": "document_date",
                                     "authority": "x", "preview": "maybe"}, "true"),
    ("/api/v1/holds", {"name": "x", "reason": "y", "document_ids": ["seven"]}, "整数"),
    ("/api/v1/holds", {"name": "x", "reason": "", "customer_accounts": ["3000000001"]}, "原因"),
    ("/api/v1/holds", {"name": "x", "reason": "y", "query": "产权 AND ("}, "检索式"),
    ("/api/v1/holds/999/release", {"reason": "x"}, "不存在"),
    ("/api/v1/retention/events", {"name": "窃电案件结案", "occurred_on": "2019-13-01", "customer_account": "3000000001"},
     "日期"),
    ("/api/v1/customers/3000000001/storage-only", {"reason": ""}, "原因"),
])
def test_bad_bodies_are_400_or_404_with_a_message(client: FlaskClient, users: Users, tokens: dict[str, str],
                                                   path: str, body: object, needle: str) -> None:
    with users.runtime.sessions() as s:
        customer(s, "3000000001")
    if body is None:
        response = client.post(path, data="not json", headers=_h(tokens["rm"]))
    else:
        response = client.post(path, json=body, headers=_h(tokens["rm"]))
    assert response.status_code in (400, 404), response.get_data(as_text=True)
    assert needle in response.get_json()["error"]


def test_holds_are_placed_listed_and_released_through_the_api(client: FlaskClient, users: Users,
                                                              tokens: dict[str, str]) -> None:
    with users.runtime.sessions() as s:
        doc = filed(s, "3000000002", "JC", date(2010, 1, 1)).id  # due
    placed = client.post("/api/v1/holds", json={"name": "窃电纠纷", "reason": "客户申请复议",
                                                "customer_accounts": ["3000000002"]}, headers=_h(tokens["rm"]))
    assert placed.status_code == 201, placed.get_data(as_text=True)
    hold = placed.get_json()
    assert hold["customer_accounts"] == ["3000000002"] and hold["owner"] == "wang"
    assert client.post("/api/v1/holds", json={"name": "x", "reason": "y", "document_ids": [doc]},
                       headers=_h(tokens["archivist"])).status_code == 403
    due = client.get("/api/v1/retention/due", headers=_h(tokens["rm"])).get_json()["documents"]
    assert [(d["document_id"], d["held"]) for d in due] == [(doc, True)]
    released = client.post(f"/api/v1/holds/{hold['id']}/release", json={"reason": "复议结束"}, headers=_h(tokens["rm"]))
    assert released.status_code == 200 and released.get_json()["release_reason"] == "复议结束"
    again = client.post(f"/api/v1/holds/{hold['id']}/release", json={"reason": "x"}, headers=_h(tokens["rm"]))
    assert again.status_code == 409 and "已于" in again.get_json()["error"]
    listed = client.get("/api/v1/holds", headers=_h(tokens["archivist"])).get_json()["holds"]
    assert [h["released_at"] is not None for h in listed] == [True]
    rows = _due_csv(client, _h(tokens["rm"]))
    assert rows[0][:3] == ["档号", "类型", "户号"] and rows[1][2] == "3000000002" and rows[1][5] == "否"
    rows = _due_csv(client, _h(tokens["rm"]) | {"Accept-Language": "en"})  # the headings follow the reader
    assert rows[0][:3] == ["Reference code", "Type", "Account"] and rows[1][5] == "no"


def _due_csv(client: FlaskClient, headers: dict[str, str]) -> list[list[str]]:
    body = client.get("/api/v1/retention/due?format=csv", headers=headers).get_data(as_text=True)
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


def test_an_event_recorded_through_the_api_starts_the_period(client: FlaskClient, users: Users,
                                                             tokens: dict[str, str]) -> None:
    rule = {"doc_type": "WY", "retention": "D30", "trigger": "event", "event_name": "窃电案件结案",
            "authority": "公司保管期限表 第9条"}
    assert client.post("/api/v1/retention/schedules", json=rule, headers=_h(tokens["rm"])).status_code == 201
    with users.runtime.sessions() as s:
        doc = filed(s, "3000000003", "WY", date(2018, 11, 20)).id
    response = client.post("/api/v1/retention/events", json={"name": "窃电案件结案", "occurred_on": "2019-06-30",
                                                             "customer_account": "3000000003"}, headers=_h(tokens["rm"]))
    assert response.status_code == 201, response.get_data(as_text=True)
    shown = client.get(f"/api/v1/documents/{doc}", headers=_h(tokens["archivist"])).get_json()
    assert (shown["retention"], shown["due_on"], shown["retention_status"]) == ("D30", "2049-07-01", "running")


def test_web_schedule_change_shows_the_preview_before_saving(client: FlaskClient, auth: AuthActions,
                                                             users: Users) -> None:
    with users.runtime.sessions() as s:
        filed(s, "3000000001", "SQ", date(2000, 3, 3))  # D30: 2031; D10: 2011, due now
    auth.login("wang", "records_manager")
    page = client.get("/retention/schedules?doc_type=SQ").get_data(as_text=True)
    assert 'data-type="SQ"' in page and "预览影响" in page
    form = {"csrf_token": auth.csrf("/retention/schedules"), "doc_type": "SQ", "retention": "D10",
            "trigger": "document_date", "authority": "公司表 第1条", "event_name": "", "parent_retention": "",
            "reason": ""}
    preview = client.post("/retention/schedules/preview", data=form).get_data(as_text=True)
    assert 'id="pv-due">1<' in preview and 'id="confirm-rule"' in preview
    refused = client.post("/retention/schedules", data=form)  # shortening without a reason
    assert refused.status_code == 400 and "理由" in refused.get_data(as_text=True)
    saved = client.post("/retention/schedules", data=form | {"reason": "新表"}, follow_redirects=True)
    assert "第 2 版" in saved.get_data(as_text=True)
    dashboard = client.get("/retention").get_data(as_text=True)
    assert 'id="fig-due">1<' in dashboard and "<meter" in dashboard and 'id="nav-retention"' in dashboard


def test_retention_pages_are_chinese_by_default_and_english_when_asked(client: FlaskClient, auth: AuthActions,
                                                                      users: Users) -> None:
    with users.runtime.sessions() as s:
        filed(s, "3000000001", "JC", date(2010, 6, 30), title="用电检查单")  # due
    auth.login("wang", "records_manager")
    for path, chinese, english in [
            ("/retention", ["<h1>保管期限</h1>", "到期不等于销毁", "90 天内到期", "到期待鉴定（最早的 50 份）"],
             ["<h1>Retention</h1>", "Expiry is not destruction", "Due within 90 days", "Due for appraisal (first 50)"]),
            ("/retention/schedules", ["<h1>保管期限表</h1>", "文档形成次年1月1日起算", "10 年"],
             ["<h1>Retention schedules</h1>", "From 1 January after the document date", "10 years"]),
            ("/retention/holds", ["新建冻结", "没有冻结。"], ["Place a hold", "No holds."])]:
        page = client.get(path).get_data(as_text=True)
        assert all(text in page for text in chinese), path
        assert not any(text in page for text in english), path
        page = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert all(text in page for text in english), path
        assert not any(text in page for text in chinese), path


def test_web_holds_page_places_and_releases_and_roles_are_refused(client: FlaskClient, auth: AuthActions,
                                                                  users: Users) -> None:
    with users.runtime.sessions() as s:
        customer(s, "3000000004")
    auth.login("wang", "records_manager")
    token = auth.csrf("/retention/holds")
    response = client.post("/retention/holds", data={"csrf_token": token, "name": "诉讼", "reason": "法院立案",
                                                     "customer_accounts": "3000000004", "document_ids": "", "query": ""},
                           follow_redirects=True)
    assert "已冻结" in response.get_data(as_text=True)
    bad = client.post("/retention/holds", data={"csrf_token": token, "name": "x", "reason": "y", "document_ids": "a"})
    assert bad.status_code == 400 and "整数" in bad.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": token})
    auth.login("zhao", "viewer")
    assert client.get("/retention").status_code == 403
    assert 'id="nav-retention"' not in client.get("/customers").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": auth.csrf("/customers")})
    auth.login("li", "archivist")
    assert client.get("/retention/holds").status_code == 200
    assert client.post("/retention/holds", data={"csrf_token": auth.csrf("/retention/holds"), "name": "x",
                                                 "reason": "y", "customer_accounts": "3000000004"}).status_code == 403


def test_document_page_shows_class_and_due_date(client: FlaskClient, auth: AuthActions, users: Users) -> None:
    with users.runtime.sessions() as s:
        doc = filed(s, "3000000001", "JC", date(2020, 6, 30))
        assert s.get(Document, doc.id).due_on == date(2031, 1, 1)
    auth.login("li", "archivist")
    page = client.get(f"/documents/{doc.id}").get_data(as_text=True)
    assert 'id="retention-class">D10' in page and "2031-01-01" in page
    assert "2031-01-01" in client.get("/customers/3000000001").get_data(as_text=True)


def test_records_manager_records_an_event_on_the_customer_page(client: FlaskClient, auth: AuthActions,
                                                               users: Users) -> None:
    with users.runtime.sessions() as s:
        from docsvc.governance import retention

        retention.save_rule(s, None, retention.draft_rule(s, {
            "doc_type": "WY", "retention": "D30", "trigger": "event", "event_name": "窃电案件结案", "authority": "表"}))
        doc = filed(s, "3000000003", "WY", date(2018, 11, 20)).id
    auth.login("wang", "records_manager")
    token = auth.csrf("/customers/3000000003")
    bad = client.post("/customers/3000000003/retention-events", data={"csrf_token": token, "name": "窃电案件结案",
                                                                      "occurred_on": ""})
    assert bad.status_code == 400 and "日期" in bad.get_data(as_text=True)
    page = client.post("/customers/3000000003/retention-events", data={"csrf_token": token, "name": "窃电案件结案",
                                                                       "occurred_on": "2019-06-30"},
                       follow_redirects=True).get_data(as_text=True)
    assert "已记录事件" in page and "2049-07-01" in page
    with users.runtime.sessions() as s:
        assert s.get(Document, doc).due_on == date(2049, 7, 1)
