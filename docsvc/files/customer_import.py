"""Importing the customer list exported from the marketing system (CSV or XLSX).

Steps: read the table (CSV in UTF-8 or GBK/GB18030, or the first XLSX sheet), map its columns to
customer fields (guessed from the headers, adjustable), validate every row, then upsert by 户号
in one transaction. An import is all or nothing: if any row is rejected nothing is written (unless
the caller asks to skip rejected rows), and a fault half-way rolls everything back. A dry run does
everything but the commit. Importing the same file twice changes nothing the second time.
"""
from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from docsvc import exports
from docsvc.errors import DomainError, NotFound
from docsvc.models import Customer, Document, User, utcnow
from docsvc.governance import audit
from docsvc.governance.retention import recompute
from docsvc.files.customer_words import HEADER_SYNONYMS
from docsvc.files.customers import FIELDS, AccountRule, CustomerError, check_closing, clean_fields
from docsvc.i18n import _

TARGETS = ("account",) + FIELDS
MAX_ROWS = 200_000
_CHUNK = 900  # stays under SQLite's bound-parameter limit


class ImportError_(DomainError):
    pass


@dataclass
class Table:
    headers: list[str]
    rows: list[list[object]]
    encoding: str | None = None  # for CSV


@dataclass
class RowError:
    row: int  # as the archivist sees it in the file (header is row 1)
    account: str
    message: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False
    encoding: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "rejected": self.rejected, "dry_run": self.dry_run, "applied": self.applied,
                "encoding": self.encoding,
                "errors": [{"row": e.row, "account": e.account, "message": e.message} for e in self.errors]}

    def errors_csv(self) -> bytes:
        return exports.csv_bytes([_("Row"), _("Account no."), _("Reason")],
                                 ([e.row, e.account, e.message] for e in self.errors))


def read_table(data: bytes, filename: str = "") -> Table:
    if data[:4] == b"PK\x03\x04" or data[:4] == b"\xd0\xcf\x11\xe0":  # XLSX, or legacy XLS
        return _read_xlsx(data)
    if filename.lower().endswith((".xlsx", ".xls")):
        raise ImportError_(_("“%(filename)s” is not a valid Excel file; save it in Excel as .xlsx or CSV.",
                             filename=filename))
    return _read_csv(data)


def _decode(data: bytes) -> tuple[str, str]:
    # Valid UTF-8 is almost never accidental for Chinese text; anything else is taken as GB18030 (⊃ GBK).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), "gbk" if encoding == "gb18030" else "utf-8"
        except UnicodeDecodeError:
            continue
    raise ImportError_(_("The file is neither UTF-8 nor GBK; save it as 'CSV UTF-8'."))


def _read_csv(data: bytes) -> Table:
    text, encoding = _decode(data)
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ImportError_(_("The file is empty."))
    return Table(headers=[h.strip() for h in rows[0]], rows=rows[1:], encoding=encoding)  # type: ignore[arg-type]


def _read_xlsx(data: bytes) -> Table:
    # calamine (Rust) reads a 50,000-row sheet in about a second; openpyxl needs closer to a minute.
    from python_calamine import CalamineWorkbook  # a native library, loaded only when an XLSX arrives

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        rows = [list(r) for r in book.get_sheet_by_index(0).to_python(skip_empty_area=True)
                if any(c not in (None, "") for c in r)]
    except Exception as exc:
        raise ImportError_(_("Could not read the XLSX file: %(error)s. Check that the file is not damaged.",
                             error=str(exc))) from exc
    if not rows:
        raise ImportError_(_("The worksheet is empty."))
    return Table(headers=["" if h is None else str(h).strip() for h in rows[0]], rows=rows[1:])


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """target field → source header, for headers we recognise."""
    norm = {h.replace(" ", "").replace("_", "").lower(): h for h in headers}
    mapping: dict[str, str] = {}
    for target, names in HEADER_SYNONYMS.items():
        for name in names:
            if name.lower() in norm:
                mapping[target] = norm[name.lower()]
                break
    return mapping


def _rows(table: Table, mapping: dict[str, str]) -> Iterator[tuple[int, dict[str, object]]]:
    index = {target: table.headers.index(source) for target, source in mapping.items()
             if source in table.headers and target in TARGETS}
    for n, row in enumerate(table.rows, start=2):
        yield n, {t: (row[i] if i < len(row) else None) for t, i in index.items()}


