"""Customer names and addresses read with errors, matched approximately (rapidfuzz, Levenshtein).

OCR misreads a character now and then (国 → 图, 己 → 已); a name read with one wrong character must
still find its customer, while a different person must not be taken for one. How many characters may
differ grows with the length of the name:

| characters | may differ | why |
|---|---|---|
| 1–2 | none | one wrong character of two is as likely another person (张伟 / 张华) |
| 3–6 | 1 | and for a 3-character person's name, never the surname: 李建国 is not 张建国 |
| 7 or more | one in five | company names: 宏达机械制造有限公司 read with two errors is still itself |

Digits must agree exactly (客户12号 is not 客户13号, 人民路88号 is not 人民路86号). The similarity
reported is Levenshtein's normalised similarity in percent (张建图 ~ 张建国: 67 %).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

_DIGITS = re.compile(r"\d+")
PERSON_NAME_MAX = 3  # characters: beyond this a name is not a person's (surname rule)


@dataclass(frozen=True)
class Approximate:
    key: int          # the choice's key (a customer id)
    read: str         # as read on the page
    value: str        # as the customer list has it
    similarity: int   # percent, 100 = identical


def normalise(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def max_edits(length: int) -> int:
    if length <= 2:
        return 0
    if length <= 6:
        return 1
    return length // 5


def similarity(read: str, value: str) -> int:
    return round(Levenshtein.normalized_similarity(read, value) * 100)


def _digits(value: str) -> tuple[str, ...]:
    return tuple(_DIGITS.findall(value))


class Choices:
    """The values to match against (customer names, or addresses), normalised and grouped by their digits,
    so that a read string is only compared with the values whose digits it shares."""

    def __init__(self, values: Mapping[int, str]) -> None:
        self.groups: dict[tuple[str, ...], dict[int, str]] = {}
        for key, value in values.items():
            value = normalise(value)
            if value:
                self.groups.setdefault(_digits(value), {})[key] = value


def matches(reads: Iterable[str], choices: Choices) -> list[Approximate]:
    """Each choice within the allowed edits of a read string (identical ones too), best first.

    rapidfuzz compares a read string with every value of the same digits in C, stopping early on those
    too far away.
    """
    found: dict[int, Approximate] = {}
    for read in {normalise(r) for r in reads}:
        group = choices.groups.get(_digits(read)) if read else None
        if not group:
            continue
        for value, distance, key in process.extract(read, group, scorer=Levenshtein.distance,
                                                    score_cutoff=max_edits(len(read)), limit=None):
            # A person's name: the surname as read must be the customer's (given names repeat across people).
            if distance and (max_edits(len(value)) < distance
                             or (len(value) <= PERSON_NAME_MAX and read[:1] != value[:1])):
                continue
            candidate = Approximate(key, read, value, similarity(read, value))
            if key not in found or found[key].similarity < candidate.similarity:
                found[key] = candidate
    return sorted(found.values(), key=lambda a: -a.similarity)
