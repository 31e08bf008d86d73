"""The Content-Security-Policy and the pages it has to fit: no page carries inline code, so the
policy can forbid it, and the pages' scripts still work in a real browser under it."""
from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

from flask import Flask, url_for
from flask.testing import FlaskClient
from PIL import Image
from playwright.sync_api import Page as BrowserPage, expect

from docsvc.constants import IndexState, page_image_key, page_thumb_key, page_words_key
from docsvc.models import Batch, BatchFile, Document, Page, utcnow
from docsvc.runtime import Runtime
from docsvc.governance import loans
from docsvc.governance.accounts import create_user, find_user
from docsvc.files.customers import AccountRule, create_customer
from docsvc.pipeline.indexing import index_pending
from tests.browser import Server, log_in
from tests.conftest import PASSWORD, AuthActions

ACCOUNT = "3100012345"
TERM = "产权分界点"
# Everyone whose pages differ: content duty, customers, loans to decide, accounts; the audit trail is
# walked by a separate auditor, since no account may be both admin and auditor.
ALL_ROLES = ("admin", "archivist", "records_manager", "approver", "operator")
# The pages an archivist, an approver, an auditor and an administrator open; each must be walked.
MAIN_PAGES = {
    "home.index", "batches.index", "batches.show", "batches.upload", "documents.show", "documents.page", "search.search",
    "customers.index", "customers.show", "customers.edit", "customers.new", "customers.import_customers",
    "customers.completeness_report", "customers.cover_sheets", "inbox.index", "loans.index", "audit.index",
    "admin.accounts", "auth.account",
}
# Extra query strings that make a page show its scripted parts (hit boxes, results, a chosen document).
QUERIES = {"documents.page": {"q": TERM, "hl": TERM}, "search.search": {"q": TERM}}


@dataclass
class Seeded:
    batch_id: int
    document_id: int
    page_ids: list[int]
    inbox_document_id: int


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 255).save(out, "PNG")
    return out.getvalue()


def seed(rt: Runtime) -> Seeded:
    """A customer; a finished web batch whose file became a filed two-page document (page 1 has the
    term as an OCR word, indexed); an unfiled document in the inbox; a loan waiting for a decision."""
    with rt.sessions() as s:
        create_customer(s, None, AccountRule(r"^\d{10}$"), ACCOUNT, {"name": "宏达机械制造有限公司"})
        batch = Batch(source="web")
        s.add(batch)
        s.flush()
        bf = BatchFile(batch_id=batch.id, position=0, filename="扫描件.tif", status="done")
        s.add(bf)
        s.flush()
        stored, _ = rt.store.put_original(io.BytesIO(b"%PDF csp test"))
        doc = Document(sha256=stored.sha256, original_key=stored.key, media_type="application/pdf", title="供用电合同",
                       customer_account=ACCOUNT, doc_type="HT", page_count=2, batch_file_id=bf.id,
                       filed_at=utcnow())
        inbox_doc = Document(sha256="b" * 64, original_key=stored.key, media_type="application/pdf",
                             title="待归档.tif", page_count=1)
        s.add_all([doc, inbox_doc])
        s.flush()
        pages = [Page(document_id=doc.id, number=n, source_index=n - 1, status="done", text=text,
                      index_state=IndexState.PENDING)
                 for n, text in ((1, f"本合同{TERM}位于配电房"), (2, "签字页"))]
        pages.append(Page(document_id=inbox_doc.id, number=1, source_index=0, status="done", text="户号", view_rotation=90))
        s.add_all(pages)
        s.flush()
        words = {"width": 600, "height": 800, "words": [{"text": "本合同", "box": [60, 100, 150, 130]},
                                                        {"text": TERM, "box": [160, 100, 300, 130]}]}
        for p in pages:
            p.image_key, p.thumb_key, p.words_key = page_image_key(p.id, "png"), page_thumb_key(p.id), page_words_key(p.id)
            rt.store.put_bytes(p.image_key, _png(600, 800))
            rt.store.put_bytes(p.thumb_key, _png(60, 80))
            rt.store.put_bytes(p.words_key, json.dumps(words if p.number == 1 and p.document_id == doc.id
                                                       else {"width": 600, "height": 800, "words": []}).encode())
        s.commit()
        index_pending(s, rt.index)
        clerk = find_user(s, "clerk") or create_user(s, "clerk", PASSWORD, ["viewer"])
        loans.request_loan(s, clerk, loans.LoanRequest(purpose="电费争议核查", days=7, customer_account=ACCOUNT))
        return Seeded(batch.id, doc.id, [pages[0].id, pages[1].id], inbox_doc.id)


