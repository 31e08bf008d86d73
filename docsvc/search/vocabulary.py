"""The Chinese the query language reads: data, not messages. An archivist types 户号: or account:
whatever language the pages are shown in, so both spellings stay recognised; and the archive's pages are
Chinese, so the examples the search help shows are Chinese queries in every language."""
from __future__ import annotations

# query field name → the field kind it searches (query.py)
FIELD_ALIASES: dict[str, str] = {
    "户号": "account", "account": "account",
    "类型": "type", "type": "type",
    "档号": "refcode", "ref": "refcode",
    "客户": "customer", "户名": "customer", "customer": "customer",
    "标题": "title", "题名": "title", "title": "title",
    "年": "date", "年份": "date", "年度": "date", "year": "date", "日期": "date", "date": "date",
}
# The field a facet adds to the query when clicked (type:HT, year:2020), as archivists write it.
FACET_FIELDS = {"type": "类型", "year": "年"}
# Example queries of the search help (templates/search/help.html), by what they show.
QUERY_EXAMPLES: dict[str, tuple[str, ...]] = {
    "run": ("产权分界点",), "character": ("王",), "every_word": ("产权分界点 10kV",), "phrase": ('"产权分界点 10kV"',),
    "either": ("绕越 OR 窃电",), "exclude": ("产权分界点 -检查", "NOT 检查"), "group": ("(增容 OR 减容) 类型:BG",),
    "account": ("户号:3301234567", "account:"), "type": ("类型:合同", "type:HT,JC"), "ref": ("档号:YX-0123", "ref:"),
    "customer": ("客户:王建国", "户名:", "customer:"), "title": ("标题:", "title:"),
    "dates": ("2019..2021", "2019-03..", "年:2020", "日期:2019-05"), "identifier": ("GD-2019-004512", "004512"),
}
EXCLUDED_WORD = "检查"  # the word the "exclude" examples leave out
