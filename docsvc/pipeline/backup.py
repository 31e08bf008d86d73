"""`docsvc backup`: the whole archive as one self-verifying BagIt package (RFC 8493).

Layout of a bag (`restore.py` reads it back):

    bagit.txt, bag-info.txt              schema revision, docsvc version, source kinds, counts per table
    manifest-sha256.txt                  SHA-256 of every payload file (written by the `bagit` library)
    tagmanifest-sha256.txt               SHA-256 of the tag files above
    data/tables/<table>.jsonl            every table, one JSON object per row, columns in table order,
                                         rows in primary-key order (the audit trail is `audit_events`)
    data/tables/schema.json              per table: its columns and how each value is written
    data/objects.jsonl                   every stored object the archive needs: key, kind, size, SHA-256,
                                         content type and where it is in the bag (null: regenerated)
    data/originals/<sha256>              the originals, once per content (the name is the SHA-256)
    data/objects/<key>                   the other kept objects: words, audit anchors, destruction registers
                                         (page images and thumbnails too with `--with-derived`)
    data/audit.json                      the audit chain as verified at backup time (events, last hash)

Values: datetimes as ISO 8601 in UTC, dates as ISO dates, bytes as base64, everything else as JSON.

Incremental (`since`): an original the previous bag already holds is hard-linked from it instead of
copied, so the new bag is complete by itself (restore needs only it; deleting the older bag leaves the
link's bytes in place) while costing no copy. A link across file systems is impossible; such originals
are copied and counted as copied.
"""
from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import bagit
from sqlalchemy import Connection, Engine, MetaData, Table, select
from sqlalchemy.orm import Session

from docsvc import db
from docsvc.constants import AUDIT_ANCHORS_PREFIX
from docsvc.errors import DomainError
from docsvc.governance import audit, fixity
from docsvc.models import DestructionList, Page, as_utc, utcnow
from storage import ObjectStore, S3Store
from storage.keys import ORIGINALS_PREFIX
from docsvc.i18n import _

FORMAT = "docsvc-backup/1"
CHUNK = 1 << 20
ROWS_PER_READ = 2000

# The names of a bag's parts, shared with restore.py.
TABLES_DIR = "tables"
ORIGINALS_DIR = "originals"
OBJECTS_DIR = "objects"
CATALOGUE = "objects.jsonl"
SCHEMA = "schema.json"
AUDIT_SUMMARY = "audit.json"

# bag-info.txt labels.
INFO_FORMAT = "Docsvc-Backup-Format"
INFO_REVISION = "Docsvc-Schema-Revision"
INFO_VERSION = "Docsvc-Version"
INFO_DATABASE = "Docsvc-Source-Database"
INFO_STORE = "Docsvc-Source-Store"
INFO_DERIVED = "Docsvc-Derived-Objects"
INFO_SNAPSHOT = "Docsvc-Snapshot-At"
INFO_PREVIOUS = "Docsvc-Previous-Bag"
INFO_ORIGINALS = "Docsvc-Originals"
INFO_LINKED = "Docsvc-Originals-Linked"
INFO_ROWS_PREFIX = "Docsvc-Rows-"
DERIVED_INCLUDED, DERIVED_REGENERATE = "included", "regenerate-on-restore"


class ObjectKind:
    ORIGINAL = "original"
    KEPT = "kept"  # cannot be redone from the originals alone: words, anchors, registers
    DERIVED = "derived"  # page image and thumbnail: redrawn from the original


class BackupError(DomainError):
    pass


@dataclass
class BackupReport:
    path: Path
    rows: dict[str, int] = field(default_factory=dict)
    originals: int = 0
    originals_linked: int = 0
    originals_copied: int = 0
    objects: int = 0
    bytes_copied: int = 0
    audit_events: int = 0
    missing: list[str] = field(default_factory=list)  # named by a record, absent from the store
    altered: list[str] = field(default_factory=list)  # bytes no longer hash to their key: left out

    @property
    def ok(self) -> bool:
        return not (self.missing or self.altered)


