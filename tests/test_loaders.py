"""Every supported format and encoding loads to the same Chinese text; bad files fail clearly."""

from __future__ import annotations

import difflib
import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from policysearch import Filters, IndexSettings, PolicySearch
from policysearch.errors import PolicySearchError
from policysearch.loaders import load, load_file

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
        ("slides.pptx", b"PK\x03\x04", "unsupported file type"),
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
    cli = [sys.executable, "-m", "policysearch.cli"]
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
    for name in ("会议纪要.vsd", "方案.key", "汇报.pptx", "任务表.xlsx", "README"):
        (tmp_path / name).write_bytes(b"\xd0\xcf\x11\xe0 office bytes")
    (tmp_path / ".hidden.doc").write_bytes(b"x")
    with caplog.at_level(logging.WARNING, logger="policysearch"):
        assert [d.id for d in load([tmp_path])] == ["通知.txt"]
    said = " | ".join(caplog.messages)
    for name, why in [("会议纪要.vsd", ".vsd is not a supported type"), ("方案.key", ".key is not a supported type"),
                      ("汇报.pptx", ".pptx is not a supported type"), ("任务表.xlsx", "not a readable spreadsheet"),
                      ("README", "a file without an extension is not a supported type")]:
        assert f"{name}: {why}" in said
    assert ".hidden" not in said


def test_a_notice_scraped_onto_one_long_line_keeps_its_title(tmp_path: Path) -> None:
    notice = tmp_path / "notice.txt"
    notice.write_text("北京市关于支持会展业发展的若干措施 2020-05-12 来源：北京市商务局 为了应对疫情影响，对因疫情影响暂停举办的"
                      "展会项目给予支持，具体措施如下：一、对展会项目给予补贴。二、减免场租。三、优化审批流程，提高办事效率。",
                      encoding="utf-8")
    assert load([notice])[0].title == "北京市关于支持会展业发展的若干措施"


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
    out = subprocess.run([sys.executable, "-m", "policysearch.cli", "index", "docs", "--no-dense"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "PATH": str(empty)})
    assert out.returncode == 0 and "indexed 1 documents" in out.stderr
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
    from policysearch.formats import pdf_text

    pages = ["任务分解表\n任务\n完成时限\n启动调研月活动\n10\n举办讲座\n12\n- 1 -",
             "说明\n以上任务\n2021\n按时完成\n第 2 页 共 2 页"]
    assert pdf_text(pages) == "任务分解表\n任务\n完成时限\n启动调研月活动\n10\n举办讲座\n12\n说明\n以上任务\n2021\n按时完成"
