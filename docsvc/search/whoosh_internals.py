"""Everything docsvc takes from Whoosh beyond its documented API, in one place.

The engine needs five things Whoosh (the whoosh-reloaded fork, ~=2.7.5) does not offer
publicly, each for speed measured in docs/benchmarks.md:

- a term's postings as whole blocks (`posting_arrays`): the W3 codec stores up to 128 postings
  per block as one pickled tuple; reading the tuple directly is ~50x faster than Whoosh's
  one-posting-at-a-time matcher;
- the segments of an index (`segments`), for the merge policy of a finished rebuild;
- a streaming merge of segments into a writer (`stream_merge`), which feeds postings straight
  to the segment writer instead of re-sorting them through its spill-to-disk pool;
- a codec without per-block length statistics (`IndexCodec`) and the value Whoosh stores for a
  missing number in a column (`NUMERIC_NONE`);
- the write lock of a writer whose constructor failed (`release_failed_writer_lock`), which Whoosh
  would otherwise hold for the life of the process.

tests/test_whoosh_internals.py checks that each name still exists and behaves on a tiny real
index, so a Whoosh release that changes them fails there by name rather than somewhere deep in
a search. Nothing else in docsvc may touch a private (`_x`) Whoosh attribute.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from operator import itemgetter

import numpy as np
from whoosh.codec.whoosh3 import W3Codec, W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import SegmentReader
from whoosh.writing import SegmentWriter

# A NUMERIC column's value for a document that has none (the field's largest value).
NUMERIC_NONE = 2**31 - 1

_TERM = itemgetter(0, 1)   # (field name, term bytes) of a posting tuple


def posting_arrays(matcher) -> tuple[np.ndarray, np.ndarray]:
    """(document numbers, term frequencies) of one segment's postings for a term.

    Deletions are ignored (the caller masks them out); a matcher of another kind (inlined
    postings of a term on one page, another codec) is read through the public API."""
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
    if isinstance(matcher, W3LeafMatcher):
        ids_parts, weight_parts = [], []
        while matcher.is_active():
            if matcher._data is None:
                matcher._read_data()
            ids, weights, _ = matcher._data
            count = matcher._blocklength
            ids_parts.append(np.cumsum(np.asarray(ids, dtype=np.int64)))  # ids are delta-encoded
            if weights is None:
                weight_parts.append(np.ones(count, dtype=np.float32))
            elif isinstance(weights, float):
                weight_parts.append(np.full(count, weights, dtype=np.float32))
            else:
                weight_parts.append(np.asarray(weights, dtype=np.float32))
            matcher._next_block()
        if not ids_parts:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        return np.concatenate(ids_parts), np.concatenate(weight_parts)
    ids, weights = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float32)


def segments(ix) -> list:
    """The segments of the index's latest generation (each has doc_count())."""
    return ix._segments()


def stream_merge(writer, group: Sequence) -> None:
    """Writes the postings, stored fields and columns of the segments in `group` into
    `writer`'s new segment, deleted documents dropped, without Whoosh's sorting pool.

    The merged segment numbers documents segment after segment (pages the writer already
    holds first), so one term's postings from successive sources are already in document
    order: a stable k-way merge of the sources' term-sorted streams is the sorted stream
    the segment writer needs. Used as a ``mergetype`` helper, inside writer.commit()."""
    schema = writer.schema
    fieldnames = set(schema.names())
    sources: list[Iterator] = []
    readers = []
    if writer._added:   # pages added by this commit hold the first document numbers: first source
        sources.append(writer.pool.iter_postings())
    for segment in group:
        reader = SegmentReader(writer.storage, schema, segment)
        readers.append(reader)
        base = writer.docnum
        docmap = writer.write_per_doc(fieldnames, reader)   # stored fields, columns, lengths
        sources.append(writer._process_posts(reader.iter_postings(), base, docmap))
    try:
        # no lengths reader: per-block length statistics only serve Whoosh's own scorers
        writer.fieldwriter.add_postings(schema, None, heapq.merge(*sources, key=_TERM))
    finally:
        for reader in readers:
            reader.close()
    # the commit would otherwise write the pool's postings a second time
    writer.pool = _EmptyPool(writer.pool)
    writer._added = True


class _EmptyPool:
    """Stands in for a pool whose postings the merge has already written."""

    def __init__(self, pool):
        self._pool = pool

    def iter_postings(self):
        return iter(())

    def cleanup(self):
        self._pool.cleanup()


class IndexCodec(W3Codec):
    """Whoosh's codec without per-block length statistics.

    They only serve Whoosh's own BM25F scorers (we score in matching.py), and computing them
    reads the length column once per posting written: ~17 % of a commit. The format on disk is
    unchanged; segments record the stock codec, so an index opens without this class.
    """

    length_stats = False

    def __reduce__(self):
        return W3Codec, ()


def release_failed_writer_lock(exc: BaseException) -> None:
    """Let go of the write lock a writer took before its constructor failed.

    SegmentWriter takes the index's lock first and then creates its temporary folder; when that fails (a
    full disk, a read-only folder) the half-built writer is lost with the lock's descriptor still open, so
    every later writer in the process waits for a lock nobody will release. The writer is the `self` of a
    frame in the traceback.
    """
    tb = exc.__traceback__
    while tb is not None:
        writer = tb.tb_frame.f_locals.get("self")
        if isinstance(writer, SegmentWriter) and getattr(writer, "writelock", None) is not None:
            try:
                writer.writelock.release()
            except Exception:  # the lock was never acquired: nothing held
                pass
            return
        tb = tb.tb_next
