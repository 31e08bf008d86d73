"""Every API route answers what the generated OpenAPI document says: real requests over real data (scans
read through the pipeline, a destruction list executed), each answer checked against the document's
schema for its status. Response models forbid undeclared fields, so a field a service adds without its
model fails here: the document cannot drift from the API."""
from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from sqlalchemy import select
from werkzeug.test import TestResponse

from docsvc.api.contract import contract_for
from docsvc.models import Page
from docsvc.runtime import Runtime
from tests.conftest import Users
from tests.destruction_setup import ACCOUNT, due_document, ingest, text_pdf

pytestmark = pytest.mark.integration   # reads scans through the pipeline and executes an erasure (tesseract)


class ContractClient:
    """The test client, checking each answer against the OpenAPI document the app serves."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app, self.client = app, client
        self.document = client.get("/api/v1/openapi.json").get_json()
        self.answered: set[str] = set()  # endpoints that answered 2xx

    def call(self, method: str, url: str, token: str | None, expect: int | None = 200, **kwargs: Any) -> TestResponse:
        """The answer, checked against the document; `expect` its status (None: any the document lists)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        assert expect is None or response.status_code == expect, (method, url, response.status_code, response.get_data(as_text=True)[:500])
        self.check(method, url.split("?")[0], response)
        return response

    def check(self, method: str, path: str, response: TestResponse) -> None:
        rule, _ = self.app.url_map.bind("localhost").match(path, method, return_rule=True)
        template = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        operation = self.document["paths"][template][method.lower()]
        declared = operation["responses"].get(str(response.status_code))
        assert declared, f"{method} {template} answered {response.status_code}, which the document does not list"
        content = declared["content"]
        if response.is_json:
            schema = {"$ref": content["application/json"]["schema"]["$ref"], "components": self.document["components"]}
            # formats checked too: a time without its offset (SQLite hands back naive times) is not date-time
            validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
            errors = sorted(validator.iter_errors(response.get_json()), key=str)
            assert not errors, f"{method} {template} {response.status_code}: " + "; ".join(
                f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])
        else:
            kind = response.mimetype
            assert kind in content or f"{kind.split('/')[0]}/*" in content, (template, kind, list(content))
        if response.status_code < 300:
            self.answered.add(rule.endpoint)


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> ContractClient:
    return ContractClient(app, client)


