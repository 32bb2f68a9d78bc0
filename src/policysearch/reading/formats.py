"""Text out of the layouts offices use: PDF pages (wrapped lines joined, running headers,
footers and page numbers dropped), spreadsheets (a row per line, each cell named by its
column), OFD, the national fixed-layout format (a zip of XML pages), the header of an official
document (公文), Word 97, WPS, RTF and ODT files converted to .docx by LibreOffice, and the
text of scanned pages and images by offline OCR."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from collections.abc import Iterable, Iterator
from itertools import pairwise
from typing import Any
from xml.etree import ElementTree

from ..text.articles import STRUCTURE_START

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff，、：；“”‘’（）《》]")
_FINAL = tuple("。！？；：!?;:")
_PAGE_NUMBER = re.compile(r"[-—–\s]*\d{1,4}[-—–\s]*|第\s*\d+\s*页(\s*[/，,]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+"
                          r"|[Pp]age\s*\d+(\s*of\s*\d+)?")
_ITEM_START = re.compile(rf"{STRUCTURE_START.pattern}|[（(]?[一二三四五六七八九十\d]+[、.．)）]")
_JUNK_TITLE = re.compile(r"\(?anonymous\)?|untitled.*|microsoft word\s*-.*|.*\.(docx?|wps|pdf|txt|rtf)|[\s\W\d_]*"
                         r"|(microsoft )?word document|document\s*\d*"
                         r"|(新建\s*)?(microsoft\s*)?(word|wps)?\s*文[档件]\s*\d*", re.IGNORECASE)


def pdf_pages(data: bytes) -> tuple[list[str], set[int]]:
    """The text layer of each page in reading order, and the pages mostly covered by one image
    (`IMAGE_SHARE` of their area or more: a scan, whatever text is printed on it). The text
    comes from pdfium's character boxes: lines top to bottom, characters left to right, so a
    quotation mark set in another font stands where it is printed (「组织“五老”志愿者」, not
    「“ ”…组织 五老 志愿者」). Spaces are those the page holds, and where it has none a gap:
    a word space between Latin letters or digits, a whole character next to Chinese, so the
    spaces pdfium guesses around digits in a Western font (`2024 年7 月`) are not invented."""
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    texts, imaged = [], set()
    try:
        for i in range(len(document)):
            page = document[i]
            try:
                texts.append(_pdf_page(page))
                if _imaged(page):
                    imaged.add(i)
            finally:
                page.close()
    finally:
        document.close()
    return texts, imaged


def _imaged(page) -> bool:
    """Whether one image covers `IMAGE_SHARE` of the page or more."""
    import pypdfium2.raw as pdfium

    width, height = page.get_size()
    for item in page.get_objects(filter=[pdfium.FPDF_PAGEOBJ_IMAGE]):
        left, bottom, right, top = item.get_bounds() if hasattr(item, "get_bounds") else item.get_pos()
        if (right - left) * (top - bottom) >= IMAGE_SHARE * width * height:
            return True
    return False


def _pdf_page(page) -> str:
    """One page's text, line by line in reading order (see `pdf_pages`). pdfium's own spaces (a
    guess from the layout) are left out; spaces the page holds are kept."""
    import pypdfium2.raw as pdfium

    textpage = page.get_textpage()
    try:
        chars = []
        for i in range(textpage.count_chars()):
            ch = textpage.get_text_range(i, 1)
            if ch.strip() or ch == " " and not pdfium.FPDFText_IsGenerated(textpage.raw, i):  # a space the page has
                left, bottom, right, top = textpage.get_charbox(i, loose=True)
                chars.append((ch, left, bottom, right, top))
    finally:
        textpage.close()
    lines: list[list[tuple]] = []
    for char in sorted(chars, key=lambda c: -(c[2] + c[4])):
        middle = (char[2] + char[4]) / 2
        line = lines[-1] if lines else None
        if line and line[0][2] <= middle <= line[0][4]:
            line.append(char)
        else:
            lines.append([char])
    return "\n".join(_pdf_line(sorted(line, key=lambda c: c[1])) for line in lines)


def _pdf_line(line: list[tuple]) -> str:
    """One printed line's characters, with the spaces its gaps show."""
    out = [line[0][0]]
    for before, char in pairwise(line):
        gap, size = char[1] - before[3], max(char[4] - char[2], 1e-6)
        wide = _CJK.match(before[0]) or _CJK.match(char[0]) or not before[0].isascii() or not char[0].isascii()
        if " " not in (before[0], char[0]) and gap > (0.9 if wide else 0.15) * size:
            out.append(" ")
        out.append(char[0])
    return "".join(out).strip()


