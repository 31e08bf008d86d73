"""What a PDF the service wrote says, page by page (its text layer, read with pypdfium2)."""
from __future__ import annotations

import re


def page_texts(data: bytes) -> list[str]:
    """Each page's text with its runs of white space (line breaks included) folded to one space."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return [re.sub(r"\s+", " ", pdf[i].get_textpage().get_text_range()) for i in range(len(pdf))]
    finally:
        pdf.close()


def pdf_text(data: bytes) -> str:
    return " ".join(page_texts(data))
