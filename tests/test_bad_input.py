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
from policysearch.chunking import Chunker
from policysearch.records import Document
from policysearch.tokenize import Tokenizer


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
    out = subprocess.run([sys.executable, "-m", "policysearch.cli", "index", str(messy), "--index", str(tmp_path / "idx"),
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
        out = subprocess.run([sys.executable, "-m", "policysearch.cli", command, "--mode", "bm25", "--index",
                              str(corpus_index.root), "--", os.fsdecode("关工委".encode() + b"\xff")],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and "Traceback" not in out.stderr and "关工委" in out.stdout, out.stderr
    long = subprocess.run([sys.executable, "-m", "policysearch.cli", "ask", "第" + "1" * 5_000 + "条", "--index",
                           str(corpus_index.root)], capture_output=True, text=True, timeout=120)
    assert long.returncode == 0 and long.stderr.strip() == \
        "policysearch: note: the query has 5002 characters; only its first 2000 were searched"


def test_odd_query_on_the_command_line(corpus_index: PolicySearch) -> None:
    out = subprocess.run([sys.executable, "-m", "policysearch.cli", "search", "的了是", "--mode", "bm25", "--index",
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
