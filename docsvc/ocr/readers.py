"""Who read a page: the one place a page's reader (engine, models, layout version) is named.

Every page records its reader beside its text, so pages read by an older reader can be found and
read again (`docsvc reread`, docsvc.pipeline.reread). NULL on a page read before readers were
recorded (migration 0009) means "an older, unknown reader".
"""
from __future__ import annotations

from importlib.metadata import version

from docsvc.ocr.layout import LAYOUT_VERSION


def ocr_reader(engine_version: str, models: str, layout_version: int = LAYOUT_VERSION) -> str:
    """e.g. "rapidocr_onnxruntime 1.4.4 / ch_PP-OCRv4_det_infer+ch_ppocr_mobile_v2.0_cls_infer+ch_PP-OCRv4_rec_infer
    / layout 1"."""
    return f"{engine_version} / {models} / layout {layout_version}"


def text_layer_reader() -> str:
    """A PDF's own text layer, read and laid out by docsvc.formats.pdf_text (not by the OCR layout, so
    such a page has no layout version and `--before` never selects it once its reader is recorded)."""
    return f"pdf-text pypdfium2 {version('pypdfium2')}"
