"""Bad input never crashes indexing or search: it loads, or is skipped with a warning naming the
file and the reason, and the rest of the corpus is still indexed."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from policysearch import PolicySearch, PolicySearchError, IndexSettings
from policysearch.text.chunking import Chunker
from policysearch.records import Document
from policysearch.text.tokenize import Tokenizer


SENTENCE = "各区市关工委要认真贯彻落实会议精神，切实做好调研工作。"


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A folder with one good file per encoding and one bad file per failure mode."""
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "good.txt").write_text("关于开展五老进校园活动的通知。", encoding="utf-8")
    for codec in ("gbk", "gb18030", "utf-16"):
        (docs / f"{codec}.txt").write_bytes(f"{codec}编码的文件：关于加强未成年人保护工作的通知。".encode(codec))
    (docs / "big5.txt").write_bytes("big5編碼的文件：關於加強未成年人保護工作的通知。".encode("big5"))
    (docs / "empty.txt").write_bytes(b"")
    (docs / "binary.txt").write_bytes(os.urandom(4096))
    (docs / "broken.docx").write_bytes(b"PK\x03\x04 broken")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n%%EOF")
    (docs / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    (docs / "sub" / "loop").symlink_to(docs, target_is_directory=True)
    os.mkfifo(docs / "pipe.txt")
    (docs / "controls.txt").write_text("含有\x07控制\x1b字符的文本。" + SENTENCE, encoding="utf-8")
    return docs


def test_each_bad_file_is_skipped_with_a_warning_and_the_rest_is_indexed(messy: Path, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "policysearch", "index", str(messy), "--index", str(tmp_path / "idx"),
                          "--no-dense"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    for name, reason in [("empty.txt", "the file is empty"), ("binary.txt", "binary file"),
                         ("broken.docx", "not a readable .docx"), ("broken.pdf", "not a readable .pdf"),
                         ("dangling.txt", "not a regular file"), ("pipe.txt", "not a regular file")]:
        assert any(name in line and reason in line for line in out.stderr.splitlines()), (name, out.stderr)
    engine = PolicySearch.open(tmp_path / "idx")
    ids = set(engine.document_ids())
    assert ids == {"good.txt", "gbk.txt", "gb18030.txt", "utf-16.txt", "big5.txt", "controls.txt"}
    assert engine.search("big5編碼")[0].doc_id == "big5.txt"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_unreadable_file_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "ok.txt").write_text(SENTENCE, encoding="utf-8")
    (tmp_path / "secret.txt").write_text(SENTENCE, encoding="utf-8")
    (tmp_path / "secret.txt").chmod(0)
    with caplog.at_level(logging.WARNING, logger="policysearch"):
        engine = PolicySearch.build([tmp_path], tmp_path / "idx", IndexSettings(model=None))
    assert any("secret.txt: cannot read" in m for m in caplog.messages)
    assert engine.count()[0] == 1


def test_a_50_mb_file_and_a_5_mb_line(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    paragraph = (SENTENCE * 20 + "\n").encode("utf-8")
    big.write_bytes(paragraph * (50 * 2**20 // len(paragraph) + 1))
    line = tmp_path / "line.txt"
    line.write_text("，".join(["关心下一代工作委员会"] * 460_000), encoding="utf-8")
    engine = PolicySearch.build([big, line], tmp_path / "idx", IndexSettings(model=None))
    assert big.stat().st_size >= 50 * 2**20 and line.stat().st_size >= 5 * 2**20
    hit = engine.search("关心下一代工作委员会", k=1)[0]
    assert hit.doc_id == "line.txt" and len(hit.text) <= 2 * engine.settings.chunk_max  # overlapping passages merge
    assert engine.document("line.txt").text[hit.start:hit.end] == hit.text


@pytest.mark.parametrize("query", ["？？？！！。。。", "的了是在和", "\x00\x07\x1b", "a" * 2_000, "五环" * 1_000,
                                   "\u200b\u200b", "🙂🙂 emoji 查询", "关工委\udcff", "\ud800关工委",
                                   "第" + "1" * 1_990 + "条", "第" + "一" * 1_990 + "条"])
def test_odd_queries_return_results_or_nothing_never_an_exception(corpus_index: PolicySearch, query: str) -> None:
    for mode in ("bm25", "dense", "hybrid"):
        hits = corpus_index.search(query, k=3, mode=mode)
        assert len(hits) <= 3
    assert corpus_index.ask(query).question


@pytest.mark.parametrize("query", ["a" * 2_001, "五环工作格局" * 2_000, "关工委的工作" + "第" + "1" * 5_000 + "条"])
def test_a_long_query_is_searched_by_its_beginning_and_says_so(corpus_index: PolicySearch, query: str) -> None:
    assert corpus_index.search(query, k=3) == corpus_index.search(query[:2000], k=3)
    assert corpus_index.notice(query) == f"the query has {len(query)} characters; only its first 2000 were searched"
    assert corpus_index.ask(query).question == query[:2000]


@pytest.mark.parametrize("query", ["\ud800", "\udcff\udcfe  ", "  \n "])
def test_a_query_of_nothing_readable_is_one_error(corpus_index: PolicySearch, query: str) -> None:
    for call in (corpus_index.search, corpus_index.ask):
        with pytest.raises(PolicySearchError, match="the query is empty"):
            call(query)


def test_queries_with_undecodable_bytes_on_the_command_line(corpus_index: PolicySearch) -> None:
    for command in ("search", "ask"):
        out = subprocess.run([sys.executable, "-m", "policysearch", command, "--mode", "bm25", "--index",
                              str(corpus_index.root), "--", os.fsdecode("关工委".encode() + b"\xff")],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and "Traceback" not in out.stderr and "关工委" in out.stdout, out.stderr
    long = subprocess.run([sys.executable, "-m", "policysearch", "ask", "第" + "1" * 5_000 + "条", "--index",
                           str(corpus_index.root)], capture_output=True, text=True, timeout=120)
    assert long.returncode == 0 and long.stderr.strip() == \
        "policysearch: note: the query has 5002 characters; only its first 2000 were searched"


def test_odd_query_on_the_command_line(corpus_index: PolicySearch) -> None:
    out = subprocess.run([sys.executable, "-m", "policysearch", "search", "的了是", "--mode", "bm25", "--index",
                          str(corpus_index.root)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout == "" and "no passage matches" in out.stderr


@settings(deadline=None)
@given(text=st.text(max_size=2000), size=st.integers(10, 400))
def test_fuzz_chunker_offsets_on_arbitrary_unicode(text: str, size: int) -> None:
    doc = Document(id="d", text=text)
    for chunk in Chunker(IndexSettings(chunk_size=size, chunk_max=size + 50)).chunk(doc):
        assert chunk.text and chunk.text.strip() and doc.text[chunk.start:chunk.end] == chunk.text
        assert len(chunk.text) <= size + 50


@settings(deadline=None)
@given(text=st.text(max_size=500))
def test_fuzz_tokenizer_on_arbitrary_unicode(text: str) -> None:
    tokens = Tokenizer().tokens(text)
    assert all(t and not t.isspace() for t in tokens)


def _xlsx_bomb(path: Path, megabytes: int) -> None:
    """A real workbook whose one sheet is `megabytes` of repeated rows, compressed some 300 times."""
    import io
    import zipfile

    import openpyxl

    book = openpyxl.Workbook()
    book.active["A1"] = "序号"
    plain = io.BytesIO()
    book.save(plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                out.writestr(item, src.read(item.filename))
                continue
            with out.open(item.filename, "w") as sheet:
                sheet.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                            b'spreadsheetml/2006/main"><sheetData>')
                rows = b'<row><c t="inlineStr"><is><t>a</t></is></c></row>' * 20_000
                for _ in range(megabytes * 2**20 // len(rows)):
                    sheet.write(rows)
                sheet.write(b"</sheetData></worksheet>")


def _ods_bomb(path: Path, megabytes: int) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        out.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        with out.open("content.xml", "w") as content:
            content.write(b'<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:'
                          b'xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text='
                          b'"urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table>')
            rows = b"<table:table-row><table:table-cell><text:p>a</text:p></table:table-cell></table:table-row>" * 10_000
            for _ in range(megabytes * 2**20 // len(rows)):
                content.write(rows)
            content.write(b"</table:table></office:spreadsheet></office:body></office:document-content>")


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants now."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
                children.setdefault(int(stat[1]), []).append(int(entry))
                rss[int(entry)] = int(stat[21]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError):
                continue
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo += children.get(current, [])
    return total


FAKE_SOFFICE = """#!/bin/sh
# LibreOffice hanging on a file, as real ones do: the script starts soffice.bin (here a sleep) and waits
echo $$ >> "$FAKE_SOFFICE_PIDS"
sleep 1000 &
echo $! >> "$FAKE_SOFFICE_PIDS"
wait
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process memory from /proc")
def test_a_folder_of_hostile_files_indexes_the_good_one_within_bounds(tmp_path: Path) -> None:
    """Decompression bombs, a rule-line image, a poster-sized page, 5,000 blank pages, a bogus
    xref table, 40,000 unclosed tags and a LibreOffice that hangs: each file is one warning, the
    good file is searchable, memory and time stay bounded and no process is left behind."""
    import threading
    import time

    from PIL import Image
    from reportlab.pdfgen import canvas

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("关于开展五老进校园活动的通知：各区市关工委要认真组织五老志愿者进校园。", encoding="utf-8")
    _xlsx_bomb(docs / "bomb.xlsx", 400)
    _ods_bomb(docs / "bomb.ods", 400)
    Image.new("RGB", (1, 20_000)).save(docs / "rule.png")
    poster = canvas.Canvas(str(docs / "poster.pdf"), pagesize=(14_400, 14_400))
    poster.rect(100, 100, 14_000, 14_000, fill=1)
    poster.showPage()
    poster.save()
    blank = canvas.Canvas(str(docs / "blank.pdf"))
    for _ in range(5_000):
        blank.showPage()
    blank.save()
    head = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n")
    (docs / "xref.pdf").write_bytes(head + b"xref\n0 9999999\n0000000000 65535 f \ntrailer<</Size 9999999/Root 1 0 R>>\n"
                                    b"startxref\n%d\n%%%%EOF\n" % len(head))
    (docs / "deep.html").write_text("<html><body>" + "<span>家庭教育。" * 40_000, encoding="utf-8")
    (docs / "hang.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2_000)
    (docs / "~$good.docx").write_bytes(b"\x0bWord lock")  # Word's lock file beside an open document
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "soffice").write_text(FAKE_SOFFICE)
    (bin_dir / "soffice").chmod(0o755)
    pids = tmp_path / "soffice.pids"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SOFFICE_PIDS": str(pids)}
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "policysearch", "index", str(docs), "--index", str(tmp_path / "idx"),
                                "--no-dense", "--file-timeout", "45"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    peak = 0

    def watch() -> None:
        nonlocal peak
        while process.poll() is None:
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    out, err = process.communicate(timeout=300)
    watcher.join()
    assert process.returncode == 0 and "Traceback" not in err, err
    assert time.monotonic() - started < 300 and peak < 2 * 2**30, (time.monotonic() - started, peak)
    warnings = [line for line in err.splitlines() if "warning: skipped" in line]
    for name, reason in [("bomb.xlsx", "decompression bomb"), ("bomb.ods", "decompression bomb"),
                         ("rule.png", "no text found"), ("poster.pdf", "no text found"), ("blank.pdf", "no text found"),
                         ("xref.pdf", ".pdf"), ("hang.doc", "longer than 45 s")]:
        assert sum(name in line for line in warnings) == 1 and any(name in w and reason in w for w in warnings), (name, err)
    assert len(warnings) == 7 and "~$good.docx" not in err and "7 files skipped" in err
    engine = PolicySearch.open(tmp_path / "idx")
    assert engine.search("五老志愿者进校园", k=1)[0].doc_id == "good.txt"
    assert set(engine.document_ids()) == {"good.txt", "deep.html"}
    assert pids.is_file() and len(pids.read_text().split()) == 2, "the fake LibreOffice and its child started"
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and b"Z" not in Path(f"/proc/{pid}/stat").read_bytes().split(b")")[-1][:3]
              for pid in pids.read_text().split()) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in pids.read_text().split() if Path(f"/proc/{pid}").exists()
            and b"Z" not in Path(f"/proc/{pid}/stat").read_bytes().split(b")")[-1][:3]]
    assert not left, f"LibreOffice processes left running: {left}"


def test_a_file_past_the_memory_limit_is_skipped_and_the_rest_indexed(tmp_path: Path) -> None:
    """A workbook under the zip check's thresholds that expands past the worker's memory."""
    (tmp_path / "good.txt").write_text(SENTENCE, encoding="utf-8")
    _xlsx_bomb(tmp_path / "sheet.xlsx", 100)
    out = subprocess.run([sys.executable, "-m", "policysearch", "index", str(tmp_path), "--index", str(tmp_path / "idx"),
                          "--no-dense", "--file-memory", "300"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "Traceback" not in out.stderr and "stack backtrace" not in out.stderr, out.stderr
    (line,) = [line for line in out.stderr.splitlines() if "sheet.xlsx" in line]
    assert "skipped" in line and ("memory" in line or "crashed" in line), line
    assert PolicySearch.open(tmp_path / "idx").document_ids() == ["good.txt"]


def test_a_named_file_that_breaks_its_reader_is_one_error(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (1, 20_000)).save(tmp_path / "rule.png")
    out = subprocess.run([sys.executable, "-m", "policysearch", "index", str(tmp_path / "rule.png"), "--index",
                          str(tmp_path / "idx"), "--no-dense"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0 and "rule.png: no text found" in out.stderr
    assert not (tmp_path / "idx").exists(), "a failed first build leaves no folder (and no .lock) behind"
