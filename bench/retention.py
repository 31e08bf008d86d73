"""Retention benchmark: recomputing due dates for N documents after a rule change, on PostgreSQL.

    .venv/bin/python bench/retention.py [--n 1000000] [--database postgresql+psycopg://…/test]

Generates N filed documents of one type (document dates spread over 1990–2025, 2 % without a date)
in a scratch schema, computes them once (as the first use after the upgrade would), then changes
the type's rule D10 → D15 through `retention.save_rule` (the measured figure: the preview is not
included) and compares with a baseline in the same run: a plain `UPDATE documents SET due_on = NULL`
over the same rows, i.e. what writing every row once costs. Target: < 60 s for 1,000,000.
Nothing here asserts.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from docsvc import db as dbmod  # noqa: E402
from docsvc.config import Settings  # noqa: E402
from docsvc.governance import retention  # noqa: E402
from docsvc.runtime import build_runtime  # noqa: E402
from scratch import scratch_schema  # noqa: E402
import workers  # noqa: E402

workers.wire()  # this script is an entry point: it hands runtimes their job queues

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 12, 4, tzinfo=timezone.utc)


def generate(session, n: int) -> None:  # type: ignore[no-untyped-def]
    """N filed JC documents, in one INSERT … SELECT (the database makes the rows, not Python)."""
    session.execute(text("""
        INSERT INTO documents (sha256, original_key, media_type, title, doc_type, doc_date, page_count, created_at,
                               filed_at, reference_code, retention_status, keep_permanently)
        SELECT md5(g::text) || md5((g::bigint * 7)::text), 'originals/x', 'application/pdf', '用电检查单 ' || g, 'JC',
               CASE WHEN g % 50 = 0 THEN NULL ELSE DATE '1990-01-01' + (g::bigint * 7919 % 13149)::int END, 2, now(), now(),
               'J001-KH-' || g, 'unknown', false
        FROM generate_series(1, :n) AS g"""), {"n": n})
    session.commit()
    session.execute(text("ANALYZE documents"))
    session.commit()


def timed(label: str, work) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    print(f"{label:<58} {seconds:8.1f} s   ({result})", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--database", default=os.environ.get("DOCSVC_BENCH_DATABASE_URL", PG))
    args = parser.parse_args()
    with scratch_schema(args.database, "bench_retention") as url, tempfile.TemporaryDirectory() as tmp:
        rt = build_runtime(Settings.from_env({"DOCSVC_DATA_DIR": tmp, "DOCSVC_DATABASE_URL": url}))
        dbmod.upgrade(rt.engine)
        with rt.sessions() as session:
            timed(f"generate {args.n:,} documents", lambda: generate(session, args.n))

            def first() -> int:
                changed = retention.recompute(session, now=NOW)
                session.commit()
                return changed

            timed("first computation (every row written)", first)
            draft = retention.draft_rule(session, {"doc_type": "JC", "retention": "D15", "trigger": "document_date",
                                                   "authority": "公司保管期限表 2026 第3条"})
            preview_s = timed("preview of D10 → D15 (nothing written)",
                              lambda: retention.preview_rule(session, draft, NOW).changed)
            change_s = timed("rule change D10 → D15: save_rule + recompute + commit",
                             lambda: retention.save_rule(session, None, draft, now=NOW)[1])

            def baseline() -> int:
                count = session.execute(text("UPDATE documents SET due_on = NULL")).rowcount
                session.commit()
                return count

            base_s = timed("baseline: UPDATE documents SET due_on = NULL (same rows)", baseline)
        rt.close()
    print(f"\nrule change / baseline = {change_s / base_s:.2f}   (preview {preview_s:.1f} s)")
    print(f"rule change: {args.n / change_s:,.0f} documents/s; target < 60 s for 1,000,000")


if __name__ == "__main__":
    main()
