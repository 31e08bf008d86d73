"""`docsvc restore`: a bag written by `docsvc backup` into an empty instance, any engine to any engine.

In order: the bag is validated (every payload and tag file against its manifest) and refused, naming
the files, when anything differs; its schema revision must be one this docsvc knows; the target must
be empty. Then the rows go in as they were (ids kept, PostgreSQL sequences moved past them) at the bag's
revision, the database is migrated to this docsvc's head, the objects go into the store (originals by
their SHA-256), page images and thumbnails are redrawn from the originals unless the bag holds them, the
search index is rebuilt, and the audit chain is verified against what the backup recorded.
"""
from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import bagit
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, Table, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.schema import sort_tables

from docsvc import db
from docsvc.config import FilingSettings, Settings
from docsvc.constants import JobState
from docsvc.errors import Conflict, Corrupted
from docsvc.files import four_properties
from docsvc.files.four_properties import FourPropertiesReport
from docsvc.governance import audit
from docsvc.i18n import _, stored
from docsvc.models import Base, Operation, Page, utcnow
from docsvc.pipeline import reindex
from docsvc.pipeline.backup import (
    AUDIT_SUMMARY, CATALOGUE, INFO_REVISION, INFO_ROWS_PREFIX, SCHEMA, TABLES_DIR, ObjectKind, Progress, no_progress,
    refuse_foreign,
)
from docsvc.pipeline.recognition import redraw_view
from docsvc.search import SearchIndex
from storage import ObjectStore, open_store

INSERT_CHUNK = 1000
# What migrations themselves put in a new database: replaced by the bag's rows.
SEEDED_TABLES = ("document_types", "audit_chain_head")


class RestoreRefused(Conflict):
    pass


@dataclass
class RestoreReport:
    rows: dict[str, int] = field(default_factory=dict)
    originals: int = 0
    objects: int = 0
    redrawn: int = 0
    redraw_failed: list[str] = field(default_factory=list)
    indexed: int = 0
    audit: audit.VerifyReport | None = None
    audit_matches_backup: bool = False

    @property
    def ok(self) -> bool:
        return not self.redraw_failed and self.audit is not None and self.audit.ok and self.audit_matches_backup


def validate(path: Path) -> bagit.Bag:
    """The bag, checked file by file; Corrupted naming every file that differs, is missing or is extra."""
    try:
        bag = bagit.Bag(str(path))
        bag.validate()
    except bagit.BagValidationError as exc:
        problems = [_problem(d) for d in exc.details] or _incomplete(bag) or [exc.message]
        raise Corrupted(_("Backup %(path)s failed validation, nothing was restored: %(problems)s. Use an intact "
                          "copy of the backup.", path=path, problems="; ".join(problems))) from None
    except bagit.BagError as exc:
        raise Corrupted(_("%(path)s is not a complete backup bag (BagIt): %(error)s.", path=path, error=exc)) from None
    refuse_foreign(bag, path)
    return bag


def _incomplete(bag: bagit.Bag) -> list[str]:
    """The files behind a failed Payload-Oxum (the count and size check bagit runs first, which names none):
    missing or extra files, else the files whose content no longer matches the manifest (a changed size)."""
    in_manifest_only, on_disk_only = bag.compare_manifests_with_fs()
    problems = ([_problem(bagit.FileMissing(p)) for p in in_manifest_only]
                + [_problem(bagit.UnexpectedFile(p)) for p in on_disk_only])
    if problems:
        return problems
    root = Path(bag.path)
    return [_problem(bagit.ChecksumMismatch(name, "sha256", digests["sha256"], actual))
            for name, digests in sorted(bag.payload_entries().items())
            if (actual := _sha256(root / name)) != digests.get("sha256")]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _problem(detail: Exception) -> str:
    path = getattr(detail, "path", "?")
    if isinstance(detail, bagit.ChecksumMismatch):
        return _("%(path)s: content differs from the manifest", path=path)
    if isinstance(detail, bagit.FileMissing):
        return _("%(path)s: missing", path=path)
    if isinstance(detail, bagit.UnexpectedFile):
        return _("%(path)s: not in the manifest", path=path)
    return str(detail)


