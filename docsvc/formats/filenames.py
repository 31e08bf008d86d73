"""Display names for uploads: what the browser or scanner said the file was called.

The name is only ever shown and stored as text; files are stored under their
SHA-256, so the point here is a name that cannot smuggle a path, a control
character or a right-to-left override into pages, logs and downloads.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_CHARS = 160
MAX_SUFFIX_CHARS = 16
UNNAMED = "unnamed"


def safe_filename(name: str | bytes) -> str:
    if isinstance(name, bytes):
        name = _decode(name)
    elif any("\udc80" <= c <= "\udcff" for c in name):
        # A name from the file system in a non-UTF-8 encoding (a GBK share) arrives with its
        # undecodable bytes escaped as surrogates: get the bytes back and decode them properly.
        name = _decode(name.encode("utf-8", "surrogateescape"))
    name = unicodedata.normalize("NFC", name)  # macOS sends decomposed names
    # Both separators: uploads from Windows carry C:\scans\合同.pdf.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: NUL and the other controls; Cf: invisible format characters such as
    # U+202E, which makes "合同\u202efdp.exe" display as "合同exe.pdf".
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf"))
    name = " ".join(name.split()).strip(". ")
    return _shorten(name) or UNNAMED


_NOT_NAME = re.compile(r"[^\w\-·]+")


def name_part(text: str, max_chars: int = 60) -> str:
    """One part of a name the service builds (a 档号, a type code in a ZIP entry): letters, digits, "-",
    "·" and "_" only, so no part can carry "..", "/" or "\\" into the path it becomes."""
    return _NOT_NAME.sub("_", unicodedata.normalize("NFC", text)).strip("_")[:max_chars] or "_"


def _decode(raw: bytes) -> str:
    # Chinese Windows sends names in GBK (a subset of GB 18030).
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return raw.decode("utf-8", errors="replace")


def _shorten(name: str) -> str:
    if len(name) <= MAX_NAME_CHARS:
        return name
    stem, dot, suffix = name.rpartition(".")
    if dot and stem and len(suffix) <= MAX_SUFFIX_CHARS:
        return stem[: MAX_NAME_CHARS - len(suffix) - 1].rstrip(". ") + "." + suffix
    return name[:MAX_NAME_CHARS]