Progress = Callable[[str, int, int], None]  # (stage, done, total)


def no_progress(_stage: str, _done: int, _total: int) -> None:
    return None


# -- the snapshot ---------------------------------------------------------------------------

@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction that sees the database as of its first read, whatever commits meanwhile.

    PostgreSQL: REPEATABLE READ, read only. SQLite: an explicit BEGIN (the driver opens none for reads,
    so each SELECT would see a different moment); in WAL mode writers go on while the reader keeps its
    snapshot. The first read happens here, so the snapshot is taken when this returns.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with conn.begin():
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                db.current_revision_in(conn)
                yield conn
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN")
        try:
            db.current_revision_in(conn)
            yield conn
        finally:
            conn.exec_driver_sql("ROLLBACK")


# -- values ---------------------------------------------------------------------------------

def column_kind(column: Any) -> str:
    """How a column's values are written: datetime, date, bytes, json or plain."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return "plain"
    if issubclass(python_type, datetime):
        return "datetime"
    if issubclass(python_type, date):
        return "date"
    if issubclass(python_type, bytes):
        return "bytes"
    if issubclass(python_type, (dict, list)):
        return "json"
    return "plain"


def encode_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return as_utc(value).isoformat()  # stored naive on SQLite, always UTC
    if kind == "date":
        return value.isoformat()
    if kind == "bytes":
        return base64.b64encode(value).decode("ascii")
    return value


# -- writing a bag --------------------------------------------------------------------------

def source_kinds(engine: Engine, store: ObjectStore) -> tuple[str, str]:
    return engine.dialect.name, "s3" if isinstance(store, S3Store) else "local"


def derived_keys(session: Session) -> set[str]:
    """The page images and thumbnails the rows name: redrawn from the originals on restore."""
    return {key for row in session.execute(select(Page.image_key, Page.thumb_key)) for key in row if key}


def kept_keys(session: Session, store: ObjectStore, chain_seq: int) -> set[str]:
    """Objects named by the snapshot's rows that the originals cannot give back, and the audit anchors up to
    the snapshot's chain head (a later anchor names events the bag does not hold)."""
    keys = {key for key in session.scalars(select(Page.words_key)) if key}
    keys |= {key for row in session.execute(select(DestructionList.register_pdf_key, DestructionList.register_csv_key))
             for key in row if key}
    keys |= {audit.audit_anchor_key(a.day) for a in audit.load_anchors(store) if a.seq <= chain_seq}
    return keys


