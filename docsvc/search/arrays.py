"""The index seen as numpy arrays over global document numbers, for one searcher generation.

Whoosh reads postings one posting at a time in pure Python (~1–2 µs each) and set operations
on them are Python sets; a query word that occurs on 20 % of 100,000 pages then costs tens of
milliseconds before any page is confirmed. Here a term's postings are decoded block by block
(Whoosh's W3 codec stores each block of up to 128 postings as one pickled, zlib-compressed
tuple: whoosh_internals.posting_arrays) into numpy arrays, and everything downstream — candidate
sets, restrictions, facets, ranking — is a boolean mask or an index array of length N (the segment-concatenated document
numbers, deleted ones included and masked out by `alive`).

Dense columns (document id, type, year, date) are decoded once per segment per process and
shared by all threads: a segment's columns never change (deletions live beside them), so a
commit only decodes the segments it added.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

import numpy as np
from whoosh import query as wq
from whoosh.reading import TermNotFound

from .whoosh_internals import NUMERIC_NONE, posting_arrays

# Restriction masks a view keeps: the view lives until the next commit, each mask is N bytes,
# and loan scopes and date filters differ per user and query, so the cache is bounded.
MASK_CACHE = 64
MISSING = 0           # dense int columns: value of a page without one (Whoosh stores NUMERIC_NONE)

# process-wide: (segment id, field) → decoded values of that segment
_SEGMENT_VALUES: dict[tuple[str, str], np.ndarray] = {}
_TYPE_CODES: dict[str, int] = {"": 0}     # doc_type → small int code (0 = none), process-wide
_TYPE_NAMES: list[str] = [""]
_LOCK = threading.Lock()


def _type_code(value: str) -> int:
    code = _TYPE_CODES.get(value)
    if code is None:
        with _LOCK:
            code = _TYPE_CODES.setdefault(value, len(_TYPE_NAMES))
            if code == len(_TYPE_NAMES):
                _TYPE_NAMES.append(value)
    return code


def type_name(code: int) -> str:
    return _TYPE_NAMES[code]


def _decode_segment(leaf, fieldname: str) -> np.ndarray:
    count = leaf.doc_count_all()
    if not leaf.has_column(fieldname):
        return np.zeros(count, dtype=np.int64 if fieldname == "document_id" else np.int32)
    values = leaf.column_reader(fieldname)
    if fieldname == "document_id":
        return np.fromiter((int(v) if v else 0 for v in values), dtype=np.int64, count=count)
    if fieldname == "doc_type":
        return np.fromiter((_type_code(v or "") for v in values), dtype=np.int32, count=count)
    out = np.fromiter((v or 0 for v in values), dtype=np.int64, count=count)
    out[out >= NUMERIC_NONE] = MISSING
    return out.astype(np.int32)


def _segment_values(leaf, fieldname: str) -> np.ndarray:
    key = (leaf.segment().segment_id(), fieldname)
    with _LOCK:
        values = _SEGMENT_VALUES.get(key)
    if values is None:
        values = _decode_segment(leaf, fieldname)
        with _LOCK:
            _SEGMENT_VALUES[key] = values
    return values


def forget_segments(live_segment_ids: set[str]) -> None:
    """Drop decoded values of segments merged away (called when a searcher is renewed)."""
    with _LOCK:
        for key in [k for k in _SEGMENT_VALUES if k[0] not in live_segment_ids]:
            del _SEGMENT_VALUES[key]


class IndexView:
    """One searcher generation as arrays: postings, masks and dense columns by global docnum."""

    def __init__(self, searcher, text_columns: "TextColumns"):
        self.searcher = searcher
        self.reader = searcher.reader()
        self.leaves = list(self.reader.leaf_readers())
        self.offsets = np.array([offset for _, offset in self.leaves], dtype=np.int64)
        self.n = self.reader.doc_count_all()
        self.live_count = self.reader.doc_count()
        alive = np.ones(self.n, dtype=bool)
        for leaf, offset in self.leaves:
            deleted = list(leaf.deleted_docs_set) if leaf.has_deletions() else []
            if deleted:
                alive[np.asarray(deleted, dtype=np.int64) + offset] = False
        self.alive = alive
        self.text_columns = text_columns
        self._dense: dict[str, np.ndarray] = {}
        self._masks: dict[object, np.ndarray] = {}

    # --- postings ----------------------------------------------------------------------

    def postings(self, field: str, text: str | bytes) -> tuple[np.ndarray, np.ndarray]:
        """(global docnums ascending, term frequency) of a term over all segments, deleted included."""
        ids_parts, weight_parts = [], []
        for leaf, offset in self.leaves:
            try:
                matcher = leaf.postings(field, text)
            except TermNotFound:
                continue
            ids, weights = posting_arrays(matcher)
            ids_parts.append(ids + offset)
            weight_parts.append(weights)
        if not ids_parts:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if len(ids_parts) == 1:
            return ids_parts[0], weight_parts[0]
        return np.concatenate(ids_parts), np.concatenate(weight_parts)

    def doc_frequency(self, field: str, text: str) -> int:
        return self.reader.doc_frequency(field, text)

    def term_mask(self, field: str, text: str | bytes) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        mask[self.postings(field, text)[0]] = True
        return mask & self.alive

    def prefix_mask(self, field: str, prefix: str) -> np.ndarray:
        """Pages holding any term that starts with `prefix` (a single character's bigrams)."""
        mask = np.zeros(self.n, dtype=bool)
        for leaf, offset in self.leaves:
            for btext in leaf.expand_prefix(field, prefix):
                mask[posting_arrays(leaf.postings(field, btext))[0] + offset] = True
        return mask & self.alive

    # --- dense columns -------------------------------------------------------------------

    def dense(self, fieldname: str) -> np.ndarray:
        """document_id (int64), doc_type (codes, see type_name), year or date (0 = none)."""
        values = self._dense.get(fieldname)
        if values is None:
            parts = [_segment_values(leaf, fieldname) for leaf, _ in self.leaves]
            values = np.concatenate(parts) if parts else np.empty(0, np.int32)
            self._dense[fieldname] = values
        return values

    # --- restriction queries -------------------------------------------------------------

    def mask(self, query: wq.Query) -> np.ndarray:
        """Live pages matching a filter query (access restrictions, type and date filters)."""
        key = repr(query)
        cached = self._masks.get(key)
        if cached is None:
            if len(self._masks) >= MASK_CACHE:
                self._masks.clear()
            cached = self._masks[key] = self._mask(query)
            cached.flags.writeable = False
        return cached

    def _mask(self, query: wq.Query) -> np.ndarray:
        if isinstance(query, wq.Term):
            return self.term_mask(query.fieldname, query.text)
        if isinstance(query, wq.Or):
            out = np.zeros(self.n, dtype=bool)
            for sub in query.subqueries:
                out |= self._mask(sub)
            return out
        if isinstance(query, wq.And):
            out = self.alive.copy()
            for sub in query.subqueries:
                out &= self._mask(sub)
            return out
        if isinstance(query, wq.Not):
            return self.alive & ~self._mask(query.query)
        if query is wq.NullQuery or isinstance(query, type(wq.NullQuery)):
            return np.zeros(self.n, dtype=bool)
        if isinstance(query, wq.NumericRange) and query.fieldname == "date":
            dates = self.dense("date")
            lo = query.start if query.start is not None else 0
            hi = query.end if query.end is not None else NUMERIC_NONE
            return self.alive & (dates != MISSING) & (dates >= lo) & (dates <= hi)
        mask = np.zeros(self.n, dtype=bool)      # anything else: Whoosh's own matcher
        mask[np.fromiter(self.searcher.docs_for_query(query), dtype=np.int64)] = True
        return mask & self.alive

    # --- stored text ---------------------------------------------------------------------

    def text(self, fieldname: str) -> "TextColumn":
        return self.text_columns.column(self, fieldname)


class TextColumns:
    """Column readers per (segment, field), kept across searches and commits of one thread.

    Opening an uncompressed column decodes its offsets for the whole segment (~1 ms per 20k
    pages), far more than a search should pay per field; each cached reader keeps its
    segment's files open until the segment is merged away.
    """

    def __init__(self):
        self._readers: dict[tuple[str, str], object] = {}

    def column(self, view: IndexView, fieldname: str) -> "TextColumn":
        readers = []
        for leaf, _ in view.leaves:
            key = (leaf.segment().segment_id(), fieldname)
            column = self._readers.get(key)
            if column is None:
                # raw bytes: Whoosh's translating reader decodes through three Python calls a value
                column = self._readers[key] = leaf.column_reader(fieldname, translate=False)
            readers.append(column)
        return TextColumn(view.offsets, readers)

    def forget_except(self, reader) -> None:
        """Drop columns of segments the reader no longer uses (merged away)."""
        # an index nothing was written to yet has a reader without a segment
        live = {leaf.segment().segment_id() for leaf, _ in reader.leaf_readers() if leaf.segment() is not None}
        self._readers = {k: v for k, v in self._readers.items() if k[0] in live}
        forget_segments(live)


class TextColumn:
    """Column values by global docnum across segments.

    Whoosh's own MultiColumnReader drops segments that lack the column (a batch where no page
    had a title) and then misaligns every later segment, so the offsets are kept here.
    """

    def __init__(self, offsets: np.ndarray, readers: list):
        self.offsets = offsets
        self.readers = readers

    def __getitem__(self, docnum: int) -> str:
        i = int(np.searchsorted(self.offsets, docnum, side="right")) - 1
        return self.readers[i][docnum - int(self.offsets[i])].decode("utf-8")

    def values(self, docnums: Iterable[int]) -> Iterator[tuple[int, str]]:
        """(docnum, value) for many docnums, cheaper than indexing one at a time."""
        docnums = np.asarray(docnums, dtype=np.int64)
        if len(self.readers) == 1:
            reader = self.readers[0]
            for d in docnums.tolist():
                yield d, reader[d].decode("utf-8")
            return
        segs = (np.searchsorted(self.offsets, docnums, side="right") - 1).tolist()
        offsets = self.offsets.tolist()
        readers = self.readers
        for d, s in zip(docnums.tolist(), segs):
            yield d, readers[s][d - offsets[s]].decode("utf-8")
