"""Snippets with <mark> hit markers, cut from the stored (normalised) page text."""

from __future__ import annotations

import html
import re

from docsvc.i18n import lazy_gettext as _l

SNIPPET_CHARS = 120
LEAD_CHARS = 30            # context kept before the first hit
# Shown in the reader's language: str() them where they are used.
MASKED_SNIPPET = _l("(text hidden: sensitive page or no loan)")
MASKED_TITLE = _l("(sensitive document)")
_WS = re.compile(r"\s+")


def _esc(text: str) -> str:
    return html.escape(_WS.sub(" ", text), quote=False)


def make_snippet(text: str, pattern: re.Pattern | None) -> tuple[str, list[str]]:
    """(snippet HTML, distinct matched strings on the whole page).

    The window starts shortly before the first hit; without hits (a metadata-only match or a
    pure filter query) it is the start of the page.
    """
    matches = list(pattern.finditer(text)) if pattern is not None else []
    matches = [m for m in matches if m.end() > m.start()]
    highlights = list(dict.fromkeys(m.group(0) for m in matches))
    start = max(0, matches[0].start() - LEAD_CHARS) if matches else 0
    end = min(len(text), start + SNIPPET_CHARS)
    out: list[str] = ["…"] if start > 0 else []
    cursor = start
    for m in matches:
        if m.start() < cursor:
            continue
        if m.start() >= end:
            break
        out.append(_esc(text[cursor:m.start()]))
        out.append(f"<mark>{_esc(m.group(0))}</mark>")
        cursor = m.end()
    out.append(_esc(text[cursor:max(end, cursor)]))
    if max(end, cursor) < len(text):
        out.append("…")
    return "".join(out).strip(), highlights
