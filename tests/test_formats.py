"""Reading uploads: type from content, page counts, page images, PDF text layers, and refusals."""
from __future__ import annotations

import io
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pdfplumber
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw

from docsvc import i18n
from docsvc.formats import (
    ACCEPTED_TYPES,
    CorruptFile,
    EncryptedFile,
    FileInfo,
    FileProblem,
    TooLarge,
    UnsupportedFormat,
    inspect,
    render_page,
    safe_filename,
    sniff,
    text_layer,
)
from tests.testdata import make_text_pdf

CONTRACT = (
    "供用电合同  编号 GD-2019-004512\n"
    "户名：宏达机械制造有限公司          户号：3100012345\n"
    "第一条 本合同产权分界点位于10kV开关站出线侧。\n"
    "第二条 供电人应按照国家规定的电能质量标准向用电人供电。"
)


def in_english(problem: FileProblem) -> str:
    with i18n.using("en"):
        return problem.message


def assert_for_archivist(problem: FileProblem) -> None:
    """Kept untranslated, as the job stores it: Chinese by default, English for a reader of English."""
    chinese, english = problem.message, in_english(problem)
    assert problem.stored.startswith(i18n.STORED), problem.stored
    assert any("\u4e00" <= c <= "\u9fff" for c in chinese) and "请" in chinese, chinese
    assert english[:1].isupper() and not any("\u4e00" <= c <= "\u9fff" for c in english), english
    assert problem.permanent is True
    assert str(problem) == problem.message


def page_with_mark(number: int, size: tuple[int, int] = (400, 560), mode: str = "L") -> Image.Image:
    """A white page with a black block whose height tells the page number."""
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).rectangle((40, 40, 120, 40 + 30 * number), fill="black")
    return image.convert(mode)


def dark_rows(image: Image.Image) -> int:
    column = np.asarray(image.convert("L"))[:, 80]
    return int((column < 128).sum())


def write_tiff(path: Path, mode: str, compression: str, pages: int = 3, dpi: int = 200) -> Path:
    frames = [page_with_mark(n + 1, mode=mode) for n in range(pages)]
    frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:], compression=compression, dpi=(dpi, dpi))
    return path


def write_image_pdf(path: Path, pages: int = 2) -> Path:
    frames = [page_with_mark(n + 1, mode="RGB") for n in range(pages)]
    frames[0].save(path, "PDF", save_all=True, append_images=frames[1:], resolution=100)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# --- what a file is -------------------------------------------------------------------------


def test_type_is_decided_by_content_not_by_name(tmp_path: Path) -> None:
    png_named_pdf = tmp_path / "合同.pdf"
    page_with_mark(1).save(png_named_pdf, "PNG")
    pdf_named_jpg = tmp_path / "photo.jpg"
    make_text_pdf([CONTRACT], pdf_named_jpg)

    assert sniff(png_named_pdf) == "image/png"
    assert sniff(pdf_named_jpg) == "application/pdf"
    assert inspect(png_named_pdf) == FileInfo("image/png", 1)


def test_pdf_header_after_leading_junk_is_still_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "export.pdf"
    make_text_pdf([CONTRACT], path)
    path.write_bytes(b"\r\n\r\n" + path.read_bytes())
    assert sniff(path) == "application/pdf"


def test_empty_file_is_reported_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"")
    with pytest.raises(CorruptFile) as caught:
        inspect(path)
    assert "空文件" in caught.value.message and "Empty file" in in_english(caught.value)
    assert_for_archivist(caught.value)


@pytest.mark.parametrize(
    "content, named",
    [
        (bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8)), None),
        (b"PK\x03\x04" + b"\x00" * 100, ".docx"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100, "HEIC"),
        (b"GIF89a" + b"\x00" * 100, "GIF"),
    ],
)
def test_other_content_is_refused_naming_the_accepted_types(tmp_path: Path, content: bytes, named: str | None) -> None:
    path = tmp_path / "upload.pdf"
    path.write_bytes(content)
    with pytest.raises(UnsupportedFormat) as caught:
        inspect(path)
    for label in ACCEPTED_TYPES.values():
        assert label in caught.value.message
    if named:
        assert named in caught.value.message
    assert_for_archivist(caught.value)


