"""The `docsvc` command."""
from __future__ import annotations

import logging
import secrets
import tempfile
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click
from sqlalchemy import func, select
from tqdm import tqdm

import workers
from docsvc import create_app, db, logs, operations
from docsvc.config import ConfigError, Settings
from docsvc.constants import FileState, Grant, IndexState, OperationKind, Role
from docsvc.errors import DomainError
from docsvc.files import four_properties, four_properties_report
from docsvc.governance import audit, fixity, retention
from docsvc.governance.accounts import (
    AccountError, create_user, find_user, issue_token, list_tokens, revoke_token, set_active, set_grants, set_roles,
)
from docsvc.jobs import enqueue_index
from docsvc.models import Page, User
from docsvc.ocr.layout import LAYOUT_VERSION
from docsvc.pipeline import (backup as backup_service, consistency, reindex as reindex_service,
                             reread as reread_service, restore as restore_service)
from docsvc.pipeline.batches import batch_report
from docsvc.pipeline.hotfolder import HotFolder
from docsvc.pipeline.intake import Upload, UploadTooLarge, check_size, receive
from docsvc.runtime import Runtime, build_runtime, install
from workers.main import run_worker
from workers.scheduler import run_scheduler
from docsvc.i18n import _, lazy_gettext as _l, shown
from docsvc.labels import label


