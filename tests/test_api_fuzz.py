"""schemathesis against the live WSGI app: for every operation of the generated OpenAPI document, requests
built from its schemas (bounded: a few examples each, no shrinking) answer without a 5xx, with a status,
content type and body the document declares. Path parameters name real objects, so bodies and queries reach the services."""
from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from docsvc.governance import holds
from docsvc.models import DestructionList, Document, Loan, utcnow
from docsvc.governance.accounts import find_user
from docsvc.runtime import Runtime
from tests.conftest import Users
from tests.destruction_setup import ACCOUNT, due_document

pytestmark = pytest.mark.integration   # reads scans through the pipeline; many requests

EXAMPLES = 6  # per operation, valid and wrong requests mixed: the run stays well under a minute on 2 cores
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@pytest.fixture
def known(embedded_runtime: Runtime, users: Users, tmp_path: Path) -> dict[str, object]:
    """One real object per path parameter name."""
    rt = embedded_runtime
    document_id = due_document(rt, tmp_path, "d.pdf", ["用电检查单 宏达机械", "检查结论 合格"])
    users.make("clerk", "viewer")
    with rt.sessions() as s:
        clerk = find_user(s, "clerk")
        loan = Loan(requester_id=clerk.id, purpose="核查", days=7, customer_account=ACCOUNT,  # type: ignore[union-attr]
                    status="pending", requested_at=utcnow())
        dlist = DestructionList(title="2026 年度销毁清册", compiler_id=clerk.id)  # type: ignore[union-attr]
        s.add_all([loan, dlist])
        s.commit()
        hold = holds.place(s, None, "窃电纠纷", "诉讼未结", customer_accounts=[ACCOUNT])
        document = s.get(Document, document_id)
        return {"document_id": document_id, "page_id": document.pages[0].id, "batch_id": 1,  # type: ignore[union-attr]
                "loan_id": loan.id, "hold_id": hold.id, "list_id": dlist.id, "account": ACCOUNT, "code": "JC"}


# schemathesis's own strategies draw from `random` under derandomize; nothing this test can change
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(
        app: Flask, users: Users, known: dict[str, object]) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    token = users.token("chief", "admin", "operator", "archivist", "records_manager", "approver", "viewer")
    bearer = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50

    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        fixed = {name: value for name, value in known.items() if name in names}
        # Valid requests, and requests the schemas say are wrong (wrong types, missing fields): both must
        # answer as documented, the wrong ones with a 4xx and an error body.
        cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed),
                          operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed))

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=bearer, checks=CHECKS)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - every operation is tried; the failures are listed together
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_schemathesis_sequences_of_calls_linked_by_the_ids_they_answer(
        app: Flask, users: Users, known: dict[str, object]) -> None:
    """Stateful: a created object's id, taken from the answer, is what the next call names (links that
    schemathesis infers from the document), so a create followed by reads and changes of that object
    answers as documented too."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    token = users.token("chief", "admin", "operator", "archivist", "records_manager", "approver", "viewer")

    class Calls(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            return {"headers": {"Authorization": f"Bearer {token}"}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):  # type: ignore[no-untyped-def]
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Calls.run(settings=settings(max_examples=15, stateful_step_count=6, deadline=None, database=None,
                                derandomize=True, phases=[Phase.explicit, Phase.generate],
                                suppress_health_check=list(HealthCheck)))
