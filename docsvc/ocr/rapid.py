"""RapidOCR (PP-OCRv4 models on onnxruntime): the default engine, far better on Chinese."""

from __future__ import annotations

import threading
from importlib.metadata import version
from pathlib import PurePath

from PIL import Image
from rapidocr_onnxruntime import RapidOCR
from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
from rapidocr_onnxruntime.utils import read_yaml

from docsvc.ocr.interface import OcrResult, Word
from docsvc.ocr.layout import Box, group_characters, reading_text, split_word


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self) -> None:
        self.version = f"rapidocr_onnxruntime {version('rapidocr_onnxruntime')}"
        self.models = _models()
        self._local = threading.local()
        self._model()  # load now, in the thread that builds the engine (see get_engine)

    def recognise(self, image: Image.Image) -> OcrResult:
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB" if image.mode in ("P", "RGBA", "CMYK", "YCbCr") else "L")
        # The page comes upright from the orientation step, which votes RapidOCR's direction
        # classifier over a dozen lines; line by line that small model takes long upright lines
        # for upside-down ones (linn.png's second line at 0.98), which then read as garbage and
        # fall under the score threshold: the line is lost. So lines are read as they stand.
        segments, _ = self._model()(image, use_cls=False, return_word_box=True)
        pieces = [_segment_words(segment) for segment in segments or []]
        text, words = reading_text(pieces)
        confidence = sum(w.confidence for w in words) / len(words) if words else None
        return OcrResult(text, words, confidence, self.name, self.version, self.models, pieces)

    def _model(self) -> RapidOCR:
        # One model set per thread, each running onnxruntime on a single thread: parallel
        # workers then each own a core instead of all of them fighting over every core.
        # Building one costs a fraction of a second, so it is kept for the thread's life.
        model = getattr(self._local, "model", None)
        if model is None:
            model = self._local.model = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
        return model


def _models() -> str:
    """The model files RapidOCR() loads by default (the page reader records them), e.g.
    "ch_PP-OCRv4_det_infer+ch_ppocr_mobile_v2.0_cls_infer+ch_PP-OCRv4_rec_infer"."""
    config = read_yaml(DEFAULT_CFG_PATH)
    return "+".join(PurePath(config[part]["model_path"]).stem for part in ("Det", "Cls", "Rec"))


def _segment_words(segment: list) -> list[Word]:
    """Words of one detected text segment: [polygon, text, score, char polygons, chars, char scores]."""
    polygon, text, score = segment[0], segment[1], float(segment[2])
    if len(segment) >= 6 and len(segment[3]) == len(segment[4]) == len(segment[5]) > 0:
        # A character lies inside the segment the detector found; RapidOCR's mapping of word boxes
        # back onto the page can overshoot it, so each box is clipped to the segment's bounds.
        outline = _bounds(polygon)
        return group_characters(
            (char, _clip(_bounds(points), outline), float(conf)) for points, char, conf in zip(*segment[3:6])
        )
    # Without one box per character (vertical segments), share the segment's box out.
    return split_word(text, _bounds(polygon), score)


def _bounds(points: list[list[float]]) -> Box:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys))


def _clip(box: Box, outline: Box) -> Box:
    x0, y0 = max(box[0], outline[0]), max(box[1], outline[1])
    return x0, y0, max(x0, min(box[2], outline[2])), max(y0, min(box[3], outline[3]))