def _settings(log_level: int = logging.WARNING) -> Settings:
    """The settings from the environment; logs in DOCSVC_LOG_FORMAT at `log_level` (INFO for the services,
    WARNING for one-off commands, whose output is their progress and report)."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:   # a wrong setting is the operator's to fix: say which, no traceback
        raise click.ClickException(str(exc)) from None
    logs.configure(settings.log_format, log_level)
    return settings


def _runtime(log_level: int = logging.WARNING) -> Runtime:
    rt = build_runtime(_settings(log_level))
    install(rt)
    return rt


def _migrated_runtime(log_level: int = logging.WARNING) -> Runtime:
    rt = _runtime(log_level)
    try:
        db.check_migrated(rt.engine)
    except db.DatabaseNotMigrated as exc:
        raise click.ClickException(str(exc)) from None
    return rt


@click.group(help=_l("docsvc — document management for scanned customer files."))
def main() -> None:
    workers.wire()  # this entry point hands the application its job queues


@main.command(help=_l("Run the web service (and, without Redis, the in-process workers)."))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, threads: int) -> None:
    # waitress only for `serve`: the other commands start without it
    from waitress import serve as waitress_serve

    rt = _runtime(logging.INFO)
    try:
        app = create_app(runtime=rt)
    except db.DatabaseNotMigrated as exc:
        raise click.ClickException(str(exc)) from None
    _announce_schema_rebuild(rt)
    mode = _("embedded") if rt.settings.embedded_jobs else _("full stack (Redis workers)")
    click.echo(_("docsvc running: %(url)s   [%(mode)s]", url=f"http://{host}:{port}/", mode=mode))
    click.echo(_("data: %(directory)s", directory=rt.settings.data_dir))
    click.echo(_("log in: user admin with the password printed on first run, or create an account with "
                 "`docsvc user create NAME --role admin`."))
    waitress_serve(app, host=host, port=port, threads=threads, max_request_body_size=rt.settings.max_upload_mb * 2**20)


@main.group("db", help=_l("Database schema."))
def db_group() -> None:
    pass


@db_group.command("upgrade", help=_l("Apply every pending migration."))
def db_upgrade() -> None:
    rt = _runtime()
    db.upgrade(rt.engine)
    click.echo(_("database at revision %(revision)s", revision=db.current_revision(rt.engine)))


@main.command(help=_l("Run an RQ worker on QUEUES (default: ingest ocr operations). Run exactly one worker on `index`."))
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help=_l("Stop when the queues are empty."))
def worker(queues: tuple[str, ...], burst: bool) -> None:
    rt = _runtime(logging.INFO)
    if "index" in queues:
        _announce_schema_rebuild(rt)
    run_worker(list(queues) or ["ingest", "ocr", "operations"], burst=burst)


def _announce_schema_rebuild(rt: Runtime) -> None:
    """An index of an older schema is rebuilt by the index worker (the one writer) before it writes."""
    if rt.index.needs_rebuild():
        click.echo(_("The search index schema changed: the index worker rebuilds it now (the old index serves searches meanwhile)."))
        enqueue_index(rt.jobs)


@main.command(help=_l("Rebuild the search index from the database; resumes after an interruption, swaps in when "
                        "complete."))
@click.option("--commit-every", default=20000, show_default=True, type=int,
              help=_l("Pages per commit (resume point); each process writes a segment of its share."))
@click.option("--procs", default=2, show_default=True, type=click.IntRange(1, 16),
              help=_l("Indexing processes (one per core is fastest; the rebuild merges their segments before the "
                      "swap)."))
def reindex(commit_every: int, procs: int) -> None:
    rt = _migrated_runtime()
    with rt.sessions() as session:
        bars = _StageBars()
        # Registered as an operation: the administrator watches it in the browser too (/operations).
        with operations.reported(session, OperationKind.REINDEX, {"command": "docsvc reindex"}, echo=bars) as (run, progress):
            total = operations.rebuild_index(rt, session, progress, commit_every=commit_every, procs=procs)
            bars.close()
            operations.finish(session, run, summary={"pages": total})
    click.echo(_("index rebuilt and live: %(directory)s", directory=rt.index.current_directory()))
    rt.close()


@main.command(help=_l("Read pages again with today's reader: a new layout from the stored words (fast), otherwise "
                        "OCR.\n\nEach page keeps its old text until the new text replaces it; the pages are then "
                        "re-indexed. The options combine: `--before 2 --customer 3000000001` re-reads that customer's "
                        "older pages."))
@click.option("--before", type=click.IntRange(min=1), default=None,
              help=_l("Only pages an older reader produced: laid out before this layout version (today's is "
                      "%(version)s), or read before readers were recorded.", version=LAYOUT_VERSION))
@click.option("--document", "document_id", type=int, default=None, help=_l("Only this document's pages (its id)."))
@click.option("--customer", "customer_account", default=None, metavar=_l("ACCOUNT"),
              help=_l("Only the pages of this customer's file (its account number)."))
@click.option("--ocr", is_flag=True, help=_l("OCR the selected pages again even where their stored words would do "
                                             "(after a change of engine or models)."))
@click.option("--wait/--no-wait", default=True, show_default=True,
              help=_l("Wait until the search index has the new text (embedded mode; with Redis the index worker "
                      "takes it)."))
def reread(before: int | None, document_id: int | None, customer_account: str | None, ocr: bool, wait: bool) -> None:
    rt = _migrated_runtime()
    selection = reread_service.Selection(before=before, document_id=document_id, customer_account=customer_account)
    with rt.sessions() as session:
        total = reread_service.count(session, selection)
    if total == 0:
        click.echo(_("no pages match"))
        rt.close()
        return
    bar = tqdm(total=total, desc=_("re-reading"), unit=_("page"))

    def progress(report: reread_service.RereadReport) -> None:
        bar.n = min(total, report.done + len(report.failed) + report.skipped)
        bar.refresh()

    report = reread_service.reread(rt.sessions, rt.settings, rt.store, selection, ocr=ocr, progress=progress)
    bar.close()
    ways = report.ways
    click.echo(_("re-read %(done)s pages: layout only %(layout)s, OCR %(ocr)s, text layer %(text_layer)s; "
                 "failed %(failed)s; changed meanwhile, skipped %(skipped)s", done=report.done,
                 layout=ways[reread_service.Way.LAYOUT], ocr=ways[reread_service.Way.OCR],
                 text_layer=ways[reread_service.Way.TEXT_LAYER], failed=len(report.failed), skipped=report.skipped))
    for page_id, message in report.failed[:20]:
        click.echo(f"  [{page_id}] {message}")
    if wait and report.done and rt.settings.embedded_jobs:
        rt.jobs.start()  # the index job the re-read queued runs on this process's index thread
        _follow_index(rt)
    rt.close()
    if report.failed:
        sys.exit(1)


def _follow_index(rt: Runtime) -> None:
    bar = tqdm(desc=_("indexing"), unit=_("page"), total=0)
    with rt.sessions() as session:
        while True:
            pending = session.scalar(select(func.count()).select_from(Page)
                                     .where(Page.index_state == IndexState.PENDING)) or 0
            bar.total = max(bar.total or 0, pending)
            bar.n = bar.total - pending
            bar.refresh()
            if not pending:
                break
            session.rollback()
            time.sleep(0.5)
    bar.close()


@main.group("index", help=_l("The search index."))
def index_group() -> None:
    pass


@index_group.command("check", help=_l("Compare the search index with the database; exit status 0 only when they "
                                      "agree (or were repaired)."))
@click.option("--repair", is_flag=True, help=_l("Index the missing pages and delete the stale entries."))
def index_check(repair: bool) -> None:
    rt = _migrated_runtime()
    found = reindex_service.check(rt.sessions, rt.index)

    def sample(ids: list[int]) -> str:
        return ", ".join(map(str, ids[:20])) + (" …" if len(ids) > 20 else "")

    click.echo(_("pages missing from the index: %(count)s  %(sample)s", count=len(found.missing),
                 sample=sample(found.missing)))
    click.echo(_("entries whose page is gone: %(count)s  %(sample)s", count=len(found.stale), sample=sample(found.stale)))
    if found.duplicated:
        click.echo(_("duplicated entries: %(count)s  %(sample)s", count=len(found.duplicated),
                     sample=sample(found.duplicated)))
    click.echo(_("pages waiting for the index worker: %(count)s", count=found.pending))
    if found.ok:
        click.echo(_("index and database agree"))
    elif repair:
        reindex_service.repair(rt.sessions, rt.index, found)
        click.echo(_("repaired"))
    else:
        click.echo(_("run `docsvc index check --repair` to fix"))
    rt.close()
    if not found.ok and not repair:
        sys.exit(1)


def _collect(paths: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")))
        elif p.is_file():
            files.append(p)
        else:
            raise click.ClickException(_("%(path)s does not exist.", path=p))
    return files


@main.command("import", help=_l("Import files and folders (recursive) as one batch, with a progress bar."))
@click.argument("paths", nargs=-1, required=True)
@click.option("--customer-account", default=None, metavar=_l("ACCOUNT"),
              help=_l("The customer's account number for every file."))
@click.option("--doc-type", default=None, help=_l("The document type code for every file."))
@click.option("--wait/--no-wait", default=True, show_default=True, help=_l("Wait until every page is processed."))
def import_(paths: tuple[str, ...], customer_account: str | None, doc_type: str | None, wait: bool) -> None:
    rt = _migrated_runtime()
    files, refused = [], 0
    for f in _collect(paths):
        try:  # from the size alone: a file above the limit is never read
            check_size(f.name, f.stat().st_size, rt.settings.max_upload_mb)
            files.append(f)
        except UploadTooLarge as exc:
            click.echo(f"  {f}: {exc.message}", err=True)
            refused += 1
    if not files:
        raise click.ClickException(_("No files to import."))
    bar = tqdm(files, desc=_("storing"), unit=_("file"))
    with rt.sessions() as session:
        streams = []
        def uploads():  # type: ignore[no-untyped-def]
            for f in bar:
                stream = f.open("rb")
                streams.append(stream)
                yield Upload(f.name, stream)
        try:
            batch = receive(session, rt.store, rt.jobs, uploads(), source="cli",
                            customer_account=customer_account, doc_type=doc_type)
        finally:
            for s in streams:
                s.close()
        click.echo(_("batch #%(id)s: %(count)s files", id=batch.id, count=len(files)))
        if not wait:
            sys.exit(1 if refused else 0)
        rt.jobs.start()  # in-process threads in the embedded mode; RQ's workers are their own processes
        report = _follow(session, batch.id, batch_report)
    for f in report.files:
        if f.status in (FileState.FAILED, FileState.PARTIAL, FileState.DUPLICATE):
            click.echo(f"  {f.name}: {label('status', f.status)} — {shown(f.error)}")
    click.echo(_("finished: %(status)s; pages %(done)s/%(total)s, failed %(failed)s", status=label("status", report.status),
                 done=report.pages_done, total=report.pages_total, failed=report.pages_failed))
    rt.close()
    if refused or report.status in (FileState.FAILED, FileState.PARTIAL):
        sys.exit(1)


def _follow(session, batch_id, batch_report):  # type: ignore[no-untyped-def]
    """Show page progress until the batch has finished."""
    bar = tqdm(desc=_("processing"), unit=_("page"), total=0)
    while True:
        session.expire_all()
        report = batch_report(session, batch_id)
        bar.total = report.pages_total
        bar.n = report.pages_done + report.pages_failed
        bar.refresh()
        if report.status not in (FileState.QUEUED, FileState.RUNNING):
            bar.close()
            return report
        time.sleep(0.5)


@main.command(help=_l("Watch a hot folder (polling; works on SMB/NFS shares): ingest complete files, move them to "
                        "done/ or failed/."))
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--interval", type=float, default=None,
              help=_l("Seconds between looks (default DOCSVC_HOT_FOLDER_POLL or 2)."))
@click.option("--once", is_flag=True, help=_l("Look until the folder is empty and every file settled, then stop."))
def watch(directory: Path, interval: float | None, once: bool) -> None:
    rt = _migrated_runtime()
    rt.jobs.start()  # in-process threads in the embedded mode; RQ's workers are their own processes
    folder = HotFolder(directory, max_upload_mb=rt.settings.max_upload_mb)
    pause = interval if interval is not None else rt.settings.hot_folder_poll_s
    click.echo(_("watching %(directory)s (every %(seconds)s s)", directory=directory.resolve(), seconds=pause))
    quiet_looks = 0
    with rt.sessions() as session:
        while True:
            for path in folder.poll(session, rt.store, rt.jobs):
                click.echo(_("ingested %(name)s", name=path.name))
            if once:
                quiet_looks = quiet_looks + 1 if folder.pending() == 0 and not folder.has_candidates() else 0
                if quiet_looks >= 2:
                    break
            time.sleep(pause)
    rt.close()


@main.command(help=_l("Periodic upkeep for the full stack: each round queues the jobs Redis could not take (the "
                        "outbox) and work whose worker died mid-job; once a day the daily tasks."))
@click.option("--interval", type=float, default=30.0, show_default=True, help=_l("Seconds between rounds."))
@click.option("--once", is_flag=True, help=_l("One round, then stop."))
def scheduler(interval: float, once: bool) -> None:
    rt = _migrated_runtime(logging.INFO)

    def report(requeued: int) -> None:
        if requeued:
            click.echo(_("re-queued %(count)s job(s)", count=requeued))

    run_scheduler(rt, interval_s=interval, once=once, report=report)


@main.group(help=_l("User accounts."))
def user() -> None:
    pass


@user.command("create", help=_l("Create a user account."))
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice([r.value for r in Role]), help=_l("May be given several times."))
@click.option("--password-stdin", is_flag=True, help=_l("Read the password from standard input."))
@click.option("--grant", "grants", multiple=True, type=click.Choice([g.value for g in Grant]),
              help=_l("Extra right, e.g. `sensitive` (may see ID copies)."))
def user_create(username: str, roles: tuple[str, ...], password_stdin: bool, grants: tuple[str, ...]) -> None:
    rt = _migrated_runtime()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else click.prompt(
        _("password"), hide_input=True, confirmation_prompt=True)
    with rt.sessions() as session:
        try:
            create_user(session, username, password, list(roles), grants=list(grants))
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(_("created user %(username)s (%(roles)s)", username=username, roles=", ".join(roles)))


def _account(session, username: str):  # type: ignore[no-untyped-def]

    account = find_user(session, username)
    if account is None:
        raise click.ClickException(_("No user %(username)s.", username=username))
    return account


@user.command("disable", help=_l("Disable an account: it can no longer log in or use its API tokens."))
@click.argument("username")
def user_disable(username: str) -> None:
    with _migrated_runtime().sessions() as session:
        set_active(session, None, _account(session, username), False)
    click.echo(_("disabled %(username)s", username=username))


@user.command("enable", help=_l("Enable an account again (also clears a lockout)."))
@click.argument("username")
def user_enable(username: str) -> None:
    with _migrated_runtime().sessions() as session:
        set_active(session, None, _account(session, username), True)
    click.echo(_("enabled %(username)s", username=username))


@user.command("set-role", help=_l("Replace the roles of an account."))
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice([r.value for r in Role]), help=_l("The complete new set; may be given several times."))
def user_set_role(username: str, roles: tuple[str, ...]) -> None:
    with _migrated_runtime().sessions() as session:
        set_roles(session, None, _account(session, username), list(roles))
    click.echo(f"{username}: {', '.join(sorted(roles))}")


@user.command("grant", help=_l("Set the extra grants of an account (e.g. `--grant sensitive`)."))
@click.argument("username")
@click.option("--grant", "grants", multiple=True, type=click.Choice([g.value for g in Grant]),
              help=_l("The complete new set of grants; give none to remove all."))
def user_grant(username: str, grants: tuple[str, ...]) -> None:
    with _migrated_runtime().sessions() as session:
        set_grants(session, None, _account(session, username), list(grants))
    click.echo(f"{username}: {', '.join(sorted(grants)) or '—'}")


@user.command("ensure-admin", help=_l("Create user `admin` with a random password, printed once, when no admin "
                                     "exists."))
def user_ensure_admin() -> None:
    rt = _migrated_runtime()
    with rt.sessions() as session:
        admins = [u for u in session.scalars(select(User)) if Role.ADMIN in u.role_set]
        if admins:
            return
        password = secrets.token_urlsafe(12)
        create_user(session, "admin", password, [Role.ADMIN, Role.OPERATOR, Role.ARCHIVIST])
    click.echo("=" * 60)
    click.echo(_("first administrator:  admin / %(password)s", password=password))
    click.echo(_("This password is shown only once."))
    click.echo("=" * 60)


@main.group(help=_l("API tokens."))
def token() -> None:
    pass


@token.command("create", help=_l("Create an API token for USERNAME; the token is printed on the last line, once."))
@click.argument("username")
@click.option("--label", "purpose", default="", help=_l("What the token is for."))
def token_create(username: str, purpose: str) -> None:
    rt = _migrated_runtime()
    with rt.sessions() as session:
        value = issue_token(session, _account(session, username), purpose)
    click.echo(_("the token is shown only once:"))
    click.echo(value)


@token.command("list", help=_l("List USERNAME's tokens (ids, names, state; never the tokens themselves)."))
@click.argument("username")
def token_list(username: str) -> None:
    with _migrated_runtime().sessions() as session:
        for row in list_tokens(session, _account(session, username)):
            state = _("revoked %(day)s", day=f"{row.revoked_at:%Y-%m-%d}") if row.revoked_at else _("in use")
            click.echo(f"{row.id}\t{row.name}\t{row.created_at:%Y-%m-%d}\t{state}")


@token.command("revoke", help=_l("Revoke token TOKEN_ID (see `docsvc token list`)."))
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    with _migrated_runtime().sessions() as session:
        try:
            revoke_token(session, None, token_id)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(_("revoked token %(id)s", id=token_id))


@main.group("audit", help=_l("The audit trail."))
def audit_group() -> None:
    pass


@audit_group.command("verify", help=_l("Walk the hash chain and check the anchors; exit status 0 only when the trail "
                                       "is intact."))
def audit_verify() -> None:
    rt = _migrated_runtime()
    started = time.monotonic()
    with rt.sessions() as session:
        report = audit.verify(session, audit.load_anchors(rt.store))
    click.echo(f"{report.summary()} ({time.monotonic() - started:.1f}s)")
    rt.close()
    if not report.ok:
        sys.exit(1)


@audit_group.command("anchor", help=_l("Write today's anchor (latest seq and hash) to the object store; the "
                                       "scheduler runs this daily."))
def audit_anchor() -> None:
    rt = _migrated_runtime()
    with rt.sessions() as session:
        anchor = audit.write_anchor(session, rt.store)
    click.echo(_("anchor %(day)s: #%(seq)s %(hash)s", day=anchor.day, seq=anchor.seq, hash=anchor.hash))




@main.command("fixity", help=_l("Re-read originals (least recently checked first), compare their SHA-256 with the "
                                  "record, list missing and unexpected ones; exit status 0 only when nothing is wrong."))
@click.option("--budget", type=click.FloatRange(min=0, min_open=True), default=None,
              help=_l("Megabytes of originals to re-read (default DOCSVC_FIXITY_DAILY_MB)."))
@click.option("--all", "everything", is_flag=True, help=_l("Re-read every original, whatever the budget."))
def fixity_command(budget: float | None, everything: bool) -> None:
    rt = _migrated_runtime()
    settings = rt.settings
    budget_bytes = None if everything else int((budget or settings.fixity_daily_mb) * fixity.MB)
    with rt.sessions() as session:
        report = fixity.run(session, rt.store, budget_bytes=budget_bytes,
                            rate_bytes_s=settings.fixity_rate_mb_s * fixity.MB)
    click.echo(_("re-read %(count)s original(s), %(mb)s MB; intact %(intact)s; never checked yet %(unchecked)s",
                 count=report.checked, mb=f"{report.bytes_read / fixity.MB:.1f}", intact=report.intact,
                 unchecked=report.unchecked))
    for problem in report.problems:
        documents = "; ".join(d.label() for d in problem.documents) or _("no document")
        click.echo(f"[{problem.outcome}] {problem.key}  {documents}")
        click.echo(f"    {problem.advice}")
    counts = report.counts()
    click.echo(_("altered %(altered)s, missing %(missing)s, unexpected %(unexpected)s", altered=counts["altered"],
                 missing=counts["missing"], unexpected=counts["unexpected"]))
    rt.close()
    if not report.ok:
        sys.exit(1)


@main.command("check", help=_l("Compare database, object store and search index; exit status 0 only when nothing "
                                 "is left for a person."))
@click.option("--repair", is_flag=True,
              help=_l("Fix what is safe: queue pages and stuck work again, repair the index."))
def check_command(repair: bool) -> None:
    rt = _migrated_runtime()
    report = consistency.check(rt.sessions, rt.store, rt.index)
    if repair and not report.ok:
        consistency.repair(rt.sessions, rt.index, rt.jobs, report)
    for kind in consistency.Kind:
        found = [f for f in report.findings if f.kind == kind]
        if not found:
            continue
        state = _("repaired") if report.repaired and kind in consistency.REPAIRABLE else _("to do")
        click.echo(f"{kind}: {len(found)}  [{state}]  {consistency.ADVICE[kind]}")
        for finding in found[:20]:
            click.echo(f"    {finding.subject}  {finding.detail}".rstrip())
        if len(found) > 20:
            click.echo("    " + _("… %(count)s more", count=len(found) - 20))
    if report.ok:
        click.echo(_("database, object store and index agree"))
    elif report.needs_person and not repair:
        click.echo(_("run `docsvc check --repair` to fix what is safe"))
    rt.close()
    if report.needs_person:
        sys.exit(1)


@main.command("four-properties", help=_l(
    "Four-properties check (DA/T 70-2018): authenticity, integrity, usability and security of customer files, as a "
    "report (JSON, CSV or PDF); exit status 1 when a check needs a person."))
@click.option("--customer", "accounts", multiple=True, metavar=_l("ACCOUNT"),
              help=_l("A customer file to check (repeat for several); every customer file when none is given."))
@click.option("--format", "fmt", type=click.Choice(sorted(four_properties_report.FORMATS)), default=None,
              help=_l("Report format (default: from --output's extension, else json)."))
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help=_l("Write the report to this file (default: stdout; a PDF needs --output)."))
@click.option("--recompute", is_flag=True,
              help=_l("Re-read every original's SHA-256 now instead of using the last fixity results."))
@click.option("--all-pages", is_flag=True, help=_l("Decode every page of each original, not only the first."))
@click.option("--bag", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help=_l("Check a backup bag (`docsvc backup`, e.g. a transfer package) instead of this archive: it is "
                      "validated, restored into a temporary instance and checked there."))
def four_properties_command(accounts: tuple[str, ...], fmt: str | None, output: Path | None, recompute: bool,
                            all_pages: bool, bag: Path | None) -> None:
    fmt = fmt or (output.suffix.lstrip(".").lower() if output and output.suffix.lstrip(".").lower()
                  in four_properties_report.FORMATS else "json")
    if fmt == "pdf" and output is None:
        raise click.UsageError(_("A PDF report needs --output FILE."))
    settings = _settings() if bag else None
    rt = None if bag else _migrated_runtime()
    stages = _StageBars()
    bar = tqdm(desc=_("checking originals"), unit=_("file"), file=sys.stderr, delay=0.5)
    try:
        if rt is not None:
            settings = rt.settings
            with rt.sessions() as session:
                report = four_properties.run(session, rt.store, settings.filing, None,
                                             accounts=list(accounts) or None, recompute=recompute,
                                             all_pages=all_pages, on_total=lambda n: bar.reset(total=n),
                                             progress=bar.update)
        else:
            assert bag is not None and settings is not None
            with tempfile.TemporaryDirectory(prefix="docsvc-bag-check-") as scratch:
                report = restore_service.four_properties_of_bag(
                    bag, Path(scratch), settings.filing, accounts=list(accounts) or None, recompute=recompute,
                    all_pages=all_pages, progress=stages, on_total=lambda n: bar.reset(total=n),
                    checked=bar.update)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        stages.close()
        bar.close()
        if rt is not None:
            rt.close()
    data = four_properties_report.render(report, fmt, settings.timezone)
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
    for check in report.checks:
        name = str(check.spec.name)
        click.echo(f"{check.spec.code:5} {str(four_properties.RESULT_LABELS[check.result]):<28} {name}"
                   f"  ({len(check.findings)})", err=True)
    counts = report.counts()
    click.echo(_("pass %(passed)s, warning %(warning)s, needs a person %(person)s, not applicable %(not_applicable)s",
                 passed=counts["pass"], warning=counts["warning"], person=counts["person"],
                 not_applicable=counts["not_applicable"])
               + (_("; report: %(path)s", path=output) if output else ""), err=True)
    if report.needs_person:
        sys.exit(1)


class _StageBars:
    """One tqdm bar per stage of a long command, closed when the next stage starts."""

    LABELS = {"tables": _l("tables"), "originals": _l("originals"), "objects": _l("objects"),
              "manifest": _l("manifest"), "pages": _l("pages"), "validate": _l("validating the bag"),
              "rows": _l("writing rows"), "redraw": _l("redrawing page images"),
              "index": _l("rebuilding the search index")}

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar: tqdm | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage, self.bar = stage, tqdm(total=total, desc=str(self.LABELS.get(stage, stage)), unit="")
        assert self.bar is not None
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.stage, self.bar = None, None


@main.command("backup", help=_l("Write the whole archive (every table, originals, audit trail) to DIRECTORY as a "
                                  "BagIt package; safe while the service runs. Exit status 0 only when every original "
                                  "was found intact."))
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--since", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help=_l("A previous backup: originals it holds are hard-linked from it, not copied again."))
@click.option("--with-derived", is_flag=True,
              help=_l("Also copy page images and thumbnails (by default restore redraws them from the originals)."))
def backup_command(directory: Path, since: Path | None, with_derived: bool) -> None:
    rt = _migrated_runtime()
    bars = _StageBars()
    with rt.sessions() as session:
        try:
            # Registered as an operation: the administrator watches it in the browser too (/operations).
            with operations.reported(session, OperationKind.BACKUP, {"folder": str(directory.absolute()),
                                                                      "command": "docsvc backup"}, echo=bars) as (run, progress):
                report = backup_service.write(rt.engine, rt.store, directory, since=since, with_derived=with_derived,
                                              progress=progress)
                failure = operations.backup_failure(report)
                if failure:
                    operations.fail(session, run, failure, summary=operations.backup_summary(report))
                else:
                    operations.finish(session, run, summary=operations.backup_summary(report))
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            bars.close()
    click.echo(_("backup written: %(path)s", path=report.path))
    click.echo(_("rows %(rows)s in %(tables)s tables; originals %(originals)s (copied %(copied)s, linked from the "
                 "previous backup %(linked)s); other objects %(objects)s; audit events %(events)s",
                 rows=sum(report.rows.values()), tables=len(report.rows), originals=report.originals,
                 copied=report.originals_copied, linked=report.originals_linked,
                 objects=report.objects - report.originals_copied, events=report.audit_events))
    for key in report.missing:
        click.echo(f"[missing] {key}  " + _("absent from the store, left out of the backup; run `docsvc fixity`"))
    for key in report.altered:
        click.echo(f"[altered] {key}  " + _("its bytes differ from its SHA-256, left out of the backup; run "
                                            "`docsvc fixity`"))
    rt.close()
    if not report.ok:
        sys.exit(1)


@main.command("restore", help=_l("Restore a backup into an EMPTY instance (the database and store the settings "
                                   "name): validate the bag, restore rows and objects, redraw page images, rebuild the "
                                   "index, verify the audit chain."))
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--procs", default=2, show_default=True, type=click.IntRange(1, 16),
              help=_l("Processes rebuilding the search index (as for `docsvc reindex`)."))
def restore_command(directory: Path, procs: int) -> None:
    rt = _runtime()
    bars = _StageBars()
    try:
        report = restore_service.restore(directory, rt.engine, rt.sessions, rt.store, rt.index, rt.settings,
                                         progress=bars, procs=procs)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bars.close()
    click.echo(_("restored: rows %(rows)s, originals %(originals)s, other objects %(objects)s, pages redrawn "
                 "%(redrawn)s, pages indexed %(indexed)s", rows=sum(report.rows.values()), originals=report.originals,
                 objects=report.objects, redrawn=report.redrawn, indexed=report.indexed))
    assert report.audit is not None
    click.echo(report.audit.summary())
    if report.audit.ok and not report.audit_matches_backup:
        click.echo(_("the audit chain does not end where the backup recorded it"))
    for problem in report.redraw_failed:
        click.echo(f"[redraw failed] {problem}")
    rt.close()
    if not report.ok:
        sys.exit(1)


@main.group("retention", help=_l("Retention periods: the daily expiry run and the due list."))
def retention_group() -> None:
    pass


@retention_group.command("run", help=_l("Mark documents whose retention has expired as due for appraisal (what the "
                                        "scheduler runs daily)."))
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help=_l("Run as of this day (YYYY-MM-DD) instead of today, e.g. to catch up."))
def retention_run(on: "datetime | None") -> None:
    rt = _migrated_runtime()
    with rt.sessions() as session:
        marked = retention.run_daily(session, on.replace(tzinfo=timezone.utc) if on else None)
    click.echo(_("%(count)s document(s) newly due, queued for appraisal.", count=marked))


@retention_group.command("due", help=_l("List documents due for appraisal: reference code, type, account number, "
                                        "title (masked if sensitive), due date, held."))
@click.option("--csv", "as_csv", is_flag=True, help=_l("CSV (UTF-8 with BOM, opens in Excel) instead of a table."))
def retention_due(as_csv: bool) -> None:
    rt = _migrated_runtime()
    with rt.sessions() as session:
        items = retention.due_documents(session, None, index=rt.index)
    if as_csv:
        sys.stdout.buffer.write(retention.due_csv(items))
        return
    for item in items:
        click.echo("\t".join([item.reference_code or f"#{item.document_id}", item.doc_type or "",
                              item.customer_account or "", item.title, item.due_on.isoformat() if item.due_on else "",
                              _("held") if item.held else ""]))
    click.echo(_("%(count)s document(s) due for appraisal.", count=len(items)))


if __name__ == "__main__":
    main()
