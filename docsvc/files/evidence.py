"""What a suggestion or a type guess rests on, in words: read now in the reader's language, and kept in
the audit trail (an automatic filing's basis) so that each later reader sees it in theirs."""
from __future__ import annotations

from docsvc.i18n import shown


class Evidence(str):
    """One piece of evidence as the reader reads it now; `kept` is its language-neutral form
    (`i18n.stored`), which the audit trail keeps. A str, so pages, the API and JSON take it as text."""
    kept: str

    def __new__(cls, kept: str) -> Evidence:
        self = super().__new__(cls, shown(kept))
        self.kept = kept
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Evidence:
        return self  # unchangeable like any str (dataclasses.asdict copies a suggestion's reasons)


def kept(evidence: list[str]) -> list[str]:
    """The pieces as the audit trail keeps them."""
    return [e.kept if isinstance(e, Evidence) else e for e in evidence]
