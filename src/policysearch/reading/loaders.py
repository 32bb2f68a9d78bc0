"""Read files of any common format and Chinese encoding into `Document`s."""

from __future__ import annotations

import hashlib
import io
import os
import re
import logging
import zipfile
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator

from . import formats
from ..errors import PolicySearchError
from ..records import KINDS, Document
from .sandbox import Job, Sandbox

TEXT_SUFFIXES = {".txt", ".md"}
SUFFIXES = {"." + kind for kind in KINDS}
# A .docx is a zip: one that expands past this, or past a quarter of it at over 100 times its
# size on disk, is refused as a decompression bomb (real documents compress 5 to 20 times).
MAX_EXPANDED_BYTES = 512 * 2**20

# Characters common in both simplified and traditional Chinese prose: decoding with the right
# codec yields many of them, a wrong double-byte codec yields rare characters instead.
_COMMON = set(
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说"
    "产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点"
    "从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反明看原又"
    "么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位"
    "入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别手角期根论运农指几九区强放决"
    "這為個國時來們說產種經進會對發動關與條於學應實現當點從業還開將體長問題黨導領區務歲書員級報兒見議"
)
_BREADCRUMB = re.compile(r"^(您现在的位置|当前位置|您的位置|首页\s*[>›»])")
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_DATE_LINE = re.compile(r"^(发布(时间|日期)[:：]\s*)?\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(\s+\d{1,2}:\d{2}(:\d{2})?)?$")
_LEAD_TITLE = re.compile(r"\s*([^\s。；;，,：:]{4,60}?)(?:[ \t　]+|(?=\d{4}[-/.年]\d{1,2}[-/.月]))")
HEADER_MAX = 60  # characters a 来源： line of a page header holds at most; a longer one is the text
_SOURCE_LINE = re.compile(r"^(来源|信息来源|发布单位|发布机构)\s*[:：]\s*(\S+)")
_INFO_BAR = re.compile(r"^(?=[^。；]{0,160}$)(?=.*\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2})(?=.*(?:【|字体|打印|关闭|浏览|阅读|点击))")
_BAR_SOURCE = re.compile(r"(?:来源|信息来源|发布单位|发布机构)\s*[:：]\s*([^\s【】\[\]|｜]+)")


Reuse = Callable[[str, str], "Document | None"]
Progress = Callable[[str, int], "Callable[[int], None] | None"]
"""`progress(stage, total)` is called as each build stage starts (loading, tokenising, embedding,
writing) and may return a callback that is told how many more items were done."""
log = logging.getLogger("policysearch")


def load(paths: Iterable[str | os.PathLike[str]], reuse: Reuse | None = None, ocr: bool = True,
         progress: Progress | None = None, timeout: float = 300.0, memory_mb: int = 2048) -> list[Document]:
    """Load files and directory trees. Each file is read in a worker process within `timeout`
    seconds and `memory_mb` of memory, so a file that breaks its parser, hangs or exhausts memory
    is skipped with a warning (`skipped FILE: reason`), like an unreadable one, when it was found
    by walking a folder, while a file named explicitly must load or the call fails. Each
    document's `meta["sha256"]` is the hash of its file; `reuse(doc_id, sha256)` may return an
    already loaded document for an unchanged file, which is then not read again. `ocr` reads
    scanned PDF pages and images; `progress` hears of each file (stage "loading")."""
    paths = [Path(p) for p in paths]
    files = list(_discover(paths))
    tick = progress("loading", len(files)) if progress else None
    found: dict[int, Document] = {}
    jobs: list[tuple[int, bool, Job]] = []
    for position, (named, file, doc_id) in enumerate(files):
        doc = _reused(file, doc_id, reuse) if reuse else None
        if doc is not None:
            found[position] = doc
            if tick:
                tick(1)
        else:
            jobs.append((position, named, Job(readable(str(file)), read_document, (file, doc_id, ocr))))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    sandbox = Sandbox(cores, timeout, memory_mb)
    for i, result in sandbox.read([job for _, _, job in jobs]):
        position, named, _ = jobs[i]
        for message in result.warnings:
            log.warning(message)
        if result.value is not None:
            found[position] = result.value
        elif named:
            raise PolicySearchError(result.error)
        else:
            log.warning(f"skipped {result.error}")
        if tick:
            tick(1)
    if not found:
        names = ", ".join(readable(str(p)) for p in paths)
        raise PolicySearchError(f"{names}: no readable documents ({', '.join(sorted(SUFFIXES))}) found")
    return [found[position] for position in sorted(found)]


