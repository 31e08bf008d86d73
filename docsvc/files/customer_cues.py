"""How a scanned page names its customer, for the suggestions (files.suggestions): the printed labels
before a 户号, a name or an address, and the endings of organisations' names. Data in the language of
the paper, not texts for people."""
from __future__ import annotations

import re

LABELLED_ACCOUNT = re.compile(r"户号[:：]?\s*(\d{6,20})")
NAME = re.compile(r"(?:户名|用电人|用户名称|客户名称|申请人)[:：]\s*([^\s　,，。；;]{2,40})")
ORG_SUFFIX = re.compile(r"([\u4e00-\u9fff（）()]{2,30}(?:有限公司|公司|厂|学校|医院|中心|合作社))")
ADDRESS = re.compile(r"(?:用电地址|通讯地址|住址|地址)[:：]\s*([^\s　,，。；;]{4,80})")
