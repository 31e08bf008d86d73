"""Due documents and the people of a destruction: the records manager compiles, an archivist
appraises, a leader approves, two supervisors confirm. Documents are read from text PDFs through the
real pipeline (upload, split, page job, index job) and made due the way the retention job would."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select

from docsvc.config import FilingSettings
from docsvc.constants import RetentionStatus
from docsvc.files import filing, pageops
from docsvc.files.customers import AccountRule, create_customer, find_customer
from docsvc.files.doctypes import find_type
from docsvc.governance import disposition
from docsvc.governance.accounts import create_user, find_user
from workers.queues import InProcessJobQueue
from docsvc.models import Document, User
from docsvc.pipeline.indexing import index_pending
from docsvc.pipeline.intake import Upload, receive
from docsvc.pipeline.recognition import process_page
from docsvc.pipeline.jobstate import job_limits
from docsvc.pipeline.splitting import split_file
from docsvc.runtime import Runtime
from tests.testdata import make_text_pdf
from tests.conftest import PASSWORD

ACCOUNT = "3000000001"
PEOPLE = {"rm": "records_manager", "appraiser": "archivist", "leader": "approver",
          "sup1": "supervisor", "sup2": "supervisor", "sup3": "supervisor"}


@dataclass
class People:
    rm: User
    appraiser: User
    leader: User
    sup1: User
    sup2: User
    sup3: User


def people(rt: Runtime) -> People:
    with rt.sessions() as s:
        for name, role in PEOPLE.items():
            if find_user(s, name) is None:
                create_user(s, name, PASSWORD, [role])
        return People(**{name: find_user(s, name) for name in PEOPLE})  # type: ignore[arg-type]


def text_pdf(tmp_path: Path, texts: list[str]) -> bytes:
    path = tmp_path / f"{abs(hash(tuple(texts)))}.pdf"
    make_text_pdf(texts, path)
    return path.read_bytes()


def ingest(rt: Runtime, name: str, data: bytes) -> int:
    """Upload, split and read one file the way the workers do; returns its document's id (unfiled)."""
    idle = InProcessJobQueue(1)  # never started: the jobs are run here, one by one
    with rt.sessions() as s:
        file_id = receive(s, rt.store, idle, [Upload(name, io.BytesIO(data))], source="web").files[0].id
    with rt.sessions() as s:
        split_file(s, rt.store, idle, file_id, FilingSettings(), job_limits(rt.settings))
    with rt.sessions() as s:
        document = s.scalars(select(Document).where(Document.batch_file_id == file_id)).one()
        page_ids, doc_id = [p.id for p in document.pages], document.id
    for page_id in page_ids:
        with rt.sessions() as s:
            process_page(s, rt.settings, rt.store, idle, page_id)
    return doc_id


def file_as_due(rt: Runtime, document_id: int, *, doc_type: str = "JC", title: str | None = None) -> None:
    """File the document under the test customer and make it due (formed in 2005, class D10)."""
    with rt.sessions() as s:
        customer = find_customer(s, ACCOUNT) or create_customer(
            s, None, AccountRule(r"^\d{10}$"), ACCOUNT, {"name": "宏达机械制造有限公司"})
        document = s.get(Document, document_id)
        assert document is not None
        filing.file_document(s, None, document, customer, find_type(s, doc_type), FilingSettings())  # type: ignore[arg-type]
        if title:
            document.title = title
        document.notes, document.contract_no = "王建国 13800138000", "GD-2005-0001"
        document.doc_date, document.retention = date(2005, 3, 1), "D10"
        document.retention_status, document.due_on = RetentionStatus.DUE, date(2016, 1, 1)
        s.commit()
        index_pending(s, rt.index)


def due_document(rt: Runtime, tmp_path: Path, name: str, texts: list[str], **kw: object) -> int:
    doc_id = ingest(rt, name, text_pdf(tmp_path, texts))
    file_as_due(rt, doc_id, **kw)  # type: ignore[arg-type]
    return doc_id


def shared_stack(rt: Runtime, tmp_path: Path, texts: list[str], at: int) -> tuple[int, int]:
    """One scanned stack cut into two filed documents sharing its original: pages before `at`, and from `at`."""
    first = ingest(rt, "stack.pdf", text_pdf(tmp_path, texts))
    with rt.sessions() as s:
        second = pageops.split(s, None, s.get(Document, first), at).id  # type: ignore[arg-type]
    file_as_due(rt, first)
    file_as_due(rt, second)
    return first, second


def supervised(rt: Runtime, who: People, document_ids: list[int],
               decisions: list[disposition.DecisionInput] | None = None, *, start: bool = True) -> int:
    """A list taken through every step up to its two supervisors' confirmation and, with `start`, its
    execution queued (never run: the caller runs the job); returns its id."""
    with rt.sessions() as s:
        dlist = disposition.create_list(s, s.merge(who.rm), document_ids, index=rt.index)
        decisions = decisions or [disposition.DecisionInput(i, "destroy") for i in document_ids]
        disposition.appraise(s, s.merge(who.appraiser), dlist, decisions, report="已逐件鉴定，无继续保存价值。")
        disposition.submit(s, s.merge(who.rm), dlist)
        disposition.approve(s, s.merge(who.leader), dlist, rt.settings)
        disposition.supervise(s, s.merge(who.sup1), dlist)
        disposition.supervise(s, s.merge(who.sup2), dlist)
        if start:
            disposition.start_execution(s, s.merge(who.rm), dlist, InProcessJobQueue(1))
        return dlist.id
