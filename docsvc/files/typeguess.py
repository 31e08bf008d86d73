"""What kind of paper a scan is, guessed from its first page: the form's printed title.

The phrases come from the document-type table, so a type added, renamed or deactivated there is
guessed (or no longer guessed) without a code change: each active type's name_zh, whole and split
at its separators ("供用电合同及协议" → 供用电合同; "违约用电 / 窃电处理记录" → 违约用电, 窃电处理记录),
plus EXTRA_CUES (files.typecues) where the paper says something else than the type's name (装表接电工作单 for JL,
变更用电申请表 for BG). Fragments shorter than MIN_PHRASE_CHARS ("协议", "其他") say nothing on
their own and are dropped, so the catch-all QT is never guessed.

Forms carry their title at the top, on a line of its own; elsewhere a page names other papers in
passing ("营业执照复印件" on an application, "第四条 违约用电与窃电的处理" in a contract). So a match
that is at least TITLE_SHARE of a line's Chinese characters, in the first TITLE_LINES lines, is a
title and weighs TITLE_WEIGHT; any other match weighs BODY_WEIGHT; and once some type has a title
the other types compete with their titles only. An ID card copy has no title line: ANYWHERE_CUES (公民身份号码, or
the card's field labels together) count as a title wherever they are.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from docsvc.models import Document, DocumentType
from docsvc.search.analysis import normalize
from docsvc.files.doctypes import all_types
from docsvc.files.documents import live_pages
from docsvc.files.typecues import ANYWHERE_CUES, EXTRA_CUES, NAME_SEPARATORS
from docsvc.files.evidence import Evidence
from docsvc.i18n import stored

TITLE_LINES = 4  # a letterhead line, the title, a number/date line: the title is among the first four
TITLE_SHARE = 0.5  # 高压供用电合同 is a title of 供用电合同; 第四条违约用电与窃电的处理 is not one of 违约用电
TITLE_WEIGHT = 0.97
BODY_WEIGHT = 0.4
ANYWHERE_WEIGHT = 0.9
# A title read with one wrong character (OCR) still counts, for less; only phrases this long, only in
# the title lines, so that short phrases do not match everything one character away.
NEAR_MATCH_FACTOR = 0.85
NEAR_MATCH_MIN_CHARS = 5
MIN_PHRASE_CHARS = 3
# A rival scoring at least this share of the best makes the guess ambiguous: never pre-selected or used.
AMBIGUOUS_RATIO = 0.75
# The inbox pre-selects a guess resting on a title (even one misread character); a mere mention is only shown.
PRESELECT_CONFIDENCE = 0.5

_WORDLESS = re.compile(r"\W")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Candidate:
    code: str
    name_zh: str
    score: float


@dataclass(frozen=True)
class TypeGuess:
    code: str
    name_zh: str
    confidence: float
    ambiguous: bool  # a rival came close: the operator chooses, whatever the confidence
    reasons: list[Evidence] = field(default_factory=list)
    runner_up: Candidate | None = None

    def reaches(self, threshold: float) -> bool:
        return not self.ambiguous and self.confidence >= threshold

    @property
    def preselect(self) -> bool:
        return self.reaches(PRESELECT_CONFIDENCE)


@dataclass(frozen=True)
class _Match:
    code: str
    title: bool  # the page's title (or a cue that counts as one), not a mention further down
    start: int
    end: int
    weight: float
    reason: Evidence


def phrases(doc_type: DocumentType) -> list[str]:
    """The title phrases a type is recognised by: its name, the name's parts and its extra cues."""
    parts = NAME_SEPARATORS.split(normalize(doc_type.name_zh))
    found = [_clean(p) for p in (doc_type.name_zh, *parts, *EXTRA_CUES.get(doc_type.code, ()))]
    return list(dict.fromkeys(p for p in found if len(p) >= MIN_PHRASE_CHARS))