def _reused(file: Path, doc_id: str, reuse: Reuse) -> Document | None:
    """The already loaded document of an unchanged file (by its hash), else None; a file that
    cannot be read is left to its worker, which says why."""
    digest = hashlib.sha256()
    try:
        with file.open("rb") as handle:
            while block := handle.read(2**20):
                digest.update(block)
    except OSError:
        return None
    return reuse(doc_id, digest.hexdigest())


def read_document(path: Path, doc_id: str, ocr: bool) -> Document:
    """One file as a document with its hash in `meta["sha256"]`: what a worker runs for each file."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise PolicySearchError(f"{readable(str(path))}: cannot read ({err.strerror or err})") from None
    doc = load_file(path, doc_id, data, ocr)
    doc.meta["sha256"] = hashlib.sha256(data).hexdigest()
    return doc


def readable(name: str) -> str:
    """A file name or path as text: each part that is not UTF-8 (GBK names from Windows zip
    archives are common) is decoded as GB18030 when that is valid, else with replacement marks."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return "/".join(_readable_part(part) for part in name.split("/"))


def _readable_part(part: str) -> str:
    raw = os.fsencode(part)
    try:
        raw.decode("utf-8")
        return part
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace")


def _discover(paths: list[Path]) -> Iterator[tuple[bool, Path, str]]:
    """(named explicitly, file, document id) for every supported file, each file once. With one
    path, ids are relative to that folder (or the file's name); with several, relative to the
    folder they have in common, so `2021/通知.txt` and `2022/通知.txt` stay two documents."""
    for root in paths:
        if not root.exists():
            raise PolicySearchError(f"{readable(str(root))}: no such file or folder; check the path")
    base = None
    if len(paths) > 1:
        base = os.path.commonpath([os.path.abspath(p if p.is_dir() else p.parent) for p in paths])
    seen: set[tuple[int, int]] = set()
    taken: set[str] = set()
    for root in paths:
        named = root.is_file()
        for file in [root] if named else _walk(root):
            st = file.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue  # one file reached twice (a folder and a file inside it): indexed once
            seen.add((st.st_dev, st.st_ino))
            if base is not None:
                doc_id = Path(os.path.relpath(os.path.abspath(file), base)).as_posix()
            else:
                doc_id = file.name if named else file.relative_to(root).as_posix()
            doc_id = readable(doc_id)
            if doc_id in taken:  # two names that read alike once decoded
                unique = next(f"{doc_id}~{n}" for n in range(2, len(taken) + 3) if f"{doc_id}~{n}" not in taken)
                log.warning(f"{readable(str(file))}: id {doc_id} is taken by another file; indexed as {unique}")
                doc_id = unique
            taken.add(doc_id)
            yield named, file, doc_id


def _walk(root: Path) -> Iterator[Path]:
    """Supported regular files under `root`, in a stable order. Links are followed only when they
    point inside `root`; links leading out of it, loops, non-regular files and files of other
    types are skipped with a warning each. Hidden files and folders (`.name`) are passed over."""
    inside = root.resolve()
    visited: set[tuple[int, int]] = set()

    def skip(path: Path, why: str) -> None:
        log.warning(f"skipped {readable(str(path))}: {why}")

    def outside(path: Path) -> bool:
        if not path.is_symlink():
            return False
        target = path.resolve()
        if target.is_relative_to(inside):
            return False
        skip(path, f"a link to {readable(str(target))}, outside {readable(str(root))}; index that place itself to include it")
        return True

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in visited:
            skip(Path(dirpath), "a link back to a folder already indexed (a loop)")
            dirnames[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not outside(Path(dirpath) / d))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith((".", "~$")):  # hidden files, and the lock files Word and WPS keep beside an open document
                continue
            if path.suffix.lower() not in SUFFIXES:
                kind = path.suffix.lower() or "a file without an extension"
                skip(path, f"{kind} is not a supported type; save it as one of {', '.join(sorted(SUFFIXES))}")
            elif not path.is_file():
                skip(path, "not a regular file (a broken link, a pipe or a device)")
            elif not outside(path):
                yield path


