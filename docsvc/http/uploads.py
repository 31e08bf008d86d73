"""The files of an upload request, for the web page and the API alike."""
from __future__ import annotations

from flask import request
from werkzeug.datastructures import FileStorage

from docsvc.errors import DomainError
from docsvc.i18n import _


class UnreadableUpload(DomainError):
    pass


def uploaded_files() -> list[FileStorage]:
    files = [f for f in request.files.getlist("files") if f.filename]
    if files:
        return files
    if request.mimetype == "multipart/form-data" and (request.content_length or 0) > 0 and not request.form:
        # werkzeug drops a whole multipart body whose part headers are not UTF-8 (a GBK file name
        # from an old client): say so, rather than "no files".
        raise UnreadableUpload(_(
            "The upload could not be read: a file name is not UTF-8 (GBK, say), so nothing was received. Send the "
            "files again with UTF-8 names, or use `docsvc import` or the hot folder, which read GBK names."))
    raise UnreadableUpload(_("No files: choose some, or send them as multipart field `files`."))
