"""Erasing one document's content for good, and proving it is gone (destruction, step by step).

The steps are each idempotent, so an execution that dies half-way is completed by running it again
(disposition.execute orders them and records where an item stands):

1. `plan`: the page ids, derived objects and originals to remove — written on the item before
   anything is removed, because the page rows that name them are deleted later.
2. `separate_shared`: every other live document with pages on an original about to be erased gets
   its own original, cut losslessly from it (PDF pages copied, TIFF frames copied), and points at it.
3. `remove_objects`: every version and delete marker of each object (the store's delete).
4. the index entries and the page rows (disposition, with the stub, in one transaction).
5. `vacuum` the database's freed pages, then `verify` each removal.
"""
from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject
from sqlalchemy import Engine, delete, or_, select, text
from sqlalchemy.orm import Session

from docsvc.i18n import _
from docsvc.models import Document, Operation, Page
from storage import ObjectStore, StoredObject

# Objects under these prefixes are what destruction may remove; the register (registers/) never.
ERASABLE_PREFIXES = ("pages/", "originals/")
# Tables whose rows a destruction deletes or rewrites: their freed pages are vacuumed.
TOUCHED_TABLES = ("pages", "documents")


class ErasureError(RuntimeError):
    """A step could not be completed; the item stays resumable (run the execution again)."""


@dataclass
class Plan:
    """What erasing one document removes. Stored as JSON on its DestructionItem."""
    document_id: int
    page_ids: list[int]
    objects: list[str]  # page images, thumbnails, words and whatever else lies under pages/<id>/
    originals: list[str]  # originals holding this document's pages: erased after separation
    shared: list[str] = field(default_factory=list)  # originals this document points at without pages on them

    def as_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> "Plan":
        return cls(**{k: data[k] for k in ("document_id", "page_ids", "objects", "originals", "shared")})  # type: ignore[arg-type]


def plan(session: Session, store: ObjectStore, document: Document) -> Plan:
    pages = list(session.scalars(select(Page).where(Page.document_id == document.id).order_by(Page.id)))
    objects: set[str] = set()
    for page in pages:  # binned pages too: they are the document's content all the same
        objects.update(k for k in (page.image_key, page.thumb_key, page.words_key) if k)
        objects.update(store.list(f"pages/{page.id}/"))
    holding = {page.source_key for page in pages}
    return Plan(document_id=document.id, page_ids=[p.id for p in pages], objects=sorted(objects),
                originals=sorted(holding), shared=sorted({document.original_key} - holding))


def separate_shared(session: Session, store: ObjectStore, erased: Plan) -> list[dict[str, object]]:
    """Give every other live document with pages on an original to be erased its own original.

    Decided at execution rather than at filing (docs/retention.md, "Destruction"): only stacks that
    are about to lose a document are cut. Returns what was cut, for the item's record; the caller
    commits. A re-run finds nothing left to cut.
    """
    cuts: list[dict[str, object]] = []
    for key in erased.originals:
        others = session.scalars(
            select(Document).where(
                Document.id != erased.document_id, Document.destroyed_at.is_(None),
                or_(Document.original_key == key,
                    Document.id.in_(select(Page.document_id).where(Page.original_key == key))))
            .order_by(Document.id)).all()
        for other in others:
            cut = _give_own_original(session, store, other, key)
            if cut is not None:
                cuts.append(cut)
    return cuts


def _give_own_original(session: Session, store: ObjectStore, document: Document, key: str) -> dict[str, object] | None:
    pages = sorted((p for p in document.pages if p.source_key == key), key=lambda p: p.source_index)
    if not pages:
        # The document names the original but its pages all came from elsewhere: point it at one of those.
        first = min(document.pages, key=lambda p: p.number, default=None)
        if first is None or document.original_key != key:
            return None
        source, media = first.source_key, first.source_media_type
        document.original_key, document.media_type = source, media
        document.sha256 = source.rsplit("/", 1)[-1]
        for p in document.pages:
            if p.original_key == source:
                p.original_key, p.media_type = None, None
        return {"document_id": document.id, "from": key, "to": source, "pages": 0}
    media = pages[0].source_media_type
    with store.local_path(key) as path:
        stored = store_cut(store, cut_original(path.read_bytes(), media, [p.source_index for p in pages]))
    own = document.original_key == key
    if own:
        document.original_key, document.sha256, document.media_type = stored.key, stored.sha256, media
    for position, p in enumerate(pages):
        p.source_index = position
        p.original_key = None if own else stored.key
        p.media_type = None if own else media
    session.flush()
    return {"document_id": document.id, "from": key, "to": stored.key, "sha256": stored.sha256, "pages": len(pages)}


def cut_original(data: bytes, media_type: str, indexes: list[int]) -> "_Cut":
    """The pages (or frames) `indexes` of an original, as a new file of the same kind."""
    if media_type == "application/pdf":
        return _Cut(_cut_pdf(data, indexes), media_type)
    if media_type == "image/tiff":
        return _Cut(_cut_tiff(data, indexes), media_type)
    # JPEG and PNG hold one page, which one document owns: nothing to share, nothing to cut.
    raise ErasureError(_("Cannot cut pages out of a %(media_type)s original: it holds one page. Call the system "
                         "administrator.", media_type=media_type))


@dataclass(frozen=True)
class _Cut:
    data: bytes
    media_type: str


