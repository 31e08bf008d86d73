"""The frozen OCR stack: the installed packages are the pinned ones and ship the models measured.

rapidocr-onnxruntime 1.4.4 is that package's last release; its PP-OCRv4 model files are what the
accuracy and speed figures in docs/benchmarks.md were measured with. A reinstall from another
mirror, a damaged wheel or a moved pin must show here, not as quietly different text.
"""
from __future__ import annotations

import re
import shutil
from importlib.metadata import version
from pathlib import Path

from docsvc.ocr.rapid import MODEL_SHA256, MODELS_DIR, RapidOcrEngine, model_digests

ROOT = Path(__file__).resolve().parent.parent


def _pins() -> dict[str, str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return dict(re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', text))


def test_the_ocr_packages_are_pinned_exactly_and_installed_at_the_pins() -> None:
    pins = _pins()
    assert pins.get("rapidocr-onnxruntime") == "1.4.4" and pins.get("onnxruntime"), pins
    assert version("rapidocr-onnxruntime") == pins["rapidocr-onnxruntime"]
    assert version("onnxruntime") == pins["onnxruntime"]


def test_the_bundled_model_files_are_the_expected_ones() -> None:
    assert model_digests() == MODEL_SHA256


def test_a_changed_model_file_is_noticed(tmp_path: Path) -> None:
    for name in MODEL_SHA256:
        shutil.copyfile(MODELS_DIR / name, tmp_path / name)
    assert model_digests(tmp_path) == MODEL_SHA256
    damaged = tmp_path / "ch_PP-OCRv4_rec_infer.onnx"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert model_digests(tmp_path) != MODEL_SHA256


def test_the_reader_names_the_models_and_the_detection_size() -> None:
    engine = RapidOcrEngine(detection_side=1280)
    assert engine.version == "rapidocr_onnxruntime 1.4.4 PP-OCRv4 det1280"
    assert len(engine.version) <= 80  # pages.engine_version
