"""Which candidate pages to confirm, and the totals, facets and result page that follow.

Confirming a page (reading its text and matching the phrase, ~10 µs) is what a search costs, and
a query word on 20 % of 100,000 pages has 20,000 candidates. Mature engines stop counting
exactly at some point (Elasticsearch's ``track_total_hits`` counts to 10,000 and then reports
"≥ 10,000"); we do the same with an estimate:

- When at most ``exact`` pages (see `Limits`) are still undecided after the postings, all of
  them are confirmed: totals, facets and order are exact (every query of the test table).
- Otherwise the best ``confirm_best`` undecided pages are confirmed in result order — by the
  score bound from the postings for relevance, by date for date order — and more in chunks of
  ``chunk`` until the requested result page is settled (no unconfirmed page could still enter
  it); an evenly spaced sample of ``sample`` of the remaining pages is confirmed too, and the
  share of it that matched estimates the rest. Totals and facet counts are then "about N"
  (``approximate``). Pages of the documents shown are always all confirmed, so their lists of
  matching pages and counts are exact. For date order the page shown is exact as well; for
  relevance it is exact unless the score bounds were too loose to settle it within
  ``settle`` further confirmations.

Access is applied before any of this: every candidate, confirmed or estimated, is a page the
user may find (the scope and gates are part of every mask), so no page the user may not see
is ever counted, estimated or shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arrays import MISSING, IndexView, type_name
from .matching import Node

PAGES_PER_DOCUMENT = 5  # matching pages listed per document hit


@dataclass(frozen=True)
class Limits:
    """How many candidate pages a search confirms (~10 µs each; 4,000 ≈ 40 ms on this machine)."""

    exact: int = 4000         # undecided pages up to which everything is confirmed (exact totals)
    confirm_best: int = 1000  # beyond it: the best pages confirmed first, in result order
    chunk: int = 500          # further pages confirmed at a time until the result page is settled
    sample: int = 500         # evenly spaced pages of the rest confirmed to estimate the totals
    settle: int = 4000        # confirmations spent on settling a relevance page's order at most


@dataclass
class Collected:
    total_pages: int
    total_documents: int
    facets: dict[str, dict[str, int]]
    approximate: bool
    # the documents of the requested result page: (document id, matching pages, best pages)
    documents: list[tuple[int, int, list[tuple[int, float]]]] = field(default_factory=list)


class _State:
    """Pages decided so far: exact membership and score."""

    def __init__(self, root: Node, view: IndexView, sort: str):
        self.root, self.view, self.sort = root, view, sort
        self.matched = root.lo & root.known
        self.score = root.score.copy()
        self.decided = root.known.copy()
        self.documents = view.dense("document_id")
        self.dates = view.dense("date")

    def settle(self, docnums: np.ndarray) -> None:
        docnums = docnums[~self.decided[docnums]]
        if not len(docnums):
            return
        match, score = self.root.decide(docnums)
        self.matched[docnums] = match
        self.score[docnums] = score
        self.decided[docnums] = True

    def rank(self, docnums: np.ndarray) -> np.ndarray:
        """docnums in result order: best score first, or newest first (then document, page)."""
        if self.sort == "date":
            order = np.lexsort((docnums, self.documents[docnums], -self.dates[docnums].astype(np.int64)))
        else:
            order = np.lexsort((docnums, -self.score[docnums]))
        return docnums[order]

    def display(self) -> tuple[np.ndarray, np.ndarray]:
        """(decided matching pages in result order, each document's first position in it)."""
        pages = self.rank(np.flatnonzero(self.matched))
        _, first = np.unique(self.documents[pages], return_index=True)
        return pages, np.sort(first)

    def settled(self, stop: int, cutoff: int) -> bool:
        """Could no undecided page from `cutoff` on (in result order) enter the first `stop` documents?"""
        pages, firsts = self.display()
        if len(firsts) < stop:
            return False
        last = pages[firsts[stop - 1]]
        if self.sort == "date":
            return (-int(self.dates[last]), int(self.documents[last]), int(last)) <= \
                (-int(self.dates[cutoff]), int(self.documents[cutoff]), int(cutoff))
        return float(self.score[last]) >= float(self.score[cutoff])


def collect(root: Node, view: IndexView, *, sort: str, first: int, stop: int,
            limits: Limits = Limits(), pages_per_document: int | None = PAGES_PER_DOCUMENT) -> Collected:
    """Decide what is needed for documents [first, stop) of the result, totals and facets;
    each shown document lists its best `pages_per_document` matching pages (None: all of them)."""
    state = _State(root, view, sort)
    undecided = np.flatnonzero(root.hi & ~root.known)
    rest = np.empty(0, dtype=np.int64)
    ratio = 1.0
    if len(undecided) <= limits.exact:
        state.settle(undecided)
    else:
        ranked = state.rank(undecided)
        position = min(limits.confirm_best, len(ranked))
        state.settle(ranked[:position])
        while position < len(ranked) and not state.settled(stop, ranked[position]):
            if position >= limits.confirm_best + limits.settle and len(state.display()[1]) >= stop:
                break   # relevance bounds too loose to settle: keep the order found so far
            state.settle(ranked[position:position + limits.chunk])
            position += limits.chunk
        rest = ranked[position:]
        unknown = rest[~root.lo[rest]]          # membership not known yet
        if len(unknown):
            sample = unknown[:: max(1, len(unknown) // limits.sample)][:limits.sample]
            state.settle(sample)
            ratio = float(state.matched[sample].mean())
        rest = rest[~state.decided[rest]]

    # the documents on the requested page, with all their candidate pages decided
    pages, firsts = state.display()
    shown = state.documents[pages[firsts[first:stop]]]
    if len(rest) and len(shown):
        state.settle(rest[np.isin(state.documents[rest], shown)])
        rest = rest[~state.decided[rest]]
        pages, firsts = state.display()
        shown = state.documents[pages[firsts[first:stop]]]

    members = np.flatnonzero(state.matched | (root.lo & ~state.decided))   # certain, decided or not
    unknown = rest[~root.lo[rest]]                                         # estimated by `ratio`
    result = Collected(
        total_pages=len(members) + round(ratio * len(unknown)),
        total_documents=_document_total(state.documents, members, unknown, ratio),
        facets=_facets(view, members, unknown, ratio),
        approximate=bool(len(unknown)),
    )
    shown_members = members[np.isin(state.documents[members], shown)]
    counts = dict(zip(*(a.tolist() for a in np.unique(state.documents[shown_members], return_counts=True))))
    shown_pages = pages[np.isin(state.documents[pages], shown)]
    for document_id in shown.tolist():
        own = shown_pages[state.documents[shown_pages] == document_id][:pages_per_document]
        result.documents.append((document_id, counts[document_id],
                                 [(int(d), float(state.score[d])) for d in own]))
    return result


def _document_total(documents: np.ndarray, members: np.ndarray, unknown: np.ndarray, ratio: float) -> int:
    """Documents with a matching page: the certain ones, plus each other document holding
    unknown pages with the chance that at least one of its k pages matches, 1 − (1 − ratio)^k."""
    certain = np.unique(documents[members])
    if not len(unknown):
        return len(certain)
    _, pages_per_document = np.unique(documents[unknown][~np.isin(documents[unknown], certain)], return_counts=True)
    return len(certain) + round(float((1 - (1 - ratio) ** pages_per_document).sum()))


def _facets(view: IndexView, members: np.ndarray, unknown: np.ndarray, ratio: float) -> dict[str, dict[str, int]]:
    """Pages per document type and per year: exact for members, `ratio` of the unknown pages."""
    types, years = view.dense("doc_type"), view.dense("year")

    def counts(values: np.ndarray) -> dict[int, float]:
        values = values[values != MISSING]
        keys, numbers = np.unique(values, return_counts=True)
        return dict(zip(keys.tolist(), numbers.tolist()))

    facets: dict[str, dict[str, int]] = {}
    for name, column, label in (("type", types, type_name), ("year", years, str)):
        total = counts(column[members])
        for key, number in counts(column[unknown]).items():
            total[key] = total.get(key, 0) + ratio * number
        rounded = {label(k): round(v) for k, v in total.items() if round(v) > 0}
        facets[name] = dict(sorted(rounded.items(), key=lambda kv: (-kv[1], kv[0]))) if name == "type" \
            else dict(sorted(rounded.items()))
    return facets
