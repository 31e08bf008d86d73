"""Every text a person reads goes through the message catalogues (docs/translating.md).

Templates: the HTML around the Jinja tags may hold no words (Chinese, or Latin words of two letters or
more) in text or in the attributes people read (placeholder, title, alt, aria-label, a button's value),
and no string in a Jinja expression may hold Chinese unless it is the text of a `_()` call. Python: no
string in the code holds Chinese outside the modules whose Chinese is data (document-type names, the
words the recognisers look for), listed below with the reason. The catalogues: every text the code
asks for has a Chinese translation with the same placeholders, and the compiled .mo files say what the
.po files say."""
from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from jinja2 import Environment

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
TRANSLATIONS = ROOT / "docsvc" / "translations"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
WORDS = re.compile(r"[A-Za-z]{2,}|[\u3400-\u9fff\uf900-\ufaff]+")
# Names that read the same in every language: file formats and standards, not words to translate.
SAME_IN_EVERY_LANGUAGE = {"CSV", "XLSX", "PDF", "JSON", "API", "OpenAPI", "TIFF", "JPEG", "PNG", "SHA", "docsvc",
                          "BagIt", "OCR", "RapidOCR", "tesseract", "ID", "IP", "URL", "PostgreSQL", "Redis", "MinIO", "S3",
                          "Enter", "Esc"}  # Enter, Esc: what the keys say on Chinese keyboards too (the inbox's key legend)
READ_ATTRIBUTES = {"placeholder", "title", "alt", "aria-label", "label"}
GETTEXT = {"_", "gettext", "ngettext"}
HOLE = "\x07"  # stands where a Jinja tag was, so the HTML around it parses as one document

# Modules whose Chinese strings are data, not messages. Keep the reason beside each.
CHINESE_IS_DATA = {
    "docsvc/governance/retention_authority.py": "the authority stored on the seeded version-1 retention rules: the "
                                                "name of the company's own Chinese retention table",
    "docsvc/constants.py": "DESTROYED_TITLE and DESTRUCTION_METHOD are values written into the records (a destroyed "
                           "document's title, the destruction register's method), not messages",
    "docsvc/files/customer_words.py": "grades, status words and column headers as customer records and exports write them",
    "docsvc/search/vocabulary.py": "the Chinese field names the query language accepts (户号:, 类型: …) and example queries",
    "docsvc/search/analysis.py": "the ranges of CJK characters the tokenizer indexes",
    "docsvc/files/typecues.py": "the phrases the type guesser looks for on a page, in the paper's language",
    "docsvc/files/customer_cues.py": "the printed labels (户号, 户名, 用电地址) the suggestions look for on a page",
}


