"""Downloads both the web pages and the API answer with: a file streamed from a temporary file, and the
incomplete-files report as CSV or XLSX."""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from flask import Response, g, stream_with_context

from docsvc.files import completeness, filepdf
from docsvc.formats import safe_filename
from docsvc.http.context import client_ip, db, runtime
from docsvc.http.objects import CHUNK, attachment


def stream_file(out: BinaryIO, mimetype: str, disposition: str) -> Response:
    """Stream `out` from its start and close it when the response is done (or abandoned)."""
    size = out.tell()
    out.seek(0)

    def chunks() -> Iterator[bytes]:
        with out:
            while block := out.read(CHUNK):
                yield block

    response = Response(chunks(), mimetype=mimetype)
    response.call_on_close(out.close)
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = disposition
    return response


def csv_download(lines: Iterator[str], filename: str) -> Response:
    """CSV rows streamed as they are read (an audit export may hold millions)."""
    response = Response(stream_with_context(lines), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response


def csv_attachment(data: bytes, filename: str) -> Response:
    """A CSV made whole in memory (docsvc.exports) as a download."""
    return Response(data, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"})


def completeness_export(lists: list[completeness.Checklist], fmt: str | None) -> Response | None:
    """The incomplete-files report as a CSV or XLSX download, or None for other formats."""
    if fmt == "csv":
        return csv_attachment(completeness.report_csv(lists), "incomplete-files.csv")
    if fmt == "xlsx":
        return Response(completeness.report_xlsx(lists),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": "attachment; filename=incomplete-files.xlsx"})
    return None


def customer_file_pdf(account: str) -> Response:
    """The customer file as one PDF (docsvc.files.filepdf.export_file), for the web page and the API.

    Built in a nameless temporary file (gone when closed, whatever happens) before the export is
    audited, then streamed from it."""
    cache = runtime().settings.cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    out = tempfile.TemporaryFile(dir=cache)
    try:
        export = filepdf.export_file(db(), runtime().store, g.user, account, out,
                                     ocr_dpi=runtime().settings.ocr_dpi, ip=client_ip())
    except BaseException:
        out.close()
        raise
    customer = export.customer
    return stream_file(out, "application/pdf",
                       attachment(filepdf.download_name(customer), safe_filename(f"{customer.account}-file.pdf")))