# --- TIFF -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, compression",
    [("1", "group4"), ("L", "tiff_lzw"), ("RGB", "tiff_lzw"), ("L", "jpeg"), ("RGB", "jpeg"), ("1", "tiff_lzw")],
)
def test_multipage_tiff_pages_come_out_in_order(tmp_path: Path, mode: str, compression: str) -> None:
    path = write_tiff(tmp_path / "batch.tif", mode, compression)

    assert inspect(path) == FileInfo("image/tiff", 3)
    for index in range(3):
        page = render_page(path, "image/tiff", index)
        assert page.mode == mode  # bitonal stays bitonal, colour stays colour
        assert page.size == (400, 560)
        assert page.info["dpi"] == (200, 200)
        assert dark_rows(page) == pytest.approx(30 * (index + 1) + 1, abs=3)


def test_tiff_cut_short_is_reported_as_damaged(tmp_path: Path) -> None:
    path = write_tiff(tmp_path / "batch.tif", "L", "tiff_lzw", pages=3)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])

    with pytest.raises(CorruptFile) as caught:
        info = inspect(path)
        for index in range(info.page_count):
            render_page(path, "image/tiff", index)
    assert "TIFF" in caught.value.message
    assert_for_archivist(caught.value)


def test_tiff_whose_strips_run_past_the_end_is_caught_without_decoding(tmp_path: Path) -> None:
    path = tmp_path / "scan.tif"
    page_with_mark(1).save(path, "TIFF")  # uncompressed: header and directory first, pixels after
    data = path.read_bytes()
    with Image.open(path) as image:
        strip_end = image.tag_v2[273][0] + image.tag_v2[279][0]
    path.write_bytes(data[: strip_end - 1000] + data[strip_end:])

    with pytest.raises(CorruptFile, match="TIFF"):
        inspect(path)


def test_sixteen_bit_grey_tiff_keeps_its_contrast(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (64, 1))
    path = tmp_path / "grey16.tif"
    Image.fromarray(ramp).save(path, dpi=(400, 400))

    page = render_page(path, "image/tiff", 0)
    assert page.mode == "L"
    values = np.asarray(page)[0]
    assert values[0] == 0 and values[-1] == 255 and values[128] == pytest.approx(128, abs=2)
    assert page.info["dpi"] == (400, 400)


def test_page_index_outside_the_file_is_a_caller_error(tmp_path: Path) -> None:
    path = write_tiff(tmp_path / "batch.tif", "1", "group4", pages=2)
    with pytest.raises(IndexError):
        render_page(path, "image/tiff", 2)


# --- JPEG and PNG ---------------------------------------------------------------------------


def test_phone_photo_is_turned_upright_by_its_exif_orientation(tmp_path: Path) -> None:
    stored = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(stored).rectangle((0, 0, 50, 50), fill="black")  # top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show the picture turned 90° clockwise
    path = tmp_path / "IMG_0001.jpg"
    stored.save(path, "JPEG", exif=exif.tobytes(), quality=95)

    page = render_page(path, "image/jpeg", 0)
    assert page.size == (200, 300)
    grey = np.asarray(page.convert("L"))
    assert grey[10, 190] < 60  # now top-right
    assert grey[10, 10] > 200


def test_image_resolution_is_used_when_plausible_else_300(tmp_path: Path) -> None:
    scanned, phone, bare = tmp_path / "scan.jpg", tmp_path / "phone.jpg", tmp_path / "bare.png"
    page_with_mark(1).save(scanned, "JPEG", dpi=(200, 200))
    page_with_mark(1).save(phone, "JPEG", dpi=(72, 72))
    page_with_mark(1).save(bare, "PNG")

    assert render_page(scanned, "image/jpeg", 0).info["dpi"] == (200, 200)
    assert render_page(phone, "image/jpeg", 0).info["dpi"] == (300, 300)
    assert render_page(bare, "image/png", 0).info["dpi"] == (300, 300)


