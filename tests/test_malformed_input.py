"""Wrong types, out-of-range numbers and over-deep queries answer 400 with a message, never 500.

The routes come from `app.url_map`, so a new POST/PATCH route is sent the whole table automatically."""
from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from docsvc.governance import holds
from docsvc.models import Customer, DestructionList, Loan, utcnow
from docsvc.runtime import Runtime
from docsvc.governance.accounts import find_user, set_grants
from tests.conftest import AuthActions, Users
from tests.test_access_routes import _two_page_document

ACCOUNT = "3100012345"
# Every field name a route reads from a body, a form or a query string.
FIELDS = ("at_page", "source_document_id", "page_ids", "document_ids", "document_id", "position", "degrees", "days",
          "purpose", "customer_account", "doc_type", "note", "allow_download", "allow_print", "reference_code",
          "reason", "account", "code", "name", "name_zh", "name_en", "retention", "sensitive", "required_from",
          "active", "title", "document_date", "contract_number", "business_ref", "location", "notes", "closed_on",
          "grade", "status", "stage", "tags", "region", "phone", "address", "username", "password", "roles",
          "grants", "display_name", "current", "new", "dry_run", "skip_rejected", "token", "action",
          # retention and destruction
          "trigger", "authority", "event_name", "parent_retention", "preview", "customer_accounts", "query",
          "storage_only", "occurred_on", "contract_end", "decisions", "decision", "until", "report",
          "reason_for_destroyed",
          # 四性检测
          "format", "recompute", "all_pages")
WRONG_VALUES: list[object] = ["abc", 1e30, 10**30, -1, 0, [1], [[1]], {"a": 1}, None, True, "", "1" * 30, 1.5,
                              [1e30], ["x"], "\x00"]
NOT_OBJECTS = ("[]", '"text"', "5", "null", "[1, 2]", "{", "[" * 5000 + "]" * 5000, '{"a": ' * 3000 + "1" + "}" * 3000)
MALFORMED_BODIES = [json.dumps({f: v for f in FIELDS}) for v in WRONG_VALUES] + list(NOT_OBJECTS)
FORM_VALUES = ("abc", "1" * 30, "-1", "1e30", "", "\x00", "1.5")


@pytest.fixture
def world(embedded_runtime: Runtime, users: Users) -> dict[str, object]:
    """One of everything a URL can name, and a token holding every role but auditor (and `sensitive`), so
    each request reaches the route's own input handling rather than stopping at the access check."""
    rt = embedded_runtime
    doc_id, pages = _two_page_document(rt, "HT", "供用电合同")
    token = users.token("chief", "admin", "operator", "archivist", "records_manager", "approver", "viewer",
                        "supervisor")
    users.make("clerk", "viewer")
    with rt.sessions() as session:
        chief, clerk = find_user(session, "chief"), find_user(session, "clerk")
        set_grants(session, None, chief, ["sensitive"])  # type: ignore[arg-type]
        session.add(Customer(account=ACCOUNT, name="宏达机械制造有限公司"))
        loan = Loan(requester_id=clerk.id, purpose="核查", days=7, customer_account=ACCOUNT,  # type: ignore[union-attr]
                    status="pending", requested_at=utcnow())
        session.add(loan)
        dlist = DestructionList(title="2026 年度销毁清册", compiler_id=clerk.id)  # type: ignore[union-attr]
        session.add(dlist)
        session.commit()
        hold = holds.place(session, None, "窃电纠纷", "诉讼未结", customer_accounts=[ACCOUNT])
        values = {"document_id": doc_id, "page_id": pages[0], "batch_id": 1, "loan_id": loan.id,
                  "user_id": clerk.id, "token_id": 1, "account": ACCOUNT, "code": "HT", "op": "rotate",  # type: ignore[union-attr]
                  "token": "abc", "hold_id": hold.id, "list_id": dlist.id, "ext": "csv", "operation_id": 1}
    return {"token": token, "values": values}


