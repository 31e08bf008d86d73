"""Evaluate a compiled query plan over the index as arrays: bounds first, confirmation on demand.

A word or phrase finds its candidates in the postings (the pages holding its two rarest terms);
whether the characters stand in that order is confirmed on the page text kept in the index
with a regular expression, which also counts occurrences for the score. Confirming on the
text is several times cheaper than Whoosh's span-based Phrase matcher (~0.2 ms per candidate
page), and lets the index keep term frequencies only (no positions: smaller, faster to write).
A word of one bigram, one identifier or one character needs no confirmation at all.

Confirmation is the expensive step (~10 µs a page), so it is not done eagerly: every plan node
first yields, over all N pages, as boolean masks and arrays (see arrays.IndexView)

- ``lo``: pages that certainly match, ``hi``: pages that may match (lo ⊆ matches ⊆ hi),
- ``known``: pages whose membership *and* score are already exact,
- ``score``: the exact score where known, an upper bound elsewhere (from the postings' term
  frequencies: a phrase cannot occur more often than its rarest bigram),

and ``decide(docnums)`` then settles any pages exactly, confirming only what those pages need.
The caller (collect.py) chooses which pages to decide. Scores are BM25-like: per positive word,
idf × saturated occurrence count (k1 = 1.2), page text weighted 1 and metadata 0.5, the best
field counting; a page's score is the sum over its words. A word's idf is taken from its
candidate count over the index, so it does not depend on the order of evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .arrays import IndexView
from .query import BoolNode, FilterLeaf, NotNode, TextLeaf

K1 = 1.2
FIELD_WEIGHTS = {"text": 1.0}
METADATA_WEIGHT = 0.5
CANDIDATE_TERMS = 2   # rarest terms whose postings are intersected; the pattern confirms the rest
_UNBOUNDED_TF = 1e6   # a candidate found by prefixes only: its count is not known before confirming

# field → pages that may be matched on that field (access: text only where content may be read)
Gates = Mapping[str, np.ndarray]


def saturate(tf: np.ndarray) -> np.ndarray:
    return tf * (K1 + 1) / (tf + K1)


class Context:
    """What every node of one search shares: the view, the scope, the gates, fetched text."""

    def __init__(self, view: IndexView, scope: np.ndarray, gates: Gates):
        self.view = view
        self.scope = scope
        self.gates = gates
        self._values: dict[str, dict[int, str]] = {}   # field → docnum → text already read

    def values(self, field: str, docnums: np.ndarray) -> list[str]:
        """Field text of these pages, each read from its column at most once per search."""
        seen = self._values.setdefault(field, {})
        missing = [d for d in docnums.tolist() if d not in seen]
        if missing:
            for d, value in self.view.text(field).values(missing):
                seen[d] = value or ""
        return [seen[d] for d in docnums.tolist()]


class Node:
    lo: np.ndarray
    hi: np.ndarray
    known: np.ndarray
    score: np.ndarray

    def decide(self, docnums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(matches, exact scores) for these pages (scores are 0 where they do not match)."""
        raise NotImplementedError


def build(plan, ctx: Context) -> Node:
    if isinstance(plan, TextLeaf):
        return _Leaf(plan, ctx)
    if isinstance(plan, FilterLeaf):
        return _Filter(plan, ctx)
    if isinstance(plan, NotNode):
        return _Not(build(plan.node, ctx), ctx)
    if isinstance(plan, BoolNode):
        children = [build(n, ctx) for n in plan.nodes]
        return _And(children) if plan.op == "and" else _Or(children)
    raise TypeError(f"unknown plan node {plan!r}")


class _Filter(Node):
    def __init__(self, leaf: FilterLeaf, ctx: Context):
        self.lo = self.hi = ctx.view.mask(leaf.query) & ctx.scope
        self.known = np.ones(ctx.view.n, dtype=bool)
        self.score = np.zeros(ctx.view.n, dtype=np.float32)

    def decide(self, docnums):
        return self.hi[docnums], np.zeros(len(docnums), dtype=np.float32)


