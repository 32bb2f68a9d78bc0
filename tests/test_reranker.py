"""The learned re-ranker and neighbour passages: what a user sees change when they are on."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from policysearch import IndexSettings, PolicySearch, SearchSettings
from policysearch.searching.reranker import DENSE_ONLY, FEATURES, Candidates, Passage, features, shipped

from conftest import CORPUS, FIVE_RINGS


def test_the_shipped_models_say_where_they_come_from() -> None:
    data = json.loads(resources.files("policysearch").joinpath("data/reranker.json").read_text(encoding="utf-8"))
    assert data["provenance"]["command"] == "python benchmarks/rerank.py --fit"
    assert set(data["provenance"]["fitted_on"]) >= {"stard-train", "cmrc2018-trial"}
    models = shipped()
    assert set(models["hybrid"].names) <= set(FEATURES)
    assert not DENSE_ONLY & set(models["bm25"].names), "a BM25-only index has no vectors to read"


def test_a_reposted_notice_and_terms_side_by_side_are_seen() -> None:
    texts = ["各地要做好青少年暑期安全教育工作。", "各地要做好青少年暑期安全教育工作。", "安全 与 暑期 分开出现在这里。"]
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    found = Candidates(rows=np.arange(3), bm25=np.array([3.0, 2.0, 1.0]), dense=np.array([0.9, 0.9, 0.5]),
                       fused=np.array([1.0, 0.9, 0.3]), documents=np.array([0, 1, 2]))
    x = features(found, np.arange(3), [Passage(t, "通知", "") for t in texts], {"暑期": 5.0, "安全": 3.0}, vectors)
    column = {name: x[:, i] for i, name in enumerate(FEATURES)}
    assert column["duplicate"].tolist() == [0.0, 1.0, 0.0], "the second copy, of another document, is a duplicate"
    assert column["coverage"].tolist() == [1.0, 1.0, 1.0]
    assert column["proximity"][0] > column["proximity"][2], "terms close together beat terms far apart"
    assert column["bm25_rank"][0] == 1.0 and column["agree"][0] == 1.0


@pytest.mark.parametrize("model", ["multilingual-e5-small", None])
def test_re_ranked_results_still_answer_and_score_from_zero_to_one(model: str | None, corpus_index: PolicySearch,
                                                                    tmp_path: Path) -> None:
    engine = corpus_index if model else PolicySearch.build([CORPUS], tmp_path / "bm25", IndexSettings(model=None))
    before = engine.search("什么是五环工作格局", k=5)
    engine.search_settings = SearchSettings(rerank=True)
    try:
        after = engine.search("什么是五环工作格局", k=5)
    finally:
        engine.search_settings = SearchSettings()
    assert any(FIVE_RINGS in h.text for h in after[:3])
    assert all(0 < h.score <= 1 for h in after) and [h.score for h in after] == sorted((h.score for h in after), reverse=True)
    assert {(h.start, h.end) for h in after} != {(h.start, h.end) for h in before} or \
        [h.score for h in after] != [h.score for h in before], "the re-ranker scored them"


def test_a_list_going_on_in_the_next_passage_joins_its_hit(tmp_path: Path) -> None:
    items = "".join(f"（{n}）第{n}项措施：组织开展青少年法治宣传教育活动，覆盖全市中小学校。\n" for n in "一二三四五六七八")
    plan = tmp_path / "方案.txt"
    plan.write_text("关于加强青少年法治教育的工作方案\n主要措施如下：\n" + items, encoding="utf-8")
    settings = IndexSettings(model=None, chunk_size=120, chunk_max=200)
    engine = PolicySearch.build([plan], tmp_path / "idx", settings, search=SearchSettings(neighbour_ratio=0.5))
    text = engine.document(engine.document_ids()[0]).text
    first = engine.search("青少年法治宣传教育 措施", k=3)[0]
    assert text[first.start:first.end] == first.text, "the joined hit is the document's own text"
    assert first.end - first.start > 200, "two neighbouring passages, one hit"
    engine.search_settings = SearchSettings()
    alone = engine.search("青少年法治宣传教育 措施", k=3)[0]
    assert alone.end - alone.start <= 200
