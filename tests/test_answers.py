"""`ask`: the answer unit (a sentence, a list, a heading's body, a table row) with its citation,
no-answer, and direct article lookup."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from policysearch import IndexSettings, PolicySearch, SearchSettings
from policysearch.searching.citations import CitationIndex, short_title
from policysearch.reading import corpora

from conftest import CORPUS


def test_answer_sentence_with_offsets_into_the_document(corpus_index: PolicySearch) -> None:
    answer = corpus_index.ask("调研月活动计划几月启动")
    assert answer.answered and "市关工委拟于10月启动调研月活动" in answer.text
    assert corpus_index.document(answer.doc_id).text[answer.start:answer.end] == answer.text
    assert (answer.title, answer.date, answer.source) == ("烟台市关工委召开主任办公会扩大会议", "2021-06-09", "烟台市关工委")
    assert any(h.start <= answer.start and answer.end <= h.end for h in answer.passages)


@pytest.mark.parametrize(("question", "evidence"), [
    ("中国关工委主任是哪天来烟台视察的", "6月1日—2日,中国关工委主任顾秀莲等一行4人来烟视察"),
    ("接待工作的档案资料如何整理", "建立完善的档案资料,单独成卷"),
])
def test_answers_to_policy_questions(corpus_index: PolicySearch, question: str, evidence: str) -> None:
    assert evidence in corpus_index.ask(question).text


def test_unrelated_question_gets_no_answer(corpus_index: PolicySearch) -> None:
    answer = corpus_index.ask("篮球比赛每节多少分钟")
    assert not answer.answered and answer.text == "" and answer.message
    assert answer.passages and 0.0 <= answer.confidence < corpus_index.search_settings.answer_threshold


@pytest.mark.parametrize(("question", "span"), [
    ("中国关工委主任是哪天来烟台视察的", "6月1日—2日"),
    ("调研月活动计划几月启动", "10月"),
])
def test_the_date_that_answers_is_marked_inside_the_sentence(corpus_index: PolicySearch, question: str, span: str) -> None:
    answer = corpus_index.ask(question)
    assert answer.answered and corpus_index.search_settings.answer_threshold <= answer.confidence <= 1.0
    assert answer.span_start is not None and answer.span_end is not None
    assert corpus_index.document(answer.doc_id).text[answer.span_start:answer.span_end] == span
    assert answer.start <= answer.span_start < answer.span_end <= answer.end


def test_a_question_without_a_typed_answer_gets_the_sentence_only(corpus_index: PolicySearch) -> None:
    answer = corpus_index.ask("接待工作的档案资料如何整理")
    assert answer.answered and answer.span_start is None and answer.span_end is None


def test_bm25_only_index_answers_with_its_own_ranker(tmp_path: Path) -> None:
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None))
    answer = engine.ask("调研月活动计划几月启动")
    assert answer.answered and "市关工委拟于10月启动调研月活动" in answer.text
    assert not engine.ask("篮球比赛每节多少分钟").answered


def test_the_shipped_ranker_says_where_it_came_from() -> None:
    from importlib import resources

    from policysearch.answering.answers import DENSE, FEATURES, shipped_rankers

    data = json.loads(resources.files("policysearch").joinpath("data/answer_ranker.json").read_text(encoding="utf-8"))
    assert data["provenance"]["command"] == "python benchmarks/answers.py --fit"
    assert data["provenance"]["data"]["cmrc2018"] > 900 and data["provenance"]["data"]["govreports headings"] > 200
    fitted_on = set(data["provenance"]["data"])
    assert not {"policyqa", "policyqa on cmrc2018"} & fitted_on, "the bundled report's questions are never fitted on"
    rankers = shipped_rankers()
    assert set(rankers["dense"].names) == set(FEATURES) and not set(DENSE) & set(rankers["terms"].names)
    assert rankers["dense"].weights[rankers["dense"].names.index("dense")] > 0, "closer in meaning ranks higher"


def test_ask_command_prints_json_with_the_citation(corpus_index: PolicySearch) -> None:
    out = subprocess.run([sys.executable, "-m", "policysearch", "ask", "调研月活动计划几月启动", "--json",
                          "--index", str(corpus_index.root)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["answered"] and "市关工委拟于10月启动调研月活动" in answer["text"]
    assert {"doc_id", "title", "date", "source", "path", "article", "start", "end", "confidence", "passages"} <= set(answer)
    plain = subprocess.run([sys.executable, "-m", "policysearch", "ask", "调研月活动计划几月启动",
                            "--index", str(corpus_index.root)], capture_output=True, text=True, timeout=300)
    assert plain.stdout.startswith("答：") and f"[{answer['start']}:{answer['end']}]" in plain.stdout
    assert "    答案：10月\n" in plain.stdout


def test_law_names_as_people_write_them() -> None:
    assert short_title("中华人民共和国宪法修正案（2004年）") == "宪法修正案2004年"
    index = CitationIndex({"a": ("中华人民共和国未成年人保护法", "现行有效"), "b": ("中华人民共和国宪法", "现行有效"),
                           "c": ("中华人民共和国宪法修正案（2004年）", "现行有效"),
                           "old": ("中华人民共和国未成年人保护法", "历史版本")})
    assert index.find("未成年人保护法第十二条").doc_ids == ["a", "old"]
    assert index.find("《中华人民共和国未成年人保护法》第12条规定了什么").article == "第12条"
    assert index.find("宪法修正案2004年第二十二条的内容是什么？").doc_ids == ["c"]
    assert index.find("宪法第二条").doc_ids == ["b"]
    assert index.find("五环工作格局是什么") is None


@pytest.fixture(scope="module")
def laws_index(laws_db: Path, tmp_path_factory: pytest.TempPathFactory) -> PolicySearch:
    """The cited laws in every version laws.db holds, among one law in four of the rest."""
    docs, _ = corpora.laws_db(laws_db)
    cited = ("未成年人保护法", "家庭教育促进法", "义务教育法", "民法典")
    docs = [d for i, d in enumerate(docs) if any(name in d.title for name in cited) or i % 4 == 0]
    return PolicySearch.build_documents(docs, tmp_path_factory.mktemp("laws") / "idx", IndexSettings(model=None))


@pytest.mark.parametrize(("question", "title", "article"), [
    ("未成年人保护法第十二条", "中华人民共和国未成年人保护法", "第十二条"),
    ("家庭教育促进法第20条是什么", "中华人民共和国家庭教育促进法", "第二十条"),
    ("《中华人民共和国义务教育法》第二条", "中华人民共和国义务教育法", "第二条"),
    ("民法典第一千零八十四条", "中华人民共和国民法典", "第一千零八十四条"),
])
def test_cited_article_is_ranked_first(laws_index: PolicySearch, question: str, title: str, article: str) -> None:
    first = laws_index.search(question, k=3)[0]
    assert (first.title, first.article) == (title, article)
    answer = laws_index.ask(question)
    assert answer.answered and (answer.title, answer.article) == (title, article)


def test_ask_on_the_bundled_corpus_plus_laws_still_cites_the_article(laws_db: Path, tmp_path: Path) -> None:
    from policysearch.reading.loaders import load

    docs, _ = corpora.laws_db(laws_db, statuses=("现行有效",))
    minors = [d for d in docs if d.title == "中华人民共和国未成年人保护法"]
    engine = PolicySearch.build_documents(load([CORPUS]) + minors, tmp_path / "idx")
    first = engine.search("未成年人保护法第十二条", k=1)[0]
    assert first.article == "第十二条" and first.text.startswith("第十二条")


def test_an_article_is_found_however_its_number_is_written(tmp_path: Path) -> None:
    law = tmp_path / "中华人民共和国测绘示例法.txt"
    law.write_text("中华人民共和国测绘示例法\n第一条 为了规范测绘活动，制定本法。\n"
                   "第三十条 测绘成果应当依法汇交。\n第三十条之一 基础测绘成果应当定期更新。\n"
                   "第31条 违反本法规定的，依法处理。\n", encoding="utf-8")
    engine = PolicySearch.build([law], tmp_path / "idx", IndexSettings(model=None))
    for question, start in [("测绘示例法第30条之一", "第三十条之一"), ("测绘示例法第三十条", "第三十条 "),
                            ("测绘示例法第三十一条是什么", "第31条")]:
        answer = engine.ask(question)
        assert answer.answered and answer.text.startswith(start), (question, answer.text)
    assert engine.search("测绘示例法第一条 测绘成果汇交", k=1)[0].article == "第一条"
    engine.search_settings = SearchSettings(citations=False)
    assert engine.search("测绘示例法第一条 测绘成果汇交", k=1)[0].article == "第三十条", "without the lookup, words rank"


@pytest.fixture(scope="module")
def office_index(tmp_path_factory: pytest.TempPathFactory) -> PolicySearch:
    """A folder as an office keeps it: a task table, a Word plan with headings and a numbered
    list, and a report whose sections open with a lead sentence and go on with 一是/二是."""
    import docx
    import openpyxl

    folder = tmp_path_factory.mktemp("office")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["序号", "工作任务", "责任单位", "完成时限"])
    sheet.append([1, "组织青少年暑期防溺水安全教育", "市教育局", "7月底前"])
    sheet.append([2, "开展家庭教育讲座进社区活动", "市妇联", "9月底前"])
    sheet.append([3, "举办青少年法治宣传周", "市司法局", "11月底前"])
    book.save(folder / "任务分工表.xlsx")
    word = docx.Document()
    word.add_heading("社区家庭教育指导服务工作方案", level=0)
    word.add_heading("一、工作目标", level=1)
    word.add_paragraph("到年底，每个社区都建成家庭教育指导服务站，服务覆盖辖区全部家庭。")
    word.add_heading("二、报名条件", level=1)
    word.add_paragraph("申请成为家庭教育志愿讲师的人员，应当符合下列条件：")
    word.add_paragraph("1、热心公益事业，身体健康；")
    word.add_paragraph("2、具有大专以上学历或者五年以上教育工作经历；")
    word.add_paragraph("3、近三年内没有受过行政处分；")
    word.add_paragraph("4、能够保证每月参加一次以上服务活动。")
    word.add_heading("三、保障措施", level=1)
    word.add_paragraph("各街道要把指导服务站建设经费纳入年度预算，保证场地和人员到位。")
    word.save(folder / "工作方案.docx")
    (folder / "工作总结.txt").write_text(
        "青少年服务中心年度工作总结\n\n"
        "（一）加强志愿者队伍建设。一是开展志愿者轮训，全年培训志愿者620人次；二是建立志愿服务积分制度，"
        "积分可兑换培训课程；三是评选表彰优秀志愿者30名。\n\n"
        "（二）拓展心理健康服务。全年开通心理咨询热线，接听来电1800余个，转介专业机构处理个案46件。\n\n"
        "常见问题解答\n"
        "1、哪些家庭可以申请免费心理辅导？\n"
        "家中有在读中小学生、且家庭人均收入低于当地最低生活保障标准两倍的家庭，可以向所在街道提出申请。\n"
        "2、心理辅导每次多长时间？\n"
        "每次辅导时长为50分钟，每个家庭每年最多可申请12次。\n", encoding="utf-8")
    return PolicySearch.build([folder], tmp_path_factory.mktemp("office-index"))


def test_a_spreadsheet_question_gets_the_whole_row(office_index: PolicySearch) -> None:
    answer = office_index.ask("家庭教育讲座进社区活动的责任单位是哪个")
    assert answer.answered and "开展家庭教育讲座进社区活动" in answer.text and "市妇联" in answer.text
    assert "市教育局" not in answer.text and "市司法局" not in answer.text  # that row, not the table


def test_a_list_question_gets_every_item(office_index: PolicySearch) -> None:
    answer = office_index.ask("申请成为家庭教育志愿讲师需要符合哪些条件")
    assert answer.answered
    for item in ("热心公益事业", "五年以上教育工作经历", "没有受过行政处分", "每月参加一次以上服务活动"):
        assert item in answer.text
    assert office_index.document(answer.doc_id).text[answer.start:answer.end] == answer.text


def test_a_heading_led_question_gets_the_body_not_the_heading(office_index: PolicySearch) -> None:
    answer = office_index.ask("如何加强志愿者队伍建设")
    assert answer.answered
    assert all(part in answer.text for part in ("一是开展志愿者轮训", "二是建立志愿服务积分制度", "三是评选表彰优秀志愿者"))


def test_a_faq_question_line_points_to_its_answer(office_index: PolicySearch) -> None:
    answer = office_index.ask("什么样的家庭可以申请免费心理辅导")
    assert answer.answered and "人均收入低于当地最低生活保障标准两倍" in answer.text
    assert "每次辅导时长" not in answer.text  # the next question's answer is not part of it


def test_the_one_passage_a_filter_leaves_keeps_a_real_score(office_index: PolicySearch) -> None:
    from policysearch import Filters

    hits = office_index.search("防溺水安全教育", k=3, mode="hybrid", filters=Filters(kind="xlsx"))
    assert len(hits) == 1 and hits[0].score > 0.5  # it is the best of what is left, not 0.000


def test_unit_features_are_read_from_the_units_own_text_across_line_breaks_and_passages() -> None:
    """The features of every unit, counted once per question from running sums, equal what the
    unit's own text gives: its length without whitespace, its longest run shared with the
    question, the question's words and characters it holds, in either of two passages."""
    from policysearch.answering import answers
    from policysearch.answering.spans import unspaced
    from policysearch.records import Hit, Retrieval

    def hit(rank: int, text: str, title: str) -> Hit:
        return Hit(rank, 1.0 / rank, text, f"d{rank}", title, "", "", "", 0, len(text))

    question = "关工委 五老 志愿者 有多少人？"
    weights = {"关工委": 2.0, "五老": 3.0, "志愿者": 1.5}
    hits = [hit(1, "全市关工委组织健全。\n五老志愿者队伍\n 现有 3200 人；\n其中党员占六成。", "关工委工作总结"),
            hit(2, "志愿者们深入社区。五老宣讲团开展活动120场。", "五老宣讲")]
    def tokens(text: str) -> list[str]:
        return [t for t in ("关工委", "五老", "志愿者", "社区") if t in text]

    options = answers.units(question, hits)
    rows = answers.features(Retrieval(question, hits, list(weights), weights), tokens, options)
    column = {name: rows[:, i] for i, name in enumerate(answers.FEATURES)}
    asked = unspaced(question)
    assert len({id(c.hit) for c in options}) == 2 and any("\n" in c.text for c in options)
    for i, c in enumerate(options):
        text = unspaced(c.text)
        held = {t for t in weights if t in text}
        assert column["length"][i] == pytest.approx(np.log1p(len(text)))
        assert column["overlap"][i] == pytest.approx(sum(weights[t] for t in held) / sum(weights.values()))
        longest = max(len(asked[a:b]) for a in range(len(asked)) for b in range(a, len(asked) + 1)
                      if any(asked[a:b] in unspaced(c.hit.text[s.start:s.end])
                             for s in c.sentences[c.first:c.last + 1]))
        assert column["common"][i] == pytest.approx(longest / len(asked))
        own = [ch for ch in text if ch.isalnum() or ch == "_"]
        assert column["novelty"][i] == pytest.approx(sum(ch not in asked for ch in own) / len(text))
