"""The archivists' query language, parsed by hand into a match plan (see matching.py).

Grammar (juxtaposition means AND; NOT binds tighter than AND, AND tighter than OR):

    query   := or_expr
    or_expr := and_expr (OR and_expr)*
    and_expr:= unary ([AND] unary)*
    unary   := (NOT | '-') unary | primary
    primary := '(' or_expr ')' | FIELD ':' value | "phrase" | DATE? '..' DATE? | word

Every word or phrase must appear contiguously on the page (or in the document's metadata);
spaces and punctuation between the tokens of a quoted phrase are skipped, so "产权分界点 10kV"
matches 产权分界点10kV and 产权分界点，10kV.
We parse ourselves rather than use Whoosh's QueryParser because its syntax errors are silently
turned into literal terms, and archivists need to be told what was wrong.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass

from whoosh import query as wq

from docsvc.i18n import _

from .vocabulary import FIELD_ALIASES
from .analysis import (
    literal_pieces,
    normalize_query,
    query_terms,
    _IDENT_SEPARATORS,
)

MAX_QUERY_LENGTH = 500

# a bare word is looked for in the page text and in the document's descriptive metadata
FREE_TEXT_FIELDS = ("text", "customer", "account", "refcode", "title")
# "户号/account, 类型/type, …": every spelling of each field, for the message naming an unknown one
_FIELD_HELP = ", ".join("/".join(name for name, k in FIELD_ALIASES.items() if k == kind)
                        for kind in dict.fromkeys(FIELD_ALIASES.values()))

_DATE = r"\d{4}(?:-\d{1,2}(?:-\d{1,2})?)?"
_RANGE = re.compile(rf"^(?P<lo>{_DATE})?\.\.(?P<hi>{_DATE})?$")
_SINGLE_DATE = re.compile(rf"^{_DATE}$")
_FIELD = re.compile(r"^([^\s:()\"]+):(.*)$", re.S)
_OPERATORS = {"AND", "OR", "NOT"}


class QueryError(ValueError):
    """A query the archivist typed cannot be understood; the message says why and how to fix."""


@dataclass
class CompiledQuery:
    plan: object                          # TextLeaf | FilterLeaf | NotNode | BoolNode
    highlight: re.Pattern | None          # positive text terms, for snippets and boxes


@dataclass
class _Lexeme:
    kind: str            # "word" | "phrase" | "field" | "op" | "(" | ")" | "-"
    value: str = ""
    name: str = ""       # field kind for "field"
    quoted: bool = False


def _lex(text: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append(_Lexeme(ch))
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QueryError(_("Unclosed quote: %(text)s… add the closing quote", text=text[i:i + 20]))
            out.append(_Lexeme("phrase", text[i + 1:end], quoted=True))
            i = end + 1
        elif ch == "-" and i + 1 < n and not text[i + 1].isspace() and (i == 0 or text[i - 1] in " \t\n("):
            out.append(_Lexeme("-"))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '()"':
                j += 1
            word = text[i:j]
            # a field value may be quoted: 客户:"王 建国"
            if word.endswith(":") and j < n and text[j] == '"':
                end = text.find('"', j + 1)
                if end < 0:
                    raise QueryError(_("Unclosed quote: add the closing quote"))
                word += text[j + 1:end]
                out.append(_field_lexeme(word, quoted=True))
                i = end + 1
                continue
            out.append(_field_lexeme(word) if ":" in word else
                       _Lexeme("op", word) if word in _OPERATORS else _Lexeme("word", word))
            i = j
    return out


def _field_lexeme(word: str, quoted: bool = False) -> _Lexeme:
    m = _FIELD.match(word)
    name = m.group(1) if m else ""
    kind = FIELD_ALIASES.get(name) or FIELD_ALIASES.get(name.lower())
    if kind is None:
        if name and not name.isdigit():
            raise QueryError(_("Unknown field '%(name)s'. The fields are %(fields)s. To search for text that contains "
                               "a colon, quote it, e.g. \"%(word)s\"", name=name, fields=_FIELD_HELP, word=word))
        return _Lexeme("word", word)
    value = m.group(2)
    if not value.strip():
        raise QueryError(_("Field '%(name)s:' needs a value after the colon, e.g. %(name)s:2019", name=name))
    return _Lexeme("field", value, name=kind, quoted=quoted)


# --- AST -------------------------------------------------------------------------------

@dataclass
class _Text:
    text: str
    field: str | None = None       # None = page text or metadata


@dataclass
class _Type:
    codes: list[str]


@dataclass
class _Dates:
    lo: int
    hi: int


@dataclass
class _Not:
    node: object


@dataclass
class _Bool:
    op: str
    nodes: list


# Brackets and NOTs nest the parser's recursion: a few levels are all an archivist writes, and a
# limit keeps a query of hundreds of "(" a 400, not a RecursionError.
MAX_NESTING = 20


class _Parser:
    def __init__(self, lexemes: list[_Lexeme]):
        self.lx = lexemes
        self.i = 0
        self.depth = 0

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise QueryError(_("More than %(n)s nested brackets or NOTs: simplify the query", n=MAX_NESTING))

    def peek(self) -> _Lexeme | None:
        return self.lx[self.i] if self.i < len(self.lx) else None

    def take(self) -> _Lexeme:
        lex = self.lx[self.i]
        self.i += 1
        return lex

    def parse(self):
        node = self.or_expr()
        if self.peek() is not None:
            raise QueryError(_("Unmatched ')': remove it or add '('"))
        return node

    def or_expr(self):
        nodes = [self.and_expr()]
        while (lx := self.peek()) and lx.kind == "op" and lx.value == "OR":
            self.take()
            if self.peek() is None or self.peek().kind == ")":
                raise QueryError(_("OR needs a search term after it"))
            nodes.append(self.and_expr())
        return nodes[0] if len(nodes) == 1 else _Bool("or", nodes)

    def and_expr(self):
        nodes = [self.unary()]
        while (lx := self.peek()) and lx.kind != ")" and not (lx.kind == "op" and lx.value == "OR"):
            if lx.kind == "op" and lx.value == "AND":
                self.take()
                if self.peek() is None or self.peek().kind == ")":
                    raise QueryError(_("AND needs a search term after it"))
            nodes.append(self.unary())
        return nodes[0] if len(nodes) == 1 else _Bool("and", nodes)

    def unary(self):
        lx = self.peek()
        if lx is None:
            raise QueryError(_("The query ends too early"))
        if lx.kind == "-" or (lx.kind == "op" and lx.value == "NOT"):
            self.take()
            if self.peek() is None or self.peek().kind == ")" or self.peek().kind == "op" and self.peek().value != "NOT":
                raise QueryError(_("NOT or '-' needs a term to exclude"))
            self.deeper()
            node = _Not(self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self):
        lx = self.take()
        if lx.kind == "(":
            if self.peek() is None or self.peek().kind == ")":
                raise QueryError(_("Empty parentheses"))
            self.deeper()
            node = self.or_expr()
            self.depth -= 1
            if self.peek() is None or self.peek().kind != ")":
                raise QueryError(_("Unclosed '(': add ')'"))
            self.take()
            return node
        if lx.kind == ")":
            raise QueryError(_("Unmatched ')': remove it or add '('"))
        if lx.kind == "op":
            raise QueryError(_("%(operator)s needs a search term before it", operator=lx.value))
        if lx.kind == "field":
            return _field_node(lx)
        if lx.kind == "word" and ".." in lx.value:
            return _date_node(lx.value)
        return _Text(lx.value)


def _field_node(lx: _Lexeme):
    if lx.name == "date":
        return _date_node(lx.value)
    if lx.name == "type":
        return _Type([c for c in lx.value.split(",") if c])
    return _Text(lx.value, field=lx.name)


def _date_bounds(text: str, upper: bool) -> int:
    parts = [int(p) for p in text.split("-")]
    year = parts[0]
    month = parts[1] if len(parts) > 1 else (12 if upper else 1)
    if not 1 <= month <= 12:
        raise QueryError(_("The date '%(text)s' has no such month", text=text))
    last_day = calendar.monthrange(year, month)[1]
    day = parts[2] if len(parts) > 2 else (last_day if upper else 1)
    if not 1 <= day <= last_day:
        raise QueryError(_("The date '%(text)s' has no such day", text=text))
    return year * 10000 + month * 100 + day


def _date_node(value: str) -> _Dates:
    m = _RANGE.match(value)
    if m:
        if not m.group("lo") and not m.group("hi"):
            raise QueryError(_("A date range needs at least one end, e.g. 2019..2021 or 2019.."))
        lo = _date_bounds(m.group("lo"), upper=False) if m.group("lo") else 0
        hi = _date_bounds(m.group("hi"), upper=True) if m.group("hi") else 99991231
    elif _SINGLE_DATE.match(value):
        lo, hi = _date_bounds(value, upper=False), _date_bounds(value, upper=True)
    else:
        raise QueryError(_("Cannot read the date '%(value)s'; write 2019, 2019-03, 2019-03-05 or 2019..2021", value=value))
    if lo > hi:
        raise QueryError(_("The date range '%(value)s' is reversed: put the earlier date first", value=value))
    return _Dates(lo, hi)


# --- compile to a match plan ---------------------------------------------------------

@dataclass
class TextLeaf:
    """A word or phrase: candidates must hold every term; the pattern then confirms order."""

    literal: str
    fields: tuple[str, ...]
    terms: list[str]
    prefixes: list[str]
    pattern: re.Pattern
    positive: bool

    @property
    def exact_by_terms(self) -> bool:
        # one bigram, one identifier variant or one single character needs no confirming
        return len(self.terms) + len(self.prefixes) == 1


@dataclass
class FilterLeaf:
    query: wq.Query


@dataclass
class NotNode:
    node: object


@dataclass
class BoolNode:
    op: str
    nodes: list


def literal_pattern(literals: list[str]) -> re.Pattern | None:
    """A regex finding the given terms in stored (normalised) text, case-insensitively.

    Identifier separators are interchangeable and spaces or punctuation between tokens are
    skipped, the same equivalences the index terms make.
    """
    sep = f"[{re.escape(_IDENT_SEPARATORS)}]"
    alternatives = []
    for literal in literals:
        pieces = []
        for piece in literal_pieces(literal):
            parts = re.split(sep, piece)
            pieces.append(sep.join(re.escape(p) for p in parts if p))
        if pieces:
            alternatives.append(r"\W*".join(pieces))
    if not alternatives:
        return None
    alternatives.sort(key=len, reverse=True)  # prefer the longest match at a position
    return re.compile("|".join(alternatives), re.IGNORECASE)


class _Compiler:
    def __init__(self, type_aliases: Mapping[str, str]):
        self.type_aliases = {normalize_query(k).lower(): v for k, v in type_aliases.items()}
        self.literals: list[str] = []

    def compile(self, node, positive: bool = True):
        if isinstance(node, _Bool):
            return BoolNode(node.op, [self.compile(n, positive) for n in node.nodes])
        if isinstance(node, _Not):
            return NotNode(self.compile(node.node, positive=not positive))
        if isinstance(node, _Dates):
            return FilterLeaf(wq.NumericRange("date", node.lo, node.hi))
        if isinstance(node, _Type):
            codes = [self.type_aliases.get(c.lower(), c).lower() for c in node.codes]
            return FilterLeaf(wq.Or([wq.Term("doc_type", c) for c in codes]))
        terms, prefixes = query_terms(node.text)
        if not terms and not prefixes:
            raise QueryError(_("'%(text)s' has no letters, digits or Chinese characters to search for", text=node.text))
        if node.field is None and positive:
            self.literals.append(node.text)
        fields = (node.field,) if node.field is not None else FREE_TEXT_FIELDS
        return TextLeaf(node.text, fields, terms, prefixes, literal_pattern([node.text]), positive)


def compile_query(q: str, type_aliases: Mapping[str, str] | None = None) -> CompiledQuery:
    """Parse an archivist's query; raises QueryError explaining, in the reader's language, what is wrong."""
    if q is None or not q.strip():
        raise QueryError(_("Type something to search for"))
    if len(q) > MAX_QUERY_LENGTH:
        raise QueryError(_("The query is longer than %(n)s characters; shorten it", n=MAX_QUERY_LENGTH))
    ast = _Parser(_lex(normalize_query(q).strip())).parse()
    compiler = _Compiler(type_aliases or {})
    plan = compiler.compile(ast)
    return CompiledQuery(plan, literal_pattern(compiler.literals))