def check_revision(revision: str) -> None:
    known = {script.revision for script in ScriptDirectory.from_config(db.alembic_config(None)).walk_revisions()}  # type: ignore[arg-type]
    if revision not in known:
        raise RestoreRefused(_("The backup's schema revision %(revision)s is unknown to this docsvc (head %(head)s): "
                               "restore with the version that wrote it or a newer one.", revision=revision,
                               head=db.head_revision()))


def check_empty(engine: Engine, store: ObjectStore, revision: str) -> None:
    """Refuse a target that holds anything but what migrations seed: a restore never merges."""
    found: list[str] = []
    current = db.current_revision(engine)
    if current is not None:
        if current != revision:
            raise RestoreRefused(_("The target database is at revision %(current)s, the backup at %(revision)s: "
                                   "restore into a new, empty database (do not run `docsvc db upgrade` first: the "
                                   "restore migrates it).", current=current, revision=revision))
        with engine.connect() as conn:
            metadata = MetaData()
            metadata.reflect(conn)
            for table in sorted(metadata.tables.values(), key=lambda t: t.name):
                if table.name in ("alembic_version", "document_types"):
                    continue
                if table.name == "audit_chain_head":
                    if conn.scalar(select(func.max(table.c.seq))):
                        found.append("audit_events")
                    continue
                count = conn.scalar(select(func.count()).select_from(table)) or 0
                if count:
                    found.append(f"{table.name} ({count})")
    if next(iter(store.list("")), None) is not None:
        found.append(_("object store %(store)s", store=repr(store)))
    if found:
        raise RestoreRefused(_("The target is not empty (%(found)s); a restore never merges. Point the settings at a "
                               "new empty database and object store (a new DOCSVC_DATABASE_URL, a new bucket or "
                               "DOCSVC_DATA_DIR), and do not start the service or create accounts first.",
                               found=", ".join(found)))


def restore(path: Path, engine: Engine, sessions: sessionmaker[Session], store: ObjectStore,
            index: SearchIndex | None, settings: Settings, *, progress: Progress = no_progress,
            procs: int = 1) -> RestoreReport:
    """`procs` > 1 rebuilds the index with that many processes (a command's choice, as for `docsvc reindex`);
    no index (a scratch copy nobody searches, as for the 四性检测 of a bag) leaves the rebuild out."""
    path = Path(path)
    progress("validate", 0, 1)
    bag = validate(path)
    progress("validate", 1, 1)
    revision = bag.info[INFO_REVISION]
    check_revision(revision)
    check_empty(engine, store, revision)
    data = path / "data"
    report = RestoreReport()
    db.upgrade(engine, revision)
    schema = json.loads((data / TABLES_DIR / SCHEMA).read_text(encoding="utf-8"))
    with engine.begin() as conn:  # all rows or none
        _insert_rows(conn, data / TABLES_DIR, schema, report, progress)
        for name, count in report.rows.items():
            recorded = int(bag.info.get(f"{INFO_ROWS_PREFIX}{name}", count))
            if recorded != count:
                raise Corrupted(_("Table %(table)s: %(count)s rows restored, the backup recorded %(recorded)s.",
                                  table=name, count=count, recorded=recorded))
    if revision != db.head_revision():
        db.upgrade(engine)
    with sessions() as session:
        _settle_operations(session)
    redraw = _restore_objects(data, store, report, progress)
    _redraw(sessions, store, settings, redraw, report, progress)
    if index is not None:
        progress("index", 0, 1)
        reindex.rebuild(sessions, index, procs=procs)
        with sessions() as session:
            report.indexed = reindex.count_indexable(session)
        progress("index", 1, 1)
    recorded_chain = json.loads((data / AUDIT_SUMMARY).read_text(encoding="utf-8"))
    with sessions() as session:
        report.audit = audit.verify(session, audit.load_anchors(store))
        report.audit_matches_backup = (report.audit.ok and report.audit.last_seq == recorded_chain["last_seq"]
                                       and report.audit.last_hash == recorded_chain["last_hash"])
        audit.record(session, None, "backup.restore", object_type="backup", object_id=path.name,
                     outcome="ok" if report.ok else "problems",
                     detail={"bag": str(path.resolve()), "revision": revision, "rows": sum(report.rows.values()),
                             "originals": report.originals, "redrawn": report.redrawn,
                             "redraw_failed": len(report.redraw_failed), "audit_events": report.audit.events})
        session.commit()
    return report