class _Leaf(Node):
    """A word or phrase over its fields; fields needing confirmation keep their candidates."""

    def __init__(self, leaf: TextLeaf, ctx: Context):
        self.leaf, self.ctx = leaf, ctx
        view = ctx.view
        self.exact: list[tuple[str, np.ndarray, np.ndarray, float]] = []    # field, mask, tf, weight
        self.pending: list[tuple[str, np.ndarray, np.ndarray, float]] = []  # field, candidates, tf bound, weight
        for field in leaf.fields:
            gate = ctx.gates.get(field)
            allowed = ctx.scope if gate is None else ctx.scope & gate
            weight = FIELD_WEIGHTS.get(field, METADATA_WEIGHT)
            if leaf.exact_by_terms and leaf.terms:
                ids, tf = view.postings(field, leaf.terms[0])
                mask, tfs = np.zeros(view.n, dtype=bool), np.zeros(view.n, dtype=np.float32)
                mask[ids], tfs[ids] = True, tf
                self.exact.append((field, mask & allowed, tfs, weight))
            elif leaf.exact_by_terms:    # a lone single character: present means matched
                mask = view.prefix_mask(field, leaf.prefixes[0]) & allowed
                self.exact.append((field, mask, mask.astype(np.float32), weight))
            else:
                mask, bound = self._candidates(field, view)
                self.pending.append((field, mask & allowed, bound, weight))
        union = np.zeros(view.n, dtype=bool)
        for _, mask, _, _ in self.exact + self.pending:
            union |= mask
        matched = int(union.sum())
        self.idf = math.log(1 + view.live_count / matched) if leaf.positive and matched else 0.0
        self.hi = union
        self.lo = np.zeros(view.n, dtype=bool)
        for _, mask, _, _ in self.exact:
            self.lo |= mask
        self.known = np.ones(view.n, dtype=bool)
        for _, mask, _, _ in self.pending:
            self.known &= ~mask
        self.score = np.zeros(view.n, dtype=np.float32)
        for _, mask, tf, weight in self.exact + self.pending:
            np.maximum(self.score, np.where(mask, saturate(tf) * (self.idf * weight), 0), out=self.score)
        self._counts: dict[str, dict[int, int]] = {}

    def _candidates(self, field: str, view: IndexView) -> tuple[np.ndarray, np.ndarray]:
        """Pages holding the leaf's rarest terms (a superset of its matches) and a bound on the
        occurrences: common bigrams (用电, 电费) are on most pages and add nothing but time."""
        leaf = self.leaf
        mask = np.ones(view.n, dtype=bool)
        if leaf.terms:
            bound = np.full(view.n, np.inf, dtype=np.float32)
            for term in sorted(leaf.terms, key=lambda t: view.doc_frequency(field, t))[:CANDIDATE_TERMS]:
                ids, tf = view.postings(field, term)
                term_mask, term_tf = np.zeros(view.n, dtype=bool), np.zeros(view.n, dtype=np.float32)
                term_mask[ids], term_tf[ids] = True, tf
                mask &= term_mask
                np.minimum(bound, term_tf, out=bound)
            return mask, np.where(mask, bound, 0).astype(np.float32)
        for prefix in leaf.prefixes:
            mask &= view.prefix_mask(field, prefix)
        return mask, np.where(mask, _UNBOUNDED_TF, 0).astype(np.float32)

    def _confirmed(self, field: str, docnums: np.ndarray) -> np.ndarray:
        counts = self._counts.setdefault(field, {})
        todo = np.array([d for d in docnums.tolist() if d not in counts], dtype=np.int64)
        if len(todo):
            findall = self.leaf.pattern.findall
            for d, value in zip(todo.tolist(), self.ctx.values(field, todo)):
                counts[d] = len(findall(value)) if value else 0
        return np.array([counts[d] for d in docnums.tolist()], dtype=np.float32)

    def decide(self, docnums):
        match = np.zeros(len(docnums), dtype=bool)
        score = np.zeros(len(docnums), dtype=np.float32)
        for _, mask, tf, weight in self.exact:
            hit = mask[docnums]
            match |= hit
            np.maximum(score, np.where(hit, saturate(tf[docnums]) * (self.idf * weight), 0), out=score)
        for field, candidates, _, weight in self.pending:
            where = np.flatnonzero(candidates[docnums])
            if not len(where):
                continue
            counts = self._confirmed(field, docnums[where])
            hit = counts > 0
            match[where[hit]] = True
            field_score = saturate(counts[hit]) * (self.idf * weight)
            score[where[hit]] = np.maximum(score[where[hit]], field_score)
        return match, score


class _Not(Node):
    """NOT only looks where its word may be looked for (gates), so it reveals no hidden text."""

    def __init__(self, inner: Node, ctx: Context):
        self.inner, self.scope = inner, ctx.scope
        self.lo = ctx.scope & ~inner.hi
        self.hi = ctx.scope & ~inner.lo
        self.known = self.lo | ~self.hi
        self.score = np.zeros(ctx.view.n, dtype=np.float32)

    def decide(self, docnums):
        matched, _ = self.inner.decide(docnums)
        return self.scope[docnums] & ~matched, np.zeros(len(docnums), dtype=np.float32)


def _cost(node: Node) -> int:
    """Order for deciding an AND: exact nodes first, then the fewest pages left to confirm."""
    return int((node.hi & ~node.known).sum())


class _And(Node):
    def __init__(self, children: list[Node]):
        self.children = sorted(children, key=_cost)
        self.lo, self.hi = children[0].lo.copy(), children[0].hi.copy()
        known = children[0].known.copy()
        self.score = children[0].score.copy()
        for child in children[1:]:
            self.lo &= child.lo
            self.hi &= child.hi
            known &= child.known
            self.score += child.score
        self.known = known | ~self.hi

    def decide(self, docnums):
        match = np.ones(len(docnums), dtype=bool)
        score = np.zeros(len(docnums), dtype=np.float32)
        alive = np.arange(len(docnums))
        for child in self.children:      # each child only decides the pages still matching
            child_match, child_score = child.decide(docnums[alive])
            score[alive] += child_score
            match[alive[~child_match]] = False
            alive = alive[child_match]
            if not len(alive):
                break
        return match, np.where(match, score, 0).astype(np.float32)


class _Or(Node):
    def __init__(self, children: list[Node]):
        self.children = children
        self.lo, self.hi = children[0].lo.copy(), children[0].hi.copy()
        known = children[0].known.copy()
        self.score = children[0].score.copy()
        for child in children[1:]:
            self.lo |= child.lo
            self.hi |= child.hi
            known &= child.known
            self.score += child.score
        self.known = known | ~self.hi

    def decide(self, docnums):
        match = np.zeros(len(docnums), dtype=bool)
        score = np.zeros(len(docnums), dtype=np.float32)
        for child in self.children:
            child_match, child_score = child.decide(docnums)
            match |= child_match
            score += child_score
        return match, score
