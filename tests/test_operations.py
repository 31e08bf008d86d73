"""Long operations (docsvc.operations): started in the browser, run by the real job queue, watched through a
progress record that a fresh request (a reload, another browser) reads where it is."""
from __future__ import annotations

import io
import time
import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, update

from docsvc import operations
from docsvc.constants import OPERATION_FILE_DAYS, JobState, OperationKind
from docsvc.i18n import shown, using
from docsvc.pipeline import backup, restore
from docsvc.models import AuditEvent, Customer, Operation, utcnow
from docsvc.runtime import Runtime, build_runtime
from tests.conftest import AuthActions, _csrf_from, docsvc_cli, settings_for
from tests.factories import add_document, add_stored_document
from tests.operations_setup import customers_csv, fresh_client, start_import, wait_for
from tests.test_file_pdf import ACCOUNT, _customer_file
from workers import scheduler

pytestmark = pytest.mark.integration  # the real job threads; a backup's own process; the docsvc command


def test_a_customer_import_runs_in_the_background_and_a_reload_finds_it_done(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    auth.login("arch", "archivist")
    operation_id = start_import(client, auth, customers_csv(3000))
    page = client.get(f"/operations/{operation_id}").get_data(as_text=True)
    assert 'id="op-bar"' in page and "operation-progress.js" in page

    state = wait_for(client, operation_id)
    assert state["status"] == "done", state
    assert state["percent"] == 100 and state["done"] == state["total"] == 3000 and state["stage"] == "writing"
    assert state["summary"]["created"] == 3000 and state["summary"]["rejected"] == 0
    with embedded_runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 3000
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "customer.import")) == 1

    reloaded = fresh_client(client, "arch").get(f"/operations/{operation_id}").get_data(as_text=True)
    assert "status-done" in reloaded and re.search(r'<td>3000</td>', reloaded)
    listing = fresh_client(client, "arch").get("/operations/").get_data(as_text=True)
    assert f'data-operation="{operation_id}"' in listing


def test_an_import_with_rejected_rows_fails_saying_what_to_do_in_the_readers_language(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    auth.login("arch", "archivist")
    operation_id = start_import(client, auth, customers_csv(20, bad_rows=2))
    state = wait_for(client, operation_id)
    assert state["status"] == "failed" and state["summary"]["rejected"] == 2
    assert "拒绝" in state["error"]  # the interface's default language
    english = client.get(f"/operations/{operation_id}", headers={"Accept-Language": "en"})
    client.set_cookie("lang", "en")
    page = client.get(f"/operations/{operation_id}").get_data(as_text=True)
    assert english.status_code == 200 and "Nothing was imported: 2 row(s) were rejected" in page
    errors = client.get(f"/operations/{operation_id}/download")
    assert errors.status_code == 200 and "x0" in errors.get_data(as_text=True)
    with embedded_runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_someone_elses_operation_is_not_shown(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("arch", "archivist")
    operation_id = start_import(client, auth, customers_csv(5))
    wait_for(client, operation_id)
    other = fresh_client(client, auth.users.make("arch2", "archivist"))
    assert other.get(f"/operations/{operation_id}/progress").status_code == 404
    assert f'data-operation="{operation_id}"' not in other.get("/operations/").get_data(as_text=True)


def test_an_admin_backs_up_from_the_browser_into_the_configured_folder(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, tmp_path: Path) -> None:
    add_stored_document(embedded_runtime, b"an original scan", texts=["一页"], title="合同")
    embedded_runtime.settings = embedded_runtime.settings.with_(backup_dir=tmp_path / "backups")
    auth.login("adm", "admin")
    response = client.post("/operations/backup", data={"csrf_token": auth.csrf("/operations/")})
    operation_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    state = wait_for(client, operation_id)
    assert state["status"] == "done", state
    assert state["summary"]["originals"] == 1 and state["stage"] == "manifest" and state["done"] == state["total"]
    folder = Path(state["summary"]["folder"])
    assert folder.parent == tmp_path / "backups" and (folder / "bagit.txt").exists()
    assert str(folder) in fresh_client(client, "adm").get(f"/operations/{operation_id}").get_data(as_text=True)


def test_a_backup_is_refused_when_no_folder_is_configured(client: FlaskClient, auth: AuthActions,
                                                          embedded_runtime: Runtime) -> None:
    auth.login("adm", "admin")
    response = client.post("/operations/backup", data={"csrf_token": auth.csrf("/operations/")},
                           follow_redirects=True)
    assert "DOCSVC_BACKUP_DIR" in response.get_data(as_text=True)
    with embedded_runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Operation)) == 0