def write(engine: Engine, store: ObjectStore, target: Path, *, since: Path | None = None,
          with_derived: bool = False, progress: Progress = no_progress) -> BackupReport:
    """Write the bag into `target` (a new or empty folder).

    bagit.make_bag changes the process's working directory while it hashes: a command's work, never the
    threaded server's."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(_("Backup folder %(folder)s is not empty: name a new or empty folder.", folder=target))
    previous = _previous_originals(since) if since is not None else {}
    target.mkdir(parents=True, exist_ok=True)
    report = BackupReport(path=target)
    database_kind, store_kind = source_kinds(engine, store)
    with snapshot(engine) as conn:
        revision = db.current_revision_in(conn)
        if revision != db.head_revision():
            raise BackupError(_("The database is at revision %(revision)s, this docsvc needs %(head)s: run "
                                "`docsvc db upgrade` first.", revision=revision, head=db.head_revision()))
        taken_at = utcnow()
        _write_tables(conn, target / TABLES_DIR, report, progress)
        with Session(bind=conn) as session:
            chain = audit.verify(session)
            originals = sorted(fixity.expected_originals(session))
            kept = kept_keys(session, store, chain.last_seq)
            derived = derived_keys(session) - kept
    # The snapshot ends here; copying the objects after it is safe: originals are immutable (their key is
    # their SHA-256: a key the snapshot names always holds the same bytes) and the other objects are read
    # by the keys the snapshot's rows name. An object deleted meanwhile (a destruction) is reported missing.
    (target / AUDIT_SUMMARY).write_text(json.dumps(
        {"ok": chain.ok, "events": chain.events, "last_seq": chain.last_seq, "last_hash": chain.last_hash,
         "problem": chain.problem}, ensure_ascii=False, indent=1), encoding="utf-8")
    report.audit_events = chain.events
    with (target / CATALOGUE).open("w", encoding="utf-8") as catalogue:
        _copy_originals(store, originals, previous, target, catalogue, report, progress)
        others = sorted(kept | derived) if with_derived else sorted(kept)
        for done, key in enumerate(others, start=1):
            kind = ObjectKind.DERIVED if key in derived else ObjectKind.KEPT
            entry = _copy_object(store, key, target / OBJECTS_DIR / key, report)
            if entry is not None:
                catalogue.write(_line({"key": key, "kind": kind, **entry, "path": f"{OBJECTS_DIR}/{key}"}))
            progress("objects", done, len(others))
        if not with_derived:
            for key in sorted(derived):
                catalogue.write(_line({"key": key, "kind": ObjectKind.DERIVED, "size": None, "sha256": None,
                                       "content_type": _guess_type(key), "path": None}))
    info = {
        INFO_FORMAT: FORMAT, INFO_REVISION: revision, INFO_VERSION: version("docsvc"),
        INFO_DATABASE: database_kind, INFO_STORE: store_kind, INFO_SNAPSHOT: taken_at.isoformat(),
        INFO_DERIVED: DERIVED_INCLUDED if with_derived else DERIVED_REGENERATE,
        INFO_ORIGINALS: str(report.originals), INFO_LINKED: str(report.originals_linked),
        "External-Description": _("docsvc archive backup"),
        **{f"{INFO_ROWS_PREFIX}{name}": str(count) for name, count in report.rows.items()},
    }
    if since is not None:
        info[INFO_PREVIOUS] = str(Path(since).resolve())
    progress("manifest", 0, 1)
    bag = bagit.make_bag(str(target), bag_info=info, checksums=["sha256"])
    progress("manifest", 1, 1)
    _check_linked(bag, previous)
    with Session(engine) as session:
        audit.record(session, None, "backup.write", object_type="backup", object_id=target.name,
                     outcome="ok" if report.ok else "problems",
                     detail={"bag": str(target.resolve()), "revision": revision, "rows": sum(report.rows.values()),
                             "originals": report.originals, "linked": report.originals_linked,
                             "missing": report.missing[:50], "altered": report.altered[:50],
                             "audit_last_seq": chain.last_seq})
        session.commit()
    return report


def _write_tables(conn: Connection, folder: Path, report: BackupReport, progress: Progress) -> None:
    folder.mkdir(parents=True)
    metadata = MetaData()
    metadata.reflect(conn)
    tables = [t for t in sorted(metadata.tables.values(), key=lambda t: t.name) if t.name != "alembic_version"]
    schema: dict[str, list[dict[str, str]]] = {}
    for n, table in enumerate(tables, start=1):
        kinds = [(c.name, column_kind(c)) for c in table.columns]
        schema[table.name] = [{"name": name, "kind": kind} for name, kind in kinds]
        report.rows[table.name] = _dump_table(conn, table, kinds, folder / f"{table.name}.jsonl")
        progress("tables", n, len(tables))
    (folder / SCHEMA).write_text(json.dumps(schema, ensure_ascii=False, indent=1), encoding="utf-8")


def _dump_table(conn: Connection, table: Table, kinds: list[tuple[str, str]], path: Path) -> int:
    order = list(table.primary_key.columns) or list(table.columns)
    count = 0
    result = conn.execution_options(stream_results=True, yield_per=ROWS_PER_READ).execute(
        select(table).order_by(*order))
    with path.open("w", encoding="utf-8") as out:
        for row in result:
            out.write(_line({name: encode_value(kind, value) for (name, kind), value in zip(kinds, row)}))
            count += 1
    return count


def _line(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def _copy_originals(store: ObjectStore, keys: list[str], previous: dict[str, Path], target: Path,
                    catalogue: Any, report: BackupReport, progress: Progress) -> None:
    folder = target / ORIGINALS_DIR
    folder.mkdir()
    for done, key in enumerate(keys, start=1):
        sha = key.removeprefix(ORIGINALS_PREFIX)
        info = store.head(key)
        if info is None:
            report.missing.append(key)
            progress("originals", done, len(keys))
            continue
        entry = {"key": key, "kind": ObjectKind.ORIGINAL, "size": info.size, "sha256": sha,
                 "content_type": info.content_type, "path": f"{ORIGINALS_DIR}/{sha}"}
        if sha in previous and _link(previous[sha], folder / sha):
            report.originals_linked += 1
        else:
            found = _copy_object(store, key, folder / sha, report)
            if found is None:
                progress("originals", done, len(keys))
                continue
            if found["sha256"] != sha:
                # Put no altered bytes in the bag as if they were the original: `docsvc fixity` reports it too.
                (folder / sha).unlink()
                report.altered.append(key)
                progress("originals", done, len(keys))
                continue
            report.originals_copied += 1
        report.originals += 1
        catalogue.write(_line(entry))
        progress("originals", done, len(keys))


def _copy_object(store: ObjectStore, key: str, path: Path, report: BackupReport) -> dict[str, Any] | None:
    """Stream one object into the bag, hashing it; None (and reported missing) when the store lacks it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    try:
        with store.open(key) as stream, path.open("wb") as out:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except KeyError:  # storage.ObjectNotFound
        path.unlink(missing_ok=True)
        report.missing.append(key)
        return None
    report.objects += 1
    report.bytes_copied += size
    return {"size": size, "sha256": digest.hexdigest(), "content_type": _guess_type(key)}


