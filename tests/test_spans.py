"""What a question asks for, and the date, number or name inside a sentence that answers it."""

from __future__ import annotations

import pytest

from policysearch.answering.spans import answer_span, asks, holds


@pytest.mark.parametrize(("question", "kinds"), [
    ("中国关工委主任是哪天来烟台视察的", {"date"}),
    ("调研月活动计划几月启动", {"date"}),
    ("若游戏中离，则多少分钟内不得进行配对？", {"number"}),
    ("工作汇报会上听取了哪些单位的汇报", {"organisation", "list"}),
    ("什么是五环工作格局", {"definition"}),
    ("接待工作的档案资料如何整理", {"method"}),
    ("父母离婚后孩子归谁抚养", {"person"}),
    ("党建带关建", set()),
])
def test_what_kind_of_answer_a_question_asks_for(question: str, kinds: set[str]) -> None:
    assert asks(question) == kinds


def test_what_a_sentence_holds() -> None:
    found = holds("6月1日—2日，中国关工委主任顾秀莲等一行4人来烟视察。")
    assert {"date", "number", "person"} <= found
    assert "definition" in holds("未成年人是指未满十八周岁的公民。")
    assert not {"date", "number"} & holds("坚持党的领导。")
    assert holds("6月1日—2日，中国关工委主任顾秀莲等一行4人来烟视察。", {"person", "work"}) == {"person"}  # only what is asked


@pytest.mark.parametrize(("question", "sentence", "span"), [
    ("中国关工委主任是哪天来烟台视察的", "6月1日—2日,中国关工委主任顾秀莲等一行4人来烟视察", "6月1日—2日"),
    ("调研月活动计划几月启动", "市关工委拟于10月启动调研月活动", "10月"),
    ("若游戏中离，则多少分钟内不得进行配对？", "若玩家在游戏中离开，则4分钟内不得进行配对。", "4分钟"),
    ("会议是哪天召开的", "6月1日完成筹备，会议于6月9日召开。", "6月9日"),  # the date beside the question's words
    ("这种树的树高有多高？", "树高可达55米，叶长1米。", "55米"),
    ("海拔约是多少米？", "生长于海拔100米至2,800米的地区。", "100米至2,800米"),
    ("南宁二中是什么的简称？", "广西壮族自治区南宁市第二中学，简称南宁二中，是一所中学。", "广西壮族自治区南宁市第二中学"),
    ("这部条约的有效期是多长时间？", "条约有效期为二十年，期满后自动延长。", "二十年"),
    ("工作汇报会上听取了哪些单位的汇报", "听取了芝罘区关工委、莱山区初家街道关工委、市教育局的工作情况汇报",
     "芝罘区关工委、莱山区初家街道关工委、市教育局"),
])
def test_the_answer_inside_the_sentence(question: str, sentence: str, span: str) -> None:
    found = answer_span(question, sentence)
    assert found is not None and sentence[found[0]:found[1]] == span


@pytest.mark.parametrize(("question", "sentence"), [
    ("大会是哪天", "6月1日筹备，9月9日揭幕。"),  # two dates, neither beside the question's words
    ("调研月活动计划几月启动", "调研月活动由市关工委组织。"),  # no date at all
    ("什么是五环工作格局", "五环工作格局于2021年提出。"),  # a definition is a sentence, not a span
])
def test_no_span_rather_than_a_guess(question: str, sentence: str) -> None:
    assert answer_span(question, sentence) is None
