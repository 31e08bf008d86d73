"""Text analysis for Chinese OCR text: normalisation, index terms, query units.

Whoosh's own analyzers make a whole unspaced Chinese run one token, so a phrase inside a
longer run is unfindable. We index instead every overlapping CJK bigram, and for the last
character of a run that character followed by RUN_END, so every character occurrence starts
exactly one term. A query of two or more characters needs all its bigrams on the page (found in
the postings) and is then confirmed in order on the stored text (matching.py); a single
character (a surname such as 王) is a prefix over the terms it starts. Single-character terms
are not indexed: they would add ~40% more postings, and Whoosh's writer is pure Python, so
postings per page bound indexing speed.

Latin/digit runs become one token each, lowercased. Identifiers joined by ``- _ / . ·``
(GD-2019-004512, J001-KH·2019-D30-YX-0123) are indexed whole plus every contiguous run of their
parts, and digit runs of seven or more digits (户号, meter numbers) add their trailing 4+ digit
suffixes, so "004512", "2019-004512" and "1234567" (tail of 3301234567) find the identifier.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

_CJK_CLASS = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
# Tesseract's chi_sim output separates every character by a space, and line breaks fall
# anywhere inside a Chinese word; neither must split a run.
_CJK_GAP = re.compile(rf"(?<=[{_CJK_CLASS}])\s+(?=[{_CJK_CLASS}])")
_IDENT_SEPARATORS = "-_/.·"
_TOKEN = re.compile(
    rf"(?P<cjk>[{_CJK_CLASS}]+)"
    rf"|(?P<ident>[0-9a-z]+(?:[{re.escape(_IDENT_SEPARATORS)}][0-9a-z]+)*)"
)
_SPLIT_IDENT = re.compile(rf"[{re.escape(_IDENT_SEPARATORS)}]")
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u300c": '"', "\u300d": '"',
                         "\u300e": '"', "\u300f": '"', "\u2018": "'", "\u2019": "'"})

RUN_END = "\u2060"         # word joiner: NFKC-stable and never left in normalised page text
MIN_DIGIT_TAIL = 4          # shortest trailing digit part that still finds an identifier
DIGIT_TAIL_FROM = 7         # only digit runs this long (户号, meter numbers) get tails
MAX_IDENT_PARTS = 8         # bounds the combinations a pathological identifier could emit


def normalize(text: str) -> str:
    """NFKC (full-width ＧＤ－２０１９ → GD-2019), curly quotes → ASCII, CJK gaps removed.

    Case is kept so stored snippets read like the page; terms are lowercased separately.
    """
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).replace(RUN_END, "")
    return _CJK_GAP.sub("", text)


def normalize_query(text: str) -> str:
    """NFKC and ASCII quotes only: spaces a user types between words mean "and"."""
    return unicodedata.normalize("NFKC", text).translate(_QUOTES)


def _identifier_variants(ident: str) -> set[str]:
    """The whole identifier, contiguous runs of its parts, and long-digit tails."""
    variants = {ident}
    parts = [p for p in _SPLIT_IDENT.split(ident) if p][:MAX_IDENT_PARTS]
    if len(parts) > 1:
        for i in range(len(parts)):
            for j in range(i + 1, len(parts) + 1):
                if j - i < len(parts):
                    variants.add("-".join(parts[i:j]) if j - i > 1 else parts[i])
    for part in parts:
        if part.isdigit() and len(part) >= DIGIT_TAIL_FROM:
            for start in range(1, len(part) - MIN_DIGIT_TAIL + 1):
                variants.add(part[start:])
    return variants


def canonical_identifier(ident: str) -> str:
    """Query-side form: separators unified to '-' so GD/2019/004512 equals GD-2019-004512."""
    return "-".join(p for p in _SPLIT_IDENT.split(ident) if p)


def index_terms(text: str) -> dict[str, int]:
    """Term → occurrences for already-normalised text (this is the hot indexing loop)."""
    counts: dict[str, int] = defaultdict(int)
    for m in _TOKEN.finditer(text.lower()):
        run = m.group("cjk")
        if run is not None:
            run += RUN_END
            for i in range(len(run) - 1):
                counts[run[i:i + 2]] += 1
        else:
            for variant in _identifier_variants(canonical_identifier(m.group("ident"))):
                counts[variant] += 1
    return counts


def query_terms(text: str) -> tuple[list[str], list[str]]:
    """(terms every matching page holds, single characters it must hold as a prefix).

    A CJK run of two or more characters contributes its bigrams, a lone character a prefix,
    an identifier its canonical whole form (its parts and tails were indexed as terms too).
    """
    terms: list[str] = []
    prefixes: list[str] = []
    for m in _TOKEN.finditer(text.lower()):
        run = m.group("cjk")
        if run is None:
            terms.append(canonical_identifier(m.group("ident")))
        elif len(run) == 1:
            prefixes.append(run)
        else:
            terms.extend(run[i:i + 2] for i in range(len(run) - 1))
    return list(dict.fromkeys(terms)), list(dict.fromkeys(prefixes))


def literal_pieces(text: str) -> list[str]:
    """The contiguous strings a query phrase stands for, for highlighting in page text."""
    return [m.group(0) for m in _TOKEN.finditer(text.lower())]
