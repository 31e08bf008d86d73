"""SearchIndex: one index root, its live Whoosh directory, writes, rebuilds and searches.

Layout of a root directory::

    root/CURRENT             name of the live index directory (replaced atomically on swap)
    root/index-<stamp>/      a Whoosh index + docsvc-index.json (schema version)
    root/build.json          present while a rebuild runs: target dir, last page id committed
    root/build-dirty.txt     page ids written to the live index while a rebuild runs

Whoosh allows one writer per index directory (a file lock); every write here takes it for one
commit only, so the caller batches (the `index` queue worker). Readers open a searcher per
request on the newest committed generation and never wait for a writer: a commit writes new
segment files and then renames the table of contents into place, so a crash mid-commit
leaves the previous generation intact.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from whoosh import index as windex
from whoosh import query as wq
from whoosh.index import LockError

from .arrays import IndexView, TextColumns
from .collect import Limits, collect
from .matching import Context, build
from .merging import merge_expunge, merge_rebuilt, merge_small, rebuild_group
from .query import QueryError, compile_query
from .records import AccessRestriction, DocumentHit, PageHit, PageRecord, SearchResults
from .schema import SCHEMA_VERSION, build_schema, key_date, page_fields
from docsvc.i18n import _

from .analysis import normalize
from .snippets import MASKED_SNIPPET, MASKED_TITLE, make_snippet
from .whoosh_internals import IndexCodec, release_failed_writer_lock, segments

CURRENT_FILE = "CURRENT"
BUILD_STATE_FILE = "build.json"
DIRTY_FILE = "build-dirty.txt"
VERSION_FILE = "docsvc-index.json"
MAX_PER_PAGE = 100

RebuildSource = Callable[[int | None], Iterable[PageRecord]]
Refetch = Callable[[list[int]], Iterable[PageRecord]]
Progress = Callable[[int, int], None]          # (pages committed so far, last page id)


class IndexBusyError(RuntimeError):
    """Another writer held the index lock for longer than the timeout."""


def _restriction_mask(view: IndexView, restriction: AccessRestriction) -> np.ndarray:
    """Live pages an AccessRestriction admits (cached per view by the filter it becomes)."""
    query = _restriction_query(restriction)
    return view.alive if query is None else view.mask(query)


def _restriction_query(restriction: AccessRestriction) -> wq.Query | None:
    """The Whoosh filter for an AccessRestriction (the engine's own objects stay in here);
    None when it restricts nothing. Sorted, so equal restrictions share one cached mask."""
    parts: list[wq.Query] = []
    if restriction.allowed_types is not None:
        terms = [wq.Term("doc_type", t.lower()) for t in sorted(restriction.allowed_types)]
        parts.append(wq.Or(terms) if terms else wq.NullQuery)
    if restriction.allowed_document_ids is not None or restriction.allowed_accounts is not None:
        terms = [wq.Term("document_id", str(d)) for d in sorted(restriction.allowed_document_ids or ())]
        terms += [wq.Term("account_key", normalize(a)) for a in sorted(restriction.allowed_accounts or ())]
        parts.append(wq.Or(terms) if terms else wq.NullQuery)
    if restriction.hidden_document_ids or restriction.hidden_accounts:
        hidden = [wq.Term("document_id", str(d)) for d in sorted(restriction.hidden_document_ids)]
        hidden += [wq.Term("account_key", normalize(a)) for a in sorted(restriction.hidden_accounts)]
        parts.append(wq.Not(wq.Or(hidden)))
    if restriction.exclude_sensitive:
        parts.append(wq.Not(_sensitive_query(restriction.sensitive_types)))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)


def _sensitive_query(sensitive_types: Iterable[str] = ()) -> wq.Query:
    """Pages flagged sensitive in the index, or of a type flagged sensitive since they were indexed."""
    terms = [wq.Term("doc_type", t.lower()) for t in sensitive_types]
    flagged = wq.Term("sensitive", True)
    return wq.Or([flagged, *terms]) if terms else flagged


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _commit(writer, **options) -> None:  # type: ignore[no-untyped-def]
    """Commit; when that fails (a full disk, a read-only folder) let go of the write lock at once. Whoosh
    keeps it until the failed writer is garbage-collected, and the next writer would wait for it."""
    try:
        writer.commit(**options)
    except BaseException:
        lock = getattr(writer, "writelock", None)
        if lock is not None and not writer.is_closed:
            try:
                lock.release()
            except Exception:  # never acquired, or released already: nothing held
                pass
        raise


class SearchIndex:
    def __init__(
        self,
        root: Path,
        *,
        type_aliases: dict[str, str] | None = None,
        writer_timeout: float = 60.0,
        limitmb: int = 128,
        count_limits: Limits = Limits(),
    ):
        """type_aliases maps names typed after 类型: (合同) to the doc_type codes indexed (HT);
        count_limits says how many candidates a search confirms before it estimates (collect.py)."""
        self.root = Path(root)
        self.count_limits = count_limits
        self.type_aliases = dict(type_aliases or {})
        self.writer_timeout = writer_timeout
        self.limitmb = limitmb
        self._opened: dict[str, windex.Index] = {}
        self._local = threading.local()  # Whoosh readers are not shared between threads
        self.root.mkdir(parents=True, exist_ok=True)
        if self._current_name() is None:
            self._create_initial()

    # --- directories -------------------------------------------------------------------

    def _current_name(self) -> str | None:
        try:
            name = (self.root / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name if name and (self.root / name).is_dir() else None

    def _new_index_dir(self) -> Path:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        path = self.root / f"index-{stamp}-{uuid.uuid4().hex[:6]}"
        path.mkdir()
        windex.create_in(str(path), build_schema())
        _write_atomic(path / VERSION_FILE, json.dumps({"schema_version": SCHEMA_VERSION}))
        return path

    def _create_initial(self) -> None:
        path = self._new_index_dir()
        tmp = self.root / f".CURRENT.{uuid.uuid4().hex}"
        tmp.write_text(path.name, encoding="utf-8")
        try:
            os.link(tmp, self.root / CURRENT_FILE)  # fails if another process won the race
        except FileExistsError:
            shutil.rmtree(path)
        finally:
            tmp.unlink()

    def _open(self, name: str | None = None) -> windex.Index:
        name = name or self._current_name()
        if name is None:
            raise FileNotFoundError(_("No live search index under %(folder)s: run `docsvc reindex`", folder=str(self.root)))
        ix = self._opened.get(name)
        if ix is None:
            ix = self._opened[name] = windex.open_dir(str(self.root / name))
        return ix

    def current_directory(self) -> Path:
        return self.root / (self._current_name() or "")

    def needs_rebuild(self) -> bool:
        """True when there is no live index or it was built with another schema version."""
        name = self._current_name()
        if name is None:
            return True
        try:
            recorded = json.loads((self.root / name / VERSION_FILE).read_text(encoding="utf-8"))
            return recorded.get("schema_version") != SCHEMA_VERSION
        except (OSError, ValueError):
            return True

    # --- writes ------------------------------------------------------------------------

    def _writer(self, ix: windex.Index, procs: int = 1):
        try:
            if procs > 1:
                # each sub-process builds its own segment from its share of the batch (term
                # generation and posting sort in parallel); the pool memory is split between them
                return ix.writer(limitmb=max(32, self.limitmb // procs), procs=procs, multisegment=True,
                                 timeout=self.writer_timeout, codec=IndexCodec())
            return ix.writer(limitmb=self.limitmb, procs=1, timeout=self.writer_timeout, codec=IndexCodec())
        except OSError as exc:
            release_failed_writer_lock(exc)
            raise
        except LockError as exc:
            raise IndexBusyError(_(
                "The search index %(folder)s is locked by another writer and was not released after %(seconds)s "
                "seconds: make sure exactly one worker of the index queue runs, then retry",
                folder=str(ix.storage.folder), seconds=round(self.writer_timeout))) from exc

    def add_pages(self, pages: Iterable[PageRecord]) -> int:
        """Insert or replace pages (by page_id) in ONE commit; returns how many were written."""
        pages = list(pages)
        if not pages:
            return 0
        self._write_batch(self._open(), pages, upsert=True)
        self._note_dirty(p.page_id for p in pages)
        return len(pages)

    def delete_pages(self, page_ids: Iterable[int]) -> int:
        """Remove pages in one commit; returns how many index entries were deleted."""
        ids = list(page_ids)
        if not ids:
            return 0
        writer = self._writer(self._open())
        try:
            deleted = sum(writer.delete_by_term("page_id", str(pid)) for pid in ids)
        except BaseException:
            writer.cancel()
            raise
        _commit(writer, mergetype=merge_small)
        self._note_dirty(ids)
        return deleted

    def expunge_pages(self, page_ids: Iterable[int]) -> int:
        """Remove pages physically from every index directory (destruction); returns entries deleted.

        The live directory and a rebuild in progress each delete the pages and rewrite the segments
        that held them (merging.merge_expunge), and the old files are removed by Whoosh's commit. The
        directory a finished rebuild replaced (kept for searchers opened a moment before the swap) is
        removed outright: it still holds every page as it was.
        """
        ids = [str(pid) for pid in page_ids]
        keep = {self._current_name(), self._building_name()}
        deleted = 0
        for child in sorted(self.root.iterdir()):
            if not (child.is_dir() and child.name.startswith("index-")):
                continue
            if child.name not in keep:
                shutil.rmtree(child)
                self._opened.pop(child.name, None)
                continue
            writer = self._writer(self._open(child.name))
            try:
                deleted += sum(writer.delete_by_term("page_id", pid) for pid in ids)
            except BaseException:
                writer.cancel()
                raise
            _commit(writer, mergetype=merge_expunge)
        self._note_dirty(int(pid) for pid in ids)
        return deleted

    def pages_in_files(self, page_ids: Iterable[int]) -> set[int]:
        """Which of `page_ids` any index directory's segment files still hold, deleted or not: the
        term table keeps a deleted page's id until its segment is rewritten (the erasure check)."""
        ids = list(page_ids)
        found: set[int] = set()
        if not ids:
            return found
        for child in sorted(self.root.iterdir()):
            if not (child.is_dir() and child.name.startswith("index-")):
                continue
            with windex.open_dir(str(child)).reader() as reader:
                found.update(pid for pid in ids if ("page_id", str(pid)) in reader)
        return found

    def _building_name(self) -> str | None:
        try:
            return json.loads((self.root / BUILD_STATE_FILE).read_text(encoding="utf-8"))["dir"]
        except (OSError, ValueError, KeyError):
            return None

    def _write_batch(self, ix: windex.Index, pages: list[PageRecord], *, upsert: bool, procs: int = 1,
                     merge: bool = True) -> None:
        """One commit, merging small segments (merging.py); `merge=False` leaves all segments
        alone (a rebuild merges its chunks at the end)."""
        writer = self._writer(ix, 1 if upsert else procs)  # deletions need the single-process writer
        try:
            put = writer.update_document if upsert else writer.add_document
            for page in pages:
                put(**page_fields(page))
        except BaseException:
            writer.cancel()
            raise
        if merge:
            _commit(writer, mergetype=merge_small)
        else:
            _commit(writer, merge=False)

    def _note_dirty(self, page_ids: Iterable[int]) -> None:
        """While a rebuild runs, remember pages it may have read before they changed."""
        if (self.root / BUILD_STATE_FILE).exists():
            with open(self.root / DIRTY_FILE, "a", encoding="utf-8") as f:
                f.write("".join(f"{pid}\n" for pid in page_ids))

    def ping(self) -> None:
        """Raises when there is no live index here or its table of contents cannot be read (readiness)."""
        name = self._current_name()
        if name is None:
            raise FileNotFoundError(_("No live search index under %(folder)s (missing or unreadable): check the mount "
                                      "and permissions, or run `docsvc reindex`", folder=str(self.root)))
        windex.open_dir(str(self.root / name)).doc_count_all()

    def page_count(self) -> int:
        """Pages in the index (deleted ones not counted)."""
        return self._open().doc_count()

    def segment_count(self) -> int:
        """Segments of the live index (merging.py keeps them few)."""
        return len(segments(self._open()))

    def indexed_page_ids(self) -> Iterator[int]:
        """Every page id in the live index (deleted entries excluded), in index order."""
        with self._open().searcher() as searcher:
            for reader, _offset in searcher.reader().leaf_readers():
                if reader.doc_count_all() == 0:  # a new, empty index: Whoosh's EmptyReader has no columns
                    continue
                column = reader.column_reader("page_key")
                for docnum in reader.all_doc_ids():
                    yield column[docnum]

    # --- rebuild -----------------------------------------------------------------------

    def rebuild(
        self,
        source: RebuildSource,
        *,
        progress: Progress | None = None,
        commit_every: int = 5000,
        refetch: Refetch | None = None,
        procs: int = 1,
    ) -> None:
        """Build a fresh index beside the live one, then swap it in atomically.

        `source(after_page_id)` must yield pages in ascending page_id, starting after the given
        id (None = from the start). Each `commit_every` pages are committed and the last page id
        recorded, so an interrupted rebuild resumes where it stopped when called again. Pages
        written to the live index meanwhile are re-read with `refetch(ids)` before the swap
        (ids it does not return are treated as deleted); without `refetch`, run the index
        consistency check after the rebuild.

        `procs` > 1 writes each chunk with that many processes (Whoosh's multiprocessing writer,
        one segment each): about twice the pages per second on two cores. Only for a process
        that may fork (the CLI), not a threaded server.

        Chunks are committed without merging earlier segments (each commit costs the same);
        before the swap the small chunk segments are merged by streaming into segments of up
        to merging.MERGE_PAGES pages, so the live index starts with few segments and its
        commits have nothing big to merge. An interrupted merge resumes with the groups left.
        """
        state = self._resume_state()
        target = self.root / state["dir"]
        ix = self._open(state["dir"])
        batch: list[PageRecord] = []
        # after a crash between a commit and the state update the first chunk may be present
        # already; upserting it (slower) keeps the index free of duplicates
        upsert = state["last_page_id"] is not None

        def flush() -> None:
            nonlocal upsert
            self._write_batch(ix, batch, upsert=upsert, procs=procs, merge=False)
            upsert = False
            state["pages"] += len(batch)
            state["last_page_id"] = batch[-1].page_id
            _write_atomic(self.root / BUILD_STATE_FILE, json.dumps(state))
            if progress:
                progress(state["pages"], state["last_page_id"])
            batch.clear()

        for page in source(state["last_page_id"]):
            batch.append(page)
            if len(batch) >= commit_every:
                flush()
        if batch:
            flush()
        if refetch is not None:
            self._apply_dirty(ix, refetch)
        self._merge_segments(ix)
        self._swap(target)

    def _resume_state(self) -> dict:
        path = self.root / BUILD_STATE_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            if state.get("schema_version") == SCHEMA_VERSION and (self.root / state["dir"]).is_dir():
                return state
        except (OSError, ValueError, KeyError):
            pass
        (self.root / DIRTY_FILE).unlink(missing_ok=True)
        state = {"dir": self._new_index_dir().name, "schema_version": SCHEMA_VERSION,
                 "last_page_id": None, "pages": 0, "started": time.time()}
        _write_atomic(path, json.dumps(state))
        return state

    def _apply_dirty(self, ix: windex.Index, refetch: Refetch) -> None:
        path = self.root / DIRTY_FILE
        if not path.exists():
            return
        ids = sorted({int(line) for line in path.read_text(encoding="utf-8").split()})
        pages = list(refetch(ids))
        gone = set(ids) - {p.page_id for p in pages}
        writer = self._writer(ix)
        try:
            for page in pages:
                writer.update_document(**page_fields(page))
            for pid in gone:
                writer.delete_by_term("page_id", str(pid))
        except BaseException:
            writer.cancel()
            raise
        writer.commit(merge=False)

    def _merge_segments(self, ix: windex.Index) -> None:
        """Merge the rebuilt index's small chunk segments (merging.py), one commit per group, so
        an interrupted merge keeps the groups already merged."""
        while rebuild_group(segments(ix)):
            writer = self._writer(ix)
            try:
                writer.commit(mergetype=merge_rebuilt)
            except BaseException:
                if not writer.is_closed:
                    writer.cancel()
                raise

    def _swap(self, target: Path) -> None:
        previous = self._current_name()
        _write_atomic(self.root / CURRENT_FILE, target.name)
        (self.root / BUILD_STATE_FILE).unlink(missing_ok=True)
        (self.root / DIRTY_FILE).unlink(missing_ok=True)
        # keep the directory just replaced: searchers opened a moment ago may still read it
        for child in self.root.iterdir():
            if child.is_dir() and child.name.startswith("index-") and child.name not in (target.name, previous):
                shutil.rmtree(child, ignore_errors=True)
                self._opened.pop(child.name, None)

    # --- search ------------------------------------------------------------------------

    def _view(self) -> IndexView:
        """This thread's view of the newest commit of the live directory.

        A new searcher is opened when a commit happened (Whoosh's Searcher.refresh() reuses
        segment readers with stale deletions, so it is not used); the old one is not closed
        because cached columns of unchanged segments still read its files.
        """
        local = self._local
        name = self._current_name()
        view = getattr(local, "view", None)
        if view is None or local.name != name:
            local.name, local.columns = name, TextColumns()
            local.view = IndexView(self._open(name).searcher(), local.columns)
        elif not view.searcher.up_to_date():
            searcher = self._open(name).searcher()
            local.columns.forget_except(searcher.reader())
            local.view = IndexView(searcher, local.columns)
        return local.view

    def search(
        self,
        q: str,
        *,
        page: int = 1,
        per_page: int = 20,
        sort: str = "relevance",
        restrict: AccessRestriction | None = None,
        content_within: AccessRestriction | None = None,
        mask_sensitive: bool = True,
        sensitive_types: Iterable[str] = (),
        type_aliases: Mapping[str, str] | None = None,
        document_id: int | None = None,
    ) -> SearchResults:
        """Documents matching `q`, `per_page` documents per result page, with facets over all
        matching pages. `restrict` (an AccessRestriction) limits everything, totals included;
        restrictions are intersected with the query inside the matcher, so totals and facets
        only ever count pages the user may see.

        `content_within` (also an AccessRestriction) names the pages whose text the caller may
        read: other pages are found by their catalogue fields only (customer, account, 档号,
        title, type, date) and their snippets are masked. `mask_sensitive` masks sensitive
        pages' snippets and titles and stops their titles from matching; pages of
        `sensitive_types` count as sensitive too (a type flagged after its pages were indexed).
        `type_aliases`
        replaces the constructor's names for 类型: for this search (they live in the database).
        Totals and facets are exact unless `approximate` is set on the result (collect.py).

        `document_id` searches that one document and lists every matching page of it in page
        order, `per_page` pages per result page (a document hit otherwise shows its best
        PAGES_PER_DOCUMENT pages); the same restrictions and masking apply.
        Raises QueryError for a query or paging argument that cannot be used."""
        if sort not in ("relevance", "date"):
            raise QueryError(_("Sort must be 'relevance' or 'date', not '%(sort)s'", sort=sort))
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            raise QueryError(_("Pages start at 1, with 1–%(n)s results per page", n=MAX_PER_PAGE))
        compiled = compile_query(q, self.type_aliases if type_aliases is None else type_aliases)
        view = self._view()
        if view.searcher.doc_count_all() == 0:  # nothing indexed yet: Whoosh's reader has no segment to read
            return SearchResults(query=q, total_pages=0, total_documents=0, page=page, per_page=per_page,
                                 document_id=document_id)
        scope = view.alive if restrict is None else _restriction_mask(view, restrict)
        if document_id is not None:
            scope = scope & (view.dense("document_id") == document_id)
        gates: dict[str, np.ndarray] = {}
        if content_within is not None:
            gates["text"] = _restriction_mask(view, content_within)
        sensitive = view.mask(_sensitive_query(sensitive_types)) if mask_sensitive else None
        if sensitive is not None:
            gates["title"] = ~sensitive
        root = build(compiled.plan, Context(view, scope, gates))
        first, stop = (page - 1) * per_page, page * per_page
        if document_id is None:
            found = collect(root, view, sort=sort, first=first, stop=stop, limits=self.count_limits)
            window = slice(None)
        else:   # the one document, all its matching pages; the result page is a window on them
            found = collect(root, view, sort=sort, first=0, stop=1, limits=self.count_limits,
                            pages_per_document=None)
            window = slice(first, stop)
        results = SearchResults(query=q, total_pages=found.total_pages, total_documents=found.total_documents,
                                page=page, per_page=per_page, facets=found.facets, approximate=found.approximate,
                                document_id=document_id)
        readable = gates.get("text")
        for _score, matching, hits in found.documents:
            results.documents.append(self._document_hit(
                view, hits, matching, compiled.highlight, sensitive, readable, scored=(sort == "relevance"),
                window=window))
        return results

    @staticmethod
    def _document_hit(view: IndexView, hits: list[tuple[int, float]], matching: int, pattern,
                      masked_sensitive: np.ndarray | None, readable: np.ndarray | None, scored: bool,
                      window: slice = slice(None)) -> DocumentHit:
        """One document of the result page, listing the `window` of its `hits` in page order (snippets
        are made for those only); `masked_sensitive` marks the pages to mask as sensitive."""
        searcher = view.searcher
        text = view.text("text")
        stored_pages = sorted(((searcher.stored_fields(docnum), docnum, score) for docnum, score in hits),
                              key=lambda item: item[0]["page_number"])
        pages = []
        for fields, docnum, score in stored_pages[window]:
            hidden = masked_sensitive is not None and bool(masked_sensitive[docnum])
            masked = hidden or (readable is not None and not readable[docnum])
            if masked:
                snippet, highlights = str(MASKED_SNIPPET), []
            else:
                snippet, highlights = make_snippet(text[docnum] or "", pattern)
            pages.append(PageHit(page_id=int(fields["page_id"]), page_number=fields["page_number"],
                                 score=score if scored else 0.0, snippet=snippet, highlights=highlights,
                                 sensitive=bool(fields.get("sensitive")) or hidden,
                                 masked=masked))
        first_stored, first = stored_pages[0][0], stored_pages[0][1]
        meta = {name: view.text(name)[first] or None for name in ("title", "customer", "account", "refcode")}
        if masked_sensitive is not None and masked_sensitive[first] and meta["title"]:
            meta["title"] = str(MASKED_TITLE)
        return DocumentHit(
            document_id=int(first_stored["document_id"]),
            score=max((p.score for p in pages), default=0.0),   # a window past the last page lists none
            matching_pages=matching,
            pages=pages,
            title=meta["title"],
            customer_name=meta["customer"],
            customer_account=meta["account"],
            doc_type=first_stored.get("doc_type"),
            reference_code=meta["refcode"],
            doc_date=key_date(first_stored["date"]) if first_stored.get("date") else None,
        )