def run_import(session: Session, actor: User | None, table: Table, mapping: dict[str, str], rule: AccountRule,
               *, dry_run: bool, skip_rejected: bool = False, ip: str | None = None,
               source_name: str = "", progress: Callable[[str, int, int], None] | None = None) -> ImportReport:
    """Check every row, then write them in one transaction; `progress(stage, done, total)` hears of the rows
    checked ("checking") and of the rows written ("writing", chunk by chunk)."""
    progress = progress or (lambda _stage, _done, _total: None)
    if "account" not in mapping or "name" not in mapping:
        raise ImportError_(_("Choose the columns that hold the account number and the customer name."))
    if len(table.rows) > MAX_ROWS:
        raise ImportError_(_("At most %(n)s rows per import; split the file.", n=MAX_ROWS))
    report = ImportReport(dry_run=dry_run, encoding=table.encoding)
    valid: dict[str, tuple[int, dict[str, object]]] = {}
    for n, raw in _rows(table, mapping):
        progress("checking", n - 1, len(table.rows))
        account = "" if raw.get("account") is None else _cell_text(raw["account"])
        try:
            account = rule.check(account)
            if account in valid:
                raise CustomerError(_("Account %(account)s appears twice in the file (first on row %(row)s).",
                                      account=account, row=valid[account][0]))
            fields = clean_fields({k: v for k, v in raw.items() if k != "account"})
            if not fields.get("name"):
                raise CustomerError(_("The name is empty."))
            check_closing(fields)
        except CustomerError as exc:
            report.errors.append(RowError(n, account, exc.message))
            continue
        valid[account] = (n, fields)
    report.rejected = len(report.errors)
    existing = _existing(session, list(valid))
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    now = utcnow()
    for account, (_n, fields) in valid.items():
        current = existing.get(account)
        if current is None:
            inserts.append({"account": account, "status": "active", "tags": "", "created_at": now,
                            "updated_at": now, **fields})
            continue
        changed = {k: v for k, v in fields.items() if current[k] != v}
        if changed:
            updates.append({"id": current["id"], "updated_at": now, **changed})
    report.created, report.updated = len(inserts), len(updates)
    report.unchanged = len(valid) - len(inserts) - len(updates)
    if dry_run or (report.rejected and not skip_rejected):
        session.rollback()
        return report
    writes = len(inserts) + len(updates)
    progress("writing", 0, writes)
    try:
        for i in range(0, len(inserts), _CHUNK):
            session.execute(insert(Customer), _fill(inserts[i:i + _CHUNK]))
            progress("writing", min(i + _CHUNK, len(inserts)), writes)
        for n, row in enumerate(updates, start=1):
            session.execute(update(Customer).where(Customer.id == row["id"])
                            .values({k: v for k, v in row.items() if k != "id"}))
            if n % _CHUNK == 0:
                progress("writing", len(inserts) + n, writes)
        closing = [row["id"] for row in updates if "closed_on" in row]
        if closing:  # retention counted from the closing date moves with it
            recompute(session, session.scalars(select(Document.id).where(Document.customer_id.in_(closing))))
        audit.record(session, actor, "customer.import", object_type="customer_import", object_id=source_name[:80],
                     ip=ip, detail={"created": report.created, "updated": report.updated,
                                    "unchanged": report.unchanged, "rejected": report.rejected})
        session.commit()
    except Exception:
        session.rollback()
        raise
    if len(inserts) > 1000 and session.get_bind().dialect.name == "postgresql":
        # Fresh statistics: a planner that still thinks the table is empty scans it for every look-up.
        session.execute(text("ANALYZE customers"))
        session.commit()
    report.applied = True
    progress("writing", writes, writes)
    return report


def _fill(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    # executemany needs the same keys in every row.
    keys = {"account", "status", "tags", "created_at", "updated_at", *FIELDS}
    return [{k: r.get(k, "" if k == "tags" else None) for k in keys} | {"status": r.get("status") or "active",
                                                                          "tags": r.get("tags") or ""} for r in rows]


def _existing(session: Session, accounts: list[str]) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    columns = [Customer.id, Customer.account, *(getattr(Customer, f) for f in FIELDS)]
    for i in range(0, len(accounts), _CHUNK):
        for row in session.execute(select(*columns).where(Customer.account.in_(accounts[i:i + _CHUNK]))):
            found[row.account] = row._asdict()
    return found


def _cell_text(value: object) -> str:
    # Excel keeps long digit strings as numbers: 3012345678.0 is the 户号 3012345678.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class ImportStash:
    """The uploaded table between the two steps of the web import (column mapping, then dry run or import):
    kept on disk under a random token, never in the cookie session, with the error report beside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, data: bytes, filename: str) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(16)
        (self.folder / token).write_bytes(data)
        (self.folder / f"{token}.name").write_text(filename)
        return token

    def get(self, token: str) -> tuple[bytes, str]:
        """The stashed file and its name; NotFound for an unknown (or malformed) token."""
        path = self._path(token, "")
        return path.read_bytes(), (self.folder / f"{token}.name").read_text()

    def put_errors(self, token: str, errors_csv: bytes) -> None:
        (self.folder / f"{token}.errors.csv").write_bytes(errors_csv)

    def errors(self, token: str) -> bytes:
        return self._path(token, ".errors.csv").read_bytes()

    def _path(self, token: str, suffix: str) -> Path:
        # Only hex tokens name files here: no path from the request reaches the disk.
        path = self.folder / f"{token}{suffix}"
        if not token.isalnum() or not path.exists():
            raise NotFound(_("The import file is gone or unknown; upload it again."))
        return path
