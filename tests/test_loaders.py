"""Every supported format and encoding loads to the same Chinese text; bad files fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from policysearch.errors import PolicySearchError
from policysearch.loaders import load, load_file

TEXT = "关于加强未成年人保护工作的通知\n第一条 为了保护未成年人的身心健康，制定本法。\n第二条 本法所称未成年人是指未满十八周岁的公民。"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le", "utf-16-be"])
def test_text_encodings_decode_to_the_same_text(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "notice.txt"
    path.write_bytes(TEXT.encode(encoding))
    doc = load_file(path, "notice.txt")
    assert doc.text == TEXT
    assert doc.title == "关于加强未成年人保护工作的通知"


def test_big5_traditional_text_is_detected(tmp_path: Path) -> None:
    text = "第一條 為了保護未成年人的身心健康，保障未成年人的合法權益，根據憲法，制定本法。"
    path = tmp_path / "law.txt"
    path.write_bytes(text.encode("big5"))
    assert load_file(path, "law.txt").text == text


def test_news_header_becomes_metadata_and_leaves_the_body(tmp_path: Path) -> None:
    path = tmp_path / "news.md"
    path.write_text("您现在的位置 > 要闻\n某区关工委召开会议\n2022-03-01 09:00:00\n来源:某区关工委 编辑:张三\n\n会议部署了全年工作。", encoding="utf-8")
    doc = load_file(path, "news.md")
    assert (doc.title, doc.date, doc.source) == ("某区关工委召开会议", "2022-03-01", "某区关工委")
    assert "您现在的位置" not in doc.text[doc.body_start:]
    assert doc.text[doc.body_start:].strip() == "会议部署了全年工作。"


def test_bundled_corpus_header(tmp_path: Path) -> None:
    from conftest import CORPUS

    (doc,) = load([CORPUS])
    assert doc.id == "yantai-gwgw-office-meeting-2021-06-09.txt"
    assert doc.title == "烟台市关工委召开主任办公会扩大会议"
    assert (doc.date, doc.source) == ("2021-06-09", "烟台市关工委")
    assert doc.text[doc.body_start:].lstrip().startswith("6月7日")


def test_html_keeps_visible_text_only(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>工作方案</title><style>p{color:red}</style></head><body>"
        "<script>var x = '不应出现';</script><h1>工作方案</h1><p>一、总体要求</p><p>二、主要任务&amp;措施</p></body></html>",
        encoding="gbk",
    )
    doc = load_file(path, "page.html")
    assert doc.title == "工作方案"
    assert "不应出现" not in doc.text and "color" not in doc.text
    assert "一、总体要求\n二、主要任务&措施" in doc.text


def test_docx_paragraphs_and_tables(tmp_path: Path) -> None:
    import docx

    word = docx.Document()
    word.core_properties.title = "家庭教育工作要点"
    word.add_paragraph("一、加强家庭教育指导。")
    table = word.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "责任单位"
    table.rows[0].cells[1].text = "市妇联"
    word.save(tmp_path / "plan.docx")
    doc = load_file(tmp_path / "plan.docx", "plan.docx")
    assert doc.title == "家庭教育工作要点"
    assert "一、加强家庭教育指导。" in doc.text and "责任单位 市妇联" in doc.text


def test_pdf_text_layer(tmp_path: Path) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(tmp_path / "law.pdf"))
    pdf.setFont("STSong-Light", 12)
    pdf.drawString(72, 720, "第一条 为了保护未成年人的身心健康，制定本法。")
    pdf.save()
    doc = load_file(tmp_path / "law.pdf", "law.pdf")
    assert "第一条 为了保护未成年人的身心健康，制定本法。" in doc.text


def test_folder_ids_are_relative_paths_and_bad_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "2021").mkdir()
    (tmp_path / "2021" / "a.txt").write_text("第一份文件的内容。", encoding="utf-8")
    (tmp_path / "b.txt").write_text("第二份文件的内容。", encoding="gbk")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    with pytest.warns(UserWarning, match="empty.txt: the file is empty"):
        docs = load([tmp_path])
    assert sorted(d.id for d in docs) == ["2021/a.txt", "b.txt"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "the file is empty"),
        ("blank.txt", b"  \n\n ", "the file is empty"),
        ("binary.txt", bytes(range(256)) * 8, "binary file"),
        ("table.xlsx", b"PK\x03\x04", "unsupported file type"),
        ("broken.docx", b"not a zip", "not a readable .docx"),
        ("broken.pdf", b"%PDF-1.4 garbage", "not a readable .pdf"),
    ],
)
def test_bad_files_named_explicitly_fail_with_the_file_name(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PolicySearchError, match=message) as err:
        load([path])
    assert name in str(err.value) and "\n" not in str(err.value)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(PolicySearchError, match="no such file or folder"):
        load([tmp_path / "nope"])