def guess_type(text: str, types: list[DocumentType]) -> TypeGuess | None:
    """The type a page's text shows, with a confidence in [0, 1]; None when nothing matched.

    `types` are the candidates (the active ones: an inactive type is never guessed)."""
    lines = [line for line in (_clean(raw) for raw in text.splitlines()) if len(_WORDLESS.sub("", line)) >= 2]
    by_code = {t.code: t for t in types if t.active}
    matches = _title_and_body_matches(lines, by_code) + _anywhere_matches(lines, by_code)
    if not matches:
        return None
    scores: dict[str, float] = {}
    titles: dict[str, float] = {}
    reasons: dict[str, list[Evidence]] = {}
    for m in matches:
        scores[m.code] = _add(scores.get(m.code, 0.0), m.weight)
        if m.title:
            titles[m.code] = _add(titles.get(m.code, 0.0), m.weight)
        reasons.setdefault(m.code, []).append(m.reason)
    best = max(scores, key=lambda c: (scores[c], -by_code[c].position))
    rivals = titles if best in titles else scores  # a title outranks mentions in the body
    rival = max((c for c in rivals if c != best), key=lambda c: rivals[c], default=None)
    top = scores[best]
    rival_score = rivals[rival] if rival else 0.0
    confidence = round(top * (1 - (rival_score / top) ** 2), 3)
    return TypeGuess(best, by_code[best].name_zh, max(confidence, 0.0), rival_score >= AMBIGUOUS_RATIO * top,
                     reasons[best], Candidate(rival, by_code[rival].name_zh, round(rival_score, 3)) if rival else None)


def first_page_text(document: Document) -> str:
    """The first live page that has any text (a blank back side scanned first says nothing)."""
    return next((p.text for p in live_pages(document) if (p.text or "").strip()), "")


def guess_document_type(session: Session, document: Document) -> TypeGuess | None:
    return guess_type(first_page_text(document), all_types(session))


def _clean(text: str) -> str:
    """One line as matched: normalised (full-width forms, tesseract's spaced characters) and without spaces."""
    return re.sub(r"\s+", "", normalize(text))


def _add(confidence: float, weight: float) -> float:
    # Independent pieces of evidence add up as in customer suggestions: 1 - Π(1 - w).
    return 1 - (1 - confidence) * (1 - weight)


def _title_and_body_matches(lines: list[str], types: dict[str, DocumentType]) -> list[_Match]:
    table = [(code, p) for code, t in types.items() for p in phrases(t)]
    found: list[_Match] = []
    for number, line in enumerate(lines):
        top = number < TITLE_LINES
        chinese = len(_CJK.findall(line))
        candidates: list[tuple[int, bool, _Match]] = []
        for code, phrase in table:
            title = top and len(phrase) >= TITLE_SHARE * chinese
            weight = TITLE_WEIGHT if title else BODY_WEIGHT
            for start in _find_all(line, phrase):
                said = Evidence(stored("line %(line)s: “%(phrase)s”", line=number + 1, phrase=phrase))
                candidates.append((len(phrase), True, _Match(code, title, start, start + len(phrase), weight, said)))
            if title and len(phrase) >= NEAR_MATCH_MIN_CHARS:
                for start in _near(line, phrase):
                    seen = line[start:start + len(phrase)]
                    candidates.append((len(phrase), False, _Match(
                        code, title, start, start + len(phrase), weight * NEAR_MATCH_FACTOR,
                        Evidence(stored("line %(line)s: “%(seen)s” ≈ “%(phrase)s”", line=number + 1, seen=seen,
                                        phrase=phrase)))))
        # Where phrases overlap, the longest (then an exact one) is what the paper says: 变更用电申请表
        # is BG, not SQ's 用电申请表 inside it.
        kept: list[_Match] = []
        for _length, _exact, m in sorted(candidates, key=lambda c: (-c[0], not c[1], c[2].start)):
            if all(m.end <= k.start or m.start >= k.end for k in kept):
                kept.append(m)
        found.extend(kept)
    return found


def _anywhere_matches(lines: list[str], types: dict[str, DocumentType]) -> list[_Match]:
    page = "".join(lines)
    return [_Match(code, True, 0, 0, ANYWHERE_WEIGHT, Evidence(f"“{'、'.join(words)}”"))
            for code, cues in ANYWHERE_CUES.items() if code in types
            for words in cues if all(_clean(w) in page for w in words)]


def _find_all(line: str, phrase: str) -> list[int]:
    starts, at = [], line.find(phrase)
    while at >= 0:
        starts.append(at)
        at = line.find(phrase, at + 1)
    return starts


def _near(line: str, phrase: str) -> list[int]:
    """Starts where the line differs from the phrase in exactly one character (same length)."""
    n = len(phrase)
    return [i for i in range(len(line) - n + 1)
            if sum(a != b for a, b in zip(line[i:i + n], phrase)) == 1]
