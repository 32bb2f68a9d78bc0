"""Every supported format and encoding loads to the same Chinese text; bad files fail clearly."""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from policysearch import Filters, IndexSettings, PolicySearch
from policysearch.errors import PolicySearchError
from policysearch.reading.loaders import load, load_file

TEXT = ("关于加强未成年人保护工作的通知\n第一条 为了保护未成年人的身心健康，制定本法。\n"
        "第二条 本法所称未成年人是指未满十八周岁的公民。")


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
    path.write_text("您现在的位置 > 要闻\n某区关工委召开会议\n2022-03-01 09:00:00\n"
                    "来源:某区关工委 编辑:张三\n\n会议部署了全年工作。",
                    encoding="utf-8")
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


def test_folder_ids_are_relative_paths_and_bad_files_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "2021").mkdir()
    (tmp_path / "2021" / "a.txt").write_text("第一份文件的内容。", encoding="utf-8")
    (tmp_path / "b.txt").write_text("第二份文件的内容。", encoding="gbk")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    with caplog.at_level(logging.WARNING, logger="policysearch"):
        docs = load([tmp_path])
    assert sorted(d.id for d in docs) == ["2021/a.txt", "b.txt"]
    said = caplog.messages
    assert any("empty.txt: the file is empty" in m for m in said) and any("image.png: not a readable image" in m for m in said)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "the file is empty"),
        ("blank.txt", b"  \n\n ", "the file is empty"),
        ("binary.txt", bytes(range(256)) * 8, "binary file"),
        ("slides.key", b"PK\x03\x04", "unsupported file type"),
        ("table.xlsx", b"PK\x03\x04", "not a readable spreadsheet"),
        ("notice.ofd", b"PK\x03\x04", "not a readable .ofd"),
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


def test_same_file_names_in_two_folders_are_two_documents(tmp_path: Path) -> None:
    for year in ("2021", "2022"):
        (tmp_path / "two" / year).mkdir(parents=True)
        (tmp_path / "two" / year / "通知.txt").write_text(f"{year}年关于开展五老进校园活动的通知。", encoding="utf-8")
    (tmp_path / "two" / "2022" / "计划.txt").write_text("2022年工作计划。", encoding="utf-8")
    docs = load([tmp_path / "two" / "2021", tmp_path / "two" / "2022"])
    assert sorted(d.id for d in docs) == ["2021/通知.txt", "2022/计划.txt", "2022/通知.txt"]
    named = load([tmp_path / "two" / "2021" / "通知.txt", tmp_path / "two" / "2022" / "通知.txt"])
    assert sorted(d.id for d in named) == ["2021/通知.txt", "2022/通知.txt"]
    assert [d.id for d in load([tmp_path / "two" / "2021"])] == ["通知.txt"], "one folder: ids relative to it"
    assert len(load([tmp_path / "two", tmp_path / "two" / "2022"])) == 3, "a file reached twice is indexed once"


