"""Synthetic scanned pages of customer-file forms, for tests, benchmarks and demo data.

Real customer files hold personal data, so nothing real is ever committed: pages are rendered
here from made-up but realistic form text (用电申请书, 供用电合同, 用电检查单) with the CJK font
the servers already have, and degraded the way scanners degrade paper.
"""

from __future__ import annotations

import io
import random
import unicodedata
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
BODY_POINTS = 11.5
TITLE_POINTS = 18
# The angle the "skewed" variant turns its text, counter-clockwise as PIL measures it.
SKEW_DEGREES = 2.5
VARIANTS = ("clean", "noisy", "skewed", "bitonal", "jpeg", "rot90", "rot180", "rot270")
PAGE_SIZES_MM = {"A4": (210, 297), "A5": (148, 210)}

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["建国", "海燕", "志强", "秀英", "卫东", "丽娟", "国平", "晓明", "春华", "永刚"]
_COMPANIES = ["宏达机械制造有限公司", "华能纺织印染有限公司", "新城置业发展有限公司",
              "绿源食品加工厂", "恒通物流仓储有限公司", "东方水泥建材有限公司"]
_DISTRICTS = ["城东区", "城西区", "高新区", "经济开发区", "江北区", "滨湖新区"]
_ROADS = ["人民路", "建设大道", "解放路", "工业园二路", "长江中路", "育才街"]
_LINES = ["城东", "开发", "滨江", "工业", "红星", "南湖"]
_CATEGORIES = ["大工业用电", "一般工商业用电", "非居民照明", "居民生活用电", "农业生产用电"]
_CHECK_ITEMS = ["计量装置封印完好", "无违约用电行为", "无功补偿装置运行正常",
                "受电设施接地可靠", "安全工器具齐全", "值班记录完整"]


def form_text(seed: int) -> str:
    """A made-up page of a supply-company form; the same seed always gives the same page."""
    rng = random.Random(seed)
    kind = rng.choice([_application, _contract, _inspection])
    return "\n".join(kind(rng, _Customer(rng)))


class _Customer:
    def __init__(self, rng: random.Random) -> None:
        self.account = f"{rng.randint(3, 9)}{rng.randrange(10**9):09d}"
        self.person = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
        self.name = rng.choice(_COMPANIES)
        self.address = (f"{rng.choice(_DISTRICTS)}{rng.choice(_ROADS)}{rng.randint(1, 899)}号")
        self.phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
        self.high_voltage = rng.random() < 0.7
        self.voltage = "10kV" if self.high_voltage else "0.4kV"
        self.capacity = rng.choice([315, 400, 630, 800, 1250, 2000]) if self.high_voltage else rng.choice([50, 80, 100])
        self.category = rng.choice(_CATEGORIES[:3] if self.high_voltage else _CATEGORIES[1:])
        self.year = rng.randint(2008, 2023)
        self.contract = f"GD-{self.year}-{rng.randrange(10**6):06d}"
        self.meter = f"33{rng.randrange(10**11):011d}"
        self.feeder = f"10kV{rng.choice(_LINES)}线{rng.randint(1, 48)}号杆"
        self.ct_ratio = rng.choice(["50/5", "75/5", "100/5", "200/5"])

    def date(self, rng: random.Random, years_after: int = 0) -> str:
        return f"{self.year + years_after}年{rng.randint(1, 12):02d}月{rng.randint(1, 28):02d}日"


def _application(rng: random.Random, c: _Customer) -> list[str]:
    return [
        "用电申请书",
        f"申请编号：SQ{c.year}{rng.randrange(10**6):06d}　　申请日期：{c.date(rng)}",
        f"户号：{c.account}　　户名：{c.name}",
        f"法定代表人：{c.person}　　联系电话：{c.phone}",
        f"用电地址：{c.address}",
        f"申请类别：新装　　用电类别：{c.category}",
        f"供电电压：{c.voltage}　　申请容量：{c.capacity}kVA",
        f"电源接入：{c.feeder}",
        f"产权分界点：{c.feeder}T接点，分界点电源侧产权属供电企业。",
        f"计量方式：高供高计，电流互感器变比{c.ct_ratio}",
        f"电能表号：{c.meter}",
        "主要用电设备：生产线电机、空压机、照明及空调负荷",
        f"预计年用电量：{rng.randint(20, 900)}万千瓦时",
        "随附资料：营业执照复印件、土地证明、用电设备清单",
        "申请人承诺以上所填内容真实有效，并遵守供用电有关规定。",
        f"申请人（签章）：{c.person}",
        f"受理人：{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}　　受理日期：{c.date(rng)}",
        "业务环节：申请受理→现场勘查→供电方案答复→竣工验收→装表接电",
        f"备注：合同编号待签订后填写（参照{c.contract}）",
        "本申请书一式两份，供电企业与申请人各执一份。",
    ]


