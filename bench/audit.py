"""Audit benchmark, on PostgreSQL: the cost of auditing a page view, and `audit verify` over 1M events.

    .venv/bin/python bench/audit.py [--database postgresql+psycopg://postgres@127.0.0.1:5432/test]
                                    [--requests 1500] [--events 1000000]

1. Page-view overhead: a viewer with an approved loan fetches a page image through the real route
   (access gate, loan lookup, object streaming) with the Flask test client; rounds without the audit
   hook, with it (the default: read events do not wait for the WAL flush) and with
   DOCSVC_AUDIT_DURABLE_READS=1 alternate in the same process, and the requests/second are compared.
2. Verify speed: --events chained events are generated (real hashes) and loaded with COPY, then
   `audit.verify` walks them all. Everything runs in a scratch schema that is dropped at the end.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from docsvc import create_app, db  # noqa: E402
from docsvc.config import Settings  # noqa: E402
from docsvc.constants import page_image_key  # noqa: E402
from docsvc.models import Document, Page  # noqa: E402
from docsvc.runtime import build_runtime  # noqa: E402
import workers  # noqa: E402
from docsvc.governance import audit, loans  # noqa: E402
from docsvc.governance.accounts import create_user, issue_token  # noqa: E402
from docsvc.http import audit_content_access  # noqa: E402
from scratch import scratch_schema  # noqa: E402

workers.wire()  # this script is an entry point: it hands runtimes their job queues

PASSWORD = "bench password"


def page_view_overhead(rt, requests: int, rounds: int = 4) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        stored, _ = rt.store.put_original(io.BytesIO(b"%PDF bench"))
        doc = Document(sha256=stored.sha256, original_key=stored.key, media_type="application/pdf",
                       title="供用电合同", customer_account="3100012345", doc_type="HT", page_count=1)
        session.add(doc)
        session.flush()
        page = Page(document_id=doc.id, number=1, source_index=0, status="done", text="产权分界点")
        session.add(page)
        session.flush()
        page.image_key = page_image_key(page.id, "png")
        rt.store.put_bytes(page.image_key, b"\x89PNG" + b"\0" * 20_000)
        clerk = create_user(session, "clerk", PASSWORD, ["viewer"])
        head = create_user(session, "head", PASSWORD, ["approver"])
        loan = loans.request_loan(session, clerk, loans.LoanRequest(purpose="bench", days=7, customer_account="3100012345"))
        loans.decide(session, head, loan.id, True)
        token, page_id = issue_token(session, clerk, "bench"), page.id
    app = create_app(runtime=rt, start_workers=False)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    hooks = app.after_request_funcs[None]

    def run(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            assert client.get(f"/api/v1/pages/{page_id}/image", headers=headers).status_code == 200
        return n / (time.perf_counter() - started)

    run(100)  # warm up every path's caches
    default, durable = rt.settings, rt.settings.with_(audit_durable_reads=True)
    with_audit, with_durable, without = [], [], []
    for _ in range(rounds):
        with_audit.append(run(requests))
        rt.settings = durable
        with_durable.append(run(requests))
        rt.settings = default
        hooks.remove(audit_content_access)
        without.append(run(requests))
        hooks.append(audit_content_access)
    return max(with_audit), max(with_durable), max(without)


def load_events(engine, count: int) -> None:  # type: ignore[no-untyped-def]
    """Generate a valid chain of `count` events and COPY it in (the append-only trigger allows INSERT)."""
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    prev = audit.GENESIS
    columns = ("seq", "occurred_at", "actor_id", "actor_name", "action", "object_type", "object_id", "outcome",
               "purpose", "loan_id", "ip", "detail", "prev_hash", "hash")
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY audit_events ({', '.join(columns)}) FROM STDIN") as copy:
            for seq in range(1, count + 1):
                at = start + timedelta(milliseconds=seq * 37)
                values = (seq, at, 7, "clerk", "page.view", "page", str(seq % 5000), "ok", None, 3, "10.2.3.4", None)
                h = audit.chain_hash(prev, audit._canonical(values))
                copy.write_row((*values, prev, h))
                prev = h
        cur.execute("UPDATE audit_chain_head SET seq = %s, hash = %s WHERE id = 1", (count, prev))
        raw.commit()
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()

    with scratch_schema(args.database, "bench_audit") as url:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings.from_env({"DOCSVC_DATA_DIR": tmp, "DOCSVC_DATABASE_URL": url,
                                          "DOCSVC_SECRET_KEY": "bench", "DOCSVC_SECURE_COOKIES": "0"})
            rt = build_runtime(settings)
            db.upgrade(rt.engine)
            with_audit, with_durable, without = page_view_overhead(rt, args.requests)
            print("page view (GET /api/v1/pages/<id>/image, viewer under a loan, PostgreSQL):")
            print(f"  without audit                      {without:8.0f} req/s")
            print(f"  with audit (default)               {with_audit:8.0f} req/s   slower by "
                  f"{(without - with_audit) / without * 100:.1f} %  (target ≤ 15 %)")
            print(f"  with audit, DOCSVC_AUDIT_DURABLE_READS=1 {with_durable:4.0f} req/s   slower by "
                  f"{(without - with_durable) / without * 100:.1f} %")
            with rt.engine.begin() as conn:  # a clean chain for the verify run
                conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
                conn.execute(text("TRUNCATE audit_events"))
                conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
            started = time.perf_counter()
            load_events(rt.engine, args.events)
            loaded = time.perf_counter() - started
            with rt.sessions() as session:
                started = time.perf_counter()
                report = audit.verify(session)
                took = time.perf_counter() - started
            assert report.ok and report.events == args.events, report.summary()
            print(f"audit verify over {args.events:,} events: {took:.1f} s "
                  f"({args.events / took:,.0f} events/s; target < 60 s); generating and loading took {loaded:.1f} s")
            rt.close()


if __name__ == "__main__":
    main()
