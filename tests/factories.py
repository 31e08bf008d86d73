"""The one document factory: a scanned document as the pipeline leaves it, built straight into the
database for tests that are about what happens next (filing, page operations, access, exports)."""
from __future__ import annotations

import io
from collections.abc import Sequence

from sqlalchemy.orm import Session

from docsvc.constants import IndexState, JobState, page_image_key, page_thumb_key, page_words_key
from docsvc.models import Document, Page
from docsvc.runtime import Runtime


def add_document(session: Session, *, key: str = "a", title: str | None = None, texts: Sequence[str | None] = (),
                 page_status: str = JobState.DONE, index_state: str = IndexState.DONE,
                 media_type: str = "image/tiff", sha256: str | None = None, original_key: str | None = None,
                 **fields: object) -> Document:
    """A document row and one page per entry of `texts` (the page's text as read; None: not read yet),
    every page with `page_status` and `index_state`. Flushed, not committed: the caller commits.

    `key` names the scan (sha256 `key` repeated, original `originals/<key>`) unless sha256 and
    original_key are given; other Document columns come as keyword arguments."""
    document = Document(sha256=sha256 or (key * 64)[:64], original_key=original_key or f"originals/{key}",
                        media_type=media_type, title=title if title is not None else f"scan-{key}", **fields)
    session.add(document)
    session.flush()
    session.add_all(Page(document_id=document.id, number=n, source_index=n - 1, text=text, status=page_status,
                         index_state=index_state) for n, text in enumerate(texts, start=1))
    if texts:
        document.page_count = len(texts)
    session.flush()
    return document


def add_stored_document(rt: Runtime, original: bytes, *, texts: Sequence[str], title: str,
                        **fields: object) -> tuple[int, list[int]]:
    """`add_document` with its `original` and each page's image, thumbnail and words in the store, for tests
    that open pages or download: (document id, page ids), committed."""
    stored, _ = rt.store.put_original(io.BytesIO(original))
    with rt.sessions() as session:
        document = add_document(session, sha256=stored.sha256, original_key=stored.key, media_type="application/pdf",
                                title=title, texts=texts, index_state=IndexState.NONE, **fields)
        for page in document.pages:
            page.image_key, page.thumb_key, page.words_key = (page_image_key(page.id, "png"), page_thumb_key(page.id),
                                                              page_words_key(page.id))
            for key in (page.image_key, page.thumb_key, page.words_key):
                rt.store.put_bytes(key, b'{"width":1,"height":1,"words":[]}')
        session.commit()
        return document.id, [p.id for p in document.pages]