def _contract(rng: random.Random, c: _Customer) -> list[str]:
    return [
        "高压供用电合同" if c.high_voltage else "低压供用电合同",
        f"合同编号：{c.contract}",
        f"供电人：国网某市供电公司　　用电人：{c.name}",
        f"户号：{c.account}",
        f"用电地址：{c.address}",
        "第一条　用电容量和用电性质",
        f"用电人用电类别为{c.category}，合同约定容量{c.capacity}kVA，供电电压{c.voltage}。",
        "第二条　供电方式",
        f"供电人以{c.voltage}电压，经{c.feeder}向用电人供电。",
        "第三条　产权分界点及责任划分",
        f"产权分界点设在{c.feeder}出线刀闸处，分界点电源侧设施由供电人负责运行维护。",
        "第四条　用电计量",
        f"计量点设在产权分界点处，电能表号{c.meter}，互感器变比{c.ct_ratio}。",
        "第五条　电价及电费结算",
        "电费按月结算，用电人于每月15日前通过银行代扣方式交清当月电费。",
        "第六条　合同有效期",
        f"本合同自{c.date(rng)}起生效，有效期五年，期满双方无异议自动续延。",
        f"供电人代表：{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}　　用电人代表：{c.person}",
        f"签订日期：{c.date(rng)}",
        "本合同一式四份，双方各执两份，具有同等法律效力。",
    ]


def _inspection(rng: random.Random, c: _Customer) -> list[str]:
    items = rng.sample(_CHECK_ITEMS, 4)
    return [
        "用电检查工作单",
        f"检查编号：JC{c.year + 3}{rng.randrange(10**5):05d}　　检查日期：{c.date(rng, 3)}",
        f"户号：{c.account}　　户名：{c.name}",
        f"用电地址：{c.address}",
        f"电压等级：{c.voltage}　　合同容量：{c.capacity}kVA　　合同编号：{c.contract}",
        f"供电线路：{c.feeder}",
        f"产权分界点：{c.feeder}出线侧",
        f"电能表号：{c.meter}　　互感器变比：{c.ct_ratio}",
        "检查类别：定期检查",
        "检查内容及结果：",
        *(f"{i}．{item}：合格" for i, item in enumerate(items, 1)),
        f"功率因数：0.{rng.randint(88, 98)}　　最大需量：{rng.randint(min(80, c.capacity), max(100, c.capacity))}kW",
        "存在问题：配电室门窗防小动物措施不完善，已当场告知整改。",
        f"整改期限：{c.date(rng, 3)}前完成",
        f"检查人员：{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}、{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}",
        f"客户签字：{c.person}　　联系电话：{c.phone}",
        "本单一式两份，客户与供电企业各执一份。",
    ]


@lru_cache(maxsize=8)
def _font(pixels: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_PATH, pixels)


