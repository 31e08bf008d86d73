"""The Chinese words customer records are written in: data the service reads and stores, not messages.

Status words are the values archivists type and the marketing system exports; the column
headers are the spellings its exports use, which the importer recognises whatever the reader's language."""
from __future__ import annotations

# Status words seen in exports and typed in forms, and the status they mean.
STATUS_WORDS = {"在用": "active", "正常": "active", "销户": "closed", "已销户": "closed"}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
# Header spellings seen in marketing-system exports, matched after removing spaces and case.
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "account": ("户号", "用户编号", "客户编号", "用户号", "account", "accountno", "户号account"),
    "name": ("户名", "用户名称", "客户名称", "name", "customername"),
    "address": ("用电地址", "地址", "address"),
    "phone": ("联系电话", "电话", "手机", "phone", "tel"),
    "category": ("用电类别", "category"),
    "voltage": ("电压等级", "供电电压", "voltage"),
    "grade": ("档案等级", "等级", "客户等级", "grade"),
    "region": ("区域", "供电单位", "所属区域", "地区", "region"),
    "industry": ("行业", "行业分类", "industry"),
    "stage": ("业务环节", "stage"),
    "status": ("状态", "用户状态", "status"),
    "closed_on": ("销户日期", "销户时间", "closedon", "closingdate"),
    "tags": ("标签", "tags"),
    "location": ("档案位置", "存放位置", "实体档案位置", "location"),
}