def _settle_operations(session: Session) -> None:
    """The operations the backup caught mid-way (the backup itself among them) ran on the old instance: they
    are not resumed here. Their files (exports) are not in a backup, so none is offered."""
    session.execute(update(Operation).values(result_key=None, result_name=None))
    session.execute(update(Operation).where(Operation.status.in_((JobState.QUEUED, JobState.RUNNING))).values(
        status=JobState.FAILED, claimed_at=None, finished_at=utcnow(),
        error=stored("Interrupted: the archive was restored from a backup taken while this ran. Start it again "
                     "if it is still needed.")))
    session.commit()


# -- rows -----------------------------------------------------------------------------------

def decode_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "bytes":
        return base64.b64decode(value)
    return value


def _insert_rows(conn: Connection, folder: Path, schema: dict[str, list[dict[str, str]]], report: RestoreReport,
                 progress: Progress) -> None:
    metadata = MetaData()
    metadata.reflect(conn)
    for name in SEEDED_TABLES:
        conn.execute(metadata.tables[name].delete())
    tables = {name: metadata.tables[name] for name in schema}
    ordered, deferred = insert_order(list(tables.values()))
    for n, table in enumerate(ordered, start=1):
        kinds = {c["name"]: c["kind"] for c in schema[table.name]}
        later = deferred.get(table.name, set())
        rows, fixes = [], []
        count = 0
        for row in _read_rows(folder / f"{table.name}.jsonl"):
            values = {col: decode_value(kinds[col], value) for col, value in row.items()}
            if later and any(values.get(col) is not None for col in later):
                fixes.append(values)
                values = {col: (None if col in later else value) for col, value in values.items()}
            rows.append(values)
            count += 1
            if len(rows) >= INSERT_CHUNK:
                conn.execute(table.insert(), rows)
                rows = []
        if rows:
            conn.execute(table.insert(), rows)
        report.rows[table.name] = count
        for values in fixes:
            conn.execute(update(table).where(*(c == values[c.name] for c in table.primary_key.columns))
                         .values({col: values[col] for col in later}))
        progress("rows", n, len(ordered))
    if conn.dialect.name == "postgresql":
        _move_sequences(conn, ordered)


def insert_order(tables: list[Table]) -> tuple[list[Table], dict[str, set[str]]]:
    """Tables parents first. The foreign keys the models create after their tables (`use_alter`: they close a
    cycle, documents ↔ batch_files) and those pointing at their own table are inserted empty and set once
    every row is in."""
    late = {(table.name, tuple(fk.column_keys)) for table in Base.metadata.tables.values()
            for fk in table.foreign_key_constraints if fk.use_alter}
    deferred_fks = {fk for table in tables for fk in table.foreign_key_constraints
                    if (table.name, tuple(fk.column_keys)) in late or fk.referred_table is table}
    ordered = sort_tables(tables, skip_fn=lambda fk: fk.constraint in deferred_fks)
    deferred: dict[str, set[str]] = {}
    for fk in deferred_fks:
        deferred.setdefault(fk.parent.name, set()).update(fk.column_keys)
    return ordered, deferred


