"""Our BM25 gives rank_bm25's scores, on real Chinese text, with sparse matrices."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from policysearch.index.ranking import top_k
from policysearch.index.sparse import BM25, positive_top_k
from policysearch.text.tokenize import Tokenizer

from conftest import SHARED_DATA


def assert_parity(corpus: list[list[str]], queries: list[list[str]]) -> None:
    ours, reference = BM25(idf="okapi").index(corpus), BM25Okapi(corpus)
    for query in queries:
        np.testing.assert_allclose(ours.scores(query), reference.get_scores(query), rtol=0, atol=1e-6)


def test_parity_on_the_bundled_corpus(corpus_index) -> None:
    tok = Tokenizer()
    rows = range(corpus_index.manifest["chunks"])
    corpus = [tok.tokens(chunk.text) for chunk, _ in corpus_index.searcher.passages.chunks(rows)]
    queries = [tok.tokens(q) for q in ["什么是五环工作格局", "关工委 关工委 会议", "调研月活动计划几月启动", "不存在的词"]]
    assert_parity(corpus, queries)


def test_parity_on_law_articles(laws_db: Path) -> None:
    db = sqlite3.connect(laws_db)
    texts = [r[0] for r in db.execute("SELECT article_text FROM articles ORDER BY id LIMIT 3000")]
    tok = Tokenizer()
    stard = SHARED_DATA / "stard" / "queries_lawsdb.jsonl"
    questions = [json.loads(line)["query"] for line in stard.open(encoding="utf-8")][:50] if stard.exists() else []
    assert_parity([tok.tokens(t) for t in texts], [tok.tokens(q) for q in questions + ["未成年人 监护 第12条"]])


def test_save_and_load_give_identical_scores(tmp_path: Path) -> None:
    corpus = [["未成年人", "保护"], ["监护人", "未成年人", "未成年人"], ["家庭", "教育"]]
    built = BM25().index(corpus)
    built.save(tmp_path)
    loaded = BM25.load(tmp_path, n_docs=3)
    np.testing.assert_array_equal(built.scores(["未成年人", "家庭"]), loaded.scores(["未成年人", "家庭"]))


def test_lucene_idf_ranks_passages_of_a_tiny_corpus() -> None:
    corpus = [["家庭", "教育", "宣传周"], ["法治", "宣传", "校园"]]
    assert BM25(idf="okapi").index(corpus).search(["法治"], 5)[0].size == 0
    assert BM25().index(corpus).search(["法治"], 5)[0].tolist() == [1]


def test_top_k_is_best_first_and_skips_zero_scores() -> None:
    ids, scores = positive_top_k(np.array([0.0, 3.0, 1.0, 0.0, 2.0, 3.0]), 3)
    assert ids.tolist() == [1, 5, 4] and scores.tolist() == [3.0, 3.0, 2.0]
    assert positive_top_k(np.zeros(4), 2).rows.size == 0
    assert top_k(np.array([7, 3, 9]), np.array([1.0, 2.0, 2.0]), 2).rows.tolist() == [3, 9], "ties by row"


def test_ties_at_the_cut_keep_the_first_rows_on_every_cpu() -> None:
    """Equal passages (a file repeating one phrase) rank the same on AVX2 and AVX-512 machines,
    whose partition kernels order ties differently."""
    rows = np.arange(10_000)[::-1].copy()
    assert top_k(rows, np.ones(10_000), 5).rows.tolist() == [0, 1, 2, 3, 4]
    assert positive_top_k(np.r_[np.ones(3_000), 2.0], 3).rows.tolist() == [3_000, 0, 1]


def test_a_saved_vocabulary_finds_every_term_long_or_short(tmp_path: Path) -> None:
    long = "https://www.gov.cn/zhengce/content/2021-07/24/content_5627132.htm"
    corpus = [["家庭", "教育", long], ["法治", "宣传", "校园", "家庭"]]
    built = BM25().index(corpus)
    built.save(tmp_path)
    opened = BM25.load(tmp_path, 2)
    assert len(opened.vocab) == 6 and "不在" not in opened.vocab and "" not in opened.vocab
    for terms in (["家庭"], [long], ["校园", "法治"], ["不在"]):
        assert opened.scores(terms).tolist() == built.scores(terms).tolist()
    assert opened.search([long], 5).rows.tolist() == [0]


def test_answer_idf_counts_the_passages_own_text_not_the_title_indexed_with_it(tmp_path: Path) -> None:
    title = ["烟台市", "关工委", "会议"]  # indexed with every passage of one report
    texts = [["中国", "关工委", "主任", "视察"], ["档案", "整理"], ["工作", "汇报"], ["调研", "启动"]]
    with_title = BM25().index([title + text for text in texts], texts)
    assert with_title.idf_of("关工委") == BM25().index(texts).idf_of("关工委") > BM25().index(
        [title + text for text in texts]).idf_of("关工委")
    with_title.save(tmp_path)
    assert BM25.load(tmp_path, len(texts)).idf_of("关工委") == with_title.idf_of("关工委")


def test_idf_carried_by_the_query_gives_the_same_scores_and_follows_added_and_removed_passages(corpus_index) -> None:
    from policysearch.index.sparse import BM25Terms

    tok = Tokenizer()
    rows = range(corpus_index.manifest["chunks"])
    corpus = [tok.tokens(chunk.text) for chunk, _ in corpus_index.searcher.passages.chunks(rows)]
    query = tok.tokens("什么是五环工作格局 关工委")

    def scores(terms: BM25Terms, stored: list[dict[int, float]]) -> np.ndarray:
        weights = terms.query_terms(query)
        return np.array([sum(weights.get(t, 0.0) * w for t, w in row.items()) for row in stored])

    for idf in ("lucene", "okapi"):
        terms = BM25Terms(idf=idf)
        stored = terms.add(corpus, corpus)
        np.testing.assert_allclose(scores(terms, stored), BM25(idf=idf).index(corpus).scores(query), atol=1e-9)
        extra = [tok.tokens("关于五环工作格局的补充通知")] * 3
        stored += terms.add(extra, extra)
        terms.remove(corpus[:5], corpus[:5])
        fresh = BM25Terms(idf=idf)
        fresh.add(corpus[5:] + extra, corpus[5:] + extra)
        by_term = lambda t: {w: sum(t.query_terms([w]).values()) for w in set(query)}  # noqa: E731 (ids differ)
        assert by_term(terms) == pytest.approx(by_term(fresh), abs=1e-12), "document frequencies follow the changes"
        assert terms.idf_of("关工委") == pytest.approx(fresh.idf_of("关工委"), abs=1e-12)
