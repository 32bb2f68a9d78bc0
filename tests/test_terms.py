"""Term discovery finds a corpus's own terms from its text alone, so nothing about a benchmark or
the bundled report has to be shipped in a dictionary."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from conftest import CORPUS, FIVE_RINGS, SHARED_DATA, SIX_POINTS

from policysearch import IndexSettings, PolicySearch
from policysearch.reading.loaders import load
from policysearch.text.terms import TermFinder
from policysearch.text.tokenize import Tokenizer


def joined(terms: Iterable[tuple[str, ...]]) -> set[str]:
    return {"".join(term) for term in terms}


def test_the_report_alone_yields_its_quoted_terms() -> None:
    tok = Tokenizer()
    texts = [doc.text for doc in load([CORPUS])]
    terms = joined(TermFinder().quoted(texts, tok.tokens))
    assert {"五环工作格局", "党建带关建", "六个坚持", "两个争创"} <= terms


def test_recurring_cohesive_free_word_sequences_are_terms() -> None:
    reports = SHARED_DATA / "govreports"
    if not reports.is_dir():
        pytest.skip(f"{reports} is missing")
    tok = Tokenizer()
    texts = [doc.text for doc in load([reports])]
    tokens = tok.tokens_many(texts)
    terms = joined(TermFinder().recurring(tokens))
    assert {"防范化解重大风险", "供给侧结构性改革", "研发费用加计扣除"} <= terms
    term = "流域生态补偿专项资金"
    fixed = [f"今年设立{term}并且按期拨付"] * 12  # frequent, but always between the same words
    lefts = ["今年", "去年", "各地", "中央", "省级", "市级", "县级", "财政", "地方", "国家", "我们", "继续"]
    rights = ["拨付", "使用", "管理", "审计", "公开", "考核", "下达", "统筹", "监督", "发放", "分配", "结算"]
    varied = [f"{left}{term}{right}" for left, right in zip(lefts, rights, strict=True)]
    assert term not in joined(TermFinder().recurring(tokens + tok.tokens_many(fixed)))
    assert term in joined(TermFinder().recurring(tokens + tok.tokens_many(varied)))


def test_an_index_finds_the_report_by_its_discovered_term(tmp_path) -> None:
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None))
    assert ["五环", "工作", "格局"] in engine.manifest["terms"]
    top = " ".join(hit.text for hit in PolicySearch.open(tmp_path / "idx").search("五环工作格局", k=2, mode="bm25"))
    assert FIVE_RINGS in top and SIX_POINTS in top  # the two passages that name it, “五环”工作格局 included


def test_a_discovered_term_outranks_its_scattered_words(tmp_path) -> None:
    (tmp_path / "docs").mkdir()
    scattered = "五环路沿线的工作安排。五环外的城市格局。工作格局调整后，五环内外工作都要跟上。"
    (tmp_path / "docs" / "scattered.txt").write_text(scattered, encoding="utf-8")
    (tmp_path / "docs" / "term.txt").write_text("会议提出构建“五环工作格局”，明确了下一步重点。", encoding="utf-8")
    found = {}
    for terms in ("quoted", "none"):
        engine = PolicySearch.build([tmp_path / "docs"], tmp_path / f"idx{terms}", IndexSettings(model=None, terms=terms))
        found[terms] = engine.search("五环工作格局", k=1, mode="bm25")[0].doc_id
    assert found == {"quoted": "term.txt", "none": "scattered.txt"}
