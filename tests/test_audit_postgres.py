"""The audit trail on PostgreSQL: the database refuses to change history, and concurrent writers
append one after another."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from docsvc.runtime import Runtime
from docsvc.governance import audit
from docsvc.governance.accounts import create_user
from tests.conftest import PASSWORD

WRITERS, EVENTS_EACH = 8, 25


def test_the_database_rejects_updates_and_deletes_of_audit_rows(pg_runtime: Runtime) -> None:
    with pg_runtime.sessions() as session:
        audit.record(session, None, "login", outcome="failed", ip="10.1.1.1")
        session.commit()
        for statement in ("UPDATE audit_events SET outcome = 'ok'", "DELETE FROM audit_events",
                          "TRUNCATE audit_events"):
            with pytest.raises(DBAPIError, match="append-only"):
                session.execute(text(statement))
            session.rollback()
        assert audit.verify(session).ok


def test_verify_finds_an_edit_made_behind_the_triggers_back(pg_runtime: Runtime) -> None:
    with pg_runtime.sessions() as session:
        for i in range(5):
            audit.record(session, None, "page.view", object_type="page", object_id=i)
            session.commit()
        # A superuser can switch triggers off; the chain still tells.
        session.execute(text("SET session_replication_role = replica"))
        session.execute(text("UPDATE audit_events SET object_id = '7' WHERE seq = 2"))
        session.execute(text("DELETE FROM audit_events WHERE seq = 4"))
        session.execute(text("SET session_replication_role = origin"))
        session.commit()
        report = audit.verify(session)
        assert not report.ok and report.first_broken_seq == 2


def test_concurrent_writers_keep_the_chain_linear(pg_runtime: Runtime) -> None:
    with pg_runtime.sessions() as session:
        create_user(session, "clerk", PASSWORD, ["viewer"])
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with pg_runtime.sessions() as session:
                start.wait()
                for i in range(EVENTS_EACH):
                    # reads (not waiting for the WAL flush) and changes interleave in one chain
                    audit.record(session, None, "page.view", object_type="page", object_id=f"{n}-{i}",
                                 durable=i % 2 == 0)
                    session.commit()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with pg_runtime.sessions() as session:
        report = audit.verify(session)
        assert report.ok, report.summary()
        assert report.events == WRITERS * EVENTS_EACH + 1  # and the account creation


def test_events_hashed_by_the_database_verify_like_those_hashed_in_python(pg_runtime: Runtime) -> None:
    """PostgreSQL hashes each event itself (one round trip); the bytes it hashes must be exactly the
    canonical form verify rebuilds, Chinese, quotes, backslashes and empty fields included."""
    with pg_runtime.sessions() as session:
        clerk = create_user(session, "clerk", PASSWORD, ["viewer"])
        audit.record(session, clerk, "page.view", object_type="page", object_id=42, purpose="电费争议核查",
                     loan_id=7, ip="10.0.0.5", durable=False,
                     detail={"查询": '产权分界点 "10kV" \\ 户号:3301234567', "n": 3, "none": None})
        audit.record(session, None, "login", outcome="failed", detail={"username": "王 芳\n"})
        session.commit()
        report = audit.verify(session)
        assert report.ok, report.summary()
        rows = session.execute(text("SELECT seq, prev_hash, hash FROM audit_events ORDER BY seq")).all()
        assert [r.seq for r in rows] == [1, 2, 3]
        assert all(r.prev_hash == p.hash for p, r in zip(rows, rows[1:]))
        head = session.execute(text("SELECT seq, hash FROM audit_chain_head")).one()
        assert (head.seq, head.hash) == (3, rows[-1].hash)