def pdf_text(pages: list[str]) -> str:
    """The pages as one text. Page numbers (a number alone as a page's first or last line) go,
    and so does the header or footer line repeated on most pages (kept once when it opens the
    first page, where it is the title). A line that fills the width without ending a sentence
    is joined to the next one (a layout wrap: `促\n进` → `促进`); short lines, sentence ends
    and text with no full-width lines at all keep their breaks."""
    lines = [[line.strip() for line in page.split("\n") if line.strip()] for page in pages]
    lines = [[line for i, line in enumerate(page) if not (_PAGE_NUMBER.fullmatch(line) and i in (0, len(page) - 1))]
             for page in lines]  # a number alone inside a page is a table cell, not a page number
    running = _running_lines(lines)
    kept = [line for n, page in enumerate(lines) for i, line in enumerate(page)
            if _masked(line) not in running or n == i == 0]  # once at the top: the title
    widths = [len(line) for line in kept if len(line) > 10]
    full = statistics.quantiles(widths, n=10)[-1] if len(widths) >= 4 else max(widths, default=float("inf"))
    out: list[str] = []
    for line in kept:
        if out and _wraps(out[-1], line, full):
            glue = "" if _CJK.match(out[-1][-1]) or _CJK.match(line[0]) else " "
            out[-1] += glue + line
        else:
            out.append(line)
    return "\n".join(out)


def _wraps(line: str, following: str, full: float) -> bool:
    """Whether `line` runs on into `following`: it is nearly as wide as a full line, does not end
    a sentence, and `following` does not open a new item (一、, （二）, 第三条)."""
    return (len(line) >= 0.8 * full and not line.endswith(_FINAL) and _CJK.match(following[0]) is not None
            and not _ITEM_START.match(following)
            or _CJK.match(line[-1]) is not None and following[0] in "，、。；：）》”")


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Lines (digits masked) that open or close at least half of three or more pages."""
    if len(pages) < 3:
        return set()
    ends = Counter(_masked(line) for page in pages if page for line in {page[0], page[-1]})
    return {line for line, n in ends.items() if n >= len(pages) / 2}


def _masked(line: str) -> str:
    return re.sub(r"\d+", "#", line)


def real_title(title: str, text: str) -> str:
    """A metadata title, or "" when it is junk: (anonymous), Untitled, a file name, or Latin
    letters alone on a Chinese document."""
    title = title.strip()
    if _JUNK_TITLE.fullmatch(title):
        return ""
    if title.isascii() and len(_CJK.findall(text[:2000])) > 100:
        return ""
    return title


def sheet_rows(rows: list[list[object]]) -> list[str]:
    """A table as lines, one a row, each cell named by its column: `责任单位：市关工委；完成时限：10月`
    (cells of unnamed columns as they are). The first non-empty row names the columns and is no
    line of its own; a header cell merged across columns names each of them, and a second header
    row under it (计划 / 实际 under 完成情况) adds its names: `完成情况·计划：…`."""
    rows = [[_cell(value) for value in row] for row in rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    header, body = _header(rows)
    lines = []
    for row in body:
        named = [f"{header[i]}：{cell}" if i < len(header) and header[i] else cell for i, cell in enumerate(row) if cell]
        lines.append("；".join(named))
    return lines or ["；".join(cell for cell in rows[0] if cell)]


def _header(rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """Column names and the rows under them. Empty top cells after a named one are part of a
    merged cell when the next row names exactly those columns and the first of the stretch (the
    cells under vertically merged names are empty): a two-row header."""
    top, under = rows[0], rows[1] + [""] * (len(rows[0]) - len(rows[1])) if len(rows) > 1 else []
    merged = {i for i in range(1, len(top)) if not top[i] and any(top[:i])}
    merged |= {i - 1 for i in merged if top[i - 1]}
    if not merged or not under or any(bool(under[i]) != (i in merged) for i in range(len(top))) \
            or any(_NUMERIC.fullmatch(under[i]) for i in merged):
        return top, rows[1:]
    names, owner = [], ""
    for i, cell in enumerate(top):
        owner = cell or owner
        names.append(f"{owner}·{under[i]}" if i in merged else cell)
    return names, rows[2:]


_NUMERIC = re.compile(r"[\d.,:/\-%％]+")


def _cell(value: object) -> str:
    """A cell as text: 10 rather than 10.0, dates in ISO form, no line breaks."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return re.sub(r"\s+", " ", str(value if value is not None else "")).strip()