def test_a_file_name_that_is_not_utf8_is_indexed_and_updated(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    folder = tmp_path / "d"
    folder.mkdir()
    gbk_name = os.fsdecode("关工委通知.txt".encode("gbk"))
    (folder / gbk_name).write_text("关于开展家庭教育宣传周的通知。", encoding="utf-8")
    (folder / os.fsdecode(b"bad\xff\xfe.txt")).write_text("关工委调研月活动。", encoding="utf-8")
    cli = [sys.executable, "-m", "policysearch"]
    for _ in range(2):  # the build, then an update over the same names
        out = subprocess.run([*cli, "index", str(folder), "--index", str(tmp_path / "idx"), "--no-dense"],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    found = subprocess.run([*cli, "search", "家庭教育宣传周", "--index", str(tmp_path / "idx"), "--json", "-k", "1"],
                           capture_output=True, text=True, timeout=300)
    assert [h["doc_id"] for h in json.loads(found.stdout)] == ["关工委通知.txt"]
    ids = {d.id for d in load([folder])}
    assert ids == {"关工委通知.txt", "bad\ufffd\ufffd.txt"}
    (folder / "子目录").mkdir()
    (folder / "子目录" / gbk_name).write_text("关于开展五老进校园活动的通知。", encoding="utf-8")
    assert "子目录/关工委通知.txt" in {d.id for d in load([folder])}, "a UTF-8 folder keeps its name"


def test_links_are_followed_inside_the_folder_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    docs, outside = tmp_path / "docs", tmp_path / "private"
    (docs / "sub").mkdir(parents=True)
    outside.mkdir()
    (docs / "sub" / "plan.txt").write_text("关于开展五老进校园活动的工作方案。", encoding="utf-8")
    (outside / "secret.txt").write_text("不应被索引的内部文件。", encoding="utf-8")
    (docs / "alias").symlink_to(docs / "sub", target_is_directory=True)
    (docs / "plan-link.txt").symlink_to(docs / "sub" / "plan.txt")
    (docs / "leak").symlink_to(outside, target_is_directory=True)
    (docs / "leak.txt").symlink_to(outside / "secret.txt")
    (docs / "sub" / "loop").symlink_to(docs, target_is_directory=True)
    with caplog.at_level(logging.WARNING, logger="policysearch"):
        loaded = load([docs])
    assert len(loaded) == 1 and loaded[0].text.startswith("关于开展五老"), "links inside the folder: one file, once"
    said = caplog.messages
    assert any("leak:" in m and "outside" in m for m in said) and any("leak.txt:" in m and "outside" in m for m in said)
    assert any("loop" in m and "a loop" in m for m in said)


def test_a_docx_decompression_bomb_is_refused(tmp_path: Path) -> None:
    import zipfile

    bomb = tmp_path / "bomb.docx"
    paragraph = b"<w:p><w:r><w:t>" + "关工委".encode() * 40 + b"</w:t></w:r></w:p>"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as part:
            for _ in range(150 * 2**20 // (len(paragraph) * 1000)):
                part.write(paragraph * 1000)
    assert bomb.stat().st_size < 2 * 2**20
    with pytest.raises(PolicySearchError, match="bomb.docx: expands from .* MB, which looks like a decompression bomb"):
        load_file(bomb, "bomb.docx")


def test_every_file_of_another_type_in_a_folder_gets_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "通知.txt").write_text("关于开展五老进校园活动的通知。", encoding="utf-8")
    for name in ("会议纪要.vsd", "方案.key", "汇报.numbers", "任务表.xlsx", "README"):
        (tmp_path / name).write_bytes(b"\xd0\xcf\x11\xe0 office bytes")
    (tmp_path / ".hidden.doc").write_bytes(b"x")
    with caplog.at_level(logging.WARNING, logger="policysearch"):
        assert [d.id for d in load([tmp_path])] == ["通知.txt"]
    said = " | ".join(caplog.messages)
    for name, why in [("会议纪要.vsd", ".vsd is not a supported type"), ("方案.key", ".key is not a supported type"),
                      ("汇报.numbers", ".numbers is not a supported type"), ("任务表.xlsx", "not a readable spreadsheet"),
                      ("README", "a file without an extension is not a supported type")]:
        assert f"{name}: {why}" in said
    assert ".hidden" not in said


def test_a_notice_scraped_onto_one_long_line_keeps_its_title(tmp_path: Path) -> None:
    notice = tmp_path / "notice.txt"
    notice.write_text("北京市关于支持会展业发展的若干措施 2020-05-12 来源：北京市商务局 为了应对疫情影响，对因疫情影响暂停举办的"
                      "展会项目给予支持，具体措施如下：一、对展会项目给予补贴。二、减免场租。三、优化审批流程，提高办事效率。",
                      encoding="utf-8")
    assert load([notice])[0].title == "北京市关于支持会展业发展的若干措施"


def test_a_body_run_on_after_its_source_line_is_kept_as_text(tmp_path: Path) -> None:
    resolution = tmp_path / "决议.txt"
    body = ("来源:全国人民代表大会第十一届全国人民代表大会第一次会议听取并审议了国务院总理所作的政府工作报告。"
            "会议认为，过去的五年，我国改革开放和现代化建设取得了举世瞩目的重大成就。")
    resolution.write_text("关于政府工作报告的决议\n" + body, encoding="utf-8")
    doc = load([resolution])[0]
    assert doc.title == "关于政府工作报告的决议" and "举世瞩目的重大成就" in doc.text[doc.body_start:]


def _office_pdf(path: Path) -> None:
    """Three pages as Word exports them: a running header, a paragraph wrapped inside 促进, page numbers."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    pdf.setTitle("(anonymous)")
    pages = [["关于加强家庭教育工作的通知", "各区市关工委：",
              "为深入贯彻落实家庭教育促进法，切实加强家庭教育指导服务工作，促",
              "进社会主义核心价值观在家庭中落地生根，现就有关事项通知如下。", "一、总体要求"],
             ["坚持立德树人根本任务，全面贯彻党的教育方针，推动家庭、学校、社会",
              "协同育人。", "二、主要任务"],
             ["建立家长学校，每学期至少开展两次家庭教育指导活动。"]]
    for number, lines in enumerate(pages, 1):
        pdf.setFont("STSong-Light", 12)
        pdf.drawString(72, 790, "烟台市关心下一代工作委员会文件")
        for i, line in enumerate(lines):
            pdf.drawString(72, 740 - 20 * i, line)
        pdf.drawString(280, 40, f"- {number} -")
        pdf.showPage()
    pdf.save()


def test_pdf_text_is_joined_across_wrapped_lines_without_headers_or_page_numbers(tmp_path: Path) -> None:
    _office_pdf(tmp_path / "notice.pdf")
    doc = load_file(tmp_path / "notice.pdf", "notice.pdf")
    assert "促进社会主义核心价值观在家庭中落地生根" in doc.text
    assert "推动家庭、学校、社会协同育人。" in doc.text
    assert "- 2 -" not in doc.text and doc.text.count("烟台市关心下一代工作委员会文件") == 1
    assert "\n一、总体要求\n" in doc.text, "a short heading line keeps its breaks"
    assert (doc.title, doc.source) == ("关于加强家庭教育工作的通知", "烟台市关心下一代工作委员会"), "not (anonymous)"
    engine = PolicySearch.build([tmp_path / "notice.pdf"], tmp_path / "idx", IndexSettings(model=None))
    hit = engine.search("促进社会主义核心价值观", k=1)[0]
    assert "促进社会主义核心价值观" in hit.text
    assert engine.document(hit.doc_id).text[hit.start:hit.end] == hit.text


def test_spreadsheets_read_row_by_row_with_column_names_and_sheet_as_section(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    tasks = book.active
    tasks.title = "重点任务"
    tasks.append(["任务", "责任单位", "完成时限"])
    tasks.append(["启动调研月活动", "市关工委", "10月"])
    tasks.append(["举办家庭教育讲座", "市妇联", 12])
    other = book.create_sheet("联系人")
    other.append(["姓名", "电话"])
    other.append(["张建生", "6212345"])
    book.save(tmp_path / "任务分解表.xlsx")
    (tmp_path / "名单.csv").write_text("单位,人数\n芝罘区关工委,12\n", encoding="gbk")
    doc = load_file(tmp_path / "任务分解表.xlsx", "任务分解表.xlsx")
    assert "任务：启动调研月活动；责任单位：市关工委；完成时限：10月" in doc.text
    assert "完成时限：12" in doc.text and doc.title == "任务分解表"
    engine = PolicySearch.build([tmp_path], tmp_path / "idx", IndexSettings(model=None))
    hit = engine.search("调研月 市关工委 完成时限", k=1)[0]
    assert hit.section == "重点任务" and "张建生" not in hit.text, "a passage never mixes two sheets"
    assert engine.document(hit.doc_id).text[hit.start:hit.end] == hit.text
    assert "单位：芝罘区关工委；人数：12" in engine.search("芝罘区关工委人数", k=1)[0].text
    assert "任务；责任单位；完成时限" not in doc.text, "the header names the cells, it is no line of its own"


def test_a_two_row_header_with_merged_cells_names_every_column(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["序号", "工作任务", "完成情况", None, "责任单位"])
    sheet.append([None, None, "计划时间", "实际时间", None])
    sheet.append([1, "开展防溺水安全教育", "6月", "7月", "市教育局"])
    sheet.merge_cells("C1:D1")
    for column in "ABE":
        sheet.merge_cells(f"{column}1:{column}2")
    book.save(tmp_path / "进度表.xlsx")
    doc = load_file(tmp_path / "进度表.xlsx", "进度表.xlsx")
    row = "序号：1；工作任务：开展防溺水安全教育；完成情况·计划时间：6月；完成情况·实际时间：7月；责任单位：市教育局"
    assert doc.text.split("\n")[1:] == [row]


def _ofd(path: Path, title: str, lines: list[str]) -> None:
    """An OFD as its zip of XML: the document, one page, a text object per line (out of order)."""
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    objects = "".join(
        f'<ofd:TextObject ID="{i + 10}" Boundary="20 {40 + 8 * i} 170 6" Font="1" Size="5">'
        f'<ofd:TextCode X="0" Y="5">{line}</ofd:TextCode></ofd:TextObject>'
        for i, line in reversed(list(enumerate(lines))))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("OFD.xml", f'<ofd:OFD {ns} Version="1.1"><ofd:DocBody><ofd:DocInfo><ofd:Title>{title}'
                                    f'</ofd:Title></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>'
                                    f'</ofd:DocBody></ofd:OFD>')
        archive.writestr("Doc_0/Document.xml", f'<ofd:Document {ns}><ofd:Pages><ofd:Page ID="1" '
                                               f'BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>')
        archive.writestr("Doc_0/Pages/Page_0/Content.xml", f'<ofd:Page {ns}><ofd:Content><ofd:Layer ID="2">{objects}'
                                                           f'</ofd:Layer></ofd:Content></ofd:Page>')


def test_ofd_pages_are_read_in_reading_order(tmp_path: Path) -> None:
    _ofd(tmp_path / "通知.ofd", "关于开展家庭教育宣传周活动的通知",
         ["各区市关工委：", "为推动家庭教育促进法落地见效，定于5月15日开展家庭教育宣传周活动。", "特此通知。"])
    engine = PolicySearch.build([tmp_path / "通知.ofd"], tmp_path / "idx", IndexSettings(model=None))
    doc = engine.document("通知.ofd")
    assert doc.title == "关于开展家庭教育宣传周活动的通知"
    assert doc.text.index("各区市关工委") < doc.text.index("家庭教育宣传周活动。") < doc.text.index("特此通知")
    hit = engine.search("家庭教育宣传周", k=1)[0]
    assert "定于5月15日开展家庭教育宣传周活动" in hit.text and doc.text[hit.start:hit.end] == hit.text


def test_an_official_documents_header_becomes_its_metadata(tmp_path: Path) -> None:
    notice = tmp_path / "3号文.txt"
    notice.write_text("烟台市关心下一代工作委员会文件\n烟关工委发〔2021〕3号\n关于开展家庭教育宣传周\n活动的通知\n"
                      "各区市关工委：\n为推动家庭教育促进法落地见效，定于5月15日开展家庭教育宣传周活动。\n"
                      "烟台市关心下一代工作委员会\n二〇二一年六月九日\n", encoding="utf-8")
    (tmp_path / "其他.txt").write_text("关于家庭教育宣传周的一般介绍。", encoding="utf-8")
    doc = load_file(notice, "3号文.txt")
    assert (doc.title, doc.source, doc.date) == ("关于开展家庭教育宣传周活动的通知", "烟台市关心下一代工作委员会", "2021-06-09")
    assert doc.meta["number"] == "烟关工委发〔2021〕3号"
    engine = PolicySearch.build([tmp_path], tmp_path / "idx", IndexSettings(model=None))
    hits = engine.search("家庭教育宣传周", filters=Filters(number="〔2021〕3号"))
    assert [h.doc_id for h in hits] == ["3号文.txt"] and hits[0].number == "烟关工委发〔2021〕3号"
    assert {h.doc_id for h in engine.search("家庭教育宣传周")} == {"3号文.txt", "其他.txt"}


def test_a_government_page_keeps_its_article_and_drops_the_furniture(tmp_path: Path) -> None:
    page = tmp_path / "art_1234.html"
    page.write_text(
        '<html><head><title>烟台市人民政府 - 通知公告</title>'
        '<meta name="ArticleTitle" content="关于开展家庭教育宣传周活动的通知">'
        '<meta name="PubDate" content="2021-05-10 09:30"><meta name="ContentSource" content="烟台市关工委"></head><body>'
        '<div class="header"><a href="/">烟台市人民政府门户网站</a></div>'
        '<nav><ul><li>首页</li><li>政务公开</li><li>政务服务</li><li>互动交流</li></ul></nav>'
        '<div class="position">当前位置：首页 &gt; 通知公告</div>'
        '<div class="article"><h1>关于开展家庭教育宣传周活动的通知</h1>'
        '<p>各区市关工委：</p><p>为推动家庭教育促进法落地见效，定于5月15日开展家庭教育宣传周活动。<br>特此通知。</p></div>'
        '<div class="bdshare_t">分享到：微信 微博</div><form><input name="q"><button>搜索</button></form>'
        '<div id="footer">主办单位：烟台市人民政府办公室 网站标识码3706000001 鲁ICP备05002393号</div></body></html>',
        encoding="utf-8")
    doc = load_file(page, "art_1234.html")
    assert (doc.title, doc.date, doc.source) == ("关于开展家庭教育宣传周活动的通知", "2021-05-10", "烟台市关工委")
    assert "定于5月15日开展家庭教育宣传周活动。\n特此通知。" in doc.text
    for furniture in ("政务服务", "当前位置", "分享到", "搜索", "网站标识码", "门户网站"):
        assert furniture not in doc.text, furniture


SOFFICE = shutil.which("soffice")


@pytest.mark.skipif(SOFFICE is None, reason="needs LibreOffice (apt-get install libreoffice-writer-nogui; .ci/run does)")
def test_word97_wps_rtf_and_odt_files_are_read_through_libreoffice(tmp_path: Path) -> None:
    import docx

    word = docx.Document()
    word.add_paragraph("关于开展家庭教育宣传周活动的通知")
    word.add_paragraph("为推动家庭教育促进法落地见效，定于5月15日开展家庭教育宣传周活动。")
    table = word.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "责任单位", "市关工委"
    word.save(tmp_path / "source.docx")
    docs = tmp_path / "docs"
    for kind in ("doc", "odt", "rtf"):
        subprocess.run([SOFFICE, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless", "--convert-to",
                        kind, "--outdir", str(docs), str(tmp_path / "source.docx")], capture_output=True, timeout=300)
        (docs / f"source.{kind}").rename(docs / f"通知.{kind}")
    shutil.copy(docs / "通知.doc", docs / "方案.wps")  # WPS Office writes .wps like Word 97
    engine = PolicySearch.build([docs], tmp_path / "idx", IndexSettings(model=None))
    assert sorted(engine.document_ids()) == ["方案.wps", "通知.doc", "通知.odt", "通知.rtf"]
    for doc_id in engine.document_ids():
        doc = engine.document(doc_id)
        assert "定于5月15日开展家庭教育宣传周活动" in doc.text and "责任单位" in doc.text and "市关工委" in doc.text, doc_id
        assert doc.title == "关于开展家庭教育宣传周活动的通知", doc_id
    hits = engine.search("家庭教育宣传周活动", k=4)
    assert all(engine.document(h.doc_id).text[h.start:h.end] == h.text for h in hits)
    converted = list((Path(os.environ["POLICYSEARCH_CACHE"]) / "converted").glob("*.docx"))
    assert len(converted) >= 3, "each conversion is cached by the file's hash"


def test_without_libreoffice_a_word97_file_is_skipped_with_a_line_saying_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "通知.txt").write_text("关于开展家庭教育宣传周活动的通知。", encoding="utf-8")
    (tmp_path / "docs" / "纪要.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 not converted before")
    empty = tmp_path / "bin"
    empty.mkdir()
    out = subprocess.run([sys.executable, "-m", "policysearch", "index", "docs", "--no-dense"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "PATH": str(empty)})
    assert out.returncode == 0 and "indexed 1 document," in out.stderr
    assert "纪要.doc: reading .doc files needs LibreOffice; install it (apt-get install libreoffice-writer-nogui)" in out.stderr
    assert "1 files skipped" in out.stderr


def _cjk_font() -> str | None:
    listed = subprocess.run(["fc-list", ":lang=zh", "-f", "%{file}\n"], capture_output=True, text=True).stdout.split("\n")
    return next((f for f in sorted(listed) if f), None) if shutil.which("fc-list") else None


SCANNED = ["为推动家庭教育促进法落地见效，定于5月15日开展", "家庭教育宣传周活动。特此通知。"]


def _scan(font: str) -> object:
    """A page as a scanner gives it: black text on white, no text layer."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("RGB", (1000, 180), "white")
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(SCANNED):
        draw.text((30, 30 + 60 * i), line, font=ImageFont.truetype(font, 32), fill="black")
    return page


@pytest.mark.skipif(_cjk_font() is None, reason="needs a CJK font to draw the scanned page (fonts-noto-cjk)")
def test_a_scanned_pdf_and_a_photo_are_read_by_ocr_and_found(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    page = _scan(_cjk_font())
    page.save(tmp_path / "scan.png")
    pdf = canvas.Canvas(str(tmp_path / "scanned.pdf"), pagesize=(1000, 180))
    pdf.drawImage(str(tmp_path / "scan.png"), 0, 0, width=1000, height=180)
    pdf.save()
    (tmp_path / "docs").mkdir()
    (tmp_path / "scan.png").rename(tmp_path / "docs" / "通知照片.png")
    (tmp_path / "scanned.pdf").rename(tmp_path / "docs" / "扫描件.pdf")
    engine = PolicySearch.build([tmp_path / "docs"], tmp_path / "idx", IndexSettings(model=None))
    for doc_id in ("通知照片.png", "扫描件.pdf"):
        text, expected = engine.document(doc_id).text.replace("\n", ""), "".join(SCANNED)
        aligned = difflib.SequenceMatcher(None, expected, text, autojunk=False).get_matching_blocks()
        assert sum(block.size for block in aligned) / len(expected) >= 0.95, (doc_id, text)
    hits = engine.search("家庭教育宣传周活动", k=2)
    assert {h.doc_id for h in hits} == {"通知照片.png", "扫描件.pdf"}
    assert all(engine.document(h.doc_id).text[h.start:h.end] == h.text for h in hits)
    assert len(list((Path(os.environ["POLICYSEARCH_CACHE"]) / "ocr").glob("*.json"))) == 2, "OCR runs once per file"
    with pytest.raises(PolicySearchError, match="OCR is off"):
        load_file(tmp_path / "docs" / "扫描件.pdf", "扫描件.pdf", ocr=False)


def test_xls_et_and_ods_workbooks_are_read_like_xlsx(tmp_path: Path) -> None:
    import xlwt
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    rows = [["任务", "责任单位", "完成时限"], ["启动调研月活动", "市关工委", "10月"]]
    book = xlwt.Workbook()
    sheet = book.add_sheet("重点任务")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(tmp_path / "任务.xls"))
    shutil.copy(tmp_path / "任务.xls", tmp_path / "任务表.et")  # WPS spreadsheets are written like .xls
    ods = OpenDocumentSpreadsheet()
    table = Table(name="重点任务")
    for row in rows:
        line = TableRow()
        for value in row:
            cell = TableCell(valuetype="string")
            cell.addElement(P(text=value))
            line.addElement(cell)
        table.addElement(line)
    ods.spreadsheet.addElement(table)
    ods.save(str(tmp_path / "任务.ods"))
    for name in ("任务.xls", "任务表.et", "任务.ods"):
        doc = load_file(tmp_path / name, name)
        assert "任务：启动调研月活动；责任单位：市关工委；完成时限：10月" in doc.text and doc.headings == {"重点任务": 1}, name


def test_a_register_of_official_documents_is_not_taken_for_one(tmp_path: Path) -> None:
    (tmp_path / "发文登记.csv").write_text("文号,标题\n烟关工委发〔2021〕3号,关于开展家庭教育宣传周活动的通知\n"
                                           "烟关工委发〔2021〕4号,关于举办家庭教育讲座的通知\n", encoding="utf-8")
    doc = load_file(tmp_path / "发文登记.csv", "发文登记.csv")
    assert doc.title == "发文登记" and "number" not in doc.meta
    assert "文号：烟关工委发〔2021〕4号；标题：关于举办家庭教育讲座的通知" in doc.text


def test_numbers_inside_a_pdf_page_and_short_lines_are_kept() -> None:
    from policysearch.reading.formats import pdf_text

    pages = ["任务分解表\n任务\n完成时限\n启动调研月活动\n10\n举办讲座\n12\n- 1 -",
             "说明\n以上任务\n2021\n按时完成\n第 2 页 共 2 页"]
    assert pdf_text(pages) == "任务分解表\n任务\n完成时限\n启动调研月活动\n10\n举办讲座\n12\n说明\n以上任务\n2021\n按时完成"


def _signed_notice(path: Path, issuers: list[str], date: str) -> None:
    """A Word notice as offices write them: title, salutation, body, then the 落款 at the end."""
    import docx

    word = docx.Document()
    word.add_paragraph("关于开展暑期青少年安全教育活动的通知")
    word.add_paragraph("各区市、各成员单位：")
    word.add_paragraph("为切实做好暑期青少年安全教育工作，现将有关事项通知如下。")
    word.add_paragraph("一、组织五老志愿者开展防溺水教育，覆盖全部中小学校。")
    for line in [*issuers, date]:
        word.add_paragraph(line)
    word.save(path)


def test_dates_and_issuers_are_read_from_the_signature_block(tmp_path: Path) -> None:
    _signed_notice(tmp_path / "通知.docx", ["烟台市关心下一代工作委员会", "烟台市教育局"], "2024年2月20日")
    (tmp_path / "纪要.txt").write_text("防溺水工作会议纪要\n\n会议研究了暑期防溺水工作。\n\n"
                                       "烟台市关心下一代工作委员会办公室\n（盖章）\n二〇二四年三月五日\n", encoding="utf-8")
    (tmp_path / "要点.txt").write_text("2023年家庭教育工作要点\n\n一、推进家庭教育指导服务站建设。\n", encoding="utf-8")
    docs = {d.id: d for d in load([tmp_path])}
    assert (docs["通知.docx"].date, docs["通知.docx"].source) == ("2024-02-20", "烟台市关心下一代工作委员会、烟台市教育局")
    assert (docs["纪要.txt"].date, docs["纪要.txt"].source) == ("2024-03-05", "烟台市关心下一代工作委员会办公室")
    assert (docs["要点.txt"].date, docs["要点.txt"].source) == ("2023", "")  # the year its title names


@pytest.mark.skipif(SOFFICE is None, reason="needs LibreOffice (apt-get install libreoffice-writer-nogui; .ci/run does)")
def test_a_signed_notice_exported_to_pdf_and_doc_keeps_its_date_and_issuer(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    _signed_notice(source / "通知.docx", ["烟台市关心下一代工作委员会"], "2024年7月1日")
    folder = tmp_path / "folder"
    folder.mkdir()
    for target in ("pdf", "doc"):
        subprocess.run([SOFFICE, "--headless", "--convert-to", target, "--outdir", str(folder), str(source / "通知.docx")],
                       check=True, capture_output=True, timeout=120)
    for doc in load([folder]):
        assert (doc.date, doc.source) == ("2024-07-01", "烟台市关心下一代工作委员会"), doc.id
        assert "组织五老志愿者开展防溺水教育" in doc.text.replace("\n", "")
    pdf = load_file(folder / "通知.pdf", "通知.pdf").text
    assert not re.search(r"\d\s+[年月日号]|[年月]\s+\d", pdf), "no spaces the layout invented around digits"


@pytest.mark.skipif(SOFFICE is None, reason="needs LibreOffice (apt-get install libreoffice-writer-nogui; .ci/run does)")
def test_quotation_marks_in_an_exported_pdf_stay_where_they_are_printed(tmp_path: Path) -> None:
    import docx

    word = docx.Document()
    word.add_paragraph("（一）防溺水教育。组织“五老”志愿者走进校园，2024年7月1日前完成。")
    word.add_paragraph("Use the Word template, version 2.1, for the report.")
    word.save(tmp_path / "要求.docx")
    subprocess.run([SOFFICE, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(tmp_path / "要求.docx")],
                   check=True, capture_output=True, timeout=120)
    text = load_file(tmp_path / "要求.pdf", "要求.pdf").text
    assert "（一）防溺水教育。组织“五老”志愿者走进校园，2024年7月1日前完成。" in text
    assert "Use the Word template, version 2.1, for the report." in text, "word spaces between Latin words stay"


def test_a_source_filter_finds_an_issuer_by_its_short_form_and_a_date_filter_says_what_it_left_out(tmp_path: Path) -> None:
    _signed_notice(tmp_path / "通知.docx", ["烟台市关心下一代工作委员会", "烟台市教育局"], "2024年2月20日")
    (tmp_path / "简报.txt").write_text("暑期安全简报\n\n各地组织防溺水教育活动。\n\n共青团烟台市委员会\n2024年6月1日\n",
                                       encoding="utf-8")
    (tmp_path / "无日期.txt").write_text("防溺水安全教育提示\n\n暑期学生不要私自下水游泳。\n", encoding="utf-8")
    engine = PolicySearch.build([tmp_path], tmp_path / "idx", IndexSettings(model=None))

    def found(**filters: str) -> set[str]:
        return {h.doc_id for h in engine.search("防溺水教育", k=10, filters=Filters(**filters))}

    assert found(source="关工委") == {"通知.docx"}
    assert found(source="市教育局") == {"通知.docx"}
    assert found(source="团市委") == {"简报.txt"}
    assert found(source="市局") == set()  # two characters are too few for a short form: 市…局 is chance
    assert found(date_from="2024") == {"通知.docx", "简报.txt"}
    assert engine.notice("防溺水教育", Filters(date_from="2024")) == "1 document without a date is left out by the date filter"
    assert engine.notice("防溺水教育", Filters(source="关工委")) == ""


def test_a_pages_info_bar_gives_date_and_source_and_leaves_the_text(tmp_path: Path) -> None:
    (tmp_path / "通知.html").write_text(
        "<html><body><h1>关于做好防溺水工作的通知</h1>"
        "<div class='info'>发布时间：2024-04-12 10:30 来源：烟台日报 【字体：大 中 小】 【打印】 【关闭】</div>"
        "<p>各区市要组织五老志愿者开展防溺水教育。</p></body></html>", encoding="utf-8")
    doc = load_file(tmp_path / "通知.html", "通知.html")
    assert (doc.title, doc.date, doc.source) == ("关于做好防溺水工作的通知", "2024-04-12", "烟台日报")
    assert "打印" not in doc.text[doc.body_start:] and "字体" not in doc.text[doc.body_start:]


def _deck(path: Path) -> None:
    """汇报材料 as offices make them: a title slide, a slide of points, a slide with a table."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "2024年关心下一代工作汇报"
    first.placeholders[1].text = "烟台市关工委办公室"
    points = deck.slides.add_slide(deck.slide_layouts[1])
    points.shapes.title.text = "主要做法"
    body = points.placeholders[1].text_frame
    body.text = "组织五老志愿者开展防溺水安全教育"
    body.add_paragraph().text = "建立家庭教育指导服务站46个"
    table = deck.slides.add_slide(deck.slide_layouts[5])
    table.shapes.title.text = "下步计划"
    grid = table.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate([["工作任务", "完成时限"], ["举办青少年法治宣传周", "11月底前"], ["开展五老进校园活动", "12月底前"]]):
        for c, value in enumerate(row):
            grid.cell(r, c).text = value
    deck.save(path)


def test_slides_are_read_with_their_titles_as_headings(tmp_path: Path) -> None:
    _deck(tmp_path / "汇报.pptx")
    doc = load_file(tmp_path / "汇报.pptx", "汇报.pptx")
    assert doc.title == "2024年关心下一代工作汇报" and doc.date == "2024"
    assert "工作任务：开展五老进校园活动；完成时限：12月底前" in doc.text
    engine = PolicySearch.build([tmp_path / "汇报.pptx"], tmp_path / "idx", IndexSettings(model=None))
    hit = engine.search("家庭教育指导服务站", k=1)[0]
    assert hit.section == "主要做法" and "建立家庭教育指导服务站46个" in hit.text
    assert engine.search("五老进校园 完成时限", k=1)[0].section == "下步计划"


@pytest.mark.skipif(SOFFICE is None, reason="needs LibreOffice (apt-get install libreoffice-impress-nogui; .ci/run does)")
def test_powerpoint_97_slides_are_read_through_libreoffice(tmp_path: Path) -> None:
    _deck(tmp_path / "汇报.pptx")
    folder = tmp_path / "old"
    folder.mkdir()
    subprocess.run([SOFFICE, "--headless", "--convert-to", "ppt", "--outdir", str(folder), str(tmp_path / "汇报.pptx")],
                   check=True, capture_output=True, timeout=120)
    if not (folder / "汇报.ppt").is_file():
        pytest.skip("this LibreOffice has no Impress (apt-get install libreoffice-impress-nogui; .ci/run does)")
    doc = load_file(folder / "汇报.ppt", "汇报.ppt")
    assert "建立家庭教育指导服务站46个" in doc.text and "开展五老进校园活动" in doc.text


@pytest.mark.skipif(_cjk_font() is None, reason="needs a CJK font to draw the scanned page (fonts-noto-cjk)")
def test_a_scanned_pages_wrapped_lines_are_one_paragraph_and_no_heading(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    lines = ["会议纪要", "一、会议决定，由市关工委办公室牵头，于5月20日", "召开全市关心下一代工作推进会议，各区市关工委",
             "主任参加。", "二、会议要求各成员单位提前做好汇报准备工作。"]
    page = Image.new("RGB", (1000, 60 + 60 * len(lines)), "white")
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((30, 30 + 60 * i), line, font=ImageFont.truetype(_cjk_font(), 36), fill="black")
    page.save(tmp_path / "纪要.png")
    engine = PolicySearch.build([tmp_path / "纪要.png"], tmp_path / "idx", IndexSettings(model=None))
    hit = engine.search("推进会议 5月20日", k=1)[0]
    assert "于5月20日召开全市关心下一代工作推进会议" in hit.text.replace("\n", "")
    assert hit.section == "" and not hit.text.startswith("召开"), "the wrapped line is text, not a heading"


@pytest.mark.skipif(SOFFICE is None or _cjk_font() is None, reason="needs LibreOffice and a CJK font (.ci/run installs both)")
def test_an_office_folder_is_dated_and_sourced(tmp_path: Path) -> None:
    """Eight files as an office keeps them, each signed at the end (the task table aside): at
    least seven get a date and a source, and every PDF reads without invented spaces."""
    from PIL import Image, ImageDraw, ImageFont

    folder, work = tmp_path / "folder", tmp_path / "work"
    folder.mkdir()
    work.mkdir()
    _signed_notice(folder / "通知.docx", ["烟台市关心下一代工作委员会"], "2024年2月20日")
    _signed_notice(work / "公文.docx", ["烟台市教育局"], "2024年3月1日")
    _signed_notice(work / "旧版.docx", ["烟台市妇女联合会"], "2024年4月8日")
    for name, target in (("公文.docx", "pdf"), ("旧版.docx", "doc")):
        subprocess.run([SOFFICE, "--headless", "--convert-to", target, "--outdir", str(folder), str(work / name)],
                       check=True, capture_output=True, timeout=120)
    shutil.copy(folder / "旧版.doc", folder / "金山.wps")  # WPS Office saves its files like Word 97
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["工作任务", "责任单位"])
    book.active.append(["开展防溺水教育", "市教育局"])
    book.save(folder / "任务表.xlsx")
    lines = ["关于表彰优秀五老志愿者的决定", "授予芝罘区关工委等30个单位先进集体称号。",
             "烟台市关心下一代工作委员会", "2024年5月6日"]
    page = Image.new("RGB", (1000, 60 + 60 * len(lines)), "white")
    for i, line in enumerate(lines):
        ImageDraw.Draw(page).text((30, 30 + 60 * i), line, font=ImageFont.truetype(_cjk_font(), 34), fill="black")
    page.save(folder / "扫描件.png")
    (folder / "网页.html").write_text(
        "<html><body><h1>暑期安全提示</h1><div>发布时间：2024-06-12 10:30 来源：烟台日报 【字体：大 中 小】 【打印】</div>"
        "<p>暑期学生不要私自下水游泳。</p></body></html>", encoding="utf-8")
    (folder / "简报.txt").write_bytes("工作简报\n\n各地组织防溺水教育。\n\n烟台市关工委办公室\n2024年6月20日\n".encode("gbk"))
    docs = load([folder])
    assert len(docs) == 8
    assert sum(bool(d.date and d.source) for d in docs) >= 7, [(d.id, d.date, d.source) for d in docs]
    pdf = next(d for d in docs if d.id.endswith(".pdf"))
    assert not re.search(r"\d\s+[年月日号]", pdf.text) and "组织五老志愿者" in pdf.text


def _sealed_scan(font: str, skew: float) -> object:
    """A signed 公文 page as a scanner gives it: the red seal pressed over the issuer and date
    (ink over ink: the stamp darkens what it covers), the sheet a little askew."""
    from PIL import Image, ImageChops, ImageDraw, ImageFont

    lines = ["关于表彰优秀五老志愿者的决定", "为表彰先进，决定授予芝罘区关工委等30个单位先进集体称号。", "", "",
             "烟台市关心下一代工作委员会", "2024年5月6日"]
    page = Image.new("RGB", (1240, 760), "white")
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((30 if i < 4 else 700, 40 + 90 * i), line, font=ImageFont.truetype(font, 34), fill="black")
    stamp = Image.new("RGB", page.size, "white")
    ink = ImageDraw.Draw(stamp)
    ink.ellipse((730, 350, 1030, 650), outline=(220, 30, 30), width=10)
    ink.text((770, 480), "烟台市关工委", font=ImageFont.truetype(font, 40), fill=(220, 30, 30))
    ink.regular_polygon((880, 430, 30), 5, fill=(220, 30, 30))
    return ImageChops.multiply(page, stamp).rotate(skew, expand=True, fillcolor="white", resample=Image.BICUBIC)


@pytest.mark.skipif(_cjk_font() is None, reason="needs a CJK font to draw the scanned page (fonts-noto-cjk)")
def test_a_red_seal_over_the_signature_is_not_read_into_it(tmp_path: Path) -> None:
    _sealed_scan(_cjk_font(), 2.0).save(tmp_path / "决定.png")
    doc = load_file(tmp_path / "决定.png", "决定.png")
    assert (doc.date, doc.source) == ("2024-05-06", "烟台市关心下一代工作委员会")
    assert "烟台市关工委\n" not in doc.text, "the seal's own words are no line of the document"


@pytest.mark.skipif(_cjk_font() is None, reason="needs a CJK font to draw the scanned page (fonts-noto-cjk)")
def test_a_scanned_page_with_a_printed_page_number_is_read_by_ocr(tmp_path: Path) -> None:
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    scan = tmp_path / "scan.png"
    _sealed_scan(_cjk_font(), 0.0).save(scan)
    pdf = canvas.Canvas(str(tmp_path / "扫描件.pdf"), pagesize=(620, 400))
    pdf.drawImage(ImageReader(str(scan)), 0, 20, width=620, height=380)
    pdf.setFont("Helvetica", 9)
    pdf.drawString(300, 6, "- 1 -")
    pdf.save()
    doc = load_file(tmp_path / "扫描件.pdf", "扫描件.pdf")
    assert "授予芝" in doc.text and doc.date == "2024-05-06"
