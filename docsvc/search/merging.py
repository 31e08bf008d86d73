"""Which segments a commit merges, and merging them by streaming.

Whoosh's default policy (MERGE_SMALL) merges *every* segment once there are about twenty of
them, whatever their size: the second live commit after a ``--procs 2`` rebuild of 100,000
pages (21 segments) merged all of them and held the writer lock for 506 s; at a million pages
it would be hours and gigabytes. Its merge also feeds every posting back through the writer's
external sorting pool (pickled runs spilled to disk and merged again), the same work as
indexing the pages a second time.

Here a commit only merges *small* segments (under ``MERGE_PAGES / 2`` pages), and only when
``MERGE_FACTOR`` of them have piled up, into one segment of at most ``MERGE_PAGES`` pages; large
segments are never rewritten. The writer's memory grows with the pages of the segment it
writes (Whoosh buffers a segment's columns and term table until it closes it: merging 20,000
pages peaked at 560 MB RSS, 361 MB of it anonymous), so the cap also bounds memory. A rebuild
merges small chunk segments the same way before the swap (its default chunks give segments
too large to need it), so the live index's commits have nothing big to merge.

The merge itself streams: each segment's postings are sorted by term, and the merged segment
numbers the first segment's documents first, then the second's, so one term's postings from
successive segments are already in document order. A k-way merge of the segments' term streams
(stable for equal terms) is the sorted stream the segment writer consumes — nothing is sorted
or spilled. That part feeds Whoosh's segment writer below its API: whoosh_internals.stream_merge.
"""

from __future__ import annotations

from .whoosh_internals import stream_merge

MERGE_PAGES = 10_000    # pages of a segment written by a merge, at most
MERGE_FACTOR = 10       # small segments a live commit lets pile up before merging them


def _small(segments) -> list:
    return sorted((s for s in segments if s.doc_count() < MERGE_PAGES // 2), key=lambda s: s.doc_count())


def _group(small: list) -> list:
    """The smallest segments that together stay within MERGE_PAGES (empty if fewer than two)."""
    group, pages = [], 0
    for segment in small:
        if pages + segment.doc_count() > MERGE_PAGES:
            break
        group.append(segment)
        pages += segment.doc_count()
    return group if len(group) > 1 else []


def rebuild_group(segments) -> list:
    """Segments a finished rebuild should merge next (empty when done)."""
    return _group(_small(segments))


def merge_small(writer, segments) -> list:
    """``mergetype`` for live commits: merges small segments once MERGE_FACTOR have piled up."""
    small = _small(segments)
    if len(small) < MERGE_FACTOR:
        return list(segments)
    return _merge(writer, segments, _group(small))


def merge_rebuilt(writer, segments) -> list:
    """``mergetype`` for a finished rebuild: merges the next group of small segments."""
    return _merge(writer, segments, rebuild_group(segments))


def merge_expunge(writer, segments) -> list:
    """``mergetype`` for destruction: rewrites every segment that holds deleted documents.

    Whoosh only marks a deletion (in the table of contents); the page's terms and stored text stay in
    its segment's files until the segment is rewritten without it. Segments without deletions are
    left alone, so the cost follows the segments the destroyed pages were in, not the index size.
    """
    return _merge(writer, segments, [s for s in segments if s.has_deletions()])


def _merge(writer, segments, group: list) -> list:
    """Streams `group` into the writer's new segment; returns the segments kept as they are.
    Deleted documents are dropped."""
    if not group:
        return list(segments)
    stream_merge(writer, group)
    merged = {id(s) for s in group}
    return [s for s in segments if id(s) not in merged]
