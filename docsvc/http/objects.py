"""Object bytes go out through here only: after the access check, streamed from the store."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response

from docsvc.errors import NotFound
from docsvc.http.context import runtime
from docsvc.i18n import _

CHUNK = 256 * 1024


def send_object(key: str, mimetype: str, download_name: str | None = None) -> Response:
    store = runtime().store
    info = store.head(key)
    if info is None:
        raise NotFound(_("The stored object is missing."))

    def chunks():  # type: ignore[no-untyped-def]
        with store.open(key) as stream:
            while block := stream.read(CHUNK):
                yield block

    response = Response(chunks(), mimetype=mimetype)
    response.headers["Content-Length"] = str(info.size)
    response.headers["Cache-Control"] = "private, max-age=300"
    if download_name:
        response.headers["Content-Disposition"] = attachment(download_name)
    return response


def attachment(name: str, ascii_name: str | None = None) -> str:
    """Content-Disposition for a download named `name` (RFC 6266: UTF-8 for Chinese names), with a
    plain ASCII name first for clients that read only that."""
    plain = f'filename="{ascii_name}"; ' if ascii_name and ascii_name.isascii() and '"' not in ascii_name else ""
    return f"attachment; {plain}filename*=UTF-8''{quote(name, safe='')}"
