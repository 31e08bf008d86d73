"""Who a scanned document belongs to, proposed from its OCR text: 户号, contract numbers, customer names
and addresses (names and addresses approximately, as OCR may misread a character: files.namematch).

Each proposal carries a confidence; only proposals at or above the configured threshold may file a
document by themselves (`autofile`, run by `file_when_read` once the document's last page is read),
everything else waits for the operator in the inbox. A document uploaded without a type takes the
type guessed from its first page (typeguess) when that guess reaches the same threshold too.
"""
from __future__ import annotations

import json
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from docsvc.config import FilingSettings
from docsvc.constants import AUTOFILE_HOW, JobState
from docsvc.models import AuditEvent, Customer, Document, DocumentType, Page, User
from docsvc.files import customer_cues
from docsvc.files.evidence import Evidence, kept
from docsvc.files.filing import file_document
from docsvc.files.documents import LIVE, live_pages
from docsvc.files.namematch import Approximate, Choices, matches
from docsvc.files.typeguess import TypeGuess, guess_document_type
from docsvc.i18n import _, shown, stored

# Digits of 户号 length stand alone (not inside a longer number such as a meter number).
_ACCOUNT = re.compile(r"(?<!\d)(\d{10})(?!\d)")
_CONTRACT = re.compile(r"\b([A-Z]{2,4}-\d{4}-\d{4,8})\b")
# What each piece of evidence is worth when it matches exactly; an approximate name or address is
# worth its similarity's share of it (张建图 for 张建国, 67 %: 0.47), so it never files by itself.
ACCOUNT_LABELLED, ACCOUNT_BARE, CONTRACT, NAME, ADDRESS = 0.9, 0.6, 0.8, 0.7, 0.5


@dataclass
class Suggestion:
    account: str
    name: str
    confidence: float
    reasons: list[Evidence] = field(default_factory=list)
    # How closely the page's name or address matched the customer's, in percent (100: exactly);
    # None when neither did (found by 户号 or contract number only).
    similarity: int | None = None
    by_account: bool = False  # the page names this customer's 户号: ranked before every other


def _text(document: Document) -> str:
    return unicodedata.normalize("NFKC", "\n".join(p.text or "" for p in live_pages(document)))


def suggest(session: Session, document: Document, limit: int = 3) -> list[Suggestion]:
    text = _text(document)
    if not text.strip():
        return []
    scores: dict[int, Suggestion] = {}

    def add(customer: Customer, confidence: float, reason: Evidence) -> None:
        s = scores.setdefault(customer.id, Suggestion(customer.account, customer.name, 0.0))
        # Independent pieces of evidence add up: 1 - Π(1 - c).
        s.confidence = round(1 - (1 - s.confidence) * (1 - confidence), 3)
        s.reasons.append(reason)

    labelled = set(customer_cues.LABELLED_ACCOUNT.findall(text))
    accounts = labelled | set(_ACCOUNT.findall(text))
    if accounts:
        for c in session.scalars(select(Customer).where(Customer.account.in_(accounts))):
            add(c, ACCOUNT_LABELLED if c.account in labelled else ACCOUNT_BARE,
                Evidence(stored("account no. %(account)s", account=c.account)))
            scores[c.id].by_account = True
    contracts = set(_CONTRACT.findall(text))
    if contracts:
        rows = session.execute(select(Document.contract_no, Customer).join(Customer, Document.customer_id == Customer.id)
                               .where(Document.contract_no.in_(contracts)))
        for contract, c in rows:
            add(c, CONTRACT, Evidence(stored("contract no. %(contract)s", contract=contract)))
    by_text = _names_and_addresses(session, text, identified=set(scores))
    named = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_({f.key for _, _, f in by_text})))}
    for what, weight, found in by_text:
        c = named.get(found.key)
        if c is None:
            continue  # deleted since the copy was read
        add(c, round(weight * found.similarity / 100, 3), _found_on_page(what, found))
        suggestion = scores[c.id]
        suggestion.similarity = max(suggestion.similarity or 0, found.similarity)
    ranked = sorted(scores.values(), key=lambda s: (not s.by_account, -s.confidence))
    if len(ranked) > 1:
        # Two customers named on one page: neither is certain.
        for s in ranked:
            s.confidence = round(s.confidence * 0.8, 3)
    return ranked[:limit]


def _found_on_page(what: str, found: Approximate) -> Evidence:
    """A name or an address on the page, found exactly or approximately (OCR misread a character)."""
    if found.similarity == 100:
        return Evidence(stored("name %(value)s", value=found.value) if what == "name"
                        else stored("address %(value)s", value=found.value))
    values = {"value": found.value, "read": found.read, "similarity": found.similarity}
    return Evidence(stored("name %(value)s (read as “%(read)s”, %(similarity)s%% similar)", **values) if what == "name"
                    else stored("address %(value)s (read as “%(read)s”, %(similarity)s%% similar)", **values))