def workbook_sheets(data: bytes) -> list[tuple[str, list[list[object]]]]:
    """(sheet name, rows) of every sheet of an .xlsx, .xls, .et or .ods workbook."""
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return [(name, book.get_sheet_by_name(name).to_python(skip_empty_area=True)) for name in book.sheet_names]


def csv_rows(text: str) -> list[list[object]]:
    """The rows of CSV text, comma- or tab-separated, whichever the first line uses more."""
    first = text.split("\n", 1)[0]
    return list(csv.reader(io.StringIO(text), delimiter="\t" if first.count("\t") > first.count(",") else ","))


def ofd_text(archive: zipfile.ZipFile) -> tuple[str, str]:
    """(text, title) of an OFD file: each page's text objects in reading order (top to bottom,
    left to right; objects on one baseline form a line), wrapped lines joined as in PDF."""
    root = _xml(archive, "OFD.xml")
    body = _child(root, "DocBody")
    title = (_text(_child(_child(body, "DocInfo"), "Title")) or "").strip()
    document_path = (_text(_child(body, "DocRoot")) or "Doc_0/Document.xml").strip().lstrip("/")
    folder = document_path.rsplit("/", 1)[0] + "/" if "/" in document_path else ""
    document = _xml(archive, document_path)
    pages = []
    for page in _all(document, "Page"):
        location = page.get("BaseLoc", "").lstrip("/")
        path = location if location.startswith(folder) else folder + location
        pages.append(_page_text(_xml(archive, path)))
    return pdf_text(pages), title


def _page_text(page: ElementTree.Element) -> str:
    """The text objects of one page as lines, in reading order."""
    items = []
    for obj in _all(page, "TextObject"):
        x, y, _, height = (float(v) for v in (obj.get("Boundary", "0 0 0 0").split() + ["0"] * 4)[:4])
        text = "".join(_text(code) or "" for code in _all(obj, "TextCode"))
        if text.strip():
            items.append((y, x, height, text))
    items.sort()
    lines: list[list[tuple[float, str]]] = []
    baseline = None
    for y, x, height, text in items:
        if lines and baseline is not None and abs(y - baseline) <= max(height, 1.0) / 2:
            lines[-1].append((x, text))
        else:
            lines.append([(x, text)])
            baseline = y
    return "\n".join("".join(text for _, text in sorted(line)) for line in lines)


def _xml(archive: zipfile.ZipFile, name: str) -> ElementTree.Element:
    return ElementTree.fromstring(archive.read(name))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ElementTree.Element | None, name: str) -> ElementTree.Element | None:
    if element is None:
        return None
    return next((e for e in element if _local(e.tag) == name), None)