def test_a_backup_that_cannot_write_fails_with_its_reason(client: FlaskClient, auth: AuthActions,
                                                          embedded_runtime: Runtime, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backup folder should be")
    embedded_runtime.settings = embedded_runtime.settings.with_(backup_dir=blocker)
    auth.login("adm", "admin")
    response = client.post("/operations/backup", data={"csrf_token": auth.csrf("/operations/")})
    state = wait_for(client, int(response.headers["Location"].rsplit("/", 1)[-1]))
    assert state["status"] == "failed" and "备份" in state["error"]
    assert "failed" in client.get("/operations/").get_data(as_text=True)


def test_only_the_administrator_starts_backups_and_rebuilds(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("arch", "archivist")
    token = auth.csrf("/operations/")
    assert client.post("/operations/backup", data={"csrf_token": token}).status_code == 403
    assert client.post("/operations/reindex", data={"csrf_token": token}).status_code == 403


def test_an_admin_rebuilds_the_search_index_and_watches_it(client: FlaskClient, auth: AuthActions,
                                                           embedded_runtime: Runtime) -> None:
    with embedded_runtime.sessions() as s:
        for n in range(3):
            add_document(s, key=str(n), texts=[f"产权分界点第{n}页", "第二页"])
        s.commit()
    auth.login("adm", "admin")
    assert 'id="start-reindex"' in client.get("/admin/integrity").get_data(as_text=True)
    response = client.post("/operations/reindex", data={"csrf_token": auth.csrf("/admin/integrity")})
    state = wait_for(client, int(response.headers["Location"].rsplit("/", 1)[-1]))
    assert state["status"] == "done" and state["done"] == state["total"] == 6 and state["summary"]["pages"] == 6
    assert embedded_runtime.index.search("产权分界点").total_documents == 3


def test_a_customer_file_pdf_is_made_in_the_background_and_offered_to_whoever_asked(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, tmp_path: Path) -> None:
    _customer_file(embedded_runtime, tmp_path, with_scan=False)
    auth.login("arch", "archivist")
    page = client.get(f"/customers/{ACCOUNT}").get_data(as_text=True)
    assert 'id="download-pdf"' in page
    response = client.post(f"/customers/{ACCOUNT}/file.pdf", data={"csrf_token": _csrf_from(page)})
    operation_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    state = wait_for(client, operation_id)
    assert state["status"] == "done" and state["download"], state
    assert state["summary"]["pages"] == state["total"] == state["done"] and state["stage"] == "pages"
    pdf = client.get(f"/operations/{operation_id}/download")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    other = fresh_client(client, auth.users.make("adm", "admin"))
    assert other.get(f"/operations/{operation_id}/progress").get_json()["status"] == "done"
    assert other.get(f"/operations/{operation_id}/download").status_code == 404  # the admin watches, not reads


def test_the_originals_zip_is_made_in_the_background(client: FlaskClient, auth: AuthActions,
                                                     embedded_runtime: Runtime, tmp_path: Path) -> None:
    _customer_file(embedded_runtime, tmp_path, with_scan=False)
    auth.login("arch", "archivist")
    page = client.get(f"/customers/{ACCOUNT}").get_data(as_text=True)
    response = client.post(f"/customers/{ACCOUNT}/originals.zip", data={"csrf_token": _csrf_from(page)})
    state = wait_for(client, int(response.headers["Location"].rsplit("/", 1)[-1]))
    assert state["status"] == "done" and state["summary"]["files"] == 2 == state["done"] == state["total"]
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/operations/{state['id']}/download").data))
    assert len(archive.namelist()) == 2  # the ID copy is sensitive: withheld from an archivist


def test_a_backup_from_the_command_line_shows_in_the_browser(client: FlaskClient, auth: AuthActions,
                                                             embedded_runtime: Runtime, tmp_path: Path) -> None:
    env = {"DOCSVC_DATA_DIR": str(embedded_runtime.settings.data_dir), "DOCSVC_SECRET_KEY": "test-secret"}
    done = docsvc_cli("backup", str(tmp_path / "cli-backup"), env=env)
    assert done.returncode == 0, done.stderr
    auth.login("adm", "admin")
    listing = client.get("/operations/").get_data(as_text=True)
    with embedded_runtime.sessions() as s:
        operation = s.scalars(select(Operation)).one()
        assert (operation.kind, operation.status, operation.started_by_id) == ("backup", "done", None)
        assert operation.done == operation.total and operation.finished_at is not None
    assert f'data-operation="{operation.id}"' in listing


@pytest.mark.parametrize("kind", ["reindex"])
def test_a_reindex_from_the_command_line_is_recorded(kind: str, embedded_runtime: Runtime) -> None:
    with embedded_runtime.sessions() as s:
        add_document(s, key="r", texts=["一页", "两页"])
        s.commit()
    env = {"DOCSVC_DATA_DIR": str(embedded_runtime.settings.data_dir), "DOCSVC_SECRET_KEY": "test-secret"}
    done = docsvc_cli(kind, "--procs", "1", env=env)
    assert done.returncode == 0, done.stderr
    with embedded_runtime.sessions() as s:
        operation = s.scalars(select(Operation)).one()
        assert (operation.kind, operation.status, operation.done, operation.total) == ("reindex", "done", 2, 2)


def test_a_restore_ends_the_operations_the_backup_caught_mid_way(embedded_runtime: Runtime, tmp_path: Path) -> None:
    with embedded_runtime.sessions() as s:
        caught_id = operations.register(s, OperationKind.REINDEX, {"command": "docsvc reindex"}).id
    backup.write(embedded_runtime.engine, embedded_runtime.store, tmp_path / "bag")
    target = build_runtime(settings_for(tmp_path / "restored"))
    try:
        restore.restore(tmp_path / "bag", target.engine, target.sessions, target.store, None, target.settings)
        with target.sessions() as s, using("en"):
            caught = s.get(Operation, caught_id)
            assert caught is not None and caught.status == JobState.FAILED
            assert shown(caught.error).startswith("Interrupted: the archive was restored from a backup")
    finally:
        target.close()


def test_files_operations_made_leave_the_store_after_their_days(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    now = datetime.now(timezone.utc)
    with rt.sessions() as s:
        for n, age in ((1, OPERATION_FILE_DAYS + 1), (2, 1)):
            key = f"operations/{n}/file.pdf"
            rt.store.put_bytes(key, b"%PDF")
            s.add(Operation(kind="file_pdf", status="done", result_key=key, result_name="file.pdf",
                            finished_at=now - timedelta(days=age)))
        s.commit()
    scheduler.expire_operation_files(rt)
    assert not rt.store.exists("operations/1/file.pdf") and rt.store.exists("operations/2/file.pdf")
    assert "operations: remove old export files" in [name for name, _task in scheduler.quick_tasks()]


def test_progress_is_written_a_few_times_not_once_per_item(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    with rt.sessions() as s:
        run = operations.register(s, OperationKind.REINDEX, {})
    writes: list[str] = []

    def count(_conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("UPDATE operations"):
            writes.append(statement)

    event.listen(rt.engine, "before_cursor_execute", count)
    try:
        progress = operations.Progress(rt.engine, run.id, every_s=60)
        for n in range(1, 10_001):
            progress("pages", n, 10_000)
    finally:
        event.remove(rt.engine, "before_cursor_execute", count)
    assert len(writes) == 2  # the first figure of the stage, and the last
    with rt.sessions() as s:
        assert (s.get(Operation, run.id).stage, s.get(Operation, run.id).done) == ("pages", 10_000)  # type: ignore[union-attr]


def test_a_browser_backup_links_the_originals_the_previous_one_holds_unless_a_full_copy_is_asked(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime, tmp_path: Path) -> None:
    embedded_runtime.settings = embedded_runtime.settings.with_(backup_dir=tmp_path / "backups")
    for n in range(3):
        add_stored_document(embedded_runtime, f"%PDF-1.4 scan {n}".encode(), texts=[f"第{n}页"], title=f"合同{n}")
    auth.login("adm", "admin")

    def back_up(**form: str) -> dict:  # type: ignore[type-arg]
        response = client.post("/operations/backup", data={"csrf_token": auth.csrf("/operations/"), **form})
        state = wait_for(client, int(response.headers["Location"].rsplit("/", 1)[-1]))
        assert state["status"] == "done", state
        return state

    first = back_up()["summary"]
    assert (first["originals"], first["originals_copied"], first["originals_linked"]) == (3, 3, 0)
    add_stored_document(embedded_runtime, b"%PDF-1.4 scan new", texts=["新页"], title="新合同")
    second = back_up()
    summary = second["summary"]
    assert (summary["originals"], summary["originals_copied"], summary["originals_linked"]) == (4, 1, 3)
    linked = Path(summary["folder"]) / "data" / "originals"
    assert all(path.stat().st_nlink == 2 for path in (Path(first["folder"]) / "data" / "originals").iterdir())
    assert len(list(linked.iterdir())) == 4
    assert first["folder"] in client.get(f"/operations/{second['id']}").get_data(as_text=True)  # linked from
    full = back_up(full="1")["summary"]
    assert (full["originals"], full["originals_copied"], full["originals_linked"]) == (4, 4, 0)


def test_a_command_line_run_gone_silent_is_marked_failed_and_a_live_one_is_left_running(
        client: FlaskClient, auth: AuthActions, embedded_runtime: Runtime) -> None:
    with embedded_runtime.sessions() as s:
        gone = operations.register(s, OperationKind.BACKUP, {"command": "docsvc backup"})
        alive = operations.register(s, OperationKind.REINDEX, {"command": "docsvc reindex"})
        s.execute(update(Operation).where(Operation.id == gone.id)
                  .values(updated_at=utcnow() - operations.SILENT_AFTER - timedelta(seconds=1)))
        s.commit()
        assert operations.abandon_silent(s) == 1
        assert (s.get(Operation, gone.id).status, s.get(Operation, alive.id).status) == ("failed", "running")
        gone_id = gone.id
    auth.login("adm", "admin")
    state = client.get(f"/operations/{gone_id}/progress", headers={"Accept-Language": "en"}).get_json()
    assert state["status"] == "failed" and "killed" in state["error"] and "Run the command again" in state["error"]


def test_a_command_line_run_says_it_is_alive_through_a_long_step_with_no_progress(embedded_runtime: Runtime) -> None:
    def last_news(operation_id: int) -> datetime:
        with embedded_runtime.sessions() as reader:
            return reader.scalar(select(Operation.updated_at).where(Operation.id == operation_id))  # type: ignore[return-value]

    with embedded_runtime.sessions() as s:
        with operations.reported(s, OperationKind.REINDEX, {"command": "docsvc reindex"}, heartbeat_s=0.05) as (run, _):
            registered = last_news(run.id)
            time.sleep(0.5)  # a step that reports nothing
            assert last_news(run.id) > registered
            operations.finish(s, run)
        assert s.get(Operation, run.id).status == "done"