def render_page(text: str, *, dpi: int = 300, size: str = "A4", variant: str = "clean",
                skew: float = SKEW_DEGREES, seed: int = 0) -> Image.Image:
    """Render text as a scanned page: the first line as a centred title, the rest as body lines.

    Variants: "clean" (RGB, white paper), "noisy" (grey paper, speckles, blur), "skewed" (turned
    `skew` degrees counter-clockwise), "bitonal" (mode "1", as a G4 TIFF scan), "jpeg" (lossy
    re-encoded), and "rot90"/"rot180"/"rot270": the page fed turned that many degrees
    counter-clockwise, so it needs that many degrees clockwise to stand upright again.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown page variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    width_mm, height_mm = PAGE_SIZES_MM[size]
    width, height = round(width_mm / 25.4 * dpi), round(height_mm / 25.4 * dpi)
    page = Image.new("L", (width, height), 255)
    _draw_text(page, text, dpi)
    page = _degrade(page, variant, skew, random.Random(seed))
    page.info["dpi"] = (dpi, dpi)
    return page


def _draw_text(page: Image.Image, text: str, dpi: int) -> None:
    draw = ImageDraw.Draw(page)
    margin = round(dpi * 0.9)  # about 23 mm, a typical form margin
    title_font = _font(round(TITLE_POINTS / 72 * dpi))
    body_font = _font(round(BODY_POINTS / 72 * dpi))
    lines = text.split("\n")
    y = margin
    if lines and lines[0]:
        title_width = draw.textlength(lines[0], font=title_font)
        draw.text(((page.width - title_width) / 2, y), lines[0], font=title_font, fill=0)
        y += round(title_font.size * 2.2)
    line_height = round(body_font.size * 1.7)
    for line in lines[1:]:
        for part in _wrap(draw, line, body_font, page.width - 2 * margin):
            if y + line_height > page.height - margin:
                return
            draw.text((margin, y), part, font=body_font, fill=0)
            y += line_height


def _wrap(draw: ImageDraw.ImageDraw, line: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    parts, current = [], ""
    for char in line:
        if current and draw.textlength(current + char, font=font) > width:
            parts.append(current)
            current = ""
        current += char
    return parts + [current]


def _degrade(page: Image.Image, variant: str, skew: float, rng: random.Random) -> Image.Image:
    if variant == "bitonal":
        return page.point(lambda v: 255 if v > 140 else 0).convert("1", dither=Image.Dither.NONE)
    if variant == "noisy":
        return _noisy(page, rng).convert("RGB")
    if variant == "skewed":
        return page.rotate(skew, resample=Image.Resampling.BICUBIC, fillcolor=255).convert("RGB")
    if variant == "jpeg":
        buffer = io.BytesIO()
        page.convert("RGB").save(buffer, "JPEG", quality=30)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if variant.startswith("rot"):
        return page.rotate(int(variant[3:]), expand=True).convert("RGB")
    return page.convert("RGB")


def _noisy(page: Image.Image, rng: random.Random) -> Image.Image:
    noise_rng = np.random.default_rng(rng.randrange(2**32))
    pixels = np.asarray(page.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float32)
    pixels = pixels * 0.8 + 30  # greyish recycled paper, faded toner
    pixels += noise_rng.normal(0, 18, pixels.shape)
    specks = noise_rng.random(pixels.shape) < 0.002
    pixels[specks] = noise_rng.uniform(0, 120, int(specks.sum()))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")


def char_error_rate(reference: str, hypothesis: str) -> float:
    """Character edit distance between two texts over the reference length.

    Whitespace is ignored and both sides are NFKC-normalised, so reading a full-width colon as
    ":" is not counted as an error: search normalises the same way.
    """
    ref = "".join(unicodedata.normalize("NFKC", reference).split())
    hyp = "".join(unicodedata.normalize("NFKC", hypothesis).split())
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)


# A 用电检查工作单 as printed forms lay it out: one bordered row per field, label cell | value cell,
# with the identifiers archivists search for (户号, contract, work-order, meter and seal numbers, 0.22kV).
FORM_ROWS = [("户号", "3301234567"), ("户名", "王建国"), ("合同编号", "GD-2019-004512"),
             ("工作单号", "GZ-2023-118204"), ("电能表号", "3300012345678"), ("表计资产号", "ZC-0087-55231"),
             ("电压等级", "0.22kV"), ("合同容量", "630kVA"), ("用电地址", "城东路18号"),
             ("检查日期", "2023-06-15"), ("检查人员", "张伟"), ("联系电话", "13905710088"),
             ("互感器变比", "200/5"), ("旧表止码", "12345.6"), ("新表起码", "0.0"),
             ("封印编号", "FY-22-009981"), ("计量方式", "高供低计"), ("行业分类", "居民生活"),
             ("检查结论", "运行正常"), ("备注", "无")]
FORM_TITLE = "用电检查工作单"


def render_bordered_form(rows: list[tuple[str, str]] = FORM_ROWS, *, dpi: int = 300, seed: int = 0,
                         jpeg_quality: int = 35) -> bytes:
    """A bordered two-cell-per-row form as a scanned JPEG: blurred, grey, noisy, speckled, lossy."""
    rng = np.random.default_rng(seed)
    width, height = round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    font, title = _font(round(12 / 72 * dpi)), _font(round(TITLE_POINTS / 72 * dpi))
    margin, row_height = round(dpi * 0.8), round(font.size * 2.1)
    divider = margin + round((width - 2 * margin) * 0.35)
    draw.text(((width - draw.textlength(FORM_TITLE, font=title)) / 2, margin), FORM_TITLE, font=title, fill=0)
    top = margin + round(title.size * 2)
    for i, (label, value) in enumerate(rows):
        y = top + i * row_height
        draw.rectangle([margin, y, width - margin, y + row_height], outline=0, width=3)
        draw.line([divider, y, divider, y + row_height], fill=0, width=3)
        text_top = y + (row_height - font.size) // 2
        draw.text((margin + 20, text_top), label, font=font, fill=0)
        draw.text((divider + 20, text_top), value, font=font, fill=0)
    return _scanned(page, rng, jpeg_quality, dpi)


def _scanned(page: Image.Image, rng: np.random.Generator, jpeg_quality: int, dpi: int) -> bytes:
    """A clean rendering as a poor scan: blurred, grey, noisy, speckled, lossy JPEG."""
    pixels = np.asarray(page.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32) * 0.85 + 25
    pixels += rng.normal(0, 14, pixels.shape)
    specks = rng.random(pixels.shape) < 0.001
    pixels[specks] = rng.uniform(0, 120, int(specks.sum()))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L").save(buffer, "JPEG", quality=jpeg_quality,
                                                                        dpi=(dpi, dpi))
    return buffer.getvalue()


# A 电能表装拆工作单 (meter work order): two label/value pairs per bordered row, a header with the
# company on the left and the 档号 on the right, a page footer.
WORK_ORDER_TITLE = "电能表装拆工作单"
WORK_ORDER_HEADER = ("国网某市供电公司营销部", "档号：J001-BJ·2023-0042")
WORK_ORDER_ROWS = [("工单编号", "GZ-2023-118204", "工单类型", "故障换表"),
                   ("户号", "3301234567", "户名", "李海燕"),
                   ("用电地址", "城东区人民路18号\n宏达大厦B座3楼", "联系电话", "13905710088"),
                   ("旧表表号", "3300012345678", "旧表止码", "12345.6"),
                   ("新表表号", "3300087654321", "新表起码", "0.0"),
                   ("电压等级", "0.22kV", "综合倍率", "40"),
                   ("封印编号", "FY-22-009981", "装表人员", "张伟"),
                   ("完成日期", "2023-06-15", "客户签字", "王建国")]
WORK_ORDER_FOOTER = "第 1 页 共 1 页"


def render_work_order(*, dpi: int = 300, seed: int = 0, jpeg_quality: int = 35) -> tuple[bytes, list[str]]:
    """The work order as a poor JPEG scan (A4 width, cropped below the footer); returns it and its
    lines in reading order, a row's cells separated by a tab. A cell of two lines (the address)
    makes its row taller, the other cells centred beside it."""
    width = round(210 / 25.4 * dpi)
    font, title = _font(round(12 / 72 * dpi)), _font(round(TITLE_POINTS / 72 * dpi))
    margin, row_height, leading = round(dpi * 0.6), round(font.size * 2.1), round(font.size * 1.3)
    heights = [row_height + leading * max(cell.count("\n") for cell in row) for row in WORK_ORDER_ROWS]
    top = margin + round(font.size * 2) + round(title.size * 2)
    height = top + sum(heights) + round(font.size * 3) + margin
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    left, right = WORK_ORDER_HEADER
    draw.text((margin, margin), left, font=font, fill=0)
    draw.text((width - margin - draw.textlength(right, font=font), margin), right, font=font, fill=0)
    title_top = margin + round(font.size * 2)
    draw.text(((width - draw.textlength(WORK_ORDER_TITLE, font=title)) / 2, title_top), WORK_ORDER_TITLE,
              font=title, fill=0)
    inner = width - 2 * margin
    edges = [margin, margin + round(inner * 0.2), margin + round(inner * 0.5), margin + round(inner * 0.7)]
    y = top
    for row, row_height in zip(WORK_ORDER_ROWS, heights):
        draw.rectangle([margin, y, width - margin, y + row_height], outline=0, width=3)
        for x in edges[1:]:
            draw.line([x, y, x, y + row_height], fill=0, width=3)
        for x, cell in zip(edges, row):
            parts = cell.split("\n")
            first = y + (row_height - font.size - leading * (len(parts) - 1)) // 2
            for n, part in enumerate(parts):
                draw.text((x + 20, first + n * leading), part, font=font, fill=0)
        y += row_height
    footer_top = y + round(font.size * 1.5)
    draw.text(((width - draw.textlength(WORK_ORDER_FOOTER, font=font)) / 2, footer_top), WORK_ORDER_FOOTER,
              font=font, fill=0)
    rows = ("\t".join(cell.replace("\n", "") for cell in row) for row in WORK_ORDER_ROWS)
    lines = [f"{left} {right}", WORK_ORDER_TITLE, *rows, WORK_ORDER_FOOTER]
    return _scanned(page, np.random.default_rng(seed), jpeg_quality, dpi), lines


# A 抄表清单 (list of meter readings) set as an unruled table: columns aligned, no lines drawn.
READING_LIST_TITLE = "抄表清单"
READING_LIST_INTRO = "抄表区段：城东一区　　抄表日期：2023年06月15日"
READING_LIST_ROWS = [("户号", "户名", "上次示数", "本次示数", "电量"),
                     ("3301234567", "李海燕", "12345.6", "12501.2", "155.6"),
                     ("3307654321", "王建国", "8812.0", "8890.4", "78.4"),
                     ("3300098765", "宏达机械制造有限公司", "102233.5", "106120.9", "3887.4"),
                     ("3309911223", "陈卫东", "456.7", "501.3", "44.6"),
                     ("3301122334", "周丽娟", "23456.1", "23610.0", "153.9")]
READING_LIST_END = "抄表员：张伟（城东抄表班）　　复核：李海燕"


def render_reading_list(*, dpi: int = 300, seed: int = 0, jpeg_quality: int = 50) -> tuple[bytes, list[str]]:
    """The reading list as a JPEG scan; returns it and its lines in reading order (cells by tabs)."""
    width = round(210 / 25.4 * dpi)
    font, title = _font(round(11 / 72 * dpi)), _font(round(TITLE_POINTS / 72 * dpi))
    margin, pitch = round(dpi * 0.6), round(font.size * 1.8)
    height = margin * 2 + round(title.size * 2) + (len(READING_LIST_ROWS) + 3) * pitch
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    draw.text(((width - draw.textlength(READING_LIST_TITLE, font=title)) / 2, margin), READING_LIST_TITLE,
              font=title, fill=0)
    y = margin + round(title.size * 2)
    draw.text((margin, y), READING_LIST_INTRO, font=font, fill=0)
    columns = [margin, margin + round(font.size * 7), margin + round(font.size * 18),
               margin + round(font.size * 24), margin + round(font.size * 30)]
    for i, row in enumerate(READING_LIST_ROWS, 1):
        for x, cell in zip(columns, row):
            draw.text((x, y + i * pitch), cell, font=font, fill=0)
    draw.text((margin, y + (len(READING_LIST_ROWS) + 1) * pitch), READING_LIST_END, font=font, fill=0)
    lines = [READING_LIST_TITLE, READING_LIST_INTRO, *("\t".join(row) for row in READING_LIST_ROWS),
             READING_LIST_END]
    return _scanned(page, np.random.default_rng(seed), jpeg_quality, dpi), lines


# Clauses of a 供用电合同 set in two columns, as contract annexes and 产权分界 captions often are.
TWO_COLUMN_CLAUSES = [
    "第一条 供电人按照国家规定的电能质量标准向用电人供电，用电人的受电设施应符合国家标准。",
    "第二条 供电方式为高压单电源，供电电压为10kV，由城东变电站10kV城东线第12号杆接入。",
    "第三条 产权分界点位于10kV城东线第12号杆出线侧，分界点电源侧产权属供电人，负荷侧属用电人。",
    "第四条 计量方式为高供高计，电能计量装置安装于用电人配电室，表号3300012345678。",
    "第五条 电费按月结算，用电人应于每月25日前通过银行代扣方式交清当月电费。",
    "第六条 用电人不得擅自改变用电类别、擅自增加用电容量或者私自转供电力。",
    "第七条 因不可抗力造成供电中断的，供电人应及时抢修并尽快恢复供电。",
    "第八条 双方发生争议时应协商解决，协商不成的可向供电设施所在地人民法院起诉。",
]


def render_two_column_page(*, dpi: int = 300, seed: int = 0) -> tuple[Image.Image, list[str]]:
    """A contract page with a title across the top, clauses in two columns and a footer across the
    bottom; returns the scan (lightly noisy) and its lines in reading order (column by column)."""
    width, height = round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    title, body = _font(round(TITLE_POINTS / 72 * dpi)), _font(round(10.5 / 72 * dpi))
    margin, gutter = round(dpi * 0.8), round(dpi * 0.35)
    column = (width - 2 * margin - gutter) // 2
    heading = "供用电合同（附件）"
    draw.text(((width - draw.textlength(heading, font=title)) / 2, margin), heading, font=title, fill=0)
    top, pitch = margin + round(title.size * 2.2), round(body.size * 1.6)
    halves = len(TWO_COLUMN_CLAUSES) // 2
    columns = [[part for clause in TWO_COLUMN_CLAUSES[:halves] for part in _wrap(draw, clause, body, column)],
               [part for clause in TWO_COLUMN_CLAUSES[halves:] for part in _wrap(draw, clause, body, column)]]
    for n, lines in enumerate(columns):
        for i, line in enumerate(lines):
            draw.text((margin + n * (column + gutter), top + i * pitch), line, font=body, fill=0)
    footer = "合同编号：GD-2019-004512　　第 1 页 共 3 页"
    bottom = top + max(len(c) for c in columns) * pitch + pitch * 2
    draw.text(((width - draw.textlength(footer, font=body)) / 2, bottom), footer, font=body, fill=0)
    scan = _degrade(page, "jpeg", 0.0, random.Random(seed))
    scan.info["dpi"] = (dpi, dpi)
    return scan, [heading, *columns[0], *columns[1], footer]


SERIF_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
# An English product sheet laid out like OCRmyPDF's linn.png: a title, a paragraph of long lines set
# close together across the page, then two columns. Long serif lines like these are what RapidOCR's
# per-line direction classifier takes for upside-down text (linn.png lost its second line that way).
SHEET_TITLE = "The MeterLink Terminal"
SHEET_INTRO = [
    "The MeterLink terminal is a state-of-the-art reading and billing tool for the modern utility office. It is",
    "extremely powerful, yet amazingly simple to learn and use. Its many remarkable features include:",
    "Every meter reading is recorded and checked against the previous month, yet many remarkable cases remain:",
    "The reading clerk confirms each value on screen, and the terminal keeps a full history of every change made.",
]
SHEET_COLUMNS = [
    ["Reading a Meter", "To read a meter, simply press READ and SAVE,", "then hold the probe against the meter",
     "until the terminal beeps twice; the value", "and the time are stored with the account."],
    ["Billing", "Every evening the day's readings are sent", "to the billing office, checked against the",
     "last month's values and the tariff, and", "any doubtful reading is flagged for review."],
]
SHEET_FOOTER = "MeterLink Systems, 18 Harbour Road, Ningbo"


def render_product_sheet() -> tuple[Image.Image, list[str]]:
    """The linn-style sheet as a clean 300 dpi scan (US letter width, cropped below the footer);
    returns the scan and its lines in reading order (intro, left column, right column, footer)."""
    dpi, width = 300, 2550
    size = 38
    font, title_font = ImageFont.truetype(SERIF_PATH, size), ImageFont.truetype(SERIF_PATH, 2 * size)
    pitch = round(size * 1.15)                       # tight leading, as on the original sheet
    margin = 345
    column_pitch = round(size * 1.3)
    height = 260 + len(SHEET_INTRO) * pitch + 60 + max(map(len, SHEET_COLUMNS)) * column_pitch + 220
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    draw.text(((width - draw.textlength(SHEET_TITLE, font=title_font)) / 2, 100), SHEET_TITLE,
              font=title_font, fill=0)
    y = 260
    for line in SHEET_INTRO:
        draw.text((margin, y), line, font=font, fill=0)
        y += pitch
    y += 60
    for n, column in enumerate(SHEET_COLUMNS):
        for i, line in enumerate(column):
            # set justified, as printed columns are: every line but a paragraph's last fills the column
            left, words = margin + n * 1050, line.split(" ")
            spare = 900 - draw.textlength(line, font=font) if 0 < i < len(column) - 1 else 0
            for word in words:
                draw.text((left, y + i * column_pitch), word, font=font, fill=0)
                left += draw.textlength(word + " ", font=font) + spare / max(1, len(words) - 1)
    y += max(map(len, SHEET_COLUMNS)) * column_pitch + 100
    draw.text((width - margin - draw.textlength(SHEET_FOOTER, font=font), y), SHEET_FOOTER, font=font, fill=0)
    scan = page.convert("RGB")
    scan.info["dpi"] = (dpi, dpi)
    return scan, [SHEET_TITLE, *SHEET_INTRO, *SHEET_COLUMNS[0], *SHEET_COLUMNS[1], SHEET_FOOTER]
