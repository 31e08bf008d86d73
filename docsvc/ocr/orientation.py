"""Page orientation and skew, found cheaply so they cost little next to recognition.

Tesseract's OSD (`--psm 0`) was measured at 0.8-1 s per A4 page even on a page shrunk to a
third, mostly spent classifying characters; that alone would cost a fifth of a RapidOCR page.
So the everyday work is split, and OSD is kept for the pages where the two cheap signals
below are unsure:
- Which way the text lines run (0/180 versus 90/270) and their small skew come from one
  projection-profile search on a shrunken ink mask: lines make the profile spiky only when
  projected along them.
- Upright versus upside down comes from RapidOCR's text-line direction classifier (a small
  model RapidOCR ships), run on a dozen line crops of the straightened page, table rules
  taken out of the way first.
Together that is 30-80 ms of one core per A4 page at 300 dpi, plus about 0.1 s when a skewed
page has to be rotated. Pages written in vertical columns would be taken for turned pages;
customer-file forms are written across.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass

import cv2
import numpy as np
import pytesseract
from PIL import Image
from rapidocr_onnxruntime.ch_ppocr_cls import TextClassifier
from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
from rapidocr_onnxruntime.utils import read_yaml, update_model_path

# Long side of the shrunken copy the analysis runs on: text lines of a 300 dpi page stay
# about 12 px high, enough to tell lines from gaps.
_ANALYSIS_LONG_SIDE = 1000
_MAX_SKEW = 6.0
_COARSE_STEP = 0.5
_FINE_STEP = 0.1
# Below this much skew, rotating a 300 dpi page would blur it for no gain.
_MIN_CORRECTED_SKEW = 0.1
_MIN_INK_PIXELS = 500
_MAX_INK_PIXELS = 120_000
_CLASSIFIED_LINES = 12
# Doubt thresholds: line profiles this close both ways, or a direction vote this split, ask OSD.
_AXIS_DOUBT = 0.9
_VOTE_DOUBT = 0.3
_OSD_LONG_SIDE = 1750
_OSD_MIN_CONFIDENCE = 2.0
_OSD_TIMEOUT_S = 60
_CLOCKWISE = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}


@dataclass(frozen=True)
class Normalised:
    # Upright and straightened, white-filled. Bitonal pages stay bitonal ("1") and colour pages
    # stay colour ("RGB": red seals and headers matter to archivists); others become "L".
    image: Image.Image
    rotation: int  # degrees turned clockwise to stand the page upright
    skew: float  # degrees of counter-clockwise skew that were removed


def detect_rotation(image: Image.Image) -> int:
    """Degrees (0, 90, 180, 270) to turn the page clockwise to make it upright; 0 when unclear.

    This does the same work as normalise(); call that when the upright page is wanted too.
    """
    return normalise(image).rotation


def deskew_angle(image: Image.Image) -> float:
    """Counter-clockwise skew of the text lines of an upright (or upside-down) page, in degrees.

    Rotating the page by minus this angle (PIL's `Image.rotate(-angle)`) straightens it.
    Returns 0.0 for pages without enough ink to measure.
    """
    small, _ = _shrink(_working_copy(image))
    ink = _ink_coordinates(small)
    if ink is None:
        return 0.0
    return _best_skew(*ink)[0]


def normalise(image: Image.Image) -> Normalised:
    """Turn the page upright and straighten it.

    When the cheap signals are unsure — lines about as strong both ways, or the direction
    classifier split — tesseract's OSD (through pytesseract) gives the second opinion.
    """
    page = _working_copy(image)
    small, factor = _shrink(page)
    ink = _ink_coordinates(small)
    if ink is None:
        return Normalised(_with_dpi(page, image), 0, 0.0)
    ys, xs = ink
    skew, across_score = _best_skew(ys, xs)
    turned_skew, along_score = _best_skew(xs, ys)
    rotation = 0
    if along_score > across_score:
        # Lines run down the page: turn it a quarter clockwise so they run across.
        rotation = 90
        page = page.transpose(Image.Transpose.ROTATE_270)
        small = small.transpose(Image.Transpose.ROTATE_270)
        skew = -turned_skew
    page, small, skew = _straighten(page, small, skew)
    vote = _upside_down_vote(page, small, factor)
    if vote > 0:
        rotation += 180
        page = page.transpose(Image.Transpose.ROTATE_180)
    axis_doubt = min(across_score, along_score) / max(across_score, along_score) > _AXIS_DOUBT
    if axis_doubt or abs(vote) < _VOTE_DOUBT:
        second = osd_rotation(image)
        if second is not None and second != rotation:
            return _turned_by(image, second)
    return Normalised(_with_dpi(page, image), rotation, skew)


def _straighten(page: Image.Image, small: Image.Image, skew: float) -> tuple[Image.Image, Image.Image, float]:
    if abs(skew) < _MIN_CORRECTED_SKEW:
        return page, small, 0.0
    return (_rotate_slightly(page, -skew),
            small.rotate(-skew, resample=Image.Resampling.BILINEAR, fillcolor=255), skew)


def reapply(image: Image.Image, rotation: int, skew: float | None) -> Image.Image:
    """The page as normalise() left it, from the turn and skew it recorded (no detection): a restore
    regenerates a page image whose stored word boxes still fit it."""
    # In normalise()'s order: the quarter turn, the straightening, then the half turn. (A page OSD turned
    # was straightened after its whole turn; redrawn this way it differs by sub-pixel shading only.)
    page = _working_copy(image)
    quarter = rotation % 180
    if quarter:
        page = page.transpose(_CLOCKWISE[quarter])
    if skew and abs(skew) >= _MIN_CORRECTED_SKEW:
        page = _rotate_slightly(page, -skew)
    if rotation % 360 >= 180:
        page = page.transpose(Image.Transpose.ROTATE_180)
    return _with_dpi(page, image)


def _turned_by(image: Image.Image, rotation: int) -> Normalised:
    """The page turned `rotation` degrees clockwise, then straightened."""
    page = _working_copy(image)
    if rotation:
        page = page.transpose(_CLOCKWISE[rotation])
    small, _ = _shrink(page)
    ink = _ink_coordinates(small)
    skew = _best_skew(*ink)[0] if ink is not None else 0.0
    page, _, skew = _straighten(page, small, skew)
    return Normalised(_with_dpi(page, image), rotation, skew)


def osd_rotation(image: Image.Image) -> int | None:
    """Tesseract OSD's verdict (degrees clockwise to upright), or None when it cannot tell.

    About a second of CPU per page, so only asked when the cheap signals disagree.
    """
    small = _working_copy(image).convert("L")
    factor = max(1, round(max(small.size) / _OSD_LONG_SIDE))
    small = small.reduce(factor) if factor > 1 else small
    dpi = round(image.info.get("dpi", (300,))[0] / factor) or 150
    with tempfile.NamedTemporaryFile(suffix=".bmp") as file:
        small.save(file, "BMP")
        file.flush()
        try:
            osd = pytesseract.image_to_osd(file.name, config=f"--psm 0 --dpi {dpi}",
                                           output_type=pytesseract.Output.DICT, timeout=_OSD_TIMEOUT_S)
        except (pytesseract.TesseractError, RuntimeError):
            return None  # too little text for OSD: keep the cheap verdict
    if float(osd.get("orientation_conf", 0)) < _OSD_MIN_CONFIDENCE:
        return None
    return int(osd["rotate"]) % 360


def _working_copy(image: Image.Image) -> Image.Image:
    if image.mode in ("1", "L", "RGB"):
        return image
    return image.convert("RGB" if image.mode in ("P", "RGBA", "CMYK", "YCbCr", "LAB", "HSV") else "L")


def _with_dpi(page: Image.Image, original: Image.Image) -> Image.Image:
    # Engines size their models by resolution; transposed and rotated copies lose the info.
    if "dpi" in original.info:
        page.info["dpi"] = original.info["dpi"]
    return page


def _shrink(page: Image.Image) -> tuple[Image.Image, int]:
    """A small greyscale copy for analysis, and the factor it was shrunk by."""
    factor = max(1, round(max(page.size) / _ANALYSIS_LONG_SIDE))
    source = page.convert("L") if page.mode == "1" else page
    small = source.reduce(factor) if factor > 1 else source
    return (small if small.mode == "L" else small.convert("L")), factor


def _rotate_slightly(page: Image.Image, degrees: float) -> Image.Image:
    """Rotate counter-clockwise about the centre, white-filled; OpenCV does it 5x faster than PIL."""
    pixels = np.asarray(page.convert("L") if page.mode == "1" else page)
    height, width = pixels.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    white = (255, 255, 255) if pixels.ndim == 3 else 255
    turned = cv2.warpAffine(pixels, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=white)
    result = Image.fromarray(turned)
    return result.point(lambda v: 255 if v >= 128 else 0).convert("1") if page.mode == "1" else result


def _ink_mask(small: Image.Image) -> np.ndarray:
    pixels = np.asarray(small)
    return pixels < _otsu_threshold(pixels)


def _otsu_threshold(pixels: np.ndarray) -> int:
    histogram = np.bincount(pixels.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    weight_dark = np.cumsum(histogram)
    weight_light = weight_dark[-1] - weight_dark
    sum_dark = np.cumsum(histogram * levels)
    mean_dark = sum_dark / np.maximum(weight_dark, 1)
    mean_light = (sum_dark[-1] - sum_dark) / np.maximum(weight_light, 1)
    between = weight_dark * weight_light * (mean_dark - mean_light) ** 2
    return int(np.argmax(between)) + 1


def _ink_coordinates(small: Image.Image) -> tuple[np.ndarray, np.ndarray] | None:
    mask = _ink_mask(small)
    ys, xs = np.nonzero(mask)
    if len(ys) < _MIN_INK_PIXELS or len(ys) > mask.size * 0.5:
        return None  # blank page, or a photo/solid area with no text lines to measure
    if len(ys) > _MAX_INK_PIXELS:
        keep = np.random.default_rng(0).choice(len(ys), _MAX_INK_PIXELS, replace=False)
        ys, xs = ys[keep], xs[keep]
    return ys.astype(np.float64), xs.astype(np.float64)


def _profile_sharpness(ys: np.ndarray, xs: np.ndarray, degrees: float) -> float:
    # A line turned counter-clockwise by `degrees` keeps y + x·tan(degrees) constant.
    projected = ys + xs * np.tan(np.radians(degrees))
    bins = np.bincount((projected - projected.min()).astype(np.int64))
    return float(np.dot(bins, bins))


def _best_skew(ys: np.ndarray, xs: np.ndarray) -> tuple[float, float]:
    """The skew making the profile across y sharpest, and that sharpness (comparable between axes)."""
    def search(angles: np.ndarray) -> tuple[float, float]:
        scores = [_profile_sharpness(ys, xs, a) for a in angles]
        best = int(np.argmax(scores))
        return float(angles[best]), scores[best]

    coarse, _ = search(np.arange(-_MAX_SKEW, _MAX_SKEW + 1e-9, _COARSE_STEP))
    fine, score = search(np.arange(coarse - _COARSE_STEP, coarse + _COARSE_STEP + 1e-9, _FINE_STEP))
    return round(fine, 2) + 0.0, score  # + 0.0 turns -0.0 into 0.0


def _upside_down_vote(page: Image.Image, small: Image.Image, factor: int) -> float:
    """Above 0: upside down; the size says how sure (−1 … 1); 0 when there are no lines to judge."""
    crops = _line_crops(page, small, factor)
    if not crops:
        return 0.0
    _, labels, _ = _direction_classifier()(crops)
    votes = sum(score if label == "180" else -score for label, score in labels)
    return votes / len(labels)


def _line_crops(page: Image.Image, small: Image.Image, factor: int) -> list[np.ndarray]:
    """Pieces of the page's text lines, about four line-heights wide, as the classifier expects."""
    mask = _ink_mask(small)
    mask &= ~_ruled_lines(mask)
    rows = mask.sum(axis=1) > max(2, mask.shape[1] // 200)
    bands = _runs(rows)
    if not bands:
        return []
    heights = np.array([end - start for start, end in bands])
    typical = float(np.median(heights))
    bands = [b for b, h in zip(bands, heights) if typical * 0.5 <= h <= typical * 2 and h >= 4]
    step = max(1, len(bands) // _CLASSIFIED_LINES)
    crops = []
    for start, end in bands[::step][:_CLASSIFIED_LINES]:
        columns = np.nonzero(mask[start:end].any(axis=0))[0]
        x0 = int(columns[0])
        x1 = min(int(columns[-1]) + 1, x0 + 4 * (end - start))
        pad = max(1, (end - start) // 4)
        top, bottom = max(0, start - pad) * factor, min(mask.shape[0], end + pad) * factor
        crop = page.crop((x0 * factor, top, x1 * factor, bottom)).convert("RGB")
        crops.append(np.asarray(crop)[:, :, ::-1])  # the classifier was trained on BGR
    return crops


def _ruled_lines(mask: np.ndarray) -> np.ndarray:
    """Table rules and frames: ink runs far longer than any character, across or down the page.

    A rule left slightly slanted steps between neighbouring pixel rows, so the mask is first
    thickened across the rule's direction to make the steps one unbroken run.
    """
    ink = mask.astype(np.uint8)
    length = max(15, min(mask.shape) // 15)
    rules = np.zeros_like(ink)
    for run, thicken in (((1, length), (3, 1)), ((length, 1), (1, 3))):
        thick = cv2.dilate(ink, np.ones(thicken, np.uint8))
        rules |= cv2.dilate(cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones(run, np.uint8)),
                            np.ones(thicken, np.uint8))
    return rules.astype(bool)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist()))


_local = threading.local()


def load_models() -> None:
    """Load the direction model for this thread now instead of on the first page.

    Workers that fork a process per job then hand it to every job already loaded.
    """
    _direction_classifier()


def _direction_classifier() -> TextClassifier:
    # One per thread: onnxruntime sessions built for one thread each keep parallel workers
    # from fighting over cores.
    classifier = getattr(_local, "classifier", None)
    if classifier is None:
        config = update_model_path(read_yaml(DEFAULT_CFG_PATH))["Cls"]
        config.update(intra_op_num_threads=1, inter_op_num_threads=1)
        classifier = _local.classifier = TextClassifier(config)
    return classifier
