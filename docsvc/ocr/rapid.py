"""RapidOCR (PP-OCRv4 models on onnxruntime): the default engine, far better on Chinese.

How it is tuned (detection input size, no per-line direction classifier, recognition one line at
a time, one onnxruntime thread per model) was chosen by the speed study in docs/benchmarks.md ("OCR speed study").
"""

from __future__ import annotations

import hashlib
import threading
from importlib.metadata import version
from pathlib import Path, PurePath

import rapidocr_onnxruntime
from PIL import Image
from rapidocr_onnxruntime import RapidOCR
from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess
from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
from rapidocr_onnxruntime.utils import read_yaml

from docsvc.constants import OCR_DETECTION_SIDE, OCR_DETECTION_SIDES, OCR_MAX_THREADS
from docsvc.ocr.interface import OcrResult, Word
from docsvc.ocr.layout import Box, group_characters, reading_text, split_word

MODELS_DIR = Path(rapidocr_onnxruntime.__file__).parent / "models"
# The model files shipped in the pinned rapidocr-onnxruntime wheel, as measured and tested here;
# tests/test_ocr_models.py fails when an upgrade or a damaged install changes one
# (docs/search.md "The OCR stack that produces the text, and its pins" says how to move a pin).
MODEL_SHA256 = {
    "ch_PP-OCRv4_det_infer.onnx": "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    "ch_PP-OCRv4_rec_infer.onnx": "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
    "ch_ppocr_mobile_v2.0_cls_infer.onnx": "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
}
MODELS = "PP-OCRv4"


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self, detection_side: int = OCR_DETECTION_SIDE, threads: int = 1) -> None:
        # detection_side is the long side, in pixels, of the copy of the page the detection model
        # looks at. The library's own rule (short side at least 736, after capping the page at
        # 2000) hands it 1414×2000 for an A4 page, which made detection the costliest step.
        # Recognition still reads the line crops from the page at up to 2000 px.
        low, high = OCR_DETECTION_SIDES
        if not low <= detection_side <= high or not 1 <= threads <= OCR_MAX_THREADS:
            raise ValueError(f"detection_side {detection_side} outside {OCR_DETECTION_SIDES} or threads {threads} "
                             f"outside 1..{OCR_MAX_THREADS}")
        self.detection_side = detection_side
        self.threads = threads
        # The reader: what produced a page's text, recorded on the page (the detection size changes
        # which lines are found, so it is part of it).
        self.version = f"rapidocr_onnxruntime {version('rapidocr_onnxruntime')} {MODELS} det{detection_side}"
        self.models = _models()
        self._local = threading.local()
        self._model()  # load now, in the thread that builds the engine (see get_engine)

    def recognise(self, image: Image.Image) -> OcrResult:
        """Read an upright page (docsvc.ocr.normalise turned it): every line is taken as upright."""
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
        # One model set per thread, each running onnxruntime on `threads` threads (1 by default):
        # parallel workers then each own a core instead of all of them fighting over every core.
        # Building one costs a fraction of a second, so it is kept for the thread's life.
        model = getattr(self._local, "model", None)
        if model is None:
            # Line crops are recognised one at a time: a batch is padded to its widest crop, and a
            # page's lines vary so much in length that padding cost more than batching saved.
            model = self._local.model = RapidOCR(intra_op_num_threads=self.threads, inter_op_num_threads=1,
                                                 rec_batch_num=1)
            detector = model.text_det
            side = self.detection_side
            # TextDetector ignores limit_side_len unless limit_type is "min" (then it only enlarges),
            # so its choice of preprocessing is replaced by one that shrinks the long side to `side`.
            detector.get_preprocess = lambda _long_side: DetPreProcess(side, "max", detector.mean, detector.std)
        return model


def _models() -> str:
    """The model files RapidOCR() loads by default (the page reader records them), e.g.
    "ch_PP-OCRv4_det_infer+ch_ppocr_mobile_v2.0_cls_infer+ch_PP-OCRv4_rec_infer"."""
    config = read_yaml(DEFAULT_CFG_PATH)
    return "+".join(PurePath(config[part]["model_path"]).stem for part in ("Det", "Cls", "Rec"))


def model_digests(folder: Path = MODELS_DIR) -> dict[str, str]:
    """SHA-256 of each model file in `folder` (the installed package's models), by file name."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.glob("*.onnx"))}


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