def load_file(path: Path, doc_id: str, data: bytes | None = None, ocr: bool = True) -> Document:
    """One file (or its bytes, already read) to a `Document`, scanned pages and images read by OCR
    unless `ocr` is off; raises `PolicySearchError` naming the file."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise PolicySearchError(
            f"{readable(str(path))}: unsupported file type '{suffix or path.name}'; use one of {', '.join(sorted(SUFFIXES))}"
        )
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as err:
            raise PolicySearchError(f"{readable(str(path))}: cannot read ({err.strerror or err})") from None
    if not data.strip():
        raise PolicySearchError(f"{readable(str(path))}: the file is empty")
    if data.startswith(b"PK\x03\x04"):  # .docx, .xlsx, .ods, .odt, .ofd: zips, whatever the suffix says
        _check_zip(path, data)
    if suffix in TEXT_SUFFIXES:
        doc = _from_text(decode(data, path))
    elif suffix in {".html", ".htm"}:
        doc = _from_html(decode(data, path))
    elif suffix == ".docx":
        doc = _from_docx(path, data)
    elif suffix in formats.CONVERTED:
        doc = _from_docx(path, _converted(path, suffix, data))
    elif suffix == ".pptx":
        doc = _from_pptx(path, data)
    elif suffix in formats.SLIDES:
        doc = _from_pptx(path, _converted(path, suffix, data, "pptx"))
    elif suffix == ".csv":
        doc = _from_sheets([("", formats.csv_rows(decode(data, path)))])
    elif suffix in formats.SHEETS:
        doc = _from_workbook(path, data)
    elif suffix == ".ofd":
        doc = _from_ofd(path, data)
    elif suffix in formats.IMAGES:
        doc = _from_image(path, data, ocr)
    else:
        doc = _from_pdf(path, data, ocr)
    if not doc.text[doc.body_start:].strip():
        raise PolicySearchError(f"{readable(str(path))}: no text found in the file")
    table = suffix in formats.SHEETS | {".csv"}  # a register lists many numbers and dates
    header = {} if table else formats.official_header(doc.text)
    signed = {} if table else formats.signature(doc.text)
    doc.title = header.get("title") or doc.title  # a 公文's own title line beats metadata and first lines
    doc.source = doc.source or header.get("source", "") or signed.get("source", "")
    doc.date = doc.date or header.get("date", "") or signed.get("date", "")
    if header.get("number"):
        doc.meta["number"] = header["number"]
    doc.id = doc_id
    doc.path = readable(str(path))
    doc.title = doc.title or readable(path.stem)
    if not doc.date:
        found = _DATE.search(path.name)
        doc.date = _iso(found) if found else formats.year_of(doc.title, header.get("number", ""))
    return doc


def decode(data: bytes, path: Path) -> str:
    """Bytes to text: BOMs first, then UTF-8, then whichever Chinese codec reads most like Chinese."""
    binary = PolicySearchError(f"{readable(str(path))}: looks like a binary file, not text; convert it to .txt, .docx or .pdf")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    text = _ascii_utf16(data) or _strict(data, "utf-8") or _best_chinese(data)
    if text is None:
        raise binary
    sample = text[:20000]
    if sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f") > max(3, len(sample) // 100):
        raise binary
    return text


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


def _ascii_utf16(data: bytes) -> str | None:
    """BOM-less UTF-16 of mostly ASCII text shows NUL bytes on one parity only."""
    head = data[:4096]
    if len(head) < 4 or len(data) % 2:
        return None
    half = len(head) // 2
    even_nul, odd_nul = head[0::2].count(0) / half, head[1::2].count(0) / half
    if odd_nul > 0.2 and even_nul < 0.05:
        return _strict(data, "utf-16-le")
    if even_nul > 0.2 and odd_nul < 0.05:
        return _strict(data, "utf-16-be")
    return None


def _best_chinese(data: bytes) -> str | None:
    """GB18030, Big5 or BOM-less UTF-16: the decoding whose non-ASCII characters are mostly common
    Chinese ones (a wrong codec yields rare characters); None when no codec reads like Chinese."""
    codecs = ["gb18030", "big5"] + (["utf-16-le", "utf-16-be"] if len(data) % 2 == 0 else [])
    best, best_ratio = None, 0.2
    for codec in codecs:
        text = _strict(data, codec)
        if text is None:
            continue
        sample = text[:20000]
        wide = sum(1 for ch in sample if ord(ch) > 127) or 1
        ratio = sum(1 for ch in sample if ch in _COMMON) / wide
        if ratio > best_ratio:
            best, best_ratio = text, ratio
    return best


def _from_text(text: str) -> Document:
    """Plain text; a news-page header (breadcrumb, title, date, source) becomes metadata."""
    title, date, source = "", "", ""
    body_start = title_end = pos = 0
    saw_header = False
    for line in text.splitlines(keepends=True)[:8]:
        pos += len(line)
        stripped = line.strip()
        if not stripped:
            continue
        if _BREADCRUMB.match(stripped):
            body_start = pos
        elif _DATE_LINE.match(stripped):
            date = _iso(_DATE.search(stripped))
            body_start, saw_header = pos, True
        elif _INFO_BAR.match(stripped):  # 发布时间：2024-04-12 10:30 来源：烟台日报 【字体：大 中 小】 【打印】
            date = _iso(_DATE.search(stripped))
            found = _BAR_SOURCE.search(stripped)
            source = found.group(1) if found else source
            body_start, saw_header = pos, True
        elif _SOURCE_LINE.match(stripped) and len(stripped) <= HEADER_MAX:  # longer: the text itself goes on
            source = _SOURCE_LINE.match(stripped).group(2)
            body_start, saw_header = pos, True
        elif not title and len(stripped) <= 80 and not stripped.endswith(("。", "；", ";")):
            title, title_end = stripped.lstrip("#").strip() or stripped, pos
        else:
            break
    body_start = max(body_start, title_end) if saw_header else 0
    if not title:  # a scraped notice on one long line: the title is what comes before the first space or date
        lead = _LEAD_TITLE.match(text)
        title = lead.group(1) if lead else ""
    return Document(id="", text=text, title=title, date=date, source=source, body_start=body_start)


def _iso(match: re.Match[str] | None) -> str:
    if not match:
        return ""
    year, month, day = match.groups()[:3]
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


class _VisibleText(HTMLParser):
    """Collects the text a browser would show, with block elements on lines of their own, minus a
    page's furniture: navigation, menus, headers and footers, share buttons, forms and sidebars
    (by tag, or by a class or id naming them). The `<meta>` tags of Chinese government sites
    (ArticleTitle, PubDate, ContentSource) give the title, date and source."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table"}
    HIDDEN = {"script", "style", "head", "noscript", "template", "svg"}
    FURNITURE = {"nav", "footer", "aside", "form", "button", "select", "iframe"}
    VOID = {"br", "img", "meta", "input", "link", "hr", "area", "base", "col", "embed", "source", "wbr"}
    NAMED = re.compile(r"(?:^|[-_\s])(?:nav|navbar|menu|footer|foot|share|bdshare|jiathis|breadcrumb|crumbs?|sidebar|"
                       r"copyright|toolbar|topbar|header|banner|position|location)(?:[-_\s\d]|$)", re.IGNORECASE)
    META = {"articletitle": "title", "pubdate": "date", "contentsource": "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self.meta: dict[str, str] = {}
        self._open: list[tuple[str, bool]] = []  # open elements, and whether each hides its content
        self._open_tags: Counter[str] = Counter()  # how many of each tag are open
        self._hiding = 0  # how many open elements hide their content
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "meta" and (found.get("name") or "").lower() in self.META:
            self.meta[self.META[(found.get("name") or "").lower()]] = (found.get("content") or "").strip()
        if tag == "title":
            self._in_title = True
        if tag in self.VOID:
            if tag == "br":
                self.parts.append("\n")
            return
        named = f"{found.get('class') or ''} {found.get('id') or ''}"
        hides = tag in self.HIDDEN or tag in self.FURNITURE or bool(self.NAMED.search(named))
        self._open.append((tag, hides))
        self._open_tags[tag] += 1
        self._hiding += hides
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._open_tags[tag]:  # counts, not a scan of the open elements: unclosed tags nest deep on sloppy pages
            while self._open:
                closed, hides = self._open.pop()
                self._open_tags[closed] -= 1
                self._hiding -= hides
                if closed == tag:
                    break
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        elif not self._hiding:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def _from_html(markup: str) -> Document:
    parser = _VisibleText()
    parser.feed(markup)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).split("\n"))
    doc = _from_text("\n".join(line for line in lines if line))
    doc.title = parser.meta.get("title") or parser.title or doc.title
    published = _DATE.search(parser.meta.get("date", ""))
    doc.date = _iso(published) if published else doc.date
    doc.source = parser.meta.get("source") or doc.source
    return doc


