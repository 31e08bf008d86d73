"""The home dashboard: each role sees its own panels with figures read from the real services, nobody
sees a panel their roles do not open, and the retention chart's bars follow the counts."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from redis import Redis
from rq import Worker
from rq.worker import WorkerStatus

from docsvc import dashboard
from docsvc.constants import FileState, JobState, QueueName, RetentionStatus
from docsvc.jobs import Stage
from docsvc.files.filing import unfile_document
from docsvc.governance import audit, holds
from docsvc.governance.accounts import create_user
from docsvc.models import Batch, BatchFile, utcnow
from docsvc.runtime import Runtime
from tests.conftest import PASSWORD, REDIS_URL, AuthActions
from tests.factories import add_document
from tests.retention_data import customer, filed
from tests.test_web_csp import inline_code

PANEL_IDS = {"operator": "panel-operator", "archivist": "panel-archivist", "records_manager": "panel-records",
             "admin": "panel-admin", "auditor": "panel-auditor", "viewer": "panel-search"}


def _home(client: FlaskClient) -> str:
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not inline_code(html).problems
    return html


def _figure(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert found, element_id
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def _panels(html: str) -> set[str]:
    return {role for role, panel in PANEL_IDS.items() if f'id="{panel}"' in html}


def test_on_a_fresh_install_every_role_gets_its_panels_without_error(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("chief", "admin", "operator", "archivist", "records_manager")
    assert _panels(_home(client)) == {"operator", "archivist", "records_manager", "admin"}
    auth.login("inspector", "auditor")
    html = _home(client)
    assert _panels(html) == {"auditor"}
    assert "尚未校验过" in html


def test_each_role_sees_only_its_own_panels(client: FlaskClient, auth: AuthActions) -> None:
    for username, roles, expected in (
            ("op", ("operator",), {"operator"}),
            ("arch", ("archivist",), {"archivist"}),
            ("rm", ("records_manager",), {"records_manager"}),
            ("adm", ("admin",), {"admin"}),
            ("aud", ("auditor",), {"auditor"}),
            ("clerk", ("viewer",), {"viewer"}),
            ("boss", ("approver",), {"viewer"}),
            ("two", ("operator", "records_manager"), {"operator", "records_manager"})):
        auth.login(username, *roles)
        assert _panels(_home(client)) == expected, username


def test_operator_sees_batches_in_progress_inbox_and_failed_pages(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    with embedded_runtime.sessions() as s:
        batch = Batch(source="web")
        s.add(batch)
        s.flush()
        bf = BatchFile(batch_id=batch.id, position=0, filename="扫描.pdf", status=FileState.DONE)
        s.add(bf)
        s.flush()
        add_document(s, key="1", title="进行中", texts=["a", "b", "c"], batch_file_id=bf.id)
        running = add_document(s, key="2", title="读取中", texts=[None], page_status=JobState.RUNNING,
                               batch_file_id=bf.id)
        finished = Batch(source="web")
        s.add(finished)
        s.flush()
        failed_doc = add_document(s, key="3", title="坏页文档", texts=["x", None], page_status=JobState.DONE)
        failed_doc.pages[1].status, failed_doc.pages[1].error = JobState.FAILED, "无法识别 / unreadable"
        id_copy = add_document(s, key="4", title="张三身份证", texts=[None], page_status=JobState.FAILED, doc_type="ZJ")
        add_document(s, key="5", title="已归档", texts=["y"], filed_at=utcnow())
        s.commit()
        batch_id, finished_id, failed_page = batch.id, finished.id, failed_doc.pages[1].id
        id_copy_page = id_copy.pages[0].id
        assert running.page_count == 1

    auth.login("op", "operator")
    html = _home(client)
    progress = re.search(rf'>#{batch_id}</a>\s*<progress value="(\d+)" max="(\d+)">', html)
    assert progress and progress.groups() == ("3", "4")
    assert f">#{finished_id}</a>" not in html  # a batch with nothing left to do is not in progress
    assert _figure(html, "inbox-count").startswith("4")  # 1, 2, 3, 4 unfiled with pages; 5 filed
    assert _figure(html, "failed-count").startswith("2")
    assert f'/pages/{failed_page}/retry' in html and "坏页文档" in html
    # the operator lacks the sensitive grant: the ID copy is listed under the placeholder, without a retry form
    assert "张三身份证" not in html and "敏感材料，已隐藏" in html
    assert f'/pages/{id_copy_page}/retry' not in html


def test_archivist_sees_incomplete_files_and_recent_activity_without_sensitive_titles(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    with embedded_runtime.sessions() as s:
        customer(s, "3100000001", "甲公司", stage="contract")
        customer(s, "3100000002", "乙公司", stage="contract")
        customer(s, "3100000003", "丙公司")  # no stage: nothing required
        filed(s, "3100000001", "HT", date(2020, 1, 1), title="供用电合同")
        id_copy = filed(s, "3100000001", "ZJ", date(2020, 1, 1), title="李四身份证复印件")
        unfile_document(s, None, id_copy, reason="错档")
        s.commit()
        expected = len(dashboard.completeness.incomplete(s))
    assert expected == 2

    auth.login("arch", "archivist")
    html = _home(client)
    assert _figure(html, "incomplete-count") == "缺件的客户档案（共 2 户）"
    listed = html[html.index('id="incomplete-files"'):html.index('id="recent-activity"')]
    assert "/customers/3100000001" in listed and "/customers/3100000002" in listed
    assert "/customers/3100000003" not in listed
    activity = html[html.index('id="recent-activity"'):]
    assert 'data-action="document.file">归档<' in activity and 'data-action="document.unlink">撤回归档<' in activity
    assert "供用电合同" in activity
    assert "李四身份证复印件" not in html and "敏感材料，已隐藏" in activity

    with embedded_runtime.sessions() as s:
        create_user(s, "arch2", PASSWORD, ["archivist"], grants=["sensitive"])
    auth.login("arch2")
    assert "李四身份证复印件" in _home(client)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def any_runtime(request: pytest.FixtureRequest) -> Runtime:
    return request.getfixturevalue("embedded_runtime" if request.param == "sqlite" else "pg_runtime")


def test_the_counted_incomplete_files_are_those_the_completeness_report_lists(any_runtime: Runtime) -> None:
    with any_runtime.sessions() as s:
        for account, stage in (("3100000011", "apply"), ("3100000012", "contract"), ("3100000013", "contract"),
                               ("3100000014", "closed"), ("3100000015", None), ("3100000016", "design")):
            customer(s, account, **({"stage": stage} if stage else {}))
        for code in ("SQ", "ZJ", "SJ", "JL", "HT"):  # everything a contract-stage file needs
            filed(s, "3100000012", code, date(2021, 3, 1))
        filed(s, "3100000013", "HT", date(2021, 3, 1))
        filed(s, "3100000016", "SQ", date(2021, 3, 1))
        listed = [c.account for c in dashboard.completeness.incomplete(s)]
        total, first = dashboard.completeness.incomplete_summary(s, 2)
    assert "3100000012" not in listed and "3100000015" not in listed and len(listed) >= 3
    assert total == len(listed) and [c.account for c in first] == listed[:2]


def test_records_manager_sees_due_held_destroyed_and_a_bar_per_year_proportional_to_counts(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    this_year = date.today().year
    per_year = {this_year - 3: 1, this_year: 2, this_year + 1: 4, this_year + 4: 8, this_year + 20: 5}
    with embedded_runtime.sessions() as s:
        n = 0
        for year, count in per_year.items():
            for _ in range(count):
                n += 1
                due = date(year, 6, 1)
                add_document(s, key=f"d{n}", texts=["p"], filed_at=utcnow(), due_on=due,
                             retention_status=RetentionStatus.DUE if due <= date.today() else RetentionStatus.RUNNING)
        add_document(s, key="gone", texts=[], destroyed_at=utcnow() - timedelta(days=400),
                     retention_status=RetentionStatus.DESTROYED)
        add_document(s, key="gone2", texts=[], destroyed_at=utcnow(), retention_status=RetentionStatus.DESTROYED)
        held = add_document(s, key="held", texts=["p"], filed_at=utcnow())
        s.commit()
        holds.place(s, None, "窃电纠纷", "诉讼", document_ids=[held.id])
        board = dashboard.records_panel(s, embedded_runtime.index)
    expected_due = sum(c for y, c in per_year.items() if date(y, 6, 1) <= date.today())

    auth.login("rm", "records_manager")
    html = _home(client)
    assert _figure(html, "due-now").startswith(str(expected_due)) and board.due_now == expected_due
    assert _figure(html, "held").startswith("1")
    assert _figure(html, "destroyed").startswith("2")
    bars = re.findall(r'<g class="bar" data-year="([^"]+)" data-count="(\d+)">.*?<rect [^>]*height="([\d.]+)"',
                      html, re.S)
    assert [label for label, _, _ in bars] == [f"≤{this_year}"] + [str(this_year + i) for i in range(1, 10)]
    counts = {label: int(c) for label, c, _ in bars}
    assert counts[f"≤{this_year}"] == 3 and counts[str(this_year + 1)] == 4 and counts[str(this_year + 4)] == 8
    assert sum(counts.values()) == 15  # the year 20 years on is beyond the chart
    tallest = max(float(h) for _, _, h in bars)
    for _, count, height in bars:
        assert abs(float(height) - tallest * int(count) / 8) < 0.02


def test_bar_chart_heights_are_proportional_and_empty_years_are_flat() -> None:
    chart = dashboard.bar_chart(dashboard.year_bars([(2030, 10), (2031, 5)], 2030, years=3))
    assert [b.count for b in chart.bars] == [10, 5, 0]
    assert chart.bars[0].height == 2 * chart.bars[1].height and chart.bars[2].height == 0
    assert all(b.y + b.height == chart.baseline for b in chart.bars)
    assert all(b.height == 0 for b in dashboard.bar_chart(dashboard.year_bars([], 2030)).bars)


def test_admin_sees_queues_workers_fixity_and_disk_use(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    embedded_runtime.store.put_bytes("pages/1/test.bin", b"x" * 10_000)
    dashboard.forget_usage()
    auth.login("adm", "admin")
    html = _home(client)
    assert _figure(html, "queue-kind").startswith("内置队列")
    assert set(re.findall(r'data-queue="(\w+)"', html)) == {"ingest", "ocr", "index", "operations"}
    status = embedded_runtime.jobs.status()
    assert all(w.state == "alive" for w in status.workers) and len(status.workers) >= 3
    assert html.count("status-done\">alive") == len(status.workers)
    assert "尚未检查过" in html and "有问题的原件：0 个" in html
    store_row = html[html.index('data-usage="store"'):]
    used = embedded_runtime.store.usage(dashboard.USAGE_LIMIT)
    assert used.bytes >= 10_000 and f"{dashboard.human_size(used.bytes)}，{used.objects} 个文件" in store_row


def test_auditor_sees_the_last_recorded_verification_and_its_time(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    auth.login("aud", "auditor")
    assert client.post("/audit/verify", data={"csrf_token": _csrf(client)}).status_code == 200
    html = _home(client)
    with embedded_runtime.sessions() as s:
        last = audit.last_verify(s)
    assert last is not None and last.ok and last.actor == "aud"
    assert _figure(html, "last-verify").startswith(f"完整：{last.events} 条记录")
    assert 'id="verify-now"' in html


def _csrf(client: FlaskClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True))
    assert found
    return found.group(1)


def test_the_batch_list_has_its_own_address_and_the_nav_links_it(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("op", "operator")
    html = _home(client)
    assert 'id="nav-batches" href="/batches"' in html
    assert client.get("/batches").status_code == 200


@pytest.mark.integration
def test_rq_status_counts_waiting_jobs_and_registered_workers() -> None:
    from workers.queues import RQJobQueue

    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    jobs = RQJobQueue(REDIS_URL, timeout_s=60)
    try:
        assert jobs.status().workers == () and jobs.status().waiting == {q.value: 0 for q in QueueName}
        jobs.enqueue(Stage.PAGE, 41)
        jobs.enqueue(Stage.PAGE, 42)
        jobs.enqueue(Stage.INDEX)
        worker = Worker([QueueName.OCR.value], connection=redis, name="ocr-worker-1")
        worker.register_birth()
        worker.set_state(WorkerStatus.BUSY)
        status = jobs.status()
        assert status.kind == "rq" and status.waiting == {"ingest": 0, "ocr": 2, "index": 1, "operations": 0}
        assert [(w.name, w.queues, w.state) for w in status.workers] == [("ocr-worker-1", ("ocr",), "busy")]
        worker.register_death()
        assert jobs.status().workers == ()
    finally:
        redis.flushdb()
        jobs.close()


def test_every_activity_action_has_a_label() -> None:
    from docsvc.labels import LABELS

    assert all(action in LABELS["action"] for action in dashboard.ACTIVITY_ACTIONS)


def test_the_dashboard_follows_the_language_switch(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("chief", "admin", "operator", "archivist", "records_manager")
    client.set_cookie("lang", "en")
    html = _home(client)
    for english in ("Dashboard", "Scanning", "Batches in progress (0)", "Incomplete customer files (0)",
                    "Retention", "Job queues", "Embedded queue", "Disk use", "Never run yet"):
        assert english in html, english
    for chinese in ("工作台", "扫描作业", "进行中的批次", "任务队列", "磁盘占用"):
        assert chinese not in html, chinese