def test_png_with_transparency_lies_on_white_paper(tmp_path: Path) -> None:
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((10, 10, 30, 30), fill=(200, 0, 0, 255))
    path = tmp_path / "seal.png"
    image.save(path, dpi=(300, 300))

    page = render_page(path, "image/png", 0)
    assert page.mode == "RGB" and page.info["dpi"] == (300, 300)
    assert page.getpixel((80, 80)) == (255, 255, 255)
    assert page.getpixel((20, 20)) == (200, 0, 0)


def test_truncated_jpeg_is_reported_as_damaged(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    Image.effect_noise((800, 600), 60).convert("RGB").save(path, "JPEG", quality=90)
    path.write_bytes(path.read_bytes()[:20_000])

    assert inspect(path).page_count == 1  # the header is whole
    with pytest.raises(CorruptFile) as caught:
        render_page(path, "image/jpeg", 0)
    assert "JPEG" in caught.value.message
    assert_for_archivist(caught.value)


def test_png_claiming_ten_billion_pixels_is_refused_before_decoding(tmp_path: Path) -> None:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)  # 8-bit grey
    idat = zlib.compress(b"\x00" * 1000)
    path = tmp_path / "bomb.png"
    chunks = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)

    assert sniff(path) == "image/png"
    with pytest.raises(TooLarge) as caught:
        inspect(path)
    assert_for_archivist(caught.value)
    with pytest.raises(TooLarge):
        render_page(path, "image/png", 0)


def test_pixel_limit_is_ours_not_only_pillows(tmp_path: Path) -> None:
    path = write_tiff(tmp_path / "batch.tif", "L", "tiff_lzw", pages=2)
    with pytest.raises(TooLarge) as caught:
        inspect(path, max_pixels=100_000)
    assert "400×560" in caught.value.message
    with pytest.raises(TooLarge):
        render_page(path, "image/tiff", 1, max_pixels=100_000)


# --- PDF ------------------------------------------------------------------------------------


def test_image_only_pdf_has_pages_but_no_text_layer(tmp_path: Path) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", pages=2)

    assert inspect(path) == FileInfo("application/pdf", 2)
    assert text_layer(path, 0) is None
    page = render_page(path, "application/pdf", 1, dpi=100)
    assert page.info["dpi"] == (100, 100)
    assert page.size[0] == 400 and page.size[1] == pytest.approx(560, abs=1)
    assert dark_rows(page) == pytest.approx(61, abs=3)


def test_text_pdf_gives_chinese_text_in_reading_order(tmp_path: Path) -> None:
    path = tmp_path / "contract.pdf"
    make_text_pdf([CONTRACT], path)

    layer = text_layer(path, 0)
    assert layer is not None
    assert layer.text.splitlines() == [
        "供用电合同编号 GD-2019-004512",
        "户名：宏达机械制造有限公司 户号：3100012345",
        "第一条本合同产权分界点位于10kV开关站出线侧。",
        "第二条供电人应按照国家规定的电能质量标准向用电人供电。",
    ]
    texts = [w.text for w in layer.words]
    assert "GD-2019-004512" in texts and "3100012345" in texts
    assert texts[:5] == ["供", "用", "电", "合", "同"]


def test_text_layer_boxes_agree_with_pdfplumber(tmp_path: Path) -> None:
    path = tmp_path / "contract.pdf"
    make_text_pdf([CONTRACT], path)

    layer = text_layer(path, 0)
    assert layer is not None
    with pdfplumber.open(path) as pdf:
        page = pdf.pages[0]
        theirs = {w["text"]: w for w in page.extract_words()}
        expected = theirs["GD-2019-004512"]
        width, height = page.width, page.height
    ours = next(w for w in layer.words if w.text == "GD-2019-004512")
    x0, y0, x1, y1 = ours.box
    assert x0 == pytest.approx(expected["x0"] / width, abs=0.003)
    assert x1 == pytest.approx(expected["x1"] / width, abs=0.003)
    assert (y0 + y1) / 2 == pytest.approx((expected["top"] + expected["bottom"]) / 2 / height, abs=0.005)