_HEADING_STYLE = re.compile(r"(?:heading|标题)\s*([1-9])", re.IGNORECASE)


def _from_docx(path: Path, data: bytes) -> Document:
    import docx

    try:
        _check_zip(path, data)
        word = docx.Document(io.BytesIO(data))
    except PolicySearchError:
        raise
    except Exception as err:
        raise PolicySearchError(f"{readable(str(path))}: not a readable .docx file ({type(err).__name__}); "
                                "re-save it from Word") from None
    lines = [p.text.strip() for p in word.paragraphs]
    for table in word.tables:
        for row in table.rows:
            lines.append(" ".join(cell.text.strip() for cell in row.cells))
    doc = _from_text("\n".join(line for line in lines if line))
    doc.title = formats.real_title(word.core_properties.title or "", doc.text) or doc.title
    for paragraph in word.paragraphs:
        styled = _HEADING_STYLE.fullmatch(paragraph.style.name if paragraph.style is not None else "")
        if styled and paragraph.text.strip():
            doc.headings[paragraph.text.strip()] = int(styled.group(1))
    return doc


def _converted(path: Path, suffix: str, data: bytes, target: str = "docx") -> bytes:
    package = "libreoffice-impress-nogui" if target == "pptx" else "libreoffice-writer-nogui"
    try:
        return formats.converted(suffix, data, target)
    except formats.ConverterMissing:
        raise PolicySearchError(f"{readable(str(path))}: reading {suffix} files needs LibreOffice; install it "
                                f"(apt-get install {package}) or save the file as .{target}") from None
    except (ValueError, OSError) as err:
        raise PolicySearchError(f"{readable(str(path))}: {err}; open it and save it as .{target} "
                                f"(or apt-get install {package})") from None


