"""Names read with errors still find their customer: filing suggestions match names and addresses
approximately, show the operator how similar they are, and never take another person for the customer."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from docsvc.files import suggestions
from docsvc.files.customers import AccountRule, create_customer
from docsvc.files.namematch import Choices, matches
from docsvc.models import Document
from docsvc.runtime import Runtime
from tests.conftest import AuthActions, Users
from tests.factories import add_document

RULE = AccountRule(r"^\d{10}$")
ZHANG, HONGDA, ZHANG_WEI = "3100000001", "3100000002", "3100000003"


@pytest.fixture
def customers(embedded_runtime: Runtime) -> Runtime:
    with embedded_runtime.sessions() as s:
        create_customer(s, None, RULE, ZHANG, {"name": "张建国", "address": "城东区人民路88号"})
        create_customer(s, None, RULE, HONGDA, {"name": "宏达机械制造有限公司", "address": "高新区创业大道1号"})
        create_customer(s, None, RULE, ZHANG_WEI, {"name": "张伟"})
    return embedded_runtime


def suggested(rt: Runtime, text: str) -> list[suggestions.Suggestion]:
    with rt.sessions() as s:
        document = add_document(s, key="n", texts=[text])
        s.commit()
        return suggestions.suggest(s, document)


def close(reads: list[str], *values: str) -> dict[str, int]:
    choices = Choices(dict(enumerate(values)))
    return {values[m.key]: m.similarity for m in matches(reads, choices)}


def test_one_wrong_character_in_a_name_still_matches_and_says_how_similar() -> None:
    assert close(["张建图"], "张建国", "王建国") == {"张建国": 67}
    assert close(["宏达机械制渣有限公同"], "宏达机械制造有限公司") == {"宏达机械制造有限公司": 80}  # two of ten


@pytest.mark.parametrize("read, customer", [
    ("李建国", "张建国"),          # another surname: another person, however alike the given name
    ("张华", "张伟"),              # two characters: one wrong is as likely someone else
    ("张建", "张建国"),            # a character missing from a three-character name: too little left
    ("人民路86号", "人民路88号"),   # digits must agree: the neighbour's house
    ("客户13号有限公司", "客户12号有限公司"),
    ("宏达食品加工有限公司", "宏达机械制造有限公司"),  # four of ten differ
])
def test_names_that_differ_too_much_do_not_match(read: str, customer: str) -> None:
    assert close([read], customer) == {}


def test_a_name_read_with_one_wrong_character_is_suggested_with_its_similarity(customers: Runtime) -> None:
    ranked = suggested(customers, "用电申请书\n户名：张建图\n申请容量 8kW")

    assert [(s.account, s.similarity) for s in ranked] == [(ZHANG, 67)]
    assert ranked[0].confidence == round(suggestions.NAME * 0.67, 3)  # far below any automatic filing
    assert "张建图" in ranked[0].reasons[0] and "67%" in ranked[0].reasons[0]


def test_another_person_with_a_similar_name_is_not_suggested(customers: Runtime) -> None:
    assert suggested(customers, "用电申请书\n户名：李建国\n用电地址：城西区解放路3号") == []
    assert suggested(customers, "用电申请书\n户名：张华") == []


def test_name_and_address_read_with_errors_add_up(customers: Runtime) -> None:
    ranked = suggested(customers, "供用电合同\n用户名称：宏达机械制渣有限公司\n用电地址：高新区创业大遒1号")

    assert [s.account for s in ranked] == [HONGDA]
    name, address = ranked[0].reasons
    assert "宏达机械制造有限公司" in name and "用电地址 高新区创业大道1号" in address
    assert ranked[0].similarity == 90 and ranked[0].confidence > suggestions.NAME * 0.9  # more than either alone


def test_an_exact_account_number_ranks_before_any_name(customers: Runtime) -> None:
    # The page gives 张伟's 户号 unlabelled (0.6) and 张建国's exact name (0.7): the 户号 still comes first.
    ranked = suggested(customers, f"用电检查单\n{ZHANG_WEI}\n户名：张建国")

    assert [s.account for s in ranked] == [ZHANG_WEI, ZHANG]
    assert ranked[0].by_account and ranked[0].similarity is None and ranked[1].similarity == 100


def test_an_approximate_name_only_backs_up_a_customer_the_account_number_found(customers: Runtime) -> None:
    ranked = suggested(customers, f"用电申请书\n户号：{ZHANG_WEI}\n户名：张建图")

    assert [s.account for s in ranked] == [ZHANG_WEI]


def test_the_operator_sees_the_similarity_in_the_inbox_and_the_api(
        customers: Runtime, client: FlaskClient, auth: AuthActions, users: Users) -> None:
    with customers.sessions() as s:
        document_id = add_document(s, key="n", texts=["用电申请书\n户名：张建图"]).id
        s.commit()
    auth.login("operator", "operator")

    inbox = client.get(f"/inbox?document={document_id}").get_data(as_text=True)

    assert f'data-account="{ZHANG}"' in inbox and "相似度 67%" in inbox
    assert "户名 张建国（页上为“张建图”，相似度 67%）" in inbox
    english = client.get(f"/inbox?document={document_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "similarity 67%" in english and "name 张建国 (read as “张建图”, 67% similar)" in english
    token = users.token("arch", "archivist")
    body = client.get(f"/api/v1/documents/{document_id}/suggestions",
                      headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [(s["account"], s["similarity"], s["by_account"]) for s in body["suggestions"]] == [(ZHANG, 67, False)]
    with customers.sessions() as s:
        assert s.get(Document, document_id).filed_at is None  # type: ignore[union-attr]
