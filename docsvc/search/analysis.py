"""Text analysis for Chinese OCR text: normalisation, index terms, query units.

Whoosh's own analyzers make a whole unspaced Chinese run one token, so a phrase inside a
longer run is unfindable. We index instead, at consecutive positions:

* every overlapping CJK bigram, and for the last character of a run the character followed by
  RUN_END, so every character occurrence starts exactly one term.

A run of two or more characters typed by the user becomes a phrase query over its bigrams, which
matches exactly when the characters appear contiguously and in order on the page; a single
character (a surname such as 王) is a prefix query over the terms it starts. Single-character
terms are not indexed: they would add ~40% more postings, and Whoosh's writer is pure Python,
so postings per page are what indexing speed is bounded by.

Latin/digit runs become one token each, lowercased. Identifiers joined by ``- _ / . ·``
(GD-2019-004512, J001-KH·2019-D30-YX-0123) are indexed whole plus every contiguous run of their
parts at the same position, and digit runs of seven or more digits (户号, meter numbers) add
their trailing 4+ digit suffixes, so "004512", "2019-004512" and "1234567" (tail of 3301234567)
find the identifier while phrase queries around it still line up.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterator

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


def is_cjk(ch: str) -> bool:
    return bool(re.match(rf"[{_CJK_CLASS}]", ch))


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


def index_terms(text: str) -> dict[str, list[int]]:
    """Term → positions for already-normalised text (this is the hot indexing loop)."""
    positions: dict[str, list[int]] = defaultdict(list)
    pos = 0
    for m in _TOKEN.finditer(text.lower()):
        run = m.group("cjk")
        if run is not None:
            run += RUN_END
            for i in range(len(run) - 1):
                positions[run[i:i + 2]].append(pos + i)
            pos += len(run) - 1
        else:
            ident = m.group("ident")
            canonical = canonical_identifier(ident)
            for variant in _identifier_variants(canonical):
                positions[variant].append(pos)
            pos += 1
    return positions


def query_units(text: str) -> tuple[list[str], str | None]:
    """Terms a query phrase must match at consecutive positions, plus an optional prefix.

    A CJK run of two or more characters contributes its bigrams, and when another token
    follows, its last character + RUN_END (the run must end there for the next token to sit
    at the next position). An identifier contributes its canonical whole form (its parts and
    tails were indexed at the same position). A single character at the very end of the
    phrase cannot be a positional term, so it is returned as a prefix the page must also
    contain; a single character before another token is exactly "char + RUN_END".
    """
    pieces = [(m.group("cjk"), m.group("ident")) for m in _TOKEN.finditer(text.lower())]
    units: list[str] = []
    prefix = None
    for k, (run, ident) in enumerate(pieces):
        last = k == len(pieces) - 1
        if run is None:
            units.append(canonical_identifier(ident))
        elif len(run) == 1 and last:
            prefix = run
        else:
            units.extend(run[i:i + 2] for i in range(len(run) - 1))
            if not last:
                units.append(run[-1] + RUN_END)
    return units, prefix


def literal_pieces(text: str) -> list[str]:
    """The contiguous strings a query phrase stands for, for highlighting in page text."""
    return [m.group(0) for m in _TOKEN.finditer(text.lower())]


_jieba_lock = threading.Lock()
_jieba = None


def _jieba_module():
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(60)  # its dictionary-loading chatter is not our log
            jieba.initialize()
            _jieba = jieba
    return _jieba


def jieba_words(text: str) -> Iterator[str]:
    """Dictionary words of two or more characters, lowercased, for word-level ranking."""
    for word in _jieba_module().cut(text.lower(), HMM=False):
        if len(word) >= 2 and not word.isspace() and _TOKEN.fullmatch(word):
            yield word