def _read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as rows:
        for line in rows:
            yield json.loads(line)


def _move_sequences(conn: Connection, tables: list[Table]) -> None:
    """Sequences past the restored ids: the next row gets max(id) + 1, not an id already taken."""
    for table in tables:
        for column in table.primary_key.columns:
            sequence = conn.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name})
            if sequence:
                conn.execute(text(f"SELECT setval(:s, COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"),
                             {"s": sequence})


# -- objects --------------------------------------------------------------------------------

def _restore_objects(data: Path, store: ObjectStore, report: RestoreReport, progress: Progress) -> set[str]:
    """Every object the bag holds into the store; the keys of the derived ones it left to be redrawn."""
    entries = list(_read_rows(data / CATALOGUE))
    redraw: set[str] = set()
    for done, entry in enumerate(entries, start=1):
        if entry["path"] is None:
            redraw.add(entry["key"])
        elif entry["kind"] == ObjectKind.ORIGINAL:
            with (data / entry["path"]).open("rb") as stream:
                stored, _created = store.put_original(stream, entry["content_type"])
            if stored.key != entry["key"]:
                raise Corrupted(_("Original %(key)s hashed to %(sha256)s when stored.", key=entry["key"],
                                  sha256=stored.sha256))
            report.originals += 1
        else:
            with (data / entry["path"]).open("rb") as stream:
                store.put(entry["key"], stream, entry["content_type"])
            report.objects += 1
        progress("objects", done, len(entries))
    return redraw


def _redraw(sessions: sessionmaker[Session], store: ObjectStore, settings: Settings, keys: set[str],
            report: RestoreReport, progress: Progress) -> None:
    """Page images and thumbnails drawn again from the originals, for the pages that named them."""
    if not keys:
        return
    with sessions() as session:
        page_ids = [page_id for page_id, image, thumb in session.execute(
            select(Page.id, Page.image_key, Page.thumb_key).where(Page.status == JobState.DONE).order_by(Page.id))
            if image in keys or thumb in keys]
    for done, page_id in enumerate(page_ids, start=1):
        with sessions() as session:
            page = session.get(Page, page_id)
            assert page is not None
            try:
                redraw_view(store, page, settings)
                report.redrawn += 1
            except Exception as exc:  # one unreadable original must not stop the others: reported per page
                report.redraw_failed.append(_("page %(id)s: %(error)s", id=page_id, error=exc))
        progress("redraw", done, len(page_ids))


def four_properties_of_bag(path: Path, scratch: Path, filing: FilingSettings, *,
                           accounts: Sequence[str] | None = None, recompute: bool = False, all_pages: bool = False,
                           progress: Progress = no_progress,
                           on_total: Callable[[int], None] | None = None,
                           checked: Callable[[int], None] | None = None) -> FourPropertiesReport:
    """四性检测 of a backup bag, as for a transfer package: validated (a bag that fails is refused naming the
    file, as by restore), restored into a scratch embedded instance under `scratch` (SQLite, a local folder,
    which must be empty), and checked there exactly as a live archive is. The scratch instance's own audit
    trail records the run; the archive the bag came from is not touched."""
    settings = Settings.from_env({"DOCSVC_DATA_DIR": str(scratch), "DOCSVC_SECRET_KEY": "four-properties-scratch"})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(settings.database_url)
    try:
        sessions = db.make_sessionmaker(engine)
        store = open_store(s3_endpoint=None, s3_access_key=None, s3_secret_key=None, s3_bucket=settings.s3_bucket,
                           s3_secure=False, local_root=settings.objects_dir, cache_dir=settings.cache_dir)
        restore(path, engine, sessions, store, None, settings, progress=progress)
        with sessions() as session:
            return four_properties.run(session, store, filing, None, accounts=accounts, recompute=recompute,
                                       all_pages=all_pages, on_total=on_total, progress=checked)
    finally:
        engine.dispose()