def _wait(api: ContractClient, url: str, token: str, field: str, done: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while (body := api.call("GET", url, token).get_json())[field] not in done:
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    return body


def test_every_api_route_answers_as_the_generated_document_says(
        app: Flask, api: ContractClient, users: Users, embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    chief = users.token("chief", "admin", "operator", "archivist", "records_manager", "viewer")
    leader, auditor = users.token("leader", "approver"), users.token("inspector", "auditor")
    sup1, sup2, clerk = users.token("sup1", "supervisor"), users.token("sup2", "supervisor"), users.token("clerk", "viewer")

    api.call("GET", "/api/v1/openapi.json", None)
    api.call("GET", "/api/v1/me", chief)

    # A batch uploaded and read through the in-process workers, then retried.
    upload = {"files": (io.BytesIO(text_pdf(tmp_path, ["用电检查单 户号 3000000001", "第二页"])), "scan.pdf")}
    batch = api.call("POST", "/api/v1/batches", chief, 202, data=upload, content_type="multipart/form-data").get_json()
    _wait(api, f"/api/v1/batches/{batch['id']}", chief, "status", {"done", "partial", "failed"})
    api.call("POST", f"/api/v1/batches/{batch['id']}/retry", chief, 202)

    # Filed, due documents (for search, retention and destruction) and unfiled ones (for the inbox).
    filed = [due_document(rt, tmp_path, f"d{n}.pdf", [f"用电检查单 第{n}件 宏达机械", "检查结论 合格"]) for n in range(4)]
    loose, other = (ingest(rt, f"u{n}.pdf", text_pdf(tmp_path, [f"供用电合同 {n} 甲方", "乙方 盖章", "附件"]))
                    for n in range(2))
    with rt.sessions() as s:
        pages = list(s.scalars(select(Page.id).where(Page.document_id == loose).order_by(Page.number)))
        failed = s.scalars(select(Page).where(Page.document_id == other)).first()
        failed.status, failed.error = "failed", "测试：识别失败 / test: reading failed"  # type: ignore[union-attr]
        failed_id = failed.id  # type: ignore[union-attr]
        s.commit()

    api.call("GET", f"/api/v1/documents/{filed[0]}", chief)
    first_page = api.call("GET", f"/api/v1/documents/{loose}", chief).get_json()["pages"][0]["id"]
    api.call("GET", f"/api/v1/pages/{first_page}", chief)
    for part in ("image", "thumbnail", "words"):
        api.call("GET", f"/api/v1/pages/{first_page}/{part}", chief)
    api.call("POST", f"/api/v1/pages/{failed_id}/retry", chief, 202)
    hits = api.call("GET", "/api/v1/search", chief, query_string={"q": "宏达机械"}).get_json()
    assert hits["total"] >= 1
    api.call("GET", "/api/v1/search", chief, query_string={"q": "宏达机械", "document_id": filed[0]})
    api.call("GET", "/api/v1/search", chief, 400, query_string={"q": "宏达", "per_page": "abc"})

    # Customers and document types.
    api.call("GET", "/api/v1/customers", chief, query_string={"q": "宏达"})
    api.call("POST", "/api/v1/customers", chief, 201, json={"account": "3100012345", "name": "东方电子有限公司"})
    api.call("GET", "/api/v1/customers/3100012345", chief)
    api.call("PATCH", "/api/v1/customers/3100012345", chief, json={"phone": "021-5555 0101", "tags": "重点 双电源"})
    api.call("GET", f"/api/v1/customers/{ACCOUNT}/completeness", chief)
    api.call("GET", f"/api/v1/customers/{ACCOUNT}/file.pdf", chief)
    csv = "户号,户名\n3100099999,新华印刷厂\n".encode()
    api.call("POST", "/api/v1/customers/import", chief, data={"file": (io.BytesIO(csv), "c.csv")},
             content_type="multipart/form-data")
    api.call("POST", "/api/v1/customers/import", chief, 422, content_type="multipart/form-data",
             data={"file": (io.BytesIO("户号,户名\nabc,\n".encode()), "bad.csv")})
    big = ("户号,户名\n" + "".join(f"31001{n:05d},客户{n}\n" for n in range(500))).encode()
    queued = api.call("POST", "/api/v1/customers/import", chief, 202, content_type="multipart/form-data",
                      data={"file": (io.BytesIO(big), "big.csv"), "background": "true"}).get_json()
    imported = _wait(api, f"/api/v1/operations/{queued['id']}", chief, "status", {"done", "failed"})
    assert imported["status"] == "done" and imported["summary"]["created"] == 500, imported
    api.call("GET", "/api/v1/completeness", chief)
    api.call("GET", "/api/v1/completeness", chief, query_string={"format": "csv"})
    api.call("GET", "/api/v1/document-types", chief)
    api.call("POST", "/api/v1/document-types", chief, 201, json={"code": "ZZ", "name_zh": "测试材料", "retention": "D10"})
    api.call("GET", "/api/v1/document-types/ZZ", chief)
    api.call("PATCH", "/api/v1/document-types/ZZ", chief, json={"name_en": "Test papers", "position": 90})
    api.call("GET", "/api/v1/cover-sheets", chief, query_string={"account": ACCOUNT, "type": "JC"})

    # Filing and page operations on the unfiled document.
    api.call("GET", "/api/v1/inbox", chief)
    api.call("GET", f"/api/v1/documents/{loose}/suggestions", chief)
    api.call("PATCH", f"/api/v1/documents/{loose}", chief, json={"title": "供用电合同（高压）", "location": "3号库"})
    new = api.call("POST", f"/api/v1/documents/{loose}/split", chief, json={"at_page": 3}).get_json()["new_document"]
    api.call("POST", f"/api/v1/documents/{loose}/merge", chief, json={"source_document_id": new["id"]})
    api.call("POST", f"/api/v1/documents/{loose}/reorder", chief, json={"page_ids": pages[::-1]})
    api.call("POST", f"/api/v1/pages/{pages[0]}/rotate", chief, json={"degrees": 90})
    api.call("POST", f"/api/v1/pages/{pages[2]}/move", chief, json={"document_id": other})
    api.call("POST", f"/api/v1/pages/{pages[1]}/delete", chief)
    api.call("POST", f"/api/v1/pages/{pages[1]}/restore", chief)
    api.call("POST", f"/api/v1/pages/{pages[1]}/delete", chief)
    deadline = time.monotonic() + 60  # 409 until the index job has taken the binned page out of the index
    while api.call("POST", f"/api/v1/pages/{pages[1]}/purge", chief, expect=None).status_code == 409:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assigned = api.call("POST", "/api/v1/inbox/assign", chief,
                        json={"document_ids": [loose], "customer_account": "3100012345", "doc_type": "HT"})
    code = assigned.get_json()["documents"][0]["archive_code"]
    api.call("POST", f"/api/v1/documents/{loose}/reference-code", chief,
             json={"reference_code": code[:-4] + "0099", "reason": "档号录错"})
    api.call("POST", f"/api/v1/documents/{loose}/unfile", chief, json={"reason": "页序需重排"})

    # Loans and the audit trail.
    lent = api.call("POST", "/api/v1/loans", clerk, 201, json={"customer_account": ACCOUNT, "purpose": "核查", "days": 7,
                                                               "allow_download": True}).get_json()
    api.call("POST", f"/api/v1/loans/{lent['id']}/approve", leader, json={"allow_download": True})
    api.call("GET", "/api/v1/loans", clerk)
    api.call("POST", f"/api/v1/loans/{lent['id']}/return", clerk)
    refused = api.call("POST", "/api/v1/loans", clerk, 201, json={"document_ids": [filed[0]], "purpose": "x", "days": 1})
    api.call("POST", f"/api/v1/loans/{refused.get_json()['id']}/reject", leader, json={"note": "理由不足"})
    api.call("GET", "/api/v1/audit", auditor, query_string={"action": "loan."})
    api.call("GET", "/api/v1/audit", auditor, query_string={"format": "csv"})

    # Retention: rules, the due list, events, holds, storage-only.
    api.call("GET", "/api/v1/retention/schedules", chief)
    rule = {"doc_type": "JC", "retention": "D30", "trigger": "document_date", "authority": "公司保管期限表 第4条"}
    api.call("POST", "/api/v1/retention/schedules", chief, json=rule | {"preview": True})
    api.call("POST", "/api/v1/retention/schedules", chief, 201, json=rule | {"retention": "D10"})
    api.call("GET", "/api/v1/retention/due", chief)
    api.call("GET", "/api/v1/retention/dashboard", chief)
    api.call("POST", "/api/v1/retention/events", chief, 201,
             json={"name": "窃电案件结案", "occurred_on": "2019-06-30", "customer_account": ACCOUNT})
    hold = api.call("POST", "/api/v1/holds", chief, 201, json={"name": "复议", "reason": "客户申请复议",
                                                               "document_ids": [filed[3]]}).get_json()
    api.call("GET", "/api/v1/holds", chief)
    api.call("POST", f"/api/v1/holds/{hold['id']}/release", chief, json={"reason": "复议结束"})
    api.call("POST", f"/api/v1/documents/{filed[3]}/storage-only", chief, json={"reason": "用户要求限制处理"})
    api.call("POST", "/api/v1/customers/3100012345/storage-only", chief, json={"storage_only": True, "reason": "用户要求限制处理"})

    # Destruction: one list executed, one rejected, one cancelled.
    base = "/api/v1/destruction-lists"
    executed = api.call("POST", base, chief, 201, json={"document_ids": [filed[0]], "title": "2026 年度销毁清册"}).get_json()
    url = f"{base}/{executed['id']}"
    api.call("POST", f"{url}/appraisal", chief, json={"decisions": [{"document_id": filed[0], "decision": "destroy"}],
                                                      "report": "已逐件鉴定"})
    api.call("POST", f"{url}/submit", chief)
    api.call("POST", f"{url}/approve", leader, json={"note": "同意"})
    api.call("POST", f"{url}/supervise", sup1)
    api.call("POST", f"{url}/supervise", sup2)
    api.call("POST", f"{url}/execute", chief, 202)
    _wait(api, url, auditor, "state", {"executed"})
    api.call("GET", f"{url}/register.pdf", auditor)
    api.call("GET", f"{url}/register.csv", auditor)
    api.call("GET", f"/api/v1/documents/{filed[0]}", chief)  # the stub
    rejected = api.call("POST", base, chief, 201, json={"document_ids": [filed[1]]}).get_json()
    api.call("POST", f"{base}/{rejected['id']}/appraisal", chief,
             json={"decisions": [{"document_id": filed[1], "decision": "destroy"}]})
    api.call("POST", f"{base}/{rejected['id']}/submit", chief)
    api.call("POST", f"{base}/{rejected['id']}/reject", leader, json={"reason": "鉴定意见不全"})
    cancelled = api.call("POST", base, chief, 201, json={"document_ids": [filed[2]]}).get_json()
    api.call("POST", f"{base}/{cancelled['id']}/cancel", chief, json={"reason": "改年度再办"})
    api.call("GET", base, chief)

    api.call("POST", "/api/v1/four-properties", chief, json={"customer_accounts": [ACCOUNT]})

    # Long operations: refused without a backup folder, then a backup and a rebuild followed to their end.
    api.call("POST", "/api/v1/operations/backup", chief, 409)
    rt.settings = rt.settings.with_(backup_dir=tmp_path / "backups")
    for started in (api.call("POST", "/api/v1/operations/backup", chief, 202, json={"full": True}).get_json(),
                    api.call("POST", "/api/v1/operations/reindex", chief, 202).get_json()):
        assert _wait(api, f"/api/v1/operations/{started['id']}", chief, "status", {"done", "failed"})["status"] == "done"
    assert len(api.call("GET", "/api/v1/operations", chief).get_json()["operations"]) == 3  # with the import
    assert api.call("GET", "/api/v1/operations", clerk).get_json()["operations"] == []  # only their own
    api.call("POST", "/api/v1/operations/reindex", clerk, 403)

    routes = {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert {e for e in routes if contract_for(app, e) is None} == set(), "API routes without a declared contract"
    assert routes - api.answered == set(), "API routes this test did not see answer"