def _from_pptx(path: Path, data: bytes) -> Document:
    """Slides in order: each slide's title is a heading, then its text boxes top to bottom (left
    to right on a row) and its tables row by row with their column names."""
    import pptx

    try:
        deck = pptx.Presentation(io.BytesIO(data))
    except Exception as err:
        raise PolicySearchError(f"{readable(str(path))}: not a readable .pptx file ({type(err).__name__}); "
                                "open it and save it again as .pptx") from None
    parts, headings = [], {}
    for slide in deck.slides:
        title = slide.shapes.title
        heading = title.text_frame.text.strip() if title is not None and title.has_text_frame else ""
        if heading:
            parts.append(" ".join(heading.split()))
            headings[parts[-1]] = 1
        for shape in _reading_order([s for s in slide.shapes if title is None or s.shape_id != title.shape_id]):
            parts += _shape_lines(shape)
        parts.append("")
    text = "\n".join(parts).strip()
    first = next((line for line in parts if line), "")
    return Document(id="", text=text, title=(deck.core_properties.title or "").strip() or first, headings=headings)


def _reading_order(shapes: list) -> list:
    """Shapes top to bottom, left to right among those on one row (a tenth of an inch apart)."""
    return sorted(shapes, key=lambda s: ((s.top or 0) // 91440, s.left or 0))


def _shape_lines(shape) -> list[str]:
    """The lines a slide shape shows: paragraphs of a text box, rows of a table, shapes of a group."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        return [line for inner in _reading_order(list(shape.shapes)) for line in _shape_lines(inner)]
    if getattr(shape, "has_table", False):
        return formats.sheet_rows([[cell.text for cell in row.cells] for row in shape.table.rows])
    if shape.has_text_frame:
        return [" ".join(p.text.split()) for p in shape.text_frame.paragraphs if p.text.strip()]
    return []


def _check_zip(path: Path, data: bytes) -> None:
    """Refuse a zip-based file (.docx, .xlsx, .ods, .odt, .ofd, LibreOffice's output) that would
    expand like a decompression bomb; a broken zip is left to its format's reader to name."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(item.file_size for item in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    if expanded > MAX_EXPANDED_BYTES or (expanded > MAX_EXPANDED_BYTES // 4 and expanded > 100 * len(data)):
        raise PolicySearchError(f"{readable(str(path))}: expands from {len(data) / 2**20:.1f} MB to "
                                f"{expanded / 2**20:.0f} MB, which looks like a decompression bomb; "
                                "open and re-save it if it is a real document")


def _from_sheets(sheets: list[tuple[str, list[list[object]]]]) -> Document:
    """A table per sheet, each under its sheet's name as a heading, so that no passage mixes two
    sheets and a hit's section names its sheet."""
    parts, headings = [], {}
    for name, rows in sheets:
        lines = formats.sheet_rows(rows)
        if lines:
            if name.strip():
                parts.append(name.strip())
                headings[name.strip()] = 1
            parts += lines + [""]
    return Document(id="", text="\n".join(parts).strip(), headings=headings)


def _from_workbook(path: Path, data: bytes) -> Document:
    try:
        sheets = formats.workbook_sheets(data)
    except Exception as err:
        raise PolicySearchError(f"{readable(str(path))}: not a readable spreadsheet ({type(err).__name__}); "
                                "open it and save it again as .xlsx") from None
    return _from_sheets(sheets)


def _from_ofd(path: Path, data: bytes) -> Document:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            text, title = formats.ofd_text(archive)
    except PolicySearchError:
        raise
    except Exception as err:
        raise PolicySearchError(f"{readable(str(path))}: not a readable .ofd file ({type(err).__name__}); "
                                "export it again, or print it to PDF") from None
    doc = _from_text(text)
    doc.title = formats.real_title(title, text) or doc.title
    return doc


def _ocr(path: Path, images: Iterable, total: int, data: bytes) -> list[str]:
    """OCR text of the images, or one clear line when the OCR extra is missing."""
    try:
        return formats.ocr_images(images, total, path.name, data)
    except formats.OcrMissing:
        raise PolicySearchError(f"{readable(str(path))}: reading scanned pages needs OCR; "
                                "pip install 'policysearch[ocr]' (offline models, no download)") from None


def _from_image(path: Path, data: bytes, ocr: bool) -> Document:
    if not ocr:
        raise PolicySearchError(f"{readable(str(path))}: an image is read by OCR, which is off (--no-ocr)")
    try:
        frames = formats.image_frames(data)
    except Exception as err:
        raise PolicySearchError(f"{readable(str(path))}: not a readable image ({type(err).__name__})") from None
    return _from_text(formats.pdf_text(_ocr(path, frames, len(frames), data)))  # wrapped lines joined, as in a PDF


def _from_pdf(path: Path, data: bytes, ocr: bool) -> Document:
    import logging

    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        title = str((reader.metadata or {}).get("/Title") or "").strip()
        pages, imaged = formats.pdf_pages(data)
    except Exception as err:
        raise PolicySearchError(f"{readable(str(path))}: not a readable .pdf file ({type(err).__name__}); "
                                "export it again or save it as .txt") from None
    scanned = formats.scanned_pages(pages, imaged if ocr else set())
    if scanned and ocr:
        images = _pdf_images(path, data, scanned)
        for i, page in zip(scanned, _ocr(path, images, len(scanned), data), strict=True):
            pages[i] = page
    elif scanned and len(scanned) == len(pages):
        raise PolicySearchError(f"{readable(str(path))}: a scanned PDF with no text layer, and OCR is off (--no-ocr)")
    text = formats.pdf_text(pages)
    doc = _from_text(text)
    doc.title = formats.real_title(title, text) or doc.title
    return doc


def _pdf_images(path: Path, data: bytes, pages: list[int]) -> Iterator:
    """The scanned pages rendered one by one; a page pdfium cannot render is one clear line."""
    try:
        yield from formats.pdf_page_images(data, pages)
    except formats.OcrMissing:
        raise
    except Exception as err:
        raise PolicySearchError(f"{readable(str(path))}: a page cannot be rendered for OCR ({type(err).__name__}); "
                                "export it again or save it as .txt") from None
