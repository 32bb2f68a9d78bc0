"""Metrics a user can trust: hand-checked values for both label styles, and `policysearch eval`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from policysearch import Hit, PolicySearchError
from policysearch.eval import Query, load_queries, score


def hit(doc_id: str, text: str = "", article: str = "") -> Hit:
    return Hit(rank=0, score=0.0, text=text, doc_id=doc_id, title="", date="", source="", path="",
               start=0, end=len(text), article=article)


def test_article_ids_count_once_at_their_first_rank() -> None:
    query = Query("q", "未成年人保护法第十二条", relevant=["law#第12条", "law#第13条"])
    hits = [hit("law", article="第一条"), hit("law", article="第十二条"), hit("law", article="第十二条"),
            hit("other"), hit("law", article="第13条")]
    metrics = score(query, hits)
    assert metrics["recall@1"] == 0.0 and metrics["recall@3"] == 0.5 and metrics["recall@5"] == 1.0
    assert metrics["mrr@10"] == 0.5
    ideal = 1 + 1 / math.log2(3)
    assert metrics["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(6)) / ideal)


def test_evidence_matches_after_nfkc_and_whitespace_removal() -> None:
    query = Query("q", "五环", evidence=["“五环”工作格局具有时代特色", "不会出现的证据"])
    hits = [hit("d", "无关内容"), hit("d", "烟台创新提出的“五环” 工作\n格局具有时代特色，")]
    metrics = score(query, hits)
    assert metrics["mrr@10"] == 0.5 and metrics["recall@10"] == 0.5


def test_question_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"qid": 1, "query": "a", "relevant_ids": ["x"]}\n{"query": "b"}\n', encoding="utf-8")
    with pytest.raises(PolicySearchError, match=r"q.jsonl:2: qid must be"):
        load_queries(path)
    path.write_text('{"qid": 1, "query": "a"}\n', encoding="utf-8")
    with pytest.raises(PolicySearchError, match="neither relevant_ids nor evidence"):
        load_queries(path)


@pytest.mark.parametrize("line, field", [
    ('{"qid": 1, "query": 5, "evidence": ["五环"]}', "query"),
    ('{"qid": 1, "query": null, "evidence": ["五环"]}', "query"),
    ('{"qid": 1, "query": ["五环"], "evidence": ["五环"]}', "query"),
    ('{"qid": 1, "query": "五环", "evidence": [1]}', "evidence"),
    ('{"qid": 1, "query": "五环", "evidence": [null]}', "evidence"),
    ('{"qid": 1, "query": "五环", "evidence": "五环工作格局"}', "evidence"),  # would be scored character by character
    ('{"qid": 1, "query": "五环", "evidence": [""]}', "evidence"),  # would match every passage
    ('{"qid": 1, "query": "五环", "relevant_ids": "a.txt"}', "relevant_ids"),
    ('["五环"]', "question object"),
])
def test_a_bad_field_is_one_line_naming_the_line_and_the_field(tmp_path: Path, line: str, field: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"qid": 0, "query": "五环", "evidence": ["五环"]}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(PolicySearchError, match=rf"q.jsonl:2: .*{field}"):
        load_queries(path)


def test_an_empty_or_non_utf8_question_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(PolicySearchError, match="no questions"):
        load_queries(path)
    path.write_bytes('{"qid": 1, "query": "五环", "evidence": ["五环"]}'.encode("gbk"))
    with pytest.raises(PolicySearchError, match="not UTF-8"):
        load_queries(path)


def test_eval_command_scores_the_bundled_corpus(corpus_index, tmp_path: Path) -> None:
    questions = tmp_path / "mine.jsonl"
    questions.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in [
        {"qid": "1", "query": "什么是五环工作格局", "evidence": ["“五环”工作格局具有时代特色"]},
        {"qid": "2", "query": "调研月活动计划几月启动", "evidence": ["市关工委拟于10月启动调研月活动"]},
    ]), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "policysearch", "eval", str(questions), "--index",
                          str(corpus_index.root), "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert set(results) == {"bm25", "dense", "hybrid"}
    assert results["bm25"]["recall@5"] == 1.0 and results["hybrid"]["queries"] == 2


def test_labels_written_as_hits_show_them_match_and_unknown_ids_are_named(tmp_path: Path) -> None:
    law = tmp_path / "laws" / "未成年人保护法.txt"
    law.parent.mkdir()
    law.write_text("中华人民共和国未成年人保护法\n第三十八条 学校应当保障未成年学生休息。\n"
                   "第三十九条 学校应当建立学生欺凌防控工作制度。\n", encoding="utf-8")
    from policysearch import PolicySearch, IndexSettings

    PolicySearch.build([law.parent], tmp_path / "idx", IndexSettings(model=None))
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in [
        {"qid": "欺凌", "query": "学校怎样防控学生欺凌", "relevant_ids": ["未成年人保护法.txt#第三十九条"]},
        {"qid": "休息", "query": "学生休息", "relevant_ids": ["未成年人保护法.txt#第38条"]},
        {"qid": "错名", "query": "学生欺凌", "relevant_ids": ["未成年人保护.txt#第39条"]},
    ]), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "policysearch", "eval", str(questions), "--index", str(tmp_path / "idx"),
                          "--json", "--per-query"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "question 错名 names document '未成年人保护.txt', which is not in the index" in out.stderr
    results = json.loads(out.stdout)
    ranks = {row["qid"]: row["first_relevant"] for row in results["per_query"]}
    assert ranks == {"欺凌": 1, "休息": 1, "错名": 0}
    assert results["bm25"]["recall@1"] == pytest.approx(2 / 3)
    table = subprocess.run([sys.executable, "-m", "policysearch", "eval", str(questions), "--index",
                            str(tmp_path / "idx"), "--per-query"], capture_output=True, text=True, timeout=300)
    assert "| 欺凌 | bm25 | 1 | 学校怎样防控学生欺凌 |" in table.stdout
