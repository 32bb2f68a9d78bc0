"""The façade: build, open, search the bundled corpus; a loaded index answers as the built one."""

from __future__ import annotations

from pathlib import Path

import pytest

from policysearch import Filters, PolicySearch, PolicySearchError, Settings
from policysearch.store import FORMAT_VERSION

from conftest import CORPUS, FIVE_RINGS, SIX_POINTS


def test_five_rings_question_finds_both_passages_in_top_3(corpus_index: PolicySearch) -> None:
    texts = [h.text for h in corpus_index.search("什么是五环工作格局", k=3)]
    assert any(FIVE_RINGS in t for t in texts) and any(SIX_POINTS in t for t in texts)


def test_hits_carry_a_checkable_citation(corpus_index: PolicySearch) -> None:
    hit = corpus_index.search("调研月活动计划几月启动", k=1)[0]
    assert "市关工委拟于10月启动调研月活动" in hit.text
    assert (hit.title, hit.date, hit.source) == ("烟台市关工委召开主任办公会扩大会议", "2021-06-09", "烟台市关工委")
    document = corpus_index.document(hit.doc_id)
    assert document.text[hit.start:hit.end] == hit.text
    assert Path(hit.path).read_text(encoding="utf-8")[hit.start:hit.end] == hit.text
    assert any(hit.text[a:b] == "调研月" for a, b in hit.highlights)


def test_opened_index_returns_exactly_what_the_built_one_did(corpus_index: PolicySearch) -> None:
    reopened = PolicySearch.open(corpus_index.root)
    for query in ["什么是五环工作格局", "党建带关建", "顾秀莲 视察", "市委32号文件"]:
        assert reopened.search(query, k=5) == corpus_index.search(query, k=5)


def test_rebuilding_replaces_the_index_and_keeps_one_previous_version(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("关于开展家庭教育宣传周活动的通知。", encoding="utf-8")
    PolicySearch.build([tmp_path / "a.txt"], tmp_path / "idx")
    (tmp_path / "b.txt").write_text("关于开展法治宣传进校园活动的通知。", encoding="utf-8")
    engine = PolicySearch.build([tmp_path / "b.txt"], tmp_path / "idx")
    assert [h.doc_id for h in engine.search("法治宣传")] == ["b.txt"]
    assert engine.search("家庭教育", mode="bm25") == []
    assert {h.doc_id for h in engine.search("家庭教育宣传周")} == {"b.txt"}
    assert len(list((tmp_path / "idx").glob("v-*"))) == 2
    assert not list((tmp_path / "idx").glob(".tmp-*"))


def test_empty_query_and_missing_index_are_clear_errors(corpus_index: PolicySearch, tmp_path: Path) -> None:
    with pytest.raises(PolicySearchError, match="query is empty"):
        corpus_index.search("   ")
    with pytest.raises(PolicySearchError, match="no index here"):
        PolicySearch.open(tmp_path / "nothing")


def test_truncated_index_file_is_refused(tmp_path: Path) -> None:
    engine = PolicySearch.build([CORPUS], tmp_path / "idx")
    weights = engine.folder / "bm25_weights.npy"
    weights.write_bytes(weights.read_bytes()[:-8])
    with pytest.raises(PolicySearchError, match="bm25_weights.npy is missing or truncated"):
        PolicySearch.open(tmp_path / "idx")


def test_edited_index_file_and_newer_format_are_refused(tmp_path: Path) -> None:
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", Settings(model=None))
    weights = engine.folder / "bm25_weights.npy"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(PolicySearchError, match="bm25_weights.npy has been changed or damaged; rebuild it with"):
        PolicySearch.open(tmp_path / "idx")
    engine = PolicySearch.build([CORPUS], tmp_path / "idx2", Settings(model=None))
    manifest = engine.folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 99'))
    with pytest.raises(PolicySearchError, match=f"index format 99 is not format {FORMAT_VERSION} of this policysearch; rebuild"):
        PolicySearch.open(tmp_path / "idx2")


def test_failed_build_leaves_the_previous_index(tmp_path: Path) -> None:
    PolicySearch.build([CORPUS], tmp_path / "idx")
    before = (tmp_path / "idx" / "CURRENT").read_text()
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(PolicySearchError):
        PolicySearch.build([tmp_path / "empty.txt"], tmp_path / "idx")
    assert (tmp_path / "idx" / "CURRENT").read_text() == before
    assert PolicySearch.open(tmp_path / "idx").search("五环工作格局")


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory: pytest.TempPathFactory) -> PolicySearch:
    """Three notices from two sources and years, one of them Markdown; BM25 only."""
    folder = tmp_path_factory.mktemp("notices")
    notices = {
        "a.txt": "关于开展家庭教育宣传周的通知\n2021-05-10\n来源:烟台市关工委\n\n各区县关工委要组织家庭教育宣传活动。",
        "b.txt": "关于家庭教育指导服务的意见\n2023-03-01\n来源:山东省教育厅\n\n各地要建立家庭教育指导服务体系。",
        "c.md": "# 家庭教育工作总结\n2023-12-20\n来源:烟台市关工委\n\n全年开展家庭教育讲座十二场。",
    }
    for name, text in notices.items():
        (folder / name).write_text(text, encoding="utf-8")
    return PolicySearch.build([folder], tmp_path_factory.mktemp("idx") / "dated", Settings(model=None))


@pytest.mark.parametrize("filters, expected", [
    (Filters(), {"a.txt", "b.txt", "c.md"}),
    (Filters(source="关工委"), {"a.txt", "c.md"}),
    (Filters(date_from="2023"), {"b.txt", "c.md"}),
    (Filters(date_to="2023-03"), {"a.txt", "b.txt"}),
    (Filters(date_from="2023-03-01", date_to="2023-03-01"), {"b.txt"}),
    (Filters(source="烟台", date_to="2022"), {"a.txt"}),
    (Filters(kind="md"), {"c.md"}),
    (Filters(source="教育部"), set()),
])
def test_filters_keep_only_matching_documents(dated_index: PolicySearch, filters: Filters, expected: set[str]) -> None:
    hits = dated_index.search("家庭教育", k=10, filters=filters)
    assert {h.doc_id for h in hits} == expected


def test_filters_apply_to_dense_and_hybrid_search_and_to_answers(corpus_index: PolicySearch) -> None:
    for mode in ("dense", "hybrid"):
        kept = corpus_index.search("什么是五环工作格局", k=3, mode=mode, filters=Filters(source="烟台市关工委"))
        every = corpus_index.search("什么是五环工作格局", k=3, mode=mode)
        assert [(h.start, h.end) for h in kept] == [(h.start, h.end) for h in every]
        assert [h.score for h in kept] == pytest.approx([h.score for h in every], abs=1e-5)
        assert corpus_index.search("什么是五环工作格局", mode=mode, filters=Filters(date_from="2022")) == []
    answer = corpus_index.ask("什么是五环工作格局", filters=Filters(date_to="2020"))
    assert not answer.answered and answer.passages == []


def test_a_filter_that_is_not_a_date_is_a_clear_error(dated_index: PolicySearch) -> None:
    with pytest.raises(PolicySearchError, match="date_from '2021年' is not a date; write YYYY"):
        dated_index.search("家庭教育", filters=Filters(date_from="2021年"))
