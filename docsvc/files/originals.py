"""The customer file's original scans as one ZIP: only the documents this user may download, named by
type and 档号, the export audited with what was given and what was withheld."""
from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy.orm import Session

from docsvc.errors import Forbidden
from docsvc.files.customers import file_documents, get_customer
from docsvc.files.documents import live_pages
from docsvc.formats.filenames import name_part
from docsvc.governance import audit
from docsvc.governance.access import Action, content_grant
from docsvc.i18n import _
from docsvc.models import Document, User
from storage import ObjectStore

AUDIT_ACTION = "customer.download_originals"
EXTENSIONS = {"application/pdf": "pdf", "image/tiff": "tif", "image/jpeg": "jpg", "image/png": "png"}


@dataclass(frozen=True)
class OriginalsZip:
    data: bytes
    filename: str


@dataclass(frozen=True)
class WrittenZip:
    filename: str
    files: int


def member_name(document: Document, key: str, media_type: str) -> str:
    """`<type>_<档号>_<first 12 of the SHA-256>.<ext>`: sorts by type and code, and one scan never collides."""
    parts = (document.doc_type or "XX", (document.reference_code or f"doc{document.id}").replace("·", "_"),
             key.rsplit("/", 1)[-1][:12])
    # Each part sanitised: a 档号 such as ../../x must not become a path when the ZIP is unpacked.
    return "_".join(name_part(p) for p in parts) + f".{EXTENSIONS.get(media_type, 'bin')}"


def originals_zip(session: Session, store: ObjectStore, user: User, account: str, *,
                  ip: str | None = None) -> OriginalsZip:
    """Every original scan of the customer's file that `user` may download (Forbidden when none), in memory."""
    buf = io.BytesIO()
    written = write_originals_zip(session, store, user, account, buf, ip=ip)
    return OriginalsZip(buf.getvalue(), written.filename)


def write_originals_zip(session: Session, store: ObjectStore, user: User, account: str, out: BinaryIO, *,
                        ip: str | None = None,
                        progress: Callable[[str, int, int], None] | None = None) -> WrittenZip:
    """The ZIP written to `out` (a long export runs in the background: docsvc.operations);
    `progress("files", done, total)` hears of each original added."""
    customer = get_customer(session, account)
    documents = file_documents(session, customer)
    allowed = [d for d in documents if content_grant(session, user, d, Action.DOWNLOAD) is not None]
    if not allowed:
        raise Forbidden(_("You may not download any original of this file; request a loan that allows downloads."))
    members: dict[str, tuple[Document, str]] = {}
    for d in allowed:
        for key, media in sorted({(p.source_key, p.source_media_type) for p in live_pages(d)}):
            members.setdefault(key, (d, media))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:  # scans are compressed already
        for done, (key, (d, media)) in enumerate(members.items(), start=1):
            with store.open(key) as source, archive.open(member_name(d, key, media), "w", force_zip64=True) as member:
                while chunk := source.read(1 << 20):
                    member.write(chunk)
            if progress is not None:
                progress("files", done, len(members))
    audit.record(session, user, AUDIT_ACTION, object_type="customer", object_id=account, ip=ip,
                 detail={"document_ids": [d.id for d in allowed], "withheld": len(documents) - len(allowed)})
    session.commit()
    return WrittenZip(f"{account}-originals.zip", len(members))