def _all(element: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [e for e in element.iter() if _local(e.tag) == name]


def _text(element: ElementTree.Element | None) -> str | None:
    return element.text if element is not None else None


_ISSUER = re.compile(r"(.{2,40}?)\s*文\s*件")
_DOC_NUMBER = re.compile(r"[\u4e00-\u9fffA-Za-z]{1,16}\s*[〔\[［【(（]\s*\d{4}\s*[〕\]］】)）]\s*第?\s*\d{1,5}\s*号")
_GENRE = re.compile(r"(通知|意见|决定|报告|方案|办法|规定|纪要|函|批复|请示|通报|公告|通告|规划|要点|细则|决议|命令|议案)$")
_HAN_DATE = re.compile(r"([〇零一二三四五六七八九○Ｏ0-9０-９]{4})\s*年\s*([一二三四五六七八九十\d０-９]{1,3})\s*月"
                       r"\s*([一二三四五六七八九十\d０-９]{1,3})\s*日")
_HAN_DIGITS = {ch: i for i, chars in enumerate(["〇零○Ｏ", "一", "二", "三", "四", "五", "六", "七", "八", "九"]) for ch in chars}


def official_header(text: str) -> dict[str, str]:
    """The 公文 parts of an official document: issuing body (`烟台市关工委` from `…文件`),
    document number (`烟关工委发〔2021〕3号`), title (the line after them: 关于…的通知, two lines
    if wrapped) and 成文日期 (the last date near the end, `二〇二一年六月九日` too). Empty when the
    text opens with neither an issuer line nor a document number."""
    lines = [line.strip() for line in text.split("\n")]
    head = [(i, line) for i, line in enumerate(lines) if line][:12]
    found: dict[str, str] = {}
    last = -1
    for i, line in head:
        if "source" not in found and _ISSUER.fullmatch(line) and len(line) <= 42:
            found["source"], last = _ISSUER.fullmatch(line).group(1), i
        elif "number" not in found and (number := _DOC_NUMBER.search(line)) and len(line) <= 60:
            found["number"], last = re.sub(r"\s+", "", number.group()), i
    if not found:
        return {}
    title_lines = [line for i, line in head if i > last][:2]
    if title_lines and not _GENRE.search(title_lines[0]) and len(title_lines) > 1 and _GENRE.search(title_lines[1]):
        found["title"] = title_lines[0] + title_lines[1]
    elif title_lines and (_GENRE.search(title_lines[0]) or title_lines[0].startswith("关于")):
        found["title"] = title_lines[0]
    tail = "\n".join(lines[-25:])
    dates = list(_HAN_DATE.finditer(tail))
    if dates:
        found["date"] = _han_date(dates[-1])
    return found


_ISSUER_END = re.compile(r"(?:委员会|委|局|厅|署|办公室|办|政府|中心|协会|学会|联合会|总工会|工会|妇联|团委|党委|党组|"
                         r"人民法院|人民检察院|院|所|部|处|科|站|馆|队|公司|集团|学校|小学|中学|大学|学院|街道|社区|"
                         r"会|组|室|司|行|社)$")
_SIGNED_DATE = re.compile(r"[（(]?\s*(?:[〇零一二三四五六七八九○Ｏ0-9０-９]{4}\s*年\s*[一二三四五六七八九十\d０-９]{1,3}\s*月"
                          r"\s*[一二三四五六七八九十\d０-９]{1,3}\s*日|\d{4}[-/.]\d{1,2}[-/.]\d{1,2})\s*[）)]?")
_SEAL = re.compile(r"[（(]\s*(?:盖章|印章|公章|章)\s*[）)]")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年|[〔\[［【]((?:19|20)\d{2})[〕\]］】]")


def signature(text: str) -> dict[str, str]:
    """The 落款 at the end of a document: the issuing units (the short lines before the date,
    each ending like an organisation: …委员会, …局, …办公室) and the date on a line of its own
    (`2024年2月20日`, `二〇二四年二月二十日`, `2024-02-20`). Empty when the text does not end so."""
    lines = [_SEAL.sub("", line).strip() for line in text.rstrip().split("\n")[-12:]]
    lines = [line for line in lines if line]
    found: dict[str, str] = {}
    for n in range(len(lines) - 1, max(len(lines) - 4, -1), -1):
        date = _SIGNED_DATE.fullmatch(lines[n])
        if date and _real_date(_iso_date(date.group())):
            found["date"] = _iso_date(date.group())
            issuers = []
            for line in reversed(lines[max(0, n - 3):n]):
                if len(line) > 40 or re.search(r"[。！？；，,:：]", line) or not _ISSUER_END.search(line):
                    break
                issuers.insert(0, re.sub(r"\s+", "", line))
            if issuers:
                found["source"] = "、".join(issuers)
            break
    return found


def year_of(title: str, number: str) -> str:
    """The year a title (`2024年工作要点`) or a document number (`烟关工委发〔2024〕5号`) names, or ""."""
    for text in (title, number):
        found = _YEAR.search(text or "")
        if found:
            return found.group(1) or found.group(2)
    return ""


def _real_date(iso: str) -> bool:
    """Whether an ISO date is one the calendar has (not 2024-02-30)."""
    try:
        date.fromisoformat(iso)
    except ValueError:
        return False
    return True


def _iso_date(text: str) -> str:
    """A signed date as ISO: `二〇二四年二月二十日` or `2024-2-20` → 2024-02-20."""
    han = _HAN_DATE.search(text)
    if han:
        return _han_date(han)
    year, month, day = re.findall(r"\d+", text)[:3]
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


def _han_date(match: re.Match[str]) -> str:
    """`二〇二一年六月九日` (or Arabic digits) as 2021-06-09."""
    year = "".join(str(_HAN_DIGITS.get(ch, ch)) for ch in match.group(1))
    return f"{int(_number(year)):04d}-{_number(match.group(2)):02d}-{_number(match.group(3)):02d}"


def _number(text: str) -> int:
    """A small number in Arabic or Chinese digits: 9, ９, 九, 十二, 二十三, 三十."""
    text = "".join(str(ord(ch) - 0xFF10) if "０" <= ch <= "９" else ch for ch in text)
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_HAN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_HAN_DIGITS.get(ones, 0) if ones else 0)
    return int("".join(str(_HAN_DIGITS.get(ch, ch)) for ch in text))