@pytest.mark.parametrize("rotation", [0, 90])
def test_word_boxes_lie_on_the_ink_of_the_rendered_page(tmp_path: Path, rotation: int) -> None:
    path = tmp_path / "contract.pdf"
    make_text_pdf([CONTRACT], path)
    if rotation:
        document = pdfium.PdfDocument(path)
        document[0].set_rotation(rotation)
        document.save(tmp_path / "rotated.pdf")
        document.close()
        path = tmp_path / "rotated.pdf"

    layer = text_layer(path, 0)
    page = render_page(path, "application/pdf", 0, dpi=100)
    assert layer is not None
    grey = np.asarray(page.convert("L"))
    height, width = grey.shape
    for word in layer.words[:40]:
        x0, y0, x1, y1 = word.box
        inside = grey[int(y0 * height) : int(y1 * height) + 1, int(x0 * width) : int(x1 * width) + 1]
        assert inside.min() < 100, word  # ink under every word
    assert grey[int(0.95 * height), int(0.5 * width)] > 250  # and paper elsewhere


def test_hidden_ocr_layer_and_page_numbers_do_not_count_as_text(tmp_path: Path) -> None:
    hidden, short = tmp_path / "hidden.pdf", tmp_path / "short.pdf"
    make_text_pdf([CONTRACT], hidden, invisible=True)
    make_text_pdf(["第 3 页"], short)

    assert text_layer(hidden, 0) is None
    assert text_layer(short, 0) is None


def test_text_painted_over_by_a_full_page_scan_does_not_count(tmp_path: Path) -> None:
    path = tmp_path / "contract.pdf"
    make_text_pdf([CONTRACT * 3], path)
    document = pdfium.PdfDocument(path)
    page = document[0]
    scan = pdfium.PdfImage.new(document)
    bitmap = pdfium.PdfBitmap.from_pil(page_with_mark(1, mode="RGB"))
    scan.set_bitmap(bitmap)
    width, height = page.get_size()
    scan.set_matrix(pdfium.PdfMatrix().scale(width, height))
    page.insert_obj(scan)
    page.gen_content()
    document.save(tmp_path / "sandwich.pdf")
    document.close()

    assert text_layer(path, 0) is not None
    assert text_layer(tmp_path / "sandwich.pdf", 0) is None


def test_text_layer_of_an_image_file_is_none(tmp_path: Path) -> None:
    path = write_tiff(tmp_path / "batch.tif", "1", "group4", pages=1)
    assert text_layer(path, 0) is None


def test_colour_pdf_page_stays_colour_and_black_text_page_is_grey(tmp_path: Path) -> None:
    text_pdf = tmp_path / "contract.pdf"
    make_text_pdf([CONTRACT], text_pdf)
    seal = page_with_mark(1, mode="RGB")
    ImageDraw.Draw(seal).ellipse((200, 300, 320, 420), outline=(220, 0, 0), width=6)
    seal_pdf = tmp_path / "seal.pdf"
    seal.save(seal_pdf, "PDF", resolution=100)

    assert render_page(text_pdf, "application/pdf", 0, dpi=100).mode == "L"
    assert render_page(seal_pdf, "application/pdf", 0, dpi=100).mode == "RGB"


def test_password_protected_pdf_says_so(tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    plain, locked, owner_only = tmp_path / "plain.pdf", tmp_path / "locked.pdf", tmp_path / "owner.pdf"
    make_text_pdf([CONTRACT], plain)
    for target, user_password in ((locked, "secret"), (owner_only, "")):
        writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(plain))
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
        writer.write(target)

    with pytest.raises(EncryptedFile) as caught:
        inspect(locked)
    assert "密码" in caught.value.message and "password" in in_english(caught.value)
    assert_for_archivist(caught.value)
    # Encrypted only against editing: anyone can open it, and so can we.
    assert inspect(owner_only).page_count == 1
    layer = text_layer(owner_only, 0)
    assert layer is not None and "产权分界点" in layer.text