def _names_and_addresses(session: Session, text: str,
                         identified: set[int]) -> list[tuple[str, float, Approximate]]:
    """The customers whose name or address the page gives: a name exactly (SQL on the indexed column,
    always current), names and addresses approximately or exactly (namematch, over a copy of the
    customer list at most CHOICES_TTL_S old).

    Where the page's 户号 or contract number already identified customers, an approximate name or
    address only backs those up: it does not add a customer of its own to the choice.
    """
    names = set(customer_cues.NAME.findall(text)) | set(customer_cues.ORG_SUFFIX.findall(text))
    addresses = set(customer_cues.ADDRESS.findall(text))
    if not names and not addresses:
        return []
    found = [("name", NAME, Approximate(customer_id, name, name, 100))
             for customer_id, name in session.execute(select(Customer.id, Customer.name).where(Customer.name.in_(names)))]
    choices = _customer_choices(session)
    approximate = [("name", NAME, a) for a in matches(names, choices.names)]
    approximate += [("address", ADDRESS, a) for a in matches(addresses, choices.addresses)]
    exact = {(what, a.key) for what, _weight, a in found}
    found += [f for f in approximate if (f[0], f[2].key) not in exact
              and (f[2].similarity == 100 or not identified or f[2].key in identified)]
    return found


# How long a copy of the customer list serves approximate matching: reading and normalising 20,000
# customers costs far more than matching against them (docs/benchmarks.md, "Filing"), and a customer
# added or renamed meanwhile is still found by its exact name and 户号.
CHOICES_TTL_S = 60.0


@dataclass(frozen=True)
class _Choices:
    loaded: float  # time.monotonic()
    names: Choices      # by customer id
    addresses: Choices  # by customer id, where an address is known


_choices: dict[str, _Choices] = {}
_choices_lock = threading.Lock()


def _customer_choices(session: Session) -> _Choices:
    """Every customer's name and address, normalised and grouped for matching; one copy per database."""
    where = str(session.get_bind().url)
    with _choices_lock:
        cached = _choices.get(where)
    if cached is not None and time.monotonic() - cached.loaded < CHOICES_TTL_S:
        return cached
    loaded = time.monotonic()
    rows = session.execute(select(Customer.id, Customer.name, Customer.address)).all()
    fresh = _Choices(loaded, Choices({i: n for i, n, _ in rows}), Choices({i: a for i, _, a in rows if a}))
    with _choices_lock:
        _choices[where] = fresh
    return fresh


def autofile(session: Session, document: Document, settings: FilingSettings, actor: User | None = None) -> bool:
    """File an unfiled document by its best suggestion, if confident and unambiguous. No commit.

    Its type is the one given (upload form, cover sheet) or, when none was, the type guessed from its
    first page if that guess is as confident and unambiguous as the customer must be."""
    if not settings.autofile or document.filed_at is not None:
        return False
    ranked = suggest(session, document, limit=2)
    if not ranked or ranked[0].confidence < settings.autofile_confidence:
        return False
    best = ranked[0]
    if len(ranked) > 1 and ranked[1].confidence >= best.confidence:
        return False  # two customers equally likely, whatever the threshold: the operator chooses
    guess: TypeGuess | None = None
    doc_type = document.type_row
    if document.doc_type is None:
        guess = guess_document_type(session, document)
        if guess is None or not guess.reaches(settings.autofile_confidence):
            return False
        doc_type = session.get(DocumentType, guess.code)
    if doc_type is None or not doc_type.active:
        return False
    basis: dict[str, object] = {"threshold": settings.autofile_confidence, "evidence": kept(best.reasons)}
    if guess is not None:
        basis["type_guess"] = {"code": guess.code, "name_zh": guess.name_zh, "confidence": guess.confidence,
                               "evidence": kept(guess.reasons)}
    customer = session.scalars(select(Customer).where(Customer.account == best.account)).one()
    file_document(session, actor, document, customer, doc_type, settings, how=AUTOFILE_HOW,
                  confidence=best.confidence, basis=basis)
    return True