SHEETS = {".xlsx", ".xls", ".et", ".ods"}  # workbooks, read by python-calamine
CONVERTED = {".doc", ".wps", ".rtf", ".odt"}  # read through LibreOffice, as .docx
SLIDES = {".ppt", ".dps"}  # PowerPoint 97 and WPS slides: through LibreOffice, as .pptx
_SAVED_AS = {".wps": ".doc", ".dps": ".ppt"}  # WPS Office writes its files like Microsoft's old ones
CONVERSION_SECONDS = 60  # one file's conversion; real office files take a few seconds


class ConverterMissing(Exception):
    """LibreOffice is not installed, so this format cannot be read here."""


def converted(suffix: str, data: bytes, target: str = "docx") -> bytes:
    """A `.doc`, `.wps`, `.rtf` or `.odt` file as `.docx` (or a `.ppt`/`.dps` as `target` pptx),
    converted by LibreOffice headless in a temporary folder and cached by the file's hash, so
    re-indexing converts nothing again. Raises `ConverterMissing` without LibreOffice and
    ValueError when it cannot convert the file."""
    from ..index.models import cache_dir

    cached = cache_dir() / "converted" / f"{hashlib.sha256(data).hexdigest()}.{target}"
    if cached.is_file():
        return cached.read_bytes()
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        raise ConverterMissing
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"input{_SAVED_AS.get(suffix, suffix)}"
        source.write_bytes(data)
        # its own session, so that on a timeout the shell script Debian installs as soffice and the
        # soffice.bin it starts are killed together, never left running
        office = subprocess.Popen([soffice, f"-env:UserInstallation={Path(folder, 'profile').as_uri()}", "--headless",
                                   "--norestore", "--convert-to", target, "--outdir", folder, str(source)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            office.wait(CONVERSION_SECONDS)
        except subprocess.TimeoutExpired:
            raise ValueError(f"LibreOffice took more than {CONVERSION_SECONDS} s") from None
        finally:
            try:
                os.killpg(office.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            office.wait()
        result = Path(folder) / f"input.{target}"
        if not result.is_file():
            raise ValueError("LibreOffice could not convert it")
        converted = result.read_bytes()
    _keep(cached, converted)
    return converted


IMAGES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
MAX_PAGE_SIDE = 4000  # pixels a rendered PDF page may span (A3 at 200 dpi: 3,307); OCR reads no finer than that
MIN_TEXT_PIXELS = 8  # an image narrower or lower than this holds no line of text


class OcrMissing(Exception):
    """The OCR extra (rapidocr-onnxruntime, pypdfium2) is not installed."""


def ocr_images(images: Iterable, total: int, name: str, data: bytes) -> list[str]:
    """The text of each image (PIL images: scanned pages, photos of a notice; None for a page known
    to be blank), read one at a time by RapidOCR's PP-OCRv4 Chinese models, which ship inside its
    wheel and run on onnxruntime; cached by the file's hash, since OCR takes seconds a page.
    Progress shows on a terminal."""
    from ..index.models import cache_dir

    cached = cache_dir() / "ocr" / f"{hashlib.sha256(data).hexdigest()}.json"
    if cached.is_file():
        return json.loads(cached.read_text(encoding="utf-8"))
    reader = _ocr_reader()
    from tqdm import tqdm

    pages = [_ocr_page(reader, image)
             for image in tqdm(images, total=total, desc=f"OCR {name}", unit=" pages", file=sys.stderr,
                               disable=not sys.stderr.isatty())]
    _keep(cached, json.dumps(pages, ensure_ascii=False).encode("utf-8"))
    return pages


def _ocr_page(reader, image) -> str:
    """One image's text; "" for a blank page or a strip too thin to hold a line of text (a rule
    line of a web page), which the OCR models cannot even resize."""
    if image is None or min(image.size) < MIN_TEXT_PIXELS:
        return ""
    rgb = image.convert("RGB")
    if rgb.getextrema() and all(low == high for low, high in rgb.getextrema()):
        return ""  # one colour all over
    return _ocr_lines(reader(without_seals(rgb))[0] or [])


SEAL_MIN = 60  # pixels across: a smaller red ring is a mark in the text, not a seal


def without_seals(image) -> Any:
    """The page as an array with its red seals whitened: a seal is a red ring about as high as
    it is wide (the stamp pressed over a 公文's date and issuer), and every red pixel inside it
    goes, so its own text is not read into the 落款. Red text lines (a 公文's red header) are
    long and flat, and stay."""
    import numpy as np
    from scipy import ndimage

    pixels = np.asarray(image).copy()
    r, g, b = (pixels[..., i].astype(np.int16) for i in range(3))
    red = (r > 140) & (r - g > 60) & (r - b > 60)
    if red.sum() < SEAL_MIN * 4:
        return pixels
    labels, _ = ndimage.label(ndimage.binary_dilation(red, iterations=2))
    for box in ndimage.find_objects(labels):
        height, width = box[0].stop - box[0].start, box[1].stop - box[1].start
        if min(height, width) >= SEAL_MIN and 0.7 <= height / width <= 1.4:
            reddish = r[box] - np.maximum(g[box], b[box]) > 25  # the ring's pink fringes too, never black ink
            pixels[box][reddish] = 255
    return pixels


def _keep(path: Path, data: bytes) -> None:
    """Write a cache file whole or not at all (another process may read it meanwhile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(path)


@lru_cache(maxsize=1)
def _ocr_reader():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        raise OcrMissing from None
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    return RapidOCR()


def _ocr_lines(found: list) -> str:
    """OCR boxes ([corners, text, score]) as lines in reading order: boxes whose vertical middles
    are within half a box height of each other form one line, left to right."""
    boxes = sorted((min(y for _, y in corners), max(y for _, y in corners), min(x for x, _ in corners), text)
                   for corners, text, _ in found)
    lines: list[list[tuple[float, str]]] = []
    middle = height = 0.0
    for top, bottom, left, text in boxes:
        if lines and abs((top + bottom) / 2 - middle) <= height / 2:
            lines[-1].append((left, text))
        else:
            lines.append([(left, text)])
            middle, height = (top + bottom) / 2, bottom - top
    return "\n".join("".join(text for _, text in sorted(line)) for line in lines)


def pdf_page_images(data: bytes, pages: list[int]) -> Iterator:
    """The given pages of a PDF rendered one at a time at 200 dpi (less for a page so large that
    a side would pass `MAX_PAGE_SIDE`), for OCR; None for a page with nothing on it, not rendered."""
    try:
        import pypdfium2
    except ImportError:
        raise OcrMissing from None
    document = pypdfium2.PdfDocument(data)
    try:
        for i in pages:
            page = document[i]
            try:
                if next(iter(page.get_objects()), None) is None:
                    yield None
                    continue
                width, height = page.get_size()
                scale = min(200 / 72, MAX_PAGE_SIDE / max(width, height, 1.0))
                yield page.render(scale=scale).to_pil()
            finally:
                page.close()
    finally:
        document.close()


IMAGE_SHARE = 0.5  # of a page's area: a page mostly covered by one image is a scan, whatever little text it has
LITTLE_TEXT = 40  # characters: a text layer this short beside a large image is a stamp or a page number


def scanned_pages(pages: list[str], imaged: set[int]) -> list[int]:
    """The pages to read by OCR: those without text, and those with little text that are mostly
    one image (a scan with a printed page number or a typed heading on it): see `pdf_pages`."""
    return [i for i, text in enumerate(pages)
            if not text.strip() or i in imaged and len(re.sub(r"\s+", "", text)) < LITTLE_TEXT]


def image_frames(data: bytes) -> list:
    """Every frame of an image file (a multi-page TIFF has several)."""
    from PIL import Image, ImageSequence

    with Image.open(io.BytesIO(data)) as image:
        return [frame.copy() for frame in ImageSequence.Iterator(image)]