@pytest.mark.parametrize("damage", ["garbage_body", "cut_in_half"])
def test_damaged_pdf_is_reported_or_read_never_crashes(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "export.pdf"
    if damage == "garbage_body":
        path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
        with pytest.raises(CorruptFile) as caught:
            inspect(path)
        assert "PDF" in caught.value.message
        assert_for_archivist(caught.value)
    else:
        make_text_pdf([CONTRACT] * 4, path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        try:
            info = inspect(path)  # pdfium may rebuild what is left
            for index in range(info.page_count):
                render_page(path, "application/pdf", index, dpi=50)
                text_layer(path, index)
        except CorruptFile as problem:
            assert_for_archivist(problem)


def test_five_thousand_page_pdf_is_counted_and_its_last_page_read(tmp_path: Path) -> None:
    path = tmp_path / "billing-export.pdf"
    make_text_pdf([f"电费结算单 第{n}页 户号3100012345" for n in range(1, 5001)], path)

    assert inspect(path) == FileInfo("application/pdf", 5000)
    layer = text_layer(path, 4999)
    assert layer is not None and "第5000页" in layer.text
    assert render_page(path, "application/pdf", 4999, dpi=30).size == pytest.approx((248, 351), abs=1)
    with pytest.raises(TooLarge) as caught:
        inspect(path, max_pages=4000)
    assert_for_archivist(caught.value)


def test_pdf_work_from_many_threads_at_once_is_safe(tmp_path: Path) -> None:
    path = tmp_path / "contract.pdf"
    make_text_pdf([CONTRACT] * 4, path)

    def read(index: int) -> str:
        render_page(path, "application/pdf", index % 4, dpi=40)
        layer = text_layer(path, index % 4)
        return layer.text if layer else ""

    with ThreadPoolExecutor(max_workers=6) as pool:
        texts = list(pool.map(read, range(24)))
    assert all("产权分界点" in text for text in texts)


def test_generated_text_pdf_reads_back_in_pdfplumber(tmp_path: Path) -> None:
    path = tmp_path / "contract.pdf"
    make_text_pdf([CONTRACT, "第二页：计量装置装拆表工作单 电能表号 3300112233"], path)
    with pdfplumber.open(path) as pdf:
        assert len(pdf.pages) == 2
        assert "产权分界点" in pdf.pages[0].extract_text()
        assert "电能表号" in pdf.pages[1].extract_text()


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\scans\\2019\\合同.pdf", "合同.pdf"),
        ("合同\x00.pdf", "合同.pdf"),
        ("扫描\x1b[31m件.tif", "扫描[31m件.tif"),
        ("合同\u202efdp.exe", "合同fdp.exe"),
        (b"\xff\xfe bad", "\ufffd\ufffd bad"),
        ("合同.pdf".encode("gbk"), "合同.pdf"),
        ("合同.pdf".encode(), "合同.pdf"),
        ("..", "unnamed"),
        ("", "unnamed"),
        (b"", "unnamed"),
        ("  /  ", "unnamed"),
    ],
)
def test_upload_names_are_made_safe_to_show(raw: str | bytes, shown: str) -> None:
    assert safe_filename(raw) == shown


def test_long_upload_names_are_cut_keeping_the_extension() -> None:
    name = safe_filename("客户档案" * 100 + ".tiff")
    assert len(name) == 160 and name.startswith("客户档案客户档案") and name.endswith(".tiff")


def test_io_error_is_not_mistaken_for_a_damaged_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        inspect(tmp_path / "missing.pdf")


def test_render_refuses_a_type_it_does_not_read(tmp_path: Path) -> None:
    path = tmp_path / "x.gif"
    Image.new("L", (10, 10)).save(path, "GIF")
    with pytest.raises(UnsupportedFormat):
        render_page(path, "image/gif", 0)


def test_bytes_in_memory_round_trip_through_png(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    page_with_mark(2, mode="1").save(buffer, "PNG")
    path = tmp_path / "bitonal.png"
    path.write_bytes(buffer.getvalue())
    page = render_page(path, sniff(path), 0)
    assert page.mode == "1" and dark_rows(page) == pytest.approx(61, abs=2)
