"""What docsvc/search/whoosh_internals.py needs from the installed Whoosh, checked on a tiny real index.

Each test names the Whoosh internal it guards: when an upgrade of whoosh-reloaded renames or
changes one, the failure says which, instead of a wrong search result somewhere else.
"""
from __future__ import annotations

import numpy as np
import pytest
from whoosh import index as windex
from whoosh.codec.whoosh3 import W3Codec, W3LeafMatcher
from whoosh.writing import SegmentWriter

from docsvc.search import PageRecord, SearchIndex
from docsvc.search.schema import build_schema, page_fields
from docsvc.search.whoosh_internals import NUMERIC_NONE, IndexCodec, posting_arrays, segments, stream_merge

PAGES = 300   # more than two posting blocks of 128


@pytest.fixture
def ix(tmp_path):
    """A raw Whoosh index with docsvc's schema: PAGES pages in one segment, then 5 more in a second."""
    ix = windex.create_in(str(tmp_path), build_schema())
    for batch in (range(1, PAGES + 1), range(PAGES + 1, PAGES + 6)):
        writer = ix.writer(codec=IndexCodec())
        for n in batch:
            text = "产权分界点" * (1 + n % 3) if n % 2 else "计量装置"
            writer.add_document(**page_fields(PageRecord(n, n, 1, text)))
        writer.commit(merge=False)
    return ix


def test_postings_read_whole_blocks_through_the_w3_matcher_internals(ix):
    with ix.searcher() as searcher:
        leaf = searcher.reader().leaf_readers()[0][0]
        matcher = leaf.postings("text", "产权")
        assert isinstance(matcher, W3LeafMatcher), f"postings are no longer a W3LeafMatcher: {type(matcher)}"
        for name in ("_data", "_read_data", "_blocklength", "_next_block"):
            assert hasattr(matcher, name), f"W3LeafMatcher.{name} is gone: posting_arrays cannot read blocks"
        expected = leaf.postings("text", "产权")
        ids, weights = [], []
        while expected.is_active():            # the public, one-posting-at-a-time way
            ids.append(expected.id())
            weights.append(expected.weight())
            expected.next()
        got_ids, got_weights = posting_arrays(matcher)
    assert len(ids) == PAGES // 2
    assert got_ids.tolist() == ids
    assert np.allclose(got_weights, weights) and set(got_weights.tolist()) == {1.0, 2.0, 3.0}


def test_segments_lists_the_latest_generation(ix):
    assert [s.doc_count() for s in segments(ix)] == [PAGES, 5]


def test_a_missing_number_reads_back_as_numeric_none(ix):
    with ix.searcher() as searcher:
        leaf = searcher.reader().leaf_readers()[0][0]
        assert leaf.column_reader("date")[0] == NUMERIC_NONE, "Whoosh stores a missing NUMERIC differently now"


def test_index_codec_skips_length_statistics_and_opens_with_the_stock_codec(ix, tmp_path):
    assert W3Codec.length_stats is True and IndexCodec.length_stats is False, \
        "W3Codec.length_stats is gone: IndexCodec no longer turns off the statistics"
    reopened = windex.open_dir(str(tmp_path))            # segments record W3Codec, not our class
    assert type(segments(reopened)[0].codec()) is W3Codec
    with reopened.searcher() as searcher:
        assert searcher.doc_count() == PAGES + 5


def test_stream_merge_writes_the_group_into_one_segment_without_deleted_pages(ix):
    writer = ix.writer(codec=IndexCodec())
    assert isinstance(writer, SegmentWriter)
    for name in ("_added", "_process_posts", "pool", "fieldwriter", "docnum", "write_per_doc"):
        assert hasattr(writer, name), f"SegmentWriter.{name} is gone: stream_merge cannot feed the writer"
    writer.delete_by_term("page_id", "1")
    writer.add_document(**page_fields(PageRecord(999, 999, 1, "产权分界点新页")))

    def merge_everything(writer, segs):
        stream_merge(writer, segs)
        return []

    writer.commit(mergetype=merge_everything)
    assert [s.doc_count() for s in segments(ix)] == [PAGES + 5]     # 305 pages: one deleted, one added
    with ix.searcher() as searcher:
        found = sorted(int(f["page_id"]) for f in searcher.documents())
        leaf = searcher.reader().leaf_readers()[0][0]
        ids, _ = posting_arrays(leaf.postings("text", "产权"))
        pages = sorted(int(searcher.stored_fields(d)["page_id"]) for d in ids.tolist())
    assert found == sorted(set(range(2, PAGES + 6)) | {999})
    assert pages == sorted({n for n in range(3, PAGES + 6, 2)} | {999})


def test_search_index_works_end_to_end_on_this_whoosh(tmp_path):
    """The adapter as the engine uses it: many small commits merged, postings read as arrays."""
    index = SearchIndex(tmp_path)
    for start in range(1, 140, 10):
        index.add_pages([PageRecord(n, n, 1, f"第{n}页 产权分界点") for n in range(start, start + 10)])
    assert index.segment_count() < 10
    assert index.search("产权分界点", per_page=100).total_pages == 140


def test_a_writer_whose_constructor_fails_leaves_the_index_unlocked(tmp_path):
    """SegmentWriter takes the lock, then makes its temporary folder (`<index>.tmp`); when that fails
    (here a file is in the way; a full disk or a read-only folder in production) the lock must not stay
    held, or every later write waits for it (release_failed_writer_lock)."""
    index = SearchIndex(tmp_path / "index", writer_timeout=0.5)
    index.add_pages([PageRecord(1, 1, 1, "产权分界点")])
    blocker = index.current_directory() / "MAIN.tmp"
    blocker.write_bytes(b"")
    with pytest.raises(OSError):
        index.add_pages([PageRecord(2, 2, 1, "计量装置")])
    blocker.unlink()
    index.add_pages([PageRecord(2, 2, 1, "计量装置")])  # no IndexBusyError: the lock was let go
    assert sorted(index.indexed_page_ids()) == [1, 2]
