"""Chunks follow Chinese structure and their offsets always point at their text."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

from hypothesis import given, settings, strategies as st

from policysearch.text.chunking import Chunker
from policysearch.reading.loaders import load_file
from policysearch.records import Document
from policysearch.settings import IndexSettings

LAW = "\n".join(
    f"第{n}条 " + "未成年人的父母或者其他监护人应当依法履行监护职责，树立家庭是第一个课堂、家长是第一任老师的责任意识。" * rep
    for n, rep in zip("一二三四五六", [1, 2, 1, 3, 1, 1], strict=True)
)


def chunks_of(text: str, **kw: int) -> list[str]:
    doc = Document(id="d", text=text)
    out = Chunker(IndexSettings(**kw)).chunk(doc)
    for c in out:
        assert doc.text[c.start:c.end] == c.text
    return [c.text for c in out]


def test_articles_stay_whole() -> None:
    chunks = chunks_of(LAW, chunk_size=120, chunk_max=400)
    assert len(chunks) == 6
    for chunk in chunks:
        assert re.match(r"第[一二三四五六]条", chunk) and len(re.findall(r"第[一二三四五六]条", chunk)) == 1


def test_chunks_know_their_article() -> None:
    text = "第一条 总则。\n第二条 " + "监护人应当履行监护职责，" * 40 + "。\n依照本法第一条处理。"
    out = Chunker(IndexSettings(chunk_size=120, chunk_max=200)).chunk(Document(id="d", text=text))
    assert [c.article for c in out][:2] == ["第一条", "第二条"]
    assert all(c.article == "第二条" for c in out[1:])
    assert Chunker().chunk(Document(id="r", text="会议要求按照市委32号文件第三条执行。"))[0].article == ""


def test_each_passage_of_a_split_article_knows_where_the_whole_article_lies() -> None:
    part = "监护人应当履行监护职责，" * 40
    text = f"第一条 总则。\n第二条 {part}。\n附件\n第一条 附件的总则。"  # 第一条 twice: two articles
    out = Chunker(IndexSettings(chunk_size=120, chunk_max=200)).chunk(Document(id="d", text=text))
    second = [c for c in out if c.article == "第二条"]
    assert len(second) > 1 and {c.article_span for c in second} == {(second[0].start, second[-1].end, len(second))}
    firsts = [c.article_span for c in out if c.article == "第一条"]
    assert firsts == [(0, 7, 1), (text.rindex("第一条"), len(text), 1)]
    assert Chunker().chunk(Document(id="r", text="会议要求做好关心下一代工作。"))[0].article_span is None


def test_numbered_items_start_chunks_when_a_paragraph_is_split() -> None:
    para = "会议提出了意见。" + "".join(
        f"{n}是" + "迅速向上级关工委领导进行汇报，尽快汇总确定贯彻落实意见。" * 3 for n in "一二三四"
    )
    chunks = chunks_of(para, chunk_size=120, chunk_max=200)
    assert [c[:2] for c in chunks[1:]] == ["二是", "三是", "四是"]
    assert chunks[0].startswith("会议提出了意见。一是")


def test_closing_quote_stays_with_its_sentence() -> None:
    text = "他说：“要做好‘学’的文章。”" + "随后会议讨论了下步工作安排。" * 20
    chunks = chunks_of(text, chunk_size=20, chunk_max=30)
    assert chunks[0] == "他说：“要做好‘学’的文章。”"
    assert not any(c.startswith("”") for c in chunks)


def test_sentence_longer_than_max_is_split_at_commas() -> None:
    text = "，".join(["加强未成年人思想道德建设"] * 40) + "。"
    chunks = chunks_of(text, chunk_size=100, chunk_max=150)
    assert len(chunks) > 1 and all(len(c) <= 150 for c in chunks)
    assert all(c.endswith(("，", "。")) for c in chunks)


def test_neighbouring_chunks_overlap_by_one_sentence() -> None:
    sentences = [f"第{i}句话讲的是关心下一代工作的第{i}个方面。" for i in range(30)]
    chunks = chunks_of("".join(sentences), chunk_size=100, chunk_max=200)
    for before, after in pairwise(chunks):
        last = before.split("。")[-2] + "。"
        assert after.startswith(last)


def test_header_is_not_chunked() -> None:
    doc = Document(id="d", text="您现在的位置 > 要闻\n标题\n正文第一句。正文第二句。", body_start=14)
    (chunk,) = Chunker().chunk(doc)
    assert chunk.text == "正文第一句。正文第二句。"


chinese = st.text(
    alphabet=st.sampled_from(list("关心下一代工作委员会五老第条章一二三是（）、，。！？；“”\n 　1.abc")),
    max_size=3000,
)


@settings(deadline=None)
@given(text=chinese, size=st.integers(20, 400), extra=st.integers(0, 300))
def test_offsets_are_exact_on_random_chinese_text(text: str, size: int, extra: int) -> None:
    doc = Document(id="d", text=text)
    chunks = Chunker(IndexSettings(chunk_size=size, chunk_max=size + extra)).chunk(doc)
    for chunk in chunks:
        assert doc.text[chunk.start:chunk.end] == chunk.text
        assert chunk.text.strip() and len(chunk.text) <= size + extra
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    covered = "".join(c.text + c.heading for c in chunks)  # a heading line is no passage: it is the path above them
    assert all(ch in covered for ch in set(text) if not ch.isspace())


def test_a_long_run_without_punctuation_is_cut_below_a_small_chunk_max() -> None:
    doc = Document(id="digits.txt", text="0" * 61)
    chunks = Chunker(IndexSettings(chunk_size=10, chunk_max=60)).chunk(doc)
    assert [len(c.text) for c in chunks] == [60, 1]


CIVIL_CODE = """中华人民共和国民法典
第五编 婚姻家庭
第一章 一般规定
第一千零四十一条 婚姻家庭受国家保护。
实行婚姻自由、一夫一妻、男女平等的婚姻制度。
第四章 离婚
第一千零八十四条 父母与子女间的关系，不因父母离婚而消除。
离婚后，不满两周岁的子女，以由母亲直接抚养为原则。
第七编 侵权责任
第一千一百六十五条 行为人因过错侵害他人民事权益造成损害的，应当承担侵权责任。
"""


def test_headings_are_the_path_of_the_passages_under_them_never_passages() -> None:
    doc = Document(id="civil", text=CIVIL_CODE, title="中华人民共和国民法典")
    chunks = Chunker().chunk(doc)
    assert [c.article for c in chunks] == ["第一千零四十一条", "第一千零八十四条", "第一千一百六十五条"]
    assert [c.heading for c in chunks] == ["第五编 婚姻家庭 > 第一章 一般规定", "第五编 婚姻家庭 > 第四章 离婚",
                                           "第七编 侵权责任"]
    assert all(doc.text[c.start:c.end] == c.text and not c.text.startswith(("第五编", "第四章", "中华")) for c in chunks)


def test_report_headings_nest_and_a_list_of_short_lines_stays_text() -> None:
    report = ("2021年关心下一代工作要点\n一、总体要求\n坚持以人民为中心的发展思想。\n二、主要任务\n（一）加强组织建设\n"
              "各级关工委要加强自身建设。\n（二）开展主题教育\n重点做好以下几项：\n1.党史学习教育\n2.五老进校园\n"
              "三、保障措施\n（一）经费\n（二）人员\n")
    chunks = Chunker().chunk(Document(id="plan", text=report, title="2021年关心下一代工作要点"))
    by_heading = {c.heading: c.text for c in chunks}
    assert by_heading["一、总体要求"] == "坚持以人民为中心的发展思想。"
    assert by_heading["二、主要任务 > （一）加强组织建设"] == "各级关工委要加强自身建设。"
    assert "五老进校园" in by_heading["二、主要任务 > （二）开展主题教育"]
    assert "（一）经费\n（二）人员" in by_heading["三、保障措施"], "same-level short lines in a row are a list"


def test_markdown_headings_and_a_document_of_headings_alone() -> None:
    chunks = Chunker().chunk(Document(id="m", text="# 通知\n## 时间安排\n九月开学。\n## 地点\n各校礼堂。"))
    assert [(c.heading, c.text) for c in chunks] == [("通知 > 时间安排", "九月开学。"), ("通知 > 地点", "各校礼堂。")]
    only = Chunker().chunk(Document(id="t", text="第一章 总则\n第二章 附则"))
    assert [c.text for c in only] == ["第一章 总则", "第二章 附则"], "a document is never lost for having only headings"


def test_docx_heading_styles_become_the_section_path(tmp_path: Path) -> None:
    import docx

    word = docx.Document()
    word.add_heading("家庭教育工作要点", level=0)
    word.add_heading("工作目标", level=1)
    word.add_paragraph("全年开展家庭教育讲座不少于十场。")
    word.add_heading("重点任务", level=1)
    word.add_heading("宣传阵地", level=2)
    word.add_paragraph("在各社区设立家长学校。")
    word.save(tmp_path / "plan.docx")
    chunks = Chunker().chunk(load_file(tmp_path / "plan.docx", "plan.docx"))
    assert [(c.heading, c.text) for c in chunks] == [("工作目标", "全年开展家庭教育讲座不少于十场。"),
                                                     ("重点任务 > 宣传阵地", "在各社区设立家长学校。")]