def _template_words(source: str) -> list[tuple[int, str]]:
    """(line, text) of every untranslated word run in one template."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    html: list[str] = []
    found: list[tuple[int, str]] = []
    previous: list[tuple[str, str]] = []  # the significant tokens before this one, inside a tag
    for line, kind, value in env.lex(source):
        if kind == "data":
            html.append(value)
            continue
        if kind in ("variable_begin", "block_begin", "comment_begin"):
            html.append(HOLE)
            previous = []
        html.append("\n" * value.count("\n"))
        if kind == "string" and CJK.search(value):
            names = [v for k, v in previous[-2:]]
            in_gettext = len(names) == 2 and names[0] in GETTEXT and names[1] == "("
            if not in_gettext:
                found.append((line, value))
        if kind not in ("whitespace",):
            previous.append((kind, value))
    parser = _Reader()
    parser.feed("".join(html))
    parser.close()
    return found + parser.found


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        attributes = dict(attrs)
        for name, value in attrs:
            readable = name in READ_ATTRIBUTES or (
                # an input button shows its value; a <button> shows its content, its value is only sent
                name == "value" and tag == "input" and attributes.get("type") in ("submit", "button", "reset"))
            if readable and value:
                self._check(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._check(data)

    def _check(self, text: str) -> None:
        words = [w for w in WORDS.findall(text.replace(HOLE, " ")) if w not in SAME_IN_EVERY_LANGUAGE]
        if words:
            self.found.append((self.getpos()[0], " ".join(words)))


def _all_templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("template", _all_templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_hold_no_untranslated_text(template: Path) -> None:
    found = _template_words(template.read_text(encoding="utf-8"))
    assert not found, "\n".join(f"{template.relative_to(ROOT)}:{line}: {text}" for line, text in found)


def test_the_template_check_finds_untranslated_text() -> None:
    """The check itself: each kind of untranslated text is caught, translated text passes."""
    assert _template_words('<h1>不完整档案</h1>')
    assert _template_words('<button>Save</button>')
    assert _template_words('<input placeholder="区域 region">')
    assert _template_words('<input type="submit" value="Send">')
    assert _template_words("{{ '已导入' if x else '' }}")
    assert not _template_words('<h1>{{ _("Incomplete files") }}</h1> <a class="btn secondary" href="/x">CSV</a>')
    assert not _template_words('<input placeholder="{{ _(\'Region\') }}"> {{ _("已导入") }} <script>var a = "Hi";</script>')
    assert not _template_words('<button name="decision" value="approve" type="submit">{{ _("Approve") }}</button>')


def _python_chinese(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    translated = {id(node.args[0]) for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args
                  and node.func.id in GETTEXT | {"_l", "lazy_gettext", "stored"}}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CJK.search(node.value)
            and id(node) not in docstrings and id(node) not in translated]


def _python_modules() -> list[Path]:
    return [path for package in ("docsvc", "workers") for path in sorted((ROOT / package).rglob("*.py"))
            if "migrations" not in path.parts]


@pytest.mark.parametrize("module", _python_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_python_holds_no_untranslated_chinese(module: Path) -> None:
    name = str(module.relative_to(ROOT))
    if name in CHINESE_IS_DATA:
        pytest.skip(CHINESE_IS_DATA[name])
    found = _python_chinese(module)
    assert not found, "\n".join(f"{name}:{line}: {text[:80]!r}" for line, text in found)


def _catalogue(locale: str):  # type: ignore[no-untyped-def]
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=locale)


PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def test_every_text_in_the_code_has_a_chinese_translation() -> None:
    asked = {message for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=[("docsvc/migrations/**", "ignore"), ("docsvc/**.py", "python"),
                               ("workers/**.py", "python"), ("templates/**.html", "jinja2")],
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
                  "stored": None})}
    zh = _catalogue("zh_CN")
    problems = []
    for message in asked:
        msgid = message[0] if isinstance(message, tuple) else message
        entry = zh.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            problems.append(f"no Chinese for {msgid!r}: run scripts/translations update and fill it in")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != set(PLACEHOLDER.findall(msgid)):
                problems.append(f"placeholders differ: {msgid!r} → {string!r}")
    assert not problems, "\n".join(sorted(problems))


def _strings(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _plain(value: str | tuple[str, ...] | list[str]) -> str | tuple[str, ...]:
    """A plural text's forms as the .po gives them (a tuple) however the .mo reader gives them (a list)."""
    return tuple(value) if isinstance(value, (tuple, list)) else value


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_compiled_catalogue_matches_its_source(locale: str) -> None:
    source = _catalogue(locale)
    compiled = read_mo(BytesIO((TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").read_bytes()))
    expected = {_plain(m.id): _plain(m.string) for m in source if m.id and any(_strings(m.string)) and not m.fuzzy}
    # an untranslated plural text is compiled as its own forms (English is the text itself)
    expected |= {_plain(m.id): _plain(m.id) for m in source
                 if isinstance(m.id, tuple) and not any(_strings(m.string)) and not m.fuzzy}
    actual = {_plain(m.id): _plain(m.string) for m in compiled if m.id}
    assert actual == expected, "run scripts/translations compile and commit the .mo files"