_DRAWS = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s+Do\b")


def _cut_pdf(data: bytes, indexes: list[int]) -> bytes:
    """Copy the pages as they are (content streams and images untouched: lossless). A page's
    resources may list pictures it never draws — scanners often share one resource dictionary
    among all pages — so each copied page gets its own resources with only the pictures its content
    draws: the other pages' images must not travel along."""
    reader = PdfReader(io.BytesIO(data))
    writer = PdfWriter()
    for index in indexes:
        page = reader.pages[index]
        resources = page.get("/Resources")
        if resources is not None:
            # Pruned on the page being read, before it is copied: the writer copies what the page
            # reaches, so a picture dropped here never enters the new file.
            own = DictionaryObject(resources.get_object())
            xobjects = own.get("/XObject")
            if xobjects is not None:
                contents = page.get_contents()  # (an empty ContentStream is falsy: compare with None)
                data = contents.get_data() if contents is not None else b""
                drawn = {m.decode("latin-1") for m in _DRAWS.findall(data)}
                own[NameObject("/XObject")] = DictionaryObject(
                    {NameObject(n): r for n, r in xobjects.get_object().items() if n[1:] in drawn})
            page[NameObject("/Resources")] = own
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _cut_tiff(data: bytes, indexes: list[int]) -> bytes:
    """Copy the frames with their compression (G4, LZW, deflate, none: lossless). JPEG frames would
    lose quality if encoded again, and Pillow writes one compression for all frames: those cases are
    stored with deflate, lossless of the pixels decoded."""
    frames: list[Image.Image] = []
    compressions: set[str] = set()
    with Image.open(io.BytesIO(data)) as tiff:
        dpi = tiff.info.get("dpi", (300, 300))
        for index in indexes:
            tiff.seek(index)
            compressions.add(tiff.info.get("compression", "raw"))
            frames.append(tiff.copy())
    single = compressions.pop() if len(compressions) == 1 else "jpeg"
    compression = "tiff_adobe_deflate" if single == "jpeg" else single
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], compression=compression, dpi=dpi)
    return out.getvalue()


def store_cut(store: ObjectStore, cut: "_Cut") -> StoredObject:
    stored, _created = store.put_original(io.BytesIO(cut.data), cut.media_type)
    return stored


def remove_objects(store: ObjectStore, erased: Plan) -> dict[str, int]:
    """Delete every version of each object; returns versions removed per key (0: already gone)."""
    removed: dict[str, int] = {}
    for key in [*erased.objects, *erased.originals]:
        if not key.startswith(ERASABLE_PREFIXES):
            raise ErasureError(_("Refusing to delete %(key)s: destruction removes page objects and originals only.",
                                 key=key))
        removed[key] = store.delete(key)
    return removed


def secure_delete_pages(session: Session, page_ids: list[int]) -> None:
    """Delete the page rows (text, OCR data); on SQLite the freed space is zeroed as it is freed."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))
    if page_ids:
        session.execute(delete(Page).where(Page.id.in_(page_ids)))


def vacuum(engine: Engine) -> None:
    """Rewrite the database's freed pages: SQLite VACUUM (then empty the WAL, which holds copies of
    pages written since the last checkpoint); PostgreSQL VACUUM of the touched tables. Both run
    outside a transaction."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            conn.exec_driver_sql(f"VACUUM {', '.join(TOUCHED_TABLES)}")


def verify(session: Session, store: ObjectStore, in_index: set[int], erased: Plan) -> dict[str, object]:
    """What remains of the document's content; an empty `remaining` means everything is gone.

    `in_index`: the page ids the index files still hold (SearchIndex.pages_in_files, asked once
    for every item of the run: it opens each index directory)."""
    remaining: dict[str, object] = {}
    versions = {key: store.versions(key) for key in [*erased.objects, *erased.originals]}
    left = {key: n for key, n in versions.items() if n}
    left.update({key: 1 for pid in erased.page_ids for key in store.list(f"pages/{pid}/")})
    if left:
        remaining["objects"] = left
    indexed = sorted(in_index.intersection(erased.page_ids))
    if indexed:
        remaining["index_pages"] = indexed
    rows = sorted(session.scalars(select(Page.id).where(Page.id.in_(erased.page_ids)))) if erased.page_ids else []
    if rows:
        remaining["page_rows"] = rows
    return {"objects_checked": len(versions), "pages_checked": len(erased.page_ids), "remaining": remaining}


def discard_operation_files(session: Session, store: ObjectStore, *, kinds: Iterable[str] | None = None,
                            finished_before: datetime | None = None) -> int:
    """Remove the files operations made (of `kinds`, finished before `finished_before`; every one when
    neither is given): exports are copies of pages, so a destruction takes the content exports with it, and
    the daily upkeep takes every file once its days are over. Returns how many files went."""
    query = select(Operation).where(Operation.result_key.is_not(None))
    if kinds is not None:
        query = query.where(Operation.kind.in_(list(kinds)))
    if finished_before is not None:
        query = query.where(Operation.finished_at < finished_before)
    gone = 0
    for operation in session.scalars(query):
        store.delete(operation.result_key)  # type: ignore[arg-type]
        operation.result_key = operation.result_name = None
        gone += 1
    session.commit()
    return gone


def dumps(data: dict[str, object]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True)
