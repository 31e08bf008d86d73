"""The job functions RQ (and the embedded worker) run. Thin: each opens a session and calls one service."""
from __future__ import annotations

from docsvc import operations, runtime
from docsvc.governance import disposition
from docsvc.pipeline.jobstate import job_limits
from docsvc.pipeline.indexing import index_pending as index_pending_pages
from docsvc.pipeline.recognition import process_page as recognise_page
from docsvc.pipeline.reindex import ensure_current_schema
from docsvc.pipeline.splitting import split_file as split_batch_file


def split_file(batch_file_id: int) -> None:
    rt = runtime.current()
    with rt.sessions() as session:
        split_batch_file(session, rt.store, rt.jobs, batch_file_id, rt.settings.filing,
                         job_limits(rt.settings))


def process_page(page_id: int) -> None:
    rt = runtime.current()
    with rt.sessions() as session:
        recognise_page(session, rt.settings, rt.store, rt.jobs, page_id)


def index_pending() -> int:
    rt = runtime.current()
    ensure_current_schema(rt.sessions, rt.index)
    with rt.sessions() as session:
        return index_pending_pages(session, rt.index)


def execute_destruction(list_id: int) -> None:
    rt = runtime.current()
    with rt.sessions() as session:
        disposition.execute(session, rt.store, rt.index, list_id, fonds=rt.settings.filing.fonds,
                            zone=rt.settings.timezone)


def run_operation(operation_id: int) -> None:
    operations.run(runtime.current(), operation_id)
