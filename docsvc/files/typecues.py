"""The words the type guesser (files.typeguess) looks for on a page, besides the types' own names: data
in the language of the paper, not texts for people."""
from __future__ import annotations

import re

# Where a type's name_zh splits into phrases of their own ("供用电合同及协议" → 供用电合同).
NAME_SEPARATORS = re.compile(r"[/、，,;；()（）\s]+|及|与")

# What the paper says besides the type's name, by type code (codes missing from the table are ignored).
EXTRA_CUES: dict[str, tuple[str, ...]] = {
    "SQ": ("用电申请表", "用电申请单", "新装用电申请", "业扩报装申请"),
    "ZJ": ("居民身份证", "营业执照", "不动产权证书", "土地使用证", "组织机构代码证"),
    "SJ": ("竣工验收单", "竣工验收报告", "竣工报验", "设计委托书", "施工委托书", "中间检查"),
    "JL": ("装表接电工作单", "计量装置工单", "装拆表工作单", "换表工作单", "计量装置现场确认"),
    "HT": ("电费结算协议", "代扣电费协议", "担保协议"),
    "JC": ("用电检查工作单", "用电检查结果通知书", "用电安全检查"),
    "WY": ("违约用电处理", "窃电处理", "违章用电", "窃电通知书"),
    # Longer than SQ's 用电申请书/表 so that the longer phrase wins where both match.
    "BG": ("变更用电申请", "变更用电", "客户信息变更", "更名过户", "减容申请", "暂停用电申请"),
}
# Printed on the card itself, wherever the copy sits on the page; a tuple of words must all be there.
ANYWHERE_CUES: dict[str, tuple[tuple[str, ...], ...]] = {
    "ZJ": (("公民身份号码",), ("姓名", "性别", "民族", "出生", "住址")),
}