def _urls(app: Flask, values: dict[str, object], methods: set[str], api: bool) -> list[tuple[str, str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/api/") != api:
            continue
        for method in sorted(methods & (rule.methods or set())):
            url = rule.rule
            for arg in rule.arguments - set(rule.defaults or {}):  # defaults are not in the path
                url = url.replace(f"<int:{arg}>", str(values[arg])).replace(f"<{arg}>", str(values[arg]))
            out.append((rule.endpoint, method, url))
    return out


def test_every_api_post_and_patch_route_answers_malformed_bodies_without_a_500(
        app: Flask, client: FlaskClient, world: dict) -> None:  # type: ignore[type-arg]
    routes = _urls(app, world["values"], {"POST", "PATCH"}, api=True)
    assert len(routes) > 20  # the table really covers the API
    failures = []
    for endpoint, method, url in routes:
        for body in MALFORMED_BODIES:
            response = client.open(url, method=method, data=body, content_type="application/json",
                                   headers={"Authorization": f"Bearer {world['token']}"})
            if response.status_code >= 500:
                failures.append((endpoint, body[:60], response.status_code))
            elif response.status_code == 400:
                assert response.get_json() and response.get_json().get("error"), (endpoint, body[:60])
    assert not failures, failures


def test_every_web_form_answers_malformed_values_without_a_500(
        app: Flask, client: FlaskClient, auth: AuthActions, world: dict) -> None:  # type: ignore[type-arg]
    auth.login("chief")
    token = auth.csrf("/account")
    failures = []
    for endpoint, method, url in _urls(app, world["values"], {"POST"}, api=False):
        if endpoint == "auth.logout":
            continue  # would end the session the rest of the table needs
        for value in FORM_VALUES:
            response = client.open(url, method=method, data={**dict.fromkeys(FIELDS, value), "csrf_token": token})
            if response.status_code >= 500:
                failures.append((endpoint, value, response.status_code))
    assert not failures, failures


def test_every_api_query_parameter_is_checked(app: Flask, client: FlaskClient, world: dict) -> None:  # type: ignore[type-arg]
    bearer = {"Authorization": f"Bearer {world['token']}"}
    failures = []
    for endpoint, _method, url in _urls(app, world["values"], {"GET"}, api=True):
        for query in ({"page": "1" * 30}, {"page": "abc", "per_page": "-5"}, {"per_page": "1" * 30, "q": "(" * 249},
                      {"q": "a", "page": "0"}, {"from": "1e30", "to": "x"}):
            response = client.get(url, query_string=query, headers=bearer)
            if response.status_code >= 500:
                failures.append((endpoint, query, response.status_code))
    assert not failures, failures


def test_a_search_nested_249_deep_and_a_30_digit_page_answer_400(client: FlaskClient, users: Users,
                                                                  world: dict) -> None:  # type: ignore[type-arg]
    bearer = {"Authorization": f"Bearer {world['token']}"}
    deep = client.get("/api/v1/search", query_string={"q": "(" * 249 + "合同" + ")" * 249}, headers=bearer)
    assert deep.status_code == 400 and "嵌套" in deep.get_json()["error"]
    for path, query in (("/api/v1/audit", {}), ("/api/v1/customers", {}), ("/api/v1/search", {"q": "合同"})):
        response = client.get(path, query_string={**query, "page": "1" * 30}, headers=bearer)
        assert response.status_code in (400, 403), path  # 403: the audit trail is the auditor's
    auditor = {"Authorization": f"Bearer {users.token('inspector', 'auditor')}"}
    response = client.get("/api/v1/audit", query_string={"page": "1" * 30}, headers=auditor)
    assert response.status_code == 400 and "page" in response.get_json()["error"]


@pytest.mark.parametrize("body, message", [
    ({"at_page": "abc"}, "at_page"), ({"at_page": 10**30}, "at_page"), ("[]", "JSON"), ('"x"', "JSON")])
def test_split_names_the_wrong_field(client: FlaskClient, world: dict, body: object, message: str) -> None:  # type: ignore[type-arg]
    document_id = world["values"]["document_id"]
    response = client.post(f"/api/v1/documents/{document_id}/split", data=body if isinstance(body, str) else json.dumps(body),
                           content_type="application/json", headers={"Authorization": f"Bearer {world['token']}"})
    assert response.status_code == 400 and message in response.get_json()["error"]