class InlineCode(HTMLParser):
    """Everything in a page that a policy without 'unsafe-inline' would block, and what it loads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.loads: set[str] = set()
        self._json_block: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        where = f"<{tag} {' '.join(f'{k}={v!r}' for k, v in attrs)}>"
        if tag == "style":
            self.problems.append(f"<style> block: {where}")
        if tag == "script":
            if a.get("src"):
                self._loads(a["src"] or "", where)
            elif (a.get("type") or "").lower() == "application/json":
                self._json_block = []
            else:
                self.problems.append(f"inline script: {where}")
        if tag == "link" and "stylesheet" in (a.get("rel") or "").split():
            self._loads(a.get("href") or "", where)
        for name, value in attrs:
            if re.fullmatch(r"on[a-z]+", name):
                self.problems.append(f"event-handler attribute {name}: {where}")
            if name == "style":
                self.problems.append(f"style attribute: {where}")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL: {where}")

    def handle_data(self, data: str) -> None:
        if self._json_block is not None:
            self._json_block.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._json_block is not None:
            try:
                json.loads("".join(self._json_block))
            except ValueError:
                self.problems.append(f"a JSON data block that is not JSON: {''.join(self._json_block)[:80]!r}")
            self._json_block = None

    def _loads(self, url: str, where: str) -> None:
        if not url.startswith("/static/"):
            self.problems.append(f"script or style from outside this site's static files: {where}")
        self.loads.add(url.split("?")[0])


def inline_code(html: str) -> InlineCode:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def assert_strict_policy(headers) -> None:  # type: ignore[no-untyped-def]
    policy = headers["Content-Security-Policy"]
    d = directives(policy)
    assert "unsafe" not in policy, policy
    assert d["script-src"] == ["'self'"] and d["style-src"] == ["'self'"] and d["default-src"] == ["'self'"]
    assert d["object-src"] == ["'none'"] and d["frame-ancestors"] == ["'none'"]
    assert d["base-uri"] == ["'self'"] and d["form-action"] == ["'self'"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def web_pages(app: Flask, seeded: Seeded) -> Iterator[tuple[str, str]]:
    """(endpoint, url) of every web GET route whose arguments the seeded data can fill."""
    values = {"batch_id": seeded.batch_id, "document_id": seeded.document_id, "page_id": seeded.page_ids[0],
              "account": ACCOUNT}
    with app.test_request_context():
        for r in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in (r.methods or ()) or r.rule.startswith("/api/") or r.endpoint in ("static", "healthz"):
                continue
            if not r.arguments <= values.keys():
                continue
            yield r.endpoint, url_for(r.endpoint, **{k: values[k] for k in r.arguments}, **QUERIES.get(r.endpoint, {}))


def test_no_page_carries_inline_code_and_every_page_sends_the_strict_policy(
        app: Flask, client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    seeded = seed(embedded_runtime)
    checked: dict[str, int] = {}
    problems: list[str] = []
    loads: set[str] = set()

    def check(endpoint: str, url: str) -> None:
        response = client.get(url)
        assert_strict_policy(response.headers)
        if response.mimetype != "text/html":
            return
        found = inline_code(response.get_data(as_text=True))
        problems.extend(f"{url}: {p}" for p in found.problems)
        loads.update(found.loads)
        checked[endpoint] = response.status_code

    check("auth.login", "/login")  # before logging in
    auth.login("chief", *ALL_ROLES)
    for endpoint, url in web_pages(app, seeded):
        check(endpoint, url)
    check("inbox.index", f"/inbox?document={seeded.inbox_document_id}")
    check("error", "/documents/987654")  # the error page shares the layout
    auth.login("inspector", "auditor")
    for endpoint, url in web_pages(app, seeded):
        if endpoint.startswith("audit."):
            check(endpoint, url)
    check("home.index", "/")  # the auditor's own panel
    auth.login("clerk")  # a viewer: the search panel
    check("home.index", "/")

    assert not problems, "\n".join(problems)
    assert {e: checked.get(e) for e in MAIN_PAGES | {"auth.login"}} == dict.fromkeys(MAIN_PAGES | {"auth.login"}, 200)
    assert checked["error"] == 404
    assert {"/static/app.css", "/static/js/batch-progress.js", "/static/js/upload.js", "/static/js/viewer.js",
            "/static/js/inbox.js", "/static/js/cover-sheets.js"} <= loads
    for url in loads:  # every script and style a page names is there
        assert client.get(url).status_code == 200, url


def test_scripts_and_styles_are_served_before_login_and_never_sniffed(client: FlaskClient) -> None:
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    script = client.get("/static/js/upload.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/static/../docsvc/config.py").status_code == 404


def test_the_api_sends_the_same_headers(client: FlaskClient, users) -> None:  # type: ignore[no-untyped-def]
    token = users.token("robot", "operator")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert_strict_policy(response.headers)


def test_the_browser_reports_inline_code_the_policy_blocked(
        browser_page: BrowserPage, served: Server, csp_violations: list[str]) -> None:
    """The check every browser test ends with can fail: an injected inline script is refused and reported."""
    page = browser_page
    page.goto(f"{served.url}/login")
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.ran = true';"
                  " document.body.append(s); }")
    assert page.evaluate("() => window.ran === undefined")
    page.evaluate("0")  # a round trip, so the console message has arrived
    assert csp_violations and "script-src" in csp_violations[0], csp_violations
    csp_violations.clear()


def test_the_pages_scripts_work_under_the_policy(
        browser_page: BrowserPage, served: Server, served_runtime: Runtime) -> None:
    """Batch progress, upload, hit boxes and page turning, and cover sheets, with the policy enforced
    (any violation fails the test in the browser plugin). The inbox keys are test_browser_inbox's."""
    seeded = seed(served_runtime)
    page, url = browser_page, served.url
    log_in(page, url, "operator")

    page.goto(f"{url}/batches/{seeded.batch_id}")
    expect(page.locator("#batch-status")).to_have_class(re.compile(r"status-done"))
    expect(page.locator("#files .tile img")).to_have_count(2)  # tiles come from the progress poll only
    assert page.locator("#batch-bar").evaluate("b => [b.value, b.max]") == [2, 2]

    page.goto(f"{url}/upload")
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-error")).to_be_visible()
    expect(page.locator("#upload-error")).to_contain_text("请至少选择一个文件")
    expect(page.locator("#drop")).to_have_css("border-top-style", "dashed")  # the stylesheet applies

    page.goto(f"{url}/pages/{seeded.page_ids[0]}?q={TERM}")
    expect(page.locator("#boxes .hit-box")).to_have_count(1)
    expect(page.locator("#next-hit")).to_be_visible()
    page.click("#next-hit")
    page.click("#next-page")
    page.wait_for_url(re.compile(rf"/pages/{seeded.page_ids[1]}\b"))
    expect(page.locator("#page-text")).to_contain_text("签字页")

    page.goto(f"{url}/cover-sheets?account={ACCOUNT}")
    with page.expect_popup() as popup:
        page.click("#cover-form button[type=submit]")
    assert f"account={ACCOUNT}" in popup.value.url and "type=" in popup.value.url