def _guess_type(key: str) -> str:
    if key.startswith(AUDIT_ANCHORS_PREFIX):
        return "application/json"
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def _link(source: Path, target: Path) -> bool:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not supported: copy instead
        return False
    return True


def _previous_originals(since: Path) -> dict[str, Path]:
    """The originals a previous bag holds, by SHA-256; the bag must be a docsvc bag (its tag files are
    checked, its payload is not re-hashed here: every linked file is hashed into the new manifest and
    compared with its name after)."""
    bag = open_bag(Path(since))
    folder = Path(bag.path) / "data" / ORIGINALS_DIR
    return {path.name: path for path in folder.iterdir()} if folder.is_dir() else {}


def open_bag(path: Path) -> bagit.Bag:
    try:
        bag = bagit.Bag(str(path))
    except bagit.BagError as exc:
        raise BackupError(_("%(path)s is not a readable backup bag (BagIt): %(error)s. Check the path.", path=path,
                            error=exc)) from None
    refuse_foreign(bag, path)
    return bag


def refuse_foreign(bag: bagit.Bag, path: Path) -> None:
    """A bag that docsvc did not write (its bag-info.txt lacks our format line) is refused."""
    if bag.info.get(INFO_FORMAT) != FORMAT:
        raise BackupError(_("%(path)s is not a docsvc backup (bag-info.txt lacks %(line)s).", path=path,
                            line=f"{INFO_FORMAT}: {FORMAT}"))


_ORIGINAL_ENTRY = re.compile(rf"^data/{ORIGINALS_DIR}/([0-9a-f]{{64}})$")


def _check_linked(bag: bagit.Bag, previous: dict[str, Path]) -> None:
    """Every original in the bag hashes to its name: a linked file from a damaged previous bag is caught here."""
    for rel_path, hashes in bag.payload_entries().items():
        match = _ORIGINAL_ENTRY.match(rel_path.replace(os.sep, "/"))
        if match and hashes["sha256"] != match.group(1):
            source = previous.get(match.group(1))
            raise BackupError(_("Original %(key)s is damaged in the previous backup (%(source)s): write a full "
                                "backup without --since.", key=match.group(1), source=source))