def file_when_read(session: Session, document_id: int, settings: FilingSettings) -> bool:
    """The recognition hook: once every live page of a never-filed document is read, try `autofile`. Commits.

    Runs after each page job and may run more than once for a document (retries, two workers reading
    its last two pages at once). Each run first locks the document row and then reads, so the runs
    queue one behind the other and the second finds the document already filed. A document someone
    unfiled keeps its 档号 and is never filed again by the system; nor is one whose upload or cover
    sheet named a customer (that account is not in the customer list yet: the operator decides).
    """
    if not settings.autofile:
        return False
    # Each page job commits its page read before coming here, so the job of the last page sees none
    # unread: the jobs of the other pages stop here, without taking the lock below. The lock then
    # starts a transaction of its own (on SQLite a transaction that has read may not take it).
    unread = _has_unread_page(session, document_id)
    session.rollback()
    if unread:
        return False
    # A no-op UPDATE: the row lock on PostgreSQL, the write lock on SQLite, taken before anything is read.
    locked = session.execute(update(Document).where(Document.id == document_id).values(id=Document.id))
    if locked.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return False  # merged away meanwhile
    document = session.get(Document, document_id, populate_existing=True)
    assert document is not None
    never_filed = document.filed_at is None and document.reference_code is None and document.customer_account is None
    if never_filed and not _has_unread_page(session, document_id):
        session.refresh(document, ["pages"])
        if autofile(session, document, settings):
            session.commit()
            return True
    session.rollback()
    return False


def _has_unread_page(session: Session, document_id: int) -> bool:
    return session.scalar(select(Page.id).where(Page.document_id == document_id, LIVE,
                                                Page.status != JobState.DONE).limit(1)) is not None


@dataclass(frozen=True)
class AutoFiling:
    """One automatic filing as the audit trail recorded it."""
    document_id: int
    document: Document | None  # None once merged away
    customer_account: str
    reference_code: str
    confidence: float
    evidence: list[str]
    occurred_at: datetime
    type_guess: dict[str, object] | None = None  # the basis's type_guess when the type was guessed too

    @property
    def note(self) -> str:
        return _note(self.confidence, self.evidence, self.type_guess)


def evidence_text(evidence: list[str]) -> str:
    """Pieces of evidence (as kept in the audit trail) as one text in the reader's language."""
    return _(", ").join(shown(e) for e in evidence)


def _note(confidence: float, evidence: list[str], type_guess: dict[str, object] | None) -> str:
    if not type_guess:
        return _("filed automatically (confidence %(confidence)s; evidence: %(evidence)s)",
                 confidence=f"{confidence:.2f}", evidence=evidence_text(evidence))
    raw = type_guess.get("evidence")
    cues = [str(e) for e in raw] if isinstance(raw, list) else []
    return _("filed automatically (confidence %(confidence)s; evidence: %(evidence)s; type guessed: %(type)s, "
             "confidence %(type_confidence)s, from %(cues)s)",
             confidence=f"{confidence:.2f}", evidence=evidence_text(evidence),
             type=f"{type_guess['code']} {type_guess['name_zh']}",
             type_confidence=f"{float(str(type_guess['confidence'])):.2f}", cues=evidence_text(cues))


def _autofile_detail(event: AuditEvent) -> dict[str, object] | None:
    if event.action != "document.file" or event.actor_id is not None or not event.detail:
        return None
    detail = json.loads(event.detail)
    return detail if detail.get("how") == AUTOFILE_HOW else None


def _evidence(detail: dict[str, object]) -> list[str]:
    basis = detail.get("basis")
    return [str(e) for e in basis.get("evidence", [])] if isinstance(basis, dict) else []


def _type_guess(detail: dict[str, object]) -> dict[str, object] | None:
    basis = detail.get("basis")
    guess = basis.get("type_guess") if isinstance(basis, dict) else None
    return guess if isinstance(guess, dict) else None


def autofile_note(event: AuditEvent) -> str | None:
    """How a timeline shows an automatic filing; None for every other event."""
    detail = _autofile_detail(event)
    return None if detail is None else _note(float(str(detail["confidence"])), _evidence(detail), _type_guess(detail))


def recent_autofilings(session: Session, limit: int = 10) -> list[AutoFiling]:
    """The latest documents the system filed by itself, newest first, for the operator to look over."""
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "document.file", AuditEvent.actor_id.is_(None),
                                 AuditEvent.object_type == "document",
                                 AuditEvent.detail.contains(f'"how":"{AUTOFILE_HOW}"'))
        .order_by(AuditEvent.seq.desc()).limit(limit)).all()
    found = [(int(e.object_id or 0), e, d) for e in events if (d := _autofile_detail(e)) is not None]
    documents = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_([i for i, _, _ in found])))}
    return [AutoFiling(doc_id, documents.get(doc_id), str(d["customer_account"]), str(d["reference_code"]),
                       float(str(d["confidence"])), _evidence(d), e.occurred_at, _type_guess(d))
            for doc_id, e, d in found]
