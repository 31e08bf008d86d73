"""Merge every segment of an index into one by streaming, for a rebuild to finish with.

Whoosh's own full merge (``commit(optimize=True)``) feeds every posting of every segment back
through the writer's external sorting pool: pickled runs spilled to disk and merged again,
the same work as indexing the pages a second time. That is what made the first live commit
after a ``--procs 2`` rebuild (~20 segments) hold the writer lock for 10+ minutes. But each
segment's postings are already sorted by term, and a merged segment numbers the documents of
the first segment first, then the second's, and so on, so the postings of one term from
successive segments are already in document order: a k-way merge of the segments' term
streams (stable, so segment order is kept for equal terms) gives the sorted stream the
segment writer consumes, without any sorting or spilling. Memory stays at one posting per
segment plus the writer's buffers.
"""

from __future__ import annotations

import heapq
from operator import itemgetter

from whoosh.reading import SegmentReader

_TERM = itemgetter(0, 1)   # (field name, term bytes) of a posting tuple


def merge_all(writer, segments) -> list:
    """A ``mergetype`` for ``SegmentWriter.commit``: streams all `segments` into the writer's new
    segment and returns no segments to keep. Deleted documents are dropped."""
    schema = writer.schema
    fieldnames = set(schema.names())
    sources = []
    readers = []
    for segment in segments:
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
    writer._added = True
    return []
