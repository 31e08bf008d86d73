"""The document type guessed from a first page's title, as OCR reads it, against the live type table."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from docsvc.models import Document
from docsvc.runtime import Runtime
from docsvc.files.doctypes import all_types, create_type, update_type
from docsvc.files.typeguess import guess_type
from tests.conftest import AuthActions, Users
from tests.factories import add_document

THRESHOLD = 0.95  # the default DOCSVC_AUTOFILE_CONFIDENCE

# First pages as the OCR engines leave them: tesseract's spaces between Chinese characters, full-width
# letters and digits, a letterhead above the title, and other papers named further down the page.
PAGES = {
    "SQ": "国网某市供电公司\n用 电 申 请 书\n申请编号：ＳＱ２０１９００１２３４\n户号：３１０００１２３４５\n"
          "申请类别：新装　　用电类别：大工业用电\n随附资料：营业执照复印件、土地证明、用电设备清单",
    "ZJ": "复印件与原件一致\n\n\n\n\n姓 名 王 建 国\n性 别 男 民 族 汉\n出 生 1980 年 1 月 2 日\n"
          "住 址 城东区人民路 12 号\n公 民 身 份 号 码 330102198001020011",
    "SJ": "受电工程竣工验收单\n工程编号：ＳＪ－２０２０－０４５\n户名：宏达机械制造有限公司\n"
          "验收结论：合格，同意送电。",
    "JL": "装 表 接 电 工 作 单\n工单编号：JL2021000456\n电能表号：３３０１２３４５６７８９０\n"
          "互感器变比：100/5\n依据供用电合同约定的计量方式装表。",
    "HT": "低 压 供 用 电 合 同\n合同编号：ＧＤ－２０１９－００４５１２\n供电人：国网某市供电公司　用电人：宏达机械\n"
          "第四条　违约用电与窃电的处理\n用电人有违约用电行为的，按规定处理。",
    "JC": "用 电 检 查 工 作 单\n检查编号：JC2022000123\n检查内容及结果：\n1．无违约用电行为：合格\n"
          "2．合同容量与供用电合同一致：合格",
    "WY": "违约用电处理通知书\n编号：WY2022-0012\n经现场检查，你户存在私自增容行为，依据供用电合同第八条处理。",
    "BG": "变 更 用 电 申 请 表\n户号：3100012345\n变更事项：减容　原容量 630kVA 变更为 400kVA",
}


@pytest.fixture
def types(embedded_runtime: Runtime) -> list:  # type: ignore[type-arg]
    with embedded_runtime.sessions() as s:
        return all_types(s)


def test_every_seeded_type_but_other_has_a_page_here(types: list) -> None:  # type: ignore[type-arg]
    # QT (其他) says nothing about the paper, so it is never guessed; every other type must be tested.
    assert {t.code for t in types} - {"QT"} == set(PAGES)


@pytest.mark.parametrize("code", sorted(PAGES))
def test_each_type_is_recognised_confidently_from_its_first_page(types: list, code: str) -> None:  # type: ignore[type-arg]
    guess = guess_type(PAGES[code], types)
    assert guess is not None and guess.code == code, guess
    assert guess.reaches(THRESHOLD) and not guess.ambiguous, guess


def test_a_title_read_with_one_wrong_character_is_still_guessed_but_not_confidently(types: list) -> None:  # type: ignore[type-arg]
    guess = guess_type("国网某市供电公司\n供用电合问\n合同编号：GD-2019-004512", types)
    assert guess is not None and guess.code == "HT" and 0.5 < guess.confidence < THRESHOLD
    assert "≈“供用电合同”" in guess.reasons[0]


def test_a_longer_title_wins_over_a_shorter_one_inside_it(types: list) -> None:  # type: ignore[type-arg]
    # 变更用电申请书 holds SQ's 用电申请书: the paper is a change form.
    guess = guess_type("变更用电申请书\n户号：3100012345", types)
    assert guess is not None and guess.code == "BG" and guess.reaches(THRESHOLD)


def test_two_titles_at_the_top_are_ambiguous_and_not_confident(types: list) -> None:  # type: ignore[type-arg]
    guess = guess_type("用 电 申 请 书\n用 电 检 查 单\n户号：3100012345", types)
    assert guess is not None and guess.ambiguous and not guess.reaches(0.01)
    assert guess.runner_up is not None and {guess.code, guess.runner_up.code} == {"SQ", "JC"}


def test_a_paper_only_named_in_the_body_is_a_weak_guess(types: list) -> None:  # type: ignore[type-arg]
    page = "第二页\n\n\n\n\n\n附件清单：\n营业执照复印件一份"
    guess = guess_type(page, types)
    assert guess is not None and guess.code == "ZJ" and guess.confidence < 0.5
    assert guess_type("第二页\n产权分界点位于10kV进线电缆终端", types) is None


def test_an_inactive_type_is_never_guessed_and_a_new_type_is_guessed_by_its_name(
        embedded_runtime: Runtime) -> None:
    inspection = "用电检查工作单\n检查编号：JC2022000123\n检查类别：定期检查"
    notice = "电费催缴通知单\n户号：3100012345\n请于本月底前交清电费。"
    with embedded_runtime.sessions() as s:
        guess = guess_type(inspection, all_types(s))
        assert guess is not None and guess.code == "JC"
        assert guess_type(notice, all_types(s)) is None
        update_type(s, None, "JC", {"active": False})
        create_type(s, None, "DF", {"name_zh": "电费催缴通知单", "retention": "D10"})
        assert guess_type(inspection, all_types(s)) is None
        assert guess_type(inspection, all_types(s, active_only=False)) is None  # even when passed in
        guess = guess_type(notice, all_types(s))
        assert guess is not None and guess.code == "DF" and guess.reaches(THRESHOLD)


def _inbox_document(rt: Runtime, text: str, key: str) -> int:
    with rt.sessions() as s:
        d = add_document(s, key=key, title=f"{key}.tif", texts=[text])
        s.commit()
        return d.id


def test_the_inbox_and_the_api_offer_the_guessed_type_for_the_operator_to_confirm(
        client: FlaskClient, auth: AuthActions, users: Users, embedded_runtime: Runtime) -> None:
    doc_id = _inbox_document(embedded_runtime, PAGES["HT"], "b")
    auth.login("operator", "operator")
    page = client.get(f"/inbox?document={doc_id}").get_data(as_text=True)
    assert "推测类型：<b>供用电合同及协议</b>（0.97）" in page and "依据 第 1 行“供用电合同”；已预选" in page
    assert '<option value="HT" selected>' in page
    # An English reader reads the guess, its evidence and the type's name in English.
    english = client.get(f"/inbox?document={doc_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Guessed type: <b>Supply contract and agreements</b> (0.97)" in english
    assert "from line 1: “供用电合同”; pre-selected" in english and "推测类型" not in english

    api = client.get(f"/api/v1/documents/{doc_id}/suggestions",
                     headers={"Authorization": f"Bearer {users.token('op', 'operator')}"}).get_json()
    assert api["type_guess"]["code"] == "HT" and api["type_guess"]["confidence"] == 0.97
    assert api["type_guess"]["ambiguous"] is False and api["type_guess"]["reasons"] == ["第 1 行“供用电合同”"]

    # Named on the page but not as its title: shown, not pre-selected.
    mention = _inbox_document(embedded_runtime, "附件清单\n1．营业执照复印件一份", "c")
    page = client.get(f"/inbox?document={mention}").get_data(as_text=True)
    assert "可能是：身份证明 / 营业执照 / 土地证明（0.40" in page and " selected>" not in page

    # A type given at upload is kept: nothing is guessed over it.
    with embedded_runtime.sessions() as s:
        s.get(Document, doc_id).doc_type = "JC"  # type: ignore[union-attr]
        s.commit()
    page = client.get(f"/inbox?document={doc_id}").get_data(as_text=True)
    assert "推测类型" not in page and '<option value="JC" selected>' in page
